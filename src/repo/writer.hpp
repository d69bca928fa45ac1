#pragma once
// Writer identities (docs/FORMAT.md "Writer identities"). A write-only host holds only the repository's public key,
// so without more anyone with write access to the storage could add a backup that restores cleanly. Each writer
// (a host or agent) therefore has its own Ed25519 key: the secret half stays in a 0600 file on the writer host
// (config `writer_key_file`), the public half is registered in the repository (`writers/<id>`) by someone with the
// passphrase, who authenticates the record with a MAC keyed from the repository secret key. Manifests are signed;
// readers with the passphrase check the signature against an authenticated record.
#include <array>
#include <cstdint>
#include <string>

#include "common/bytes.hpp"
#include "io/crypto.hpp"
#include "repo/layout.hpp"

namespace strata {

using SignPublicKey = std::array<uint8_t, 32>;

// The secret half, kept on the writer host.
struct WriterKey {
  std::string id;    // writer_id_of(public_key)
  std::string name;  // e.g. the host name; shown by list/show
  SignPublicKey public_key{};
  std::array<uint8_t, 64> secret{};  // libsodium Ed25519 secret key (seed || public key)
  ~WriterKey();
};

// writers/<id> in the repository.
struct WriterRecord {
  std::string id, name, created, host;
  SignPublicKey public_key{};
  Bytes mac;  // HMAC-SHA256 under writer_registry_key(), over writer_record_message()
};

enum class WriterStatus {
  kUnsigned,            // a version 1 manifest
  kVerified,            // signature good, writer record authenticated with the repository key
  kUnverifiedRegistry,  // signature good against the record, but no key to authenticate the record (no passphrase)
  kUnknownWriter,       // no record for the writer, or a record that does not authenticate
  kBadSignature,        // the signature does not verify: the manifest was changed or forged
};
const char* writer_status_name(WriterStatus s);

inline constexpr const char* kWritersPrefix = layout::kWriters;

std::string writer_id_of(const SignPublicKey& pk);  // 16 hex digits of SHA-256(public key)
// Names: 1-64 of letters, digits, '-', '_', '.'.
bool valid_writer_name(const std::string& name);
WriterKey generate_writer_key(const std::string& name);

// The key file: JSON {"format":"strata-writer-key","version":1,"id","name","public_key","secret_key"}.
std::string writer_key_to_text(const WriterKey& key);
WriterKey writer_key_from_text(const std::string& text, const std::string& where);
// Refuses a file that others can read (like ssh); create-only with mode 0600 when saving.
WriterKey load_writer_key_file(const std::string& path);
void save_writer_key_file(const std::string& path, const WriterKey& key);
SignPublicKey parse_writer_public_key(const std::string& hex);

std::array<uint8_t, 64> sign_message(const WriterKey& key, ByteView message);
bool verify_message(const SignPublicKey& pk, ByteView message, ByteView signature);

Key32 writer_registry_key(const Key32& repo_secret);
WriterRecord make_writer_record(const std::string& name, const SignPublicKey& pk, const std::string& repo_id,
                                const Key32& registry_key);
bool writer_record_authentic(const WriterRecord& r, const std::string& repo_id, const Key32& registry_key);
std::string writer_record_to_json(const WriterRecord& r);
// Throws StrataError(kCorrupt) naming `where`.
WriterRecord writer_record_from_json(const std::string& text, const std::string& where);

}  // namespace strata
