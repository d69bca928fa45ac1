#pragma once
// Key hierarchy (docs/FORMAT.md "Keys"):
//   passphrase --Argon2id--> wrapping key --XChaCha20-Poly1305--> repository secret key (X25519)
//   per-backup data key (random) --crypto_box_seal--> repository public key
//   data key --HKDF--> per-object frame keys, manifest key
// A host that holds only the public key can write backups and can read none of them.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "io/crypto.hpp"

namespace strata {

using PublicKey = std::array<uint8_t, 32>;

struct KdfParams {
  uint64_t opslimit = 3;
  uint64_t memlimit = 64ull << 20;  // 64 MiB: strong, yet well under the 256 MiB memory budget
};

// Bounds on the Argon2id cost a key file may ask for (docs/FORMAT.md "Limits"). A key file is written by whoever can
// write to the storage: without bounds one file makes every command take minutes or gigabytes (or fail oddly with 0).
inline constexpr uint64_t kMinKdfOps = 1, kMaxKdfOps = 64;
inline constexpr uint64_t kMinKdfMemory = 8192, kMaxKdfMemory = 1ull << 30;  // libsodium's minimum
inline constexpr uint64_t kMaxKdfWork = 4ull << 30;  // opslimit x memlimit: ~3-5 s on one core
// Empty if `kdf` is within the bounds, else what is wrong with it.
std::string kdf_out_of_range(const KdfParams& kdf);

struct WrappedKey {
  std::string id;
  std::string created;
  std::string host;
  std::string label;
  KdfParams kdf;
  Bytes salt, nonce, ciphertext;
};

class SecretKey {
 public:
  static SecretKey generate();
  static SecretKey from_bytes(const Key32& sk);
  PublicKey public_key() const { return pk_; }
  const Key32& bytes() const { return sk_; }
  ~SecretKey();
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;

 private:
  SecretKey() = default;
  Key32 sk_{};
  PublicKey pk_{};
};

WrappedKey wrap_secret_key(const SecretKey& key, const std::string& passphrase, const std::string& repo_id,
                           const KdfParams& kdf);
// nullopt if the passphrase does not open this wrapped copy.
std::optional<SecretKey> unwrap_secret_key(const WrappedKey& wrapped, const std::string& passphrase,
                                           const std::string& repo_id);

// Data keys travel inside manifests sealed to the repository public key.
Bytes seal_data_key(const Key32& data_key, const PublicKey& pk);
std::optional<Key32> open_data_key(ByteView sealed, const SecretKey& sk);

std::string wrapped_key_to_json(const WrappedKey& k);
WrappedKey wrapped_key_from_json(const std::string& text, const std::string& where);

}  // namespace strata
