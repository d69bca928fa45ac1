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

inline constexpr uint32_t kManifestVersion = 1;

struct Manifest {
  // Public part.
  std::string id;
  std::string source;
  std::string type = "stream";  // "stream"; engines add "full", "incremental", "wal", ...
  std::string parent;           // id of the backup this one builds on, if any
  std::string started, finished;  // ISO-8601 UTC
  int64_t started_epoch = 0, finished_epoch = 0;
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
};

// Encodes a manifest. `manifest_key` seals the private part with `cipher`.
Bytes encode_manifest(const Manifest& m, Cipher cipher, const Key32& manifest_key);
// Parses the public part only (no key needed). Throws StrataError(kCorrupt / kUnsupportedVersion).
Manifest decode_manifest_public(ByteView data, const std::string& where);
// Opens and verifies the sealed part into `m`. Throws StrataError(kCorrupt) if it was tampered with.
void decode_manifest_sealed(ByteView data, Manifest& m, const Key32& manifest_key, const std::string& where);

// JSON for `show --json` / `list --json`.
std::string manifest_to_json(const Manifest& m, bool with_layout, int indent);

}  // namespace strata
