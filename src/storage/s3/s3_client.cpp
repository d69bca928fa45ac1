#include "storage/s3/s3_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "common/clock.hpp"
#include "common/log.hpp"

namespace strata::s3 {
namespace {

std::once_flag g_curl_init;

struct Exchange {
  const Call* call = nullptr;
  Response* response = nullptr;
  long status = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after "100 Continue" or a retry inside curl) starts a fresh header set.
    ex->response->headers.clear();
    auto sp = line.find(' ');
    ex->status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t v = line.find_first_not_of(' ', colon + 1);
    ex->response->headers[name] = v == std::string::npos ? "" : line.substr(v);
    if (name == "content-length" && ex->call->sink && ex->status / 100 == 2) {
      ex->call->sink->reserve(static_cast<size_t>(std::strtoull(line.c_str() + v, nullptr, 10)));
    }
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->call->sink && ex->status / 100 == 2) {
    ex->call->sink->insert(ex->call->sink->end(), data, data + size * n);
  } else if (ex->response->body.size() < (1u << 20)) {
    ex->response->body.append(data, size * n);
  }
  return size * n;
}

std::string digest(const EVP_MD* md, ByteView data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string xml_unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string::npos) {
      out.push_back(s[i]);
      continue;
    }
    std::string ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out.push_back('&');
    else if (ent == "lt") out.push_back('<');
    else if (ent == "gt") out.push_back('>');
    else if (ent == "quot") out.push_back('"');
    else if (ent == "apos") out.push_back('\'');
    else if (!ent.empty() && ent[0] == '#') {
      unsigned long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X') ? std::strtoul(ent.c_str() + 2, nullptr, 16)
                                                                          : std::strtoul(ent.c_str() + 1, nullptr, 10);
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out += "&" + ent + ";";
    }
    i = semi;
  }
  return out;
}

std::string target_of(const S3Config& c, const Call& call) {
  return "s3://" + c.bucket + (call.key.empty() ? "" : "/" + call.key);
}

bool contains(const std::vector<long>& v, long x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

std::string md5_base64(ByteView data) {
  std::string d = digest(EVP_md5(), data);
  return base64_encode(as_bytes(d));
}

std::string md5_hex(ByteView data) { return hex_encode(as_bytes(digest(EVP_md5(), data))); }

uint32_t crc32(ByteView data) {
  // Slicing-by-8: eight table lookups per 8 bytes, a few GB/s without special instructions.
  static const auto tables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint32_t lo = (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24) ^ c;
    uint32_t hi = uint32_t(p[4]) | uint32_t(p[5]) << 8 | uint32_t(p[6]) << 16 | uint32_t(p[7]) << 24;
    c = tables[7][lo & 0xFF] ^ tables[6][(lo >> 8) & 0xFF] ^ tables[5][(lo >> 16) & 0xFF] ^ tables[4][lo >> 24] ^
        tables[3][hi & 0xFF] ^ tables[2][(hi >> 8) & 0xFF] ^ tables[1][(hi >> 16) & 0xFF] ^ tables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ tables[0][(c ^ *p++) & 0xFF];
  return c ^ 0xFFFFFFFFu;
}

std::string crc32_base64(ByteView data) {
  uint32_t c = crc32(data);
  uint8_t be[4] = {uint8_t(c >> 24), uint8_t(c >> 16), uint8_t(c >> 8), uint8_t(c)};
  return base64_encode(ByteView(be, 4));
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(ch);
    }
  }
  return out;
}

std::string xml_value(const std::string& xml, const std::string& tag, size_t* from) {
  size_t start = from ? *from : 0;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t b = xml.find(open, start);
  if (b == std::string::npos) return "";
  b += open.size();
  size_t e = xml.find(close, b);
  if (e == std::string::npos) return "";
  if (from) *from = e + close.size();
  return xml_unescape(xml.substr(b, e - b));
}

Outcome classify(const S3Config& c, const Call& call, int curl_code, const std::string& curl_error, long status,
                 const std::string& error_body) {
  Outcome o;
  const std::string target = target_of(c, call);
  const std::string what = call.what.empty() ? call.method + " " + target : call.what;
  if (curl_code != CURLE_OK) {
    o.verdict = Verdict::kRetry;
    switch (curl_code) {
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        o.verdict = Verdict::kFail;
        o.message = "the TLS certificate of " + c.host + " is not trusted (" + curl_error + "); fix the endpoint or its certificate";
        return o;
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        o.verdict = Verdict::kFail;
        o.code = ErrorCode::kUsage;
        o.message = "the S3 endpoint " + c.scheme + "://" + c.host + " is not usable (" + curl_error + "); fix the endpoint setting";
        return o;
      case CURLE_OPERATION_TIMEDOUT:
        o.message = what + " timed out talking to " + c.host + " (" + curl_error + ")";
        return o;
      default:
        o.message = what + ": connection to " + c.host + " failed (" + curl_error + ")";
        return o;
    }
  }
  if (status / 100 == 2 || contains(call.accept, status)) return o;
  std::string code = xml_value(error_body, "Code");
  std::string msg = xml_value(error_body, "Message");
  std::string detail = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code) + (msg.empty() ? "" : ": " + msg);
  if (status == 501) {
    // Not a transient failure: the service lacks the feature. Conditional writes are the usual culprit.
    o.verdict = Verdict::kFail;
    bool conditional = std::any_of(call.headers.begin(), call.headers.end(), [](const auto& h) { return h.first == "If-None-Match"; });
    o.message = conditional ? "the S3 service at " + c.host + " does not support conditional writes (If-None-Match: " + detail +
                                  "); set the s3 option if_none_match=false to use the documented fallback (docs/S3.md)"
                            : what + " is not supported by the S3 service at " + c.host + " (" + detail + ")";
    return o;
  }
  if (status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout" || code == "BadDigest" ||
      code == "OperationAborted" || code == "ConditionalRequestConflict" || code == "InternalError") {
    o.verdict = Verdict::kRetry;
    o.message = what + " failed: " + detail;
    return o;
  }
  o.verdict = Verdict::kFail;
  if (code == "InvalidAccessKeyId") {
    o.message = "S3 at " + c.host + " does not know the access key id from " + c.credentials_source +
                " (InvalidAccessKeyId); check the credentials";
  } else if (code == "SignatureDoesNotMatch") {
    o.message = "S3 at " + c.host + " rejected the request signature (SignatureDoesNotMatch): the secret access key from " +
                c.credentials_source + " is wrong";
  } else if (code == "RequestTimeTooSkewed") {
    o.message = "this host's clock differs from the S3 server's by more than 15 minutes (RequestTimeTooSkewed); fix the clock (NTP) and retry";
  } else if (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired") {
    o.message = "the S3 session token from " + c.credentials_source + " is expired or invalid (" + code + "); get fresh credentials";
    o.expired_credentials = true;
  } else if (code == "NoSuchBucket") {
    o.message = "bucket " + c.bucket + " does not exist at " + c.host + " (NoSuchBucket); create it or fix the repository location";
  } else if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == 301) {
    o.message = "bucket " + c.bucket + " is not in region " + c.region + " (" + (code.empty() ? "HTTP 301" : code) +
                "); set AWS_REGION or the s3 region option to the bucket's region";
  } else if (status == 403) {
    o.message = "access denied to " + target + " (" + (code.empty() ? "HTTP 403" : code) +
                "); check that the credentials from " + c.credentials_source + " may use this bucket";
  } else if (status == 404 && (code == "NoSuchKey" || code.empty())) {
    o.code = ErrorCode::kNotFound;
    o.message = "object " + call.key + " is missing from " + c.describe();
  } else if (status == 412) {
    o.code = ErrorCode::kAlreadyExists;
    o.message = target + " already exists";
  } else {
    o.message = what + " was refused: " + detail;
  }
  return o;
}

Client::Client(S3Config config) : config_(std::move(config)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Client::~Client() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* Client::acquire_handle() {
  std::unique_lock<std::mutex> lock(mu_);
  // The process-wide cap on requests in flight: production networks must not see an unbounded burst.
  cv_.wait(lock, [&] { return in_flight_ < config_.max_requests; });
  ++in_flight_;
  if (!idle_.empty()) {
    void* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  lock.unlock();
  return curl_easy_init();
}

void Client::release_handle(void* h) {
  std::lock_guard<std::mutex> lock(mu_);
  --in_flight_;
  idle_.push_back(h);
  cv_.notify_one();
}

Response Client::attempt(const Call& call, const std::string& md5_b64, const std::string& payload_hash, int* curl_code,
                         std::string* curl_error) {
  Response resp;
  sigv4::Request req;
  req.method = call.method;
  req.path = call.key.empty() && config_.addressing == Addressing::kPath ? "/" + config_.bucket
                                                                            : config_.request_path(call.key);
  req.query = call.query;
  req.headers = call.headers;
  req.headers.emplace_back("host", config_.request_host());
  if (!md5_b64.empty()) req.headers.emplace_back("content-md5", md5_b64);
  req.payload_sha256 = payload_hash;
  sigv4::Options opt;
  opt.region = config_.region;
  opt.amz_date = compact_utc(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count());
  sigv4::Signed s = sigv4::sign(req, config_.credential_cache ? config_.credential_cache->get() : config_.credentials, opt);

  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [k, v] : call.query) encoded.emplace_back(sigv4::uri_encode(k, false), sigv4::uri_encode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string url = config_.scheme + "://" + config_.request_host() + sigv4::uri_encode_path(req.path);
  for (size_t i = 0; i < encoded.size(); ++i) url += (i ? "&" : "?") + encoded[i].first + "=" + encoded[i].second;

  curl_slist* hdrs = nullptr;
  auto add = [&](const std::string& k, const std::string& v) { hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str()); };
  for (const auto& [k, v] : req.headers) add(k, v);
  for (const auto& [k, v] : s.added_headers) add(k, v);
  // curl would otherwise add a form content type and wait for "100 Continue" on large bodies.
  hdrs = curl_slist_append(hdrs, "Content-Type:");
  hdrs = curl_slist_append(hdrs, "Expect:");
  hdrs = curl_slist_append(hdrs, "Accept:");

  CURL* h = static_cast<CURL*>(acquire_handle());
  curl_easy_reset(h);
  Exchange ex{&call, &resp, 0};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout_ms));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max(1u, config_.stall_timeout_ms / 1000)));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, config_.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, config_.verify_tls ? 2L : 0L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  if (call.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (call.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    if (call.method == "PUT" || call.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.empty() ? "" : reinterpret_cast<const char*>(call.body.data()));
    }
  }
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(hdrs);
  release_handle(h);
  resp.status = status;
  *curl_code = rc;
  *curl_error = rc == CURLE_OK ? "" : (errbuf[0] ? errbuf : curl_easy_strerror(rc));
  return resp;
}

Response Client::execute(const Call& call) {
  std::string md5, payload = sigv4::sha256_hex("", 0);
  if (!call.body.empty() || call.method == "PUT" || call.method == "POST") {
    if (call.content_md5) md5 = md5_base64(call.body);
    if (!call.body.empty()) {
      payload = config_.sign_payload ? sigv4::sha256_hex(call.body.data(), call.body.size()) : "UNSIGNED-PAYLOAD";
    }
  }
  thread_local std::mt19937_64 rng(std::random_device{}());
  Outcome last;
  bool refreshed = false;
  for (unsigned n = 1;; ++n) {
    if (call.sink) call.sink->clear();
    int curl_code = 0;
    std::string curl_error;
    Response r = attempt(call, md5, payload, &curl_code, &curl_error);
    last = classify(config_, call, curl_code, curl_error, r.status, r.body);
    if (last.verdict == Verdict::kOk) {
      if (n > 1) log::info("s3_request_recovered", {{"request", call.what.empty() ? call.method + " " + call.key : call.what}, {"attempts", uint64_t(n)}});
      r.attempts = n;
      return r;
    }
    if (last.verdict == Verdict::kFail) {
      // Temporary credentials can expire between our refresh and the request (or be revoked early): fetch new
      // ones once. Static credentials cannot get better by retrying.
      if (last.expired_credentials && !refreshed && config_.credential_cache && config_.credential_cache->force_refresh()) {
        refreshed = true;
        continue;
      }
      fail(last.code, last.message);
    }
    if (n >= config_.max_attempts) break;
    // Exponential backoff with "equal jitter": half the window fixed, half random, so retries spread out.
    uint64_t window = std::min<uint64_t>(config_.retry_max_ms, uint64_t(config_.retry_base_ms) << std::min(n - 1, 20u));
    uint64_t wait = window / 2 + (window ? rng() % (window / 2 + 1) : 0);
    retried_++;
    log::warn("s3_retry", {{"request", call.what.empty() ? call.method + " " + call.key : call.what}, {"attempt", uint64_t(n)},
                           {"error", last.message}, {"wait_ms", wait}});
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
  fail(ErrorCode::kStorage, last.message + "; gave up after " + std::to_string(config_.max_attempts) +
                                " attempts: check the network and " + config_.host + ", or raise the s3 max_attempts option");
}

}  // namespace strata::s3
