#include "repo/keys.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "repo/bounded_json.hpp"

namespace strata {
namespace {
void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) fail(ErrorCode::kGeneric, "libsodium failed to initialise");
}
std::string key_aad(const std::string& repo_id) { return "strata/key/v1/" + repo_id; }
}  // namespace

std::string kdf_out_of_range(const KdfParams& kdf) {
  if (kdf.opslimit >= kMinKdfOps && kdf.opslimit <= kMaxKdfOps && kdf.memlimit >= kMinKdfMemory &&
      kdf.memlimit <= kMaxKdfMemory && kdf.opslimit * kdf.memlimit <= kMaxKdfWork) {
    return "";
  }
  return "opslimit " + std::to_string(kdf.opslimit) + ", memlimit " + std::to_string(kdf.memlimit) +
         "; strata accepts opslimit 1-64 and memlimit 8KiB-1GiB with opslimit x memlimit at most 4GiB";
}

SecretKey SecretKey::generate() {
  ensure_sodium();
  SecretKey k;
  crypto_box_keypair(k.pk_.data(), k.sk_.data());
  return k;
}

SecretKey SecretKey::from_bytes(const Key32& sk) {
  ensure_sodium();
  SecretKey k;
  k.sk_ = sk;
  crypto_scalarmult_base(k.pk_.data(), k.sk_.data());
  return k;
}

SecretKey::~SecretKey() { sodium_memzero(sk_.data(), sk_.size()); }

WrappedKey wrap_secret_key(const SecretKey& key, const std::string& passphrase, const std::string& repo_id,
                           const KdfParams& kdf) {
  ensure_sodium();
  if (auto bad = kdf_out_of_range(kdf); !bad.empty()) fail(ErrorCode::kUsage, "Argon2id parameters out of range: " + bad);
  WrappedKey w;
  w.kdf = kdf;
  w.salt.resize(crypto_pwhash_SALTBYTES);
  randombytes_buf(w.salt.data(), w.salt.size());
  w.nonce.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  randombytes_buf(w.nonce.data(), w.nonce.size());
  Key32 wk;
  if (crypto_pwhash(wk.data(), wk.size(), passphrase.data(), passphrase.size(), w.salt.data(), kdf.opslimit,
                    static_cast<size_t>(kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    fail(ErrorCode::kGeneric, "Argon2id key derivation ran out of memory");
  }
  std::string aad = key_aad(repo_id);
  w.ciphertext.resize(32 + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(w.ciphertext.data(), &clen, key.bytes().data(), 32,
                                             reinterpret_cast<const uint8_t*>(aad.data()), aad.size(), nullptr,
                                             w.nonce.data(), wk.data());
  sodium_memzero(wk.data(), wk.size());
  Bytes idb(8);
  randombytes_buf(idb.data(), idb.size());
  w.id = hex_encode(idb);
  return w;
}

std::optional<SecretKey> unwrap_secret_key(const WrappedKey& w, const std::string& passphrase,
                                           const std::string& repo_id) {
  ensure_sodium();
  if (w.salt.size() != crypto_pwhash_SALTBYTES || w.nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      w.ciphertext.size() != 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    fail(ErrorCode::kCorrupt, "key " + w.id + " is malformed");
  }
  if (auto bad = kdf_out_of_range(w.kdf); !bad.empty()) {
    fail(ErrorCode::kCorrupt, "key " + w.id + " has out-of-range KDF parameters (" + bad + ")");
  }
  Key32 wk;
  if (crypto_pwhash(wk.data(), wk.size(), passphrase.data(), passphrase.size(), w.salt.data(), w.kdf.opslimit,
                    static_cast<size_t>(w.kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    fail(ErrorCode::kGeneric, "Argon2id key derivation ran out of memory");
  }
  std::string aad = key_aad(repo_id);
  Key32 sk;
  unsigned long long mlen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(sk.data(), &mlen, nullptr, w.ciphertext.data(),
                                                      w.ciphertext.size(), reinterpret_cast<const uint8_t*>(aad.data()),
                                                      aad.size(), w.nonce.data(), wk.data());
  sodium_memzero(wk.data(), wk.size());
  if (rc != 0) return std::nullopt;
  SecretKey k = SecretKey::from_bytes(sk);
  sodium_memzero(sk.data(), sk.size());
  return k;
}

Bytes seal_data_key(const Key32& data_key, const PublicKey& pk) {
  ensure_sodium();
  Bytes out(32 + crypto_box_SEALBYTES);
  crypto_box_seal(out.data(), data_key.data(), data_key.size(), pk.data());
  return out;
}

std::optional<Key32> open_data_key(ByteView sealed, const SecretKey& sk) {
  if (sealed.size() != 32 + crypto_box_SEALBYTES) return std::nullopt;
  Key32 out;
  PublicKey pk = sk.public_key();
  if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(), pk.data(), sk.bytes().data()) != 0) {
    return std::nullopt;
  }
  return out;
}

std::string wrapped_key_to_json(const WrappedKey& k) {
  nlohmann::json j = {{"id", k.id},
                      {"created", k.created},
                      {"host", k.host},
                      {"label", k.label},
                      {"kdf", {{"algorithm", "argon2id13"}, {"opslimit", k.kdf.opslimit}, {"memlimit", k.kdf.memlimit}}},
                      {"salt", base64_encode(k.salt)},
                      {"nonce", base64_encode(k.nonce)},
                      {"wrap", "xchacha20-poly1305"},
                      {"ciphertext", base64_encode(k.ciphertext)}};
  return j.dump(2) + "\n";
}

WrappedKey wrapped_key_from_json(const std::string& text, const std::string& where) {
  auto bad = [&](const std::string& why) -> WrappedKey { fail(ErrorCode::kCorrupt, where + " is not a valid key file (" + why + ")"); };
  nlohmann::json j;
  if (auto why = try_parse_bounded_json(text, 64u << 10, j); !why.empty()) bad(why);
  try {
    WrappedKey k;
    if (!j.is_object()) return bad("not a JSON object");
    k.id = j.at("id").get<std::string>();
    if (k.id.size() != 16 || !std::all_of(k.id.begin(), k.id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
      return bad("malformed id");
    }
    k.created = j.value("created", "");
    k.host = j.value("host", "");
    k.label = j.value("label", "");
    if (k.created.size() > 64 || k.host.size() > 1024 || k.label.size() > 1024) return bad("a field is too long");
    if (j.at("kdf").at("algorithm") != "argon2id13" || j.at("wrap") != "xchacha20-poly1305") {
      fail(ErrorCode::kUnsupportedVersion, where + " uses an algorithm this version of strata does not know; upgrade strata");
    }
    k.kdf.opslimit = j.at("kdf").at("opslimit").get<uint64_t>();
    k.kdf.memlimit = j.at("kdf").at("memlimit").get<uint64_t>();
    if (auto range = kdf_out_of_range(k.kdf); !range.empty()) {
      fail(ErrorCode::kCorrupt, where + " has out-of-range KDF parameters (" + range + ")");
    }
    k.salt = base64_decode(j.at("salt").get<std::string>());
    k.nonce = base64_decode(j.at("nonce").get<std::string>());
    k.ciphertext = base64_decode(j.at("ciphertext").get<std::string>());
    if (k.salt.size() != crypto_pwhash_SALTBYTES || k.nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
        k.ciphertext.size() != 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
      return bad("salt, nonce or ciphertext has the wrong length");
    }
    return k;
  } catch (const nlohmann::json::exception& e) {
    return bad(json_error_text(e));
  }
}

}  // namespace strata
