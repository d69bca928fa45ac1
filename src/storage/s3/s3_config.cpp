#include "storage/s3/s3_config.hpp"

#include <cstdlib>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace strata::s3 {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  fail(ErrorCode::kUsage, "S3 option '" + key + "' must be true or false, not '" + v + "'");
}

unsigned parse_count(const std::string& key, const std::string& v, unsigned min) {
  try {
    size_t used = 0;
    long n = std::stol(v, &used);
    if (used == v.size() && n >= static_cast<long>(min) && n <= 1'000'000) return static_cast<unsigned>(n);
  } catch (...) {
  }
  fail(ErrorCode::kUsage, "S3 option '" + key + "' must be a whole number of at least " + std::to_string(min) + ", not '" + v + "'");
}

void set_endpoint(S3Config& c, std::string url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) fail(ErrorCode::kUsage, "S3 endpoint '" + url + "' must start with http:// or https://");
  c.scheme = url.substr(0, sep);
  if (c.scheme != "http" && c.scheme != "https") {
    fail(ErrorCode::kUsage, "S3 endpoint '" + url + "' must start with http:// or https://");
  }
  std::string rest = url.substr(sep + 3);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    fail(ErrorCode::kUsage, "S3 endpoint '" + url + "' must be scheme://host[:port] without a path");
  }
  c.host = rest;
}

bool dns_compatible(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char ch : bucket) {
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '-')) return false;
  }
  return true;
}

}  // namespace

std::string S3Config::request_host() const {
  return addressing == Addressing::kVirtualHosted ? bucket + "." + host : host;
}

std::string S3Config::request_path(const std::string& full_key) const {
  return addressing == Addressing::kVirtualHosted ? "/" + full_key : "/" + bucket + "/" + full_key;
}

S3Config resolve_s3_config(const std::string& location, const std::map<std::string, std::string>& file_options) {
  S3Config c;
  if (location.rfind("s3://", 0) != 0) fail(ErrorCode::kUsage, "not an s3:// location: " + location);
  std::string rest = location.substr(5);
  std::map<std::string, std::string> opts = file_options;  // config file < environment < location
  std::map<std::string, std::string> from_location;
  if (auto q = rest.find('?'); q != std::string::npos) {
    for (const auto& [k, v] : sigv4::parse_query(rest.substr(q + 1))) from_location[k] = v;
    rest = rest.substr(0, q);
  }
  auto slash = rest.find('/');
  c.bucket = rest.substr(0, slash);
  if (c.bucket.empty()) fail(ErrorCode::kUsage, "no bucket in '" + location + "': use s3://bucket/prefix");
  if (slash != std::string::npos) {
    c.prefix = rest.substr(slash + 1);
    while (!c.prefix.empty() && c.prefix.back() == '/') c.prefix.pop_back();
    if (!c.prefix.empty()) c.prefix += "/";
  }
  for (const char* secret : {"access_key_id", "secret_access_key", "session_token"}) {
    if (from_location.count(secret)) {
      fail(ErrorCode::kUsage, std::string("credentials do not belong in the repository location (it is logged and on argv); "
                                          "remove '") + secret + "' and use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or [s3] in the config file");
    }
  }

  if (auto v = env("AWS_REGION"); !v.empty()) opts["region"] = v;
  else if (auto v2 = env("AWS_DEFAULT_REGION"); !v2.empty()) opts["region"] = v2;
  if (auto v = env("AWS_ENDPOINT_URL_S3"); !v.empty()) opts["endpoint"] = v;
  else if (auto v2 = env("AWS_ENDPOINT_URL"); !v2.empty()) opts["endpoint"] = v2;
  for (const auto& [k, v] : from_location) opts[k] = v;

  bool explicit_endpoint = false;
  std::string addressing = "auto";
  for (const auto& [k, v] : opts) {
    if (k == "region") c.region = v;
    else if (k == "endpoint") set_endpoint(c, v), explicit_endpoint = true;
    else if (k == "addressing") addressing = v;
    else if (k == "storage_class") c.storage_class = v;
    else if (k == "part_size") c.part_size = parse_size(v);
    else if (k == "upload_concurrency") c.upload_concurrency = parse_count(k, v, 1);
    else if (k == "upload_buffer") c.upload_buffer = parse_size(v);
    else if (k == "max_requests") c.max_requests = parse_count(k, v, 1);
    else if (k == "max_attempts") c.max_attempts = parse_count(k, v, 1);
    else if (k == "retry_base_ms") c.retry_base_ms = parse_count(k, v, 0);
    else if (k == "retry_max_ms") c.retry_max_ms = parse_count(k, v, 0);
    else if (k == "request_timeout_ms") c.request_timeout_ms = parse_count(k, v, 100);
    else if (k == "stall_timeout_ms") c.stall_timeout_ms = parse_count(k, v, 1000);
    else if (k == "connect_timeout_ms") c.connect_timeout_ms = parse_count(k, v, 100);
    else if (k == "if_none_match") c.if_none_match = parse_bool(k, v);
    else if (k == "sign_payload") c.sign_payload = parse_bool(k, v);
    else if (k == "verify_tls") c.verify_tls = parse_bool(k, v);
    else if (k == "checksum") {
      if (v != "md5" && v != "crc32") fail(ErrorCode::kUsage, "S3 option 'checksum' must be md5 or crc32, not '" + v + "'");
      c.checksum_crc32 = v == "crc32";
    }
    else if (k == "access_key_id" || k == "secret_access_key" || k == "session_token" || k == "profile") continue;
    else fail(ErrorCode::kUsage, "unknown S3 option '" + k + "'; docs/S3.md lists them");
  }
  if (!explicit_endpoint) c.host = "s3." + c.region + ".amazonaws.com";
  if (c.part_size < (5u << 20) || c.part_size > (5ull << 30)) {
    fail(ErrorCode::kUsage, "S3 part_size must be between 5MiB and 5GiB (S3's limits)");
  }
  if (addressing == "path") {
    c.addressing = Addressing::kPath;
  } else if (addressing == "virtual") {
    c.addressing = Addressing::kVirtualHosted;
  } else if (addressing == "auto") {
    // Virtual-hosted is what AWS wants; other services and dotted names are safest path-style.
    bool aws = c.host.size() > 14 && c.host.compare(c.host.size() - 14, 14, ".amazonaws.com") == 0;
    c.addressing = aws && dns_compatible(c.bucket) ? Addressing::kVirtualHosted : Addressing::kPath;
  } else {
    fail(ErrorCode::kUsage, "S3 option 'addressing' must be path, virtual or auto, not '" + addressing + "'");
  }
  // A part buffer is part_size plus an eighth (s3_storage.hpp, part_tail_allowance).
  if (c.upload_buffer == 0) c.upload_buffer = (c.part_size + c.part_size / 8) * (c.upload_concurrency + 1);

  // Credentials: the provider chain of credentials.hpp, resolved now so that a missing credential fails early.
  c.credential_cache = resolve_credentials(file_options, c.describe());
  c.credentials = c.credential_cache->get();
  c.credentials_source = c.credential_cache->name();
  return c;
}

}  // namespace strata::s3
