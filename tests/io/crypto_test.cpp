#include "io/crypto.hpp"

#include <gtest/gtest.h>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

Key32 key_of(uint8_t seed) {
  Key32 k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed + i * 7);
  return k;
}

Bytes seal(Cipher c, const Key32& key, const uint8_t* nonce, ByteView aad, ByteView plain) {
  Bytes out(plain.size() + kTagSize);
  aead_seal(c, key, nonce, aad, plain, out.data());
  return out;
}

bool open(Cipher c, const Key32& key, const uint8_t* nonce, ByteView aad, ByteView sealed, Bytes* plain = nullptr) {
  Bytes out(sealed.size() >= kTagSize ? sealed.size() - kTagSize : 0);
  bool ok = aead_open(c, key, nonce, aad, sealed, out.data());
  if (plain) *plain = out;
  return ok;
}

class AeadTest : public ::testing::TestWithParam<Cipher> {};

TEST_P(AeadTest, SealOpenRoundTrip) {
  const Cipher c = GetParam();
  const Key32 key = key_of(1);
  uint8_t nonce[kNonceSize] = {1, 2, 3};
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 4096u}) {
    Bytes plain = testing::pseudo_random(n, n + 1);
    Bytes aad = testing::bytes_of("header");
    Bytes sealed = seal(c, key, nonce, aad, plain);
    ASSERT_EQ(sealed.size(), n + kTagSize);
    if (c != Cipher::kNone && n >= 16) {
      EXPECT_NE(Bytes(sealed.begin(), sealed.begin() + n), plain) << "not encrypted";
    }
    if (c == Cipher::kNone) {
      EXPECT_EQ(Bytes(sealed.begin(), sealed.begin() + n), plain) << "none stores plaintext";
    }
    Bytes opened;
    ASSERT_TRUE(open(c, key, nonce, aad, sealed, &opened)) << n;
    EXPECT_EQ(opened, plain);
  }
}

TEST_P(AeadTest, EveryFlippedBitOfCiphertextTagOrAadFails) {
  const Cipher c = GetParam();
  const Key32 key = key_of(2);
  uint8_t nonce[kNonceSize] = {9};
  Bytes plain = testing::pseudo_random(24, 5);
  Bytes aad = testing::pseudo_random(11, 6);
  Bytes sealed = seal(c, key, nonce, aad, plain);
  ASSERT_TRUE(open(c, key, nonce, aad, sealed));
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = sealed;
      bad[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(open(c, key, nonce, aad, bad)) << "sealed byte " << i << " bit " << bit;
    }
  }
  for (size_t i = 0; i < aad.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = aad;
      bad[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(open(c, key, nonce, bad, sealed)) << "aad byte " << i << " bit " << bit;
    }
  }
  // A shorter or longer AAD, a truncated payload and a missing tag fail too.
  EXPECT_FALSE(open(c, key, nonce, ByteView(aad).first(aad.size() - 1), sealed));
  EXPECT_FALSE(open(c, key, nonce, ByteView(sealed).first(sealed.size() - 1), ByteView(sealed)));
  EXPECT_FALSE(open(c, key, nonce, aad, ByteView(sealed).first(sealed.size() - 1)));
  EXPECT_FALSE(open(c, key, nonce, aad, ByteView(sealed).first(kTagSize - 1)));
}

TEST_P(AeadTest, EmptyPlaintextIsStillAuthenticated) {
  const Cipher c = GetParam();
  uint8_t nonce[kNonceSize] = {};
  Bytes aad = testing::bytes_of("aad");
  Bytes sealed = seal(c, key_of(3), nonce, aad, {});
  ASSERT_EQ(sealed.size(), kTagSize);
  EXPECT_TRUE(open(c, key_of(3), nonce, aad, sealed));
  aad[0] ^= 1;
  EXPECT_FALSE(open(c, key_of(3), nonce, aad, sealed));
}

INSTANTIATE_TEST_SUITE_P(Ciphers, AeadTest,
                         ::testing::Values(Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305, Cipher::kNone),
                         [](const auto& info) {
                           std::string n = cipher_name(info.param);
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

class KeyedAeadTest : public ::testing::TestWithParam<Cipher> {};

TEST_P(KeyedAeadTest, WrongKeyOrNonceFails) {
  const Cipher c = GetParam();
  uint8_t nonce[kNonceSize] = {4};
  uint8_t other_nonce[kNonceSize] = {5};
  Bytes plain = testing::pseudo_random(100, 1);
  Bytes sealed = seal(c, key_of(10), nonce, {}, plain);
  EXPECT_TRUE(open(c, key_of(10), nonce, {}, sealed));
  Key32 wrong = key_of(10);
  wrong[31] ^= 0x80;
  EXPECT_FALSE(open(c, wrong, nonce, {}, sealed));
  EXPECT_FALSE(open(c, key_of(10), other_nonce, {}, sealed));
  // The two real ciphers are not interchangeable.
  Cipher other = c == Cipher::kAes256Gcm ? Cipher::kChaCha20Poly1305 : Cipher::kAes256Gcm;
  EXPECT_FALSE(open(other, key_of(10), nonce, {}, sealed));
}

INSTANTIATE_TEST_SUITE_P(Ciphers, KeyedAeadTest, ::testing::Values(Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305));

TEST(Aead, NoneModeTagIsKeylessButDetectsDamage) {
  // --no-encryption still detects corruption, but by design the tag does not depend on a key.
  uint8_t nonce[kNonceSize] = {};
  Bytes plain = testing::bytes_of("hello");
  Bytes sealed = seal(Cipher::kNone, key_of(1), nonce, {}, plain);
  EXPECT_TRUE(open(Cipher::kNone, key_of(2), nonce, {}, sealed));
  sealed[0] ^= 1;
  EXPECT_FALSE(open(Cipher::kNone, key_of(1), nonce, {}, sealed));
}

TEST(Cipher, NamesRoundTrip) {
  for (Cipher c : {Cipher::kNone, Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305}) {
    EXPECT_EQ(parse_cipher(cipher_name(c)), c);
  }
  EXPECT_EQ(cipher_name(Cipher::kAes256Gcm), "aes-256-gcm");
  EXPECT_EQ(cipher_name(Cipher::kChaCha20Poly1305), "chacha20-poly1305");
  EXPECT_STRATA_ERROR(parse_cipher("aes-128-cbc"), ErrorCode::kCorrupt, "unknown cipher 'aes-128-cbc'");
  Cipher p = preferred_cipher();
  EXPECT_TRUE(p == Cipher::kAes256Gcm || p == Cipher::kChaCha20Poly1305);
}

TEST(DeriveKey, DeterministicAndLabelSeparated) {
  Key32 prk = key_of(42);
  Key32 a1 = derive_key(prk, "strata/object/v1/a");
  Key32 a2 = derive_key(prk, "strata/object/v1/a");
  Key32 b = derive_key(prk, "strata/object/v1/b");
  Key32 other_prk = derive_key(key_of(43), "strata/object/v1/a");
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b);
  EXPECT_NE(a1, other_prk);
  EXPECT_NE(a1, prk);
  EXPECT_NE(derive_key(prk, ""), derive_key(prk, std::string_view("\0", 1)));
}

TEST(DeriveKey, MatchesHkdfExpandRfc5869TestCase1) {
  // RFC 5869 A.1: PRK and the first 32 bytes of OKM for info = f0..f9 (L = 42; the first block is what we use).
  Bytes prk = hex_decode("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  Key32 k;
  std::copy(prk.begin(), prk.end(), k.begin());
  Bytes info = hex_decode("f0f1f2f3f4f5f6f7f8f9");
  Key32 okm = derive_key(k, to_string(info));
  EXPECT_EQ(hex_encode(okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(digest_hex(Sha256::of({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest_hex(Sha256::of(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Incremental updates in odd pieces equal the one-shot digest.
  std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256 h;
  for (size_t i = 0; i < msg.size(); i += 5) h.update(as_bytes(std::string_view(msg).substr(i, 5)));
  EXPECT_EQ(digest_hex(h.finish()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(EqualCt, ComparesContentAndLength) {
  Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4}, d = {1, 2};
  EXPECT_TRUE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(a, c));
  EXPECT_FALSE(equal_ct(a, d));
  EXPECT_TRUE(equal_ct({}, {}));
}

TEST(RandomKey, KeysDiffer) { EXPECT_NE(random_key(), random_key()); }

}  // namespace
}  // namespace strata
