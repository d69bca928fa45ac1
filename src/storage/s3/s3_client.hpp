#pragma once
// One S3 request at a time per call, signed, over a pooled libcurl handle (keep-alive), with retries: exponential
// backoff with jitter for 5xx, 429/SlowDown, resets and timeouts; none for errors that cannot succeed (403, a
// missing bucket), which become one line naming the cause.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "storage/s3/s3_config.hpp"

namespace strata::s3 {

struct Response {
  long status = 0;
  std::string body;                            // error XML and listings; object data goes to Call::sink
  std::map<std::string, std::string> headers;  // lower-case names
  // How many attempts it took. More than one for a request that is not idempotent (creating a multipart upload)
  // means an earlier attempt may have taken effect on the server although its answer was lost.
  unsigned attempts = 1;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Call {
  std::string method = "GET";
  std::string key;  // full key in the bucket (prefix included); empty = the bucket itself
  sigv4::Pairs query;
  sigv4::Pairs headers;
  ByteView body;
  Bytes* sink = nullptr;          // 2xx response bodies go here (GET of object data)
  std::vector<long> accept;       // non-2xx statuses handed back instead of thrown (404 for HEAD, 412 ...)
  std::string what;               // "upload of data/x part 3" — names the object in messages
  bool content_md5 = true;        // false when the caller sends an x-amz-checksum-* header instead
};

enum class Verdict { kOk, kRetry, kFail };
struct Outcome {
  Verdict verdict = Verdict::kOk;
  ErrorCode code = ErrorCode::kStorage;
  std::string message;  // without the "after N attempts" suffix
  bool expired_credentials = false;  // ExpiredToken & co: worth one retry with freshly fetched credentials
};

// Decides what one attempt's result means. Pure, so the messages are unit-tested without a server.
// curl_code 0 = the HTTP exchange completed with `status`.
Outcome classify(const S3Config& config, const Call& call, int curl_code, const std::string& curl_error, long status,
                 const std::string& error_body);

// "<Code>x</Code>" -> "x" from an S3 XML document; "" if absent. Entities decoded.
std::string xml_value(const std::string& xml, const std::string& tag, size_t* from = nullptr);
// Text for an XML element's content: & < > " ' as entities.
std::string xml_escape(const std::string& s);

class Client {
 public:
  explicit Client(S3Config config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs the call with retries. Throws StrataError with a one-line message when it cannot succeed.
  Response execute(const Call& call);
  const S3Config& config() const { return config_; }
  uint64_t retried() const { return retried_.load(); }

 private:
  struct Attempt;
  void* acquire_handle();
  void release_handle(void* h);
  Response attempt(const Call& call, const std::string& md5_b64, const std::string& payload_hash, int* curl_code,
                   std::string* curl_error);

  S3Config config_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<void*> idle_;
  unsigned in_flight_ = 0;
  std::atomic<uint64_t> retried_{0};
};

std::string md5_base64(ByteView data);
std::string md5_hex(ByteView data);
// CRC-32 (the zlib/IEEE polynomial), and its big-endian base64 form for x-amz-checksum-crc32.
uint32_t crc32(ByteView data);
std::string crc32_base64(ByteView data);

}  // namespace strata::s3
