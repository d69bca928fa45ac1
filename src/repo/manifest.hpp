#pragma once
// A backup's manifest: its commit record. Layout in docs/FORMAT.md "Manifest".
// The public part (what list/check need, no secrets) is readable without keys and authenticated as AAD of the
// sealed part (plaintext digest and frame layout), so any change to either is detected by whoever holds the key.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "io/pipeline.hpp"

namespace strata {

// Version 1: unsigned. Version 2: the same, plus a writer's Ed25519 signature after the sealed part
// (docs/FORMAT.md "Writer identities"). Readers accept both.
inline constexpr uint32_t kManifestVersion = 2;
inline constexpr uint32_t kManifestVersionUnsigned = 1;

// Bounds every reader enforces (docs/FORMAT.md "Limits"): a manifest is written by whoever can write to the storage.
inline constexpr uint64_t kMaxManifestPublicBytes = 64ull << 20;
inline constexpr uint64_t kMaxManifestSealedBytes = 192ull << 20;
inline constexpr size_t kMaxEngineJsonBytes = 1u << 20;
inline constexpr size_t kMaxManifestText = 1024;  // any one string field (source, host, label key or value...)
inline constexpr size_t kMaxManifestLabels = 256;
inline constexpr uint32_t kMaxFramesPerObject = 1u << 20;
inline constexpr size_t kManifestSignatureSize = 64;  // Ed25519

struct Manifest {
  // Public part.
  std::string id;
  std::string source;
  std::string type = "stream";  // "stream"; engines add "full", "incremental", "wal", ...
  std::string parent;           // id of the backup this one builds on, if any
  std::string started, finished;  // ISO-8601 UTC
  int64_t started_epoch = 0, finished_epoch = 0;
  // Start in microseconds: orders backups begun within the same second (`latest`, `list`). 0 in manifests written
  // before it existed; order_key() then falls back to started_epoch.
  int64_t started_us = 0;
  int64_t order_key() const { return started_us > 0 ? started_us : started_epoch * 1000000; }
  std::string host, tool_version;
  std::map<std::string, std::string> labels;
  std::string compression;   // as requested, e.g. "zstd:3"
  std::string cipher;        // "aes-256-gcm", "chacha20-poly1305" or "none"
  std::string writer;        // "passphrase" or "public-key" (a write-only host)
  uint32_t frame_size = 0;
  uint32_t frames_per_object = 0;
  Bytes wrapped_data_key;    // crypto_box_seal(data key, repo public key); empty without encryption
  std::string engine_json = "{}";  // engine metadata (LSNs, binlog positions...), JSON object text
  // The layout: objects with size and stored digest are public (checkable without keys); frame ranges and the
  // plaintext digest come from the sealed part.
  StreamResult stream;
  bool sealed_loaded = false;  // the sealed part was opened and verified
  // Writer identity (format version 2): the registered writer whose key signed this manifest; empty if unsigned.
  std::string writer_id, writer_name;
  Bytes signature;          // Ed25519 signature as read (decode) — empty for version 1
  uint64_t signed_size = 0;  // how many leading bytes of the encoded manifest the signature covers
  // Set by the repository once it has checked the signature (repo/writer.hpp WriterStatus), for list/show.
  std::string writer_status;
};

// Encodes a manifest. `manifest_key` seals the private part with `cipher`. With m.writer_id set the result is a
// version 2 manifest whose signature block is still missing: append_manifest_signature() completes it.
Bytes encode_manifest(const Manifest& m, Cipher cipher, const Key32& manifest_key);
// Appends `u32 64 | signature` to a version 2 manifest from encode_manifest().
void append_manifest_signature(Bytes& encoded, ByteView signature);
// The bytes a writer signs: a domain tag and the manifest up to its signature block.
Bytes manifest_signed_message(ByteView encoded, uint64_t signed_size);
// Refuses a manifest whose cipher or data key cannot belong to a repository that is (not) encrypted: a backup
// copied in from an unencrypted repository must not restore as if it were authenticated. Throws kCorrupt.
void check_manifest_cipher(const Manifest& m, bool repo_encrypted, const std::string& where);
// Parses the public part only (no key needed). Throws StrataError(kCorrupt / kUnsupportedVersion).
Manifest decode_manifest_public(ByteView data, const std::string& where);
// Opens and verifies the sealed part into `m`. Throws StrataError(kCorrupt) if it was tampered with.
void decode_manifest_sealed(ByteView data, Manifest& m, const Key32& manifest_key, const std::string& where);

// JSON for `show --json` / `list --json`.
std::string manifest_to_json(const Manifest& m, bool with_layout, int indent);

}  // namespace strata
