#pragma once
// Cryptographic primitives used by the format: AEAD per frame, key derivation, SHA-256. Only AEAD modes exist;
// "no encryption" still carries a keyless BLAKE2b tag per frame so corruption is always detected.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.hpp"

namespace strata {

using Key32 = std::array<uint8_t, 32>;
using Digest32 = std::array<uint8_t, 32>;
using Digest16 = std::array<uint8_t, 16>;

enum class Cipher : uint8_t { kNone = 0, kAes256Gcm = 1, kChaCha20Poly1305 = 2 };
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kNonceSize = 12;

// AES-256-GCM where the CPU has AES instructions, else ChaCha20-Poly1305 (constant-time in software).
Cipher preferred_cipher();
std::string cipher_name(Cipher c);
Cipher parse_cipher(std::string_view name);  // throws StrataError(kCorrupt) for unknown names

// out = ciphertext || tag (plaintext.size() + kTagSize bytes). `out` may be plaintext.data() (sealed in place) but
// must not overlap it otherwise.
void aead_seal(Cipher c, const Key32& key, const uint8_t nonce[kNonceSize], ByteView aad, ByteView plaintext,
               uint8_t* out);
// Returns false if the tag does not verify. `out` receives sealed.size() - kTagSize bytes.
[[nodiscard]] bool aead_open(Cipher c, const Key32& key, const uint8_t nonce[kNonceSize], ByteView aad,
                             ByteView sealed, uint8_t* out);

// HKDF-SHA256-Expand(prk, info, 32) — a single HMAC block; prk is always uniformly random here.
Key32 derive_key(const Key32& prk, std::string_view info);
void random_bytes(uint8_t* p, size_t n);
Key32 random_key();

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteView data);
  Digest32 finish();
  static Digest32 of(ByteView data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// XXH3-128 (canonical big-endian form): the keyless check of stored bytes. It guards against bit rot and
// truncation, not against an attacker — without keys nothing in the public manifest is authenticated anyway, and
// with keys every frame's AEAD tag is. An order of magnitude cheaper than SHA-256 on the hot path of every backup.
class Xxh128 {
 public:
  Xxh128();
  ~Xxh128();
  Xxh128(const Xxh128&) = delete;
  Xxh128& operator=(const Xxh128&) = delete;
  void update(ByteView data);
  Digest16 finish();
  static Digest16 of(ByteView data);

 private:
  void* state_;
};

std::string digest_hex(const Digest32& d);
std::string digest_hex(const Digest16& d);
// Constant-time comparison of equal-length buffers.
bool equal_ct(ByteView a, ByteView b);

}  // namespace strata
