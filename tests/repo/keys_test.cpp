#include "repo/keys.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

// Small Argon2id parameters: the tests are about the key hierarchy, not the KDF's cost.
const KdfParams kFastKdf{1, 8ull << 20};

TEST(Keys, WrapUnwrapRoundTrip) {
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "correct horse", "repo-1", kFastKdf);
  EXPECT_EQ(w.id.size(), 16u);
  EXPECT_EQ(w.kdf.opslimit, 1u);
  EXPECT_EQ(w.kdf.memlimit, 8ull << 20);
  auto opened = unwrap_secret_key(w, "correct horse", "repo-1");
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->bytes(), sk.bytes());
  EXPECT_EQ(opened->public_key(), sk.public_key());
}

TEST(Keys, EachWrapUsesFreshSaltNonceAndId) {
  SecretKey sk = SecretKey::generate();
  WrappedKey a = wrap_secret_key(sk, "pw", "repo", kFastKdf);
  WrappedKey b = wrap_secret_key(sk, "pw", "repo", kFastKdf);
  EXPECT_NE(a.salt, b.salt);
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_NE(a.ciphertext, b.ciphertext);
  EXPECT_NE(a.id, b.id);
}

TEST(Keys, WrongPassphraseGivesNothing) {
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "correct horse", "repo-1", kFastKdf);
  EXPECT_FALSE(unwrap_secret_key(w, "correct horsE", "repo-1").has_value());
  EXPECT_FALSE(unwrap_secret_key(w, "", "repo-1").has_value());
}

TEST(Keys, WrappedKeyIsBoundToItsRepository) {
  // A key file copied from another repository does not open, even with the right passphrase.
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "pw", "repo-1", kFastKdf);
  EXPECT_FALSE(unwrap_secret_key(w, "pw", "repo-2").has_value());
  EXPECT_TRUE(unwrap_secret_key(w, "pw", "repo-1").has_value());
}

TEST(Keys, TamperedWrappedKeyGivesNothingOrCorrupt) {
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "pw", "repo", kFastKdf);
  WrappedKey bad = w;
  bad.ciphertext[3] ^= 1;
  EXPECT_FALSE(unwrap_secret_key(bad, "pw", "repo").has_value());
  bad = w;
  bad.salt[0] ^= 1;
  EXPECT_FALSE(unwrap_secret_key(bad, "pw", "repo").has_value());
  bad = w;
  bad.kdf.opslimit = 2;  // different KDF cost, different wrapping key
  EXPECT_FALSE(unwrap_secret_key(bad, "pw", "repo").has_value());
  bad = w;
  bad.nonce.pop_back();
  EXPECT_STRATA_ERROR(unwrap_secret_key(bad, "pw", "repo"), ErrorCode::kCorrupt, "is malformed");
}

TEST(Keys, SecretKeyFromBytesDerivesThePublicKey) {
  SecretKey sk = SecretKey::generate();
  SecretKey again = SecretKey::from_bytes(sk.bytes());
  EXPECT_EQ(again.public_key(), sk.public_key());
  EXPECT_NE(SecretKey::generate().public_key(), sk.public_key());
}

TEST(Keys, DataKeySealOpen) {
  SecretKey sk = SecretKey::generate();
  Key32 dk = random_key();
  Bytes sealed = seal_data_key(dk, sk.public_key());
  EXPECT_EQ(sealed.size(), 32u + 48u);
  auto opened = open_data_key(sealed, sk);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, dk);
  // Sealing is randomized (an ephemeral key per box): two seals of one key differ.
  EXPECT_NE(seal_data_key(dk, sk.public_key()), sealed);
}

TEST(Keys, DataKeyDoesNotOpenWithAnotherSecretOrWhenDamaged) {
  SecretKey sk = SecretKey::generate();
  SecretKey other = SecretKey::generate();
  Bytes sealed = seal_data_key(random_key(), sk.public_key());
  EXPECT_FALSE(open_data_key(sealed, other).has_value());
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_FALSE(open_data_key(bad, sk).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(open_data_key(ByteView(sealed).first(sealed.size() - 1), sk).has_value());
  EXPECT_FALSE(open_data_key({}, sk).has_value());
}

TEST(Keys, JsonRoundTrip) {
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "correct horse battery staple", "repo", kFastKdf);
  w.created = "2026-11-21T05:00:00Z";
  w.host = "db1";
  w.label = "initial";
  std::string text = wrapped_key_to_json(w);
  EXPECT_EQ(text.find("correct horse"), std::string::npos) << "the passphrase is never stored";
  WrappedKey back = wrapped_key_from_json(text, "keys/" + w.id);
  EXPECT_EQ(back.id, w.id);
  EXPECT_EQ(back.created, w.created);
  EXPECT_EQ(back.host, "db1");
  EXPECT_EQ(back.label, "initial");
  EXPECT_EQ(back.kdf.opslimit, w.kdf.opslimit);
  EXPECT_EQ(back.kdf.memlimit, w.kdf.memlimit);
  EXPECT_EQ(back.salt, w.salt);
  EXPECT_EQ(back.nonce, w.nonce);
  EXPECT_EQ(back.ciphertext, w.ciphertext);
  auto opened = unwrap_secret_key(back, "correct horse battery staple", "repo");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->bytes(), sk.bytes());
}

TEST(Keys, JsonErrorsNameTheFile) {
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "pw", "repo", kFastKdf);
  EXPECT_STRATA_ERROR(wrapped_key_from_json("{not json", "keys/abc"), ErrorCode::kCorrupt,
                      "keys/abc is not a valid key file");
  auto j = nlohmann::json::parse(wrapped_key_to_json(w));
  j.erase("salt");
  EXPECT_STRATA_ERROR(wrapped_key_from_json(j.dump(), "keys/abc"), ErrorCode::kCorrupt, "keys/abc");
  j = nlohmann::json::parse(wrapped_key_to_json(w));
  j["kdf"]["algorithm"] = "scrypt";
  EXPECT_STRATA_ERROR(wrapped_key_from_json(j.dump(), "keys/abc"), ErrorCode::kUnsupportedVersion, "upgrade strata");
  j = nlohmann::json::parse(wrapped_key_to_json(w));
  j["salt"] = "!!!";
  EXPECT_STRATA_ERROR(wrapped_key_from_json(j.dump(), "keys/abc"), ErrorCode::kCorrupt, "base64");
}

}  // namespace
}  // namespace strata
