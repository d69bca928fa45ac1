#include "io/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <xxhash.h>

#include <cstring>

#include "common/error.hpp"

namespace strata {
namespace {

struct CipherCtx {
  EVP_CIPHER_CTX* ctx;
  CipherCtx() : ctx(EVP_CIPHER_CTX_new()) {
    if (!ctx) throw std::bad_alloc();
  }
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

const EVP_CIPHER* evp_cipher(Cipher c) {
  // Fetched once: implicit fetching on every init costs more than the cipher for small frames.
  static EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return c == Cipher::kAes256Gcm ? gcm : chacha;
}

// Keyless BLAKE2b-128 over aad || data: integrity (not secrecy) for repositories created with --no-encryption.
void plain_tag(ByteView aad, ByteView data, uint8_t out[kTagSize]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kTagSize);
  crypto_generichash_update(&st, aad.data(), aad.size());
  crypto_generichash_update(&st, data.data(), data.size());
  crypto_generichash_final(&st, out, kTagSize);
}

}  // namespace

Cipher preferred_cipher() {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul")) return Cipher::kAes256Gcm;
  return Cipher::kChaCha20Poly1305;
#elif defined(__aarch64__)
  return Cipher::kAes256Gcm;  // ARMv8 crypto extensions are near-universal on servers; OpenSSL picks the fast path.
#else
  return Cipher::kChaCha20Poly1305;
#endif
}

std::string cipher_name(Cipher c) {
  switch (c) {
    case Cipher::kNone: return "none";
    case Cipher::kAes256Gcm: return "aes-256-gcm";
    case Cipher::kChaCha20Poly1305: return "chacha20-poly1305";
  }
  return "unknown";
}

Cipher parse_cipher(std::string_view name) {
  if (name == "none") return Cipher::kNone;
  if (name == "aes-256-gcm") return Cipher::kAes256Gcm;
  if (name == "chacha20-poly1305") return Cipher::kChaCha20Poly1305;
  fail(ErrorCode::kCorrupt, "unknown cipher '" + std::string(name) + "'");
}

void aead_seal(Cipher c, const Key32& key, const uint8_t nonce[kNonceSize], ByteView aad, ByteView plaintext,
               uint8_t* out) {
  if (c == Cipher::kNone) {
    if (!plaintext.empty()) std::memmove(out, plaintext.data(), plaintext.size());
    plain_tag(aad, plaintext, out + plaintext.size());
    return;
  }
  CipherCtx cc;
  int len = 0;
  bool ok = EVP_EncryptInit_ex2(cc.ctx, evp_cipher(c), key.data(), nonce, nullptr) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(cc.ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1) &&
            (plaintext.empty() ||
             EVP_EncryptUpdate(cc.ctx, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1) &&
            EVP_EncryptFinal_ex(cc.ctx, out + plaintext.size(), &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(cc.ctx, EVP_CTRL_AEAD_GET_TAG, kTagSize, out + plaintext.size()) == 1;
  if (!ok) fail(ErrorCode::kGeneric, "encryption failed inside OpenSSL");
}

bool aead_open(Cipher c, const Key32& key, const uint8_t nonce[kNonceSize], ByteView aad, ByteView sealed,
               uint8_t* out) {
  if (sealed.size() < kTagSize) return false;
  size_t n = sealed.size() - kTagSize;
  if (c == Cipher::kNone) {
    uint8_t tag[kTagSize];
    plain_tag(aad, sealed.subspan(0, n), tag);
    if (!equal_ct(ByteView(tag, kTagSize), sealed.subspan(n))) return false;
    if (n) std::memmove(out, sealed.data(), n);
    return true;
  }
  CipherCtx cc;
  int len = 0;
  uint8_t tag[kTagSize];
  std::memcpy(tag, sealed.data() + n, kTagSize);
  bool ok = EVP_DecryptInit_ex2(cc.ctx, evp_cipher(c), key.data(), nonce, nullptr) == 1 &&
            (aad.empty() || EVP_DecryptUpdate(cc.ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1) &&
            (n == 0 || EVP_DecryptUpdate(cc.ctx, out, &len, sealed.data(), static_cast<int>(n)) == 1) &&
            EVP_CIPHER_CTX_ctrl(cc.ctx, EVP_CTRL_AEAD_SET_TAG, kTagSize, tag) == 1 &&
            EVP_DecryptFinal_ex(cc.ctx, out + n, &len) == 1;
  return ok;
}

Key32 derive_key(const Key32& prk, std::string_view info) {
  std::string msg(info);
  msg.push_back('\x01');
  Key32 out;
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), prk.data(), static_cast<int>(prk.size()), reinterpret_cast<const uint8_t*>(msg.data()),
            msg.size(), out.data(), &len) ||
      len != 32) {
    fail(ErrorCode::kGeneric, "key derivation failed inside OpenSSL");
  }
  return out;
}

void random_bytes(uint8_t* p, size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) fail(ErrorCode::kGeneric, "the system random generator failed");
}

Key32 random_key() {
  Key32 k;
  random_bytes(k.data(), k.size());
  return k;
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_DigestInit_ex2(impl_->ctx, md, nullptr);
}
Sha256::~Sha256() = default;
void Sha256::update(ByteView data) { EVP_DigestUpdate(impl_->ctx, data.data(), data.size()); }
Digest32 Sha256::finish() {
  Digest32 d;
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, d.data(), &len);
  return d;
}
Digest32 Sha256::of(ByteView data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string digest_hex(const Digest32& d) { return hex_encode(ByteView(d.data(), d.size())); }
std::string digest_hex(const Digest16& d) { return hex_encode(ByteView(d.data(), d.size())); }

Xxh128::Xxh128() : state_(XXH3_createState()) {
  if (!state_) throw std::bad_alloc();
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}
Xxh128::~Xxh128() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh128::update(ByteView data) { XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size()); }
Digest16 Xxh128::finish() {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_)));
  Digest16 d;
  std::memcpy(d.data(), c.digest, d.size());
  return d;
}
Digest16 Xxh128::of(ByteView data) {
  Xxh128 h;
  h.update(data);
  return h.finish();
}

bool equal_ct(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace strata
