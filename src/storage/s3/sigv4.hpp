#pragma once
// AWS Signature Version 4, written against the published spec and test vectors rather than curl's CURLOPT_AWS_SIGV4:
// Debian's curl 7.88 neither encodes the path nor canonicalises a bare "?uploads", so S3 requests it signs are refused.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata::sigv4 {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

struct Request {
  std::string method;
  std::string path;  // decoded ("/bucket/my key"); the signer encodes it, and the wire must use uri_encode_path()
  Pairs query;       // decoded names and values; a bare "?uploads" is {"uploads", ""}
  Pairs headers;     // as sent; repeated names allowed
  std::string payload_sha256;  // hex, or "UNSIGNED-PAYLOAD"
};

struct Options {
  std::string region;
  std::string service = "s3";
  std::string amz_date;  // "20150830T123600Z"
  bool normalize_path = false;  // S3 signs the path as sent: never normalise for it
  bool add_content_sha256_header = true;  // S3 requires x-amz-content-sha256
  bool presign = false;  // sign in the query string instead of the Authorization header
  uint64_t expires_seconds = 3600;
  bool omit_session_token = false;  // send the token but leave it out of the signature (some non-S3 services)
};

struct Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  Pairs added_headers;  // header mode: x-amz-date, [x-amz-content-sha256], [x-amz-security-token], Authorization
  Pairs added_query;    // presign mode: X-Amz-* parameters including X-Amz-Signature
};

Signed sign(const Request& request, const Credentials& credentials, const Options& options);

// RFC 3986 unreserved characters stay, everything else becomes %XX (upper case), as SigV4 requires.
std::string uri_encode(const std::string& s, bool keep_slash);
inline std::string uri_encode_path(const std::string& path) { return uri_encode(path, true); }
std::string uri_decode(const std::string& s);
// "a=1&b" -> {{"a","1"},{"b",""}}, decoded.
Pairs parse_query(const std::string& query);

std::string sha256_hex(const void* data, size_t size);

}  // namespace strata::sigv4
