#pragma once
// Everything the S3 driver needs to reach a bucket, resolved from (rising precedence) built-in defaults, the
// strata config file's [s3] table, the standard AWS_* environment variables, and options in the location itself
// (s3://bucket/prefix?region=...). Credentials never come from the location, so they never reach argv or a log.
#include <cstdint>
#include <map>
#include <string>

#include <memory>

#include "storage/s3/credentials.hpp"
#include "storage/s3/sigv4.hpp"

namespace strata::s3 {

enum class Addressing { kPath, kVirtualHosted };

struct S3Config {
  std::string bucket;
  std::string prefix;  // "" or ends with '/'
  std::string scheme = "https";
  std::string host;  // "s3.us-east-1.amazonaws.com" or "127.0.0.1:9000"
  std::string region = "us-east-1";
  Addressing addressing = Addressing::kPath;
  std::string storage_class;  // empty = the bucket's default
  sigv4::Credentials credentials;  // as first resolved; requests sign with credential_cache when it is set
  std::string credentials_source;  // "environment", "config file", "profile NAME in FILE": for messages only
  // Shared by copies of the config (the client and the storage), so all requests see one refresh.
  std::shared_ptr<CredentialCache> credential_cache;

  uint64_t part_size = 8u << 20;      // first multipart part; grows so 10,000 parts are never reached
  unsigned upload_concurrency = 8;    // parts in flight per process
  uint64_t upload_buffer = 0;         // bytes of part buffers per process; 0 = 9/8 part_size * (concurrency + 1)
  unsigned max_requests = 32;         // HTTP requests in flight per process
  unsigned max_attempts = 8;          // per request, including the first
  unsigned retry_base_ms = 200;       // backoff: base * 2^n with jitter, capped at retry_max_ms
  unsigned retry_max_ms = 10000;
  unsigned request_timeout_ms = 120000;  // a whole request
  unsigned stall_timeout_ms = 30000;     // no byte moved for this long = a dead connection
  unsigned connect_timeout_ms = 10000;
  bool if_none_match = true;     // create-only via the server's conditional write; false = HEAD-then-PUT fallback
  bool sign_payload = false;     // true = SHA-256 of every body in the signature; false = Content-MD5 (signed) only
  // Integrity of object data on the wire: Content-MD5 (every S3-compatible service) or x-amz-checksum-crc32
  // (AWS, MinIO, recent Ceph; about three times cheaper to compute).
  bool checksum_crc32 = false;
  bool verify_tls = true;

  std::string describe() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix.substr(0, prefix.size() - 1)); }
  // Host for requests of this bucket, honouring the addressing style.
  std::string request_host() const;
  // "/bucket/key" (path style) or "/key" (virtual-hosted), not yet encoded.
  std::string request_path(const std::string& full_key) const;
};

// `options` are the config file's [s3] keys as text. Throws StrataError(kUsage) naming the bad setting.
S3Config resolve_s3_config(const std::string& location, const std::map<std::string, std::string>& options);

}  // namespace strata::s3
