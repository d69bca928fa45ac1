#include "server/http/agent_client.hpp"

#include <curl/curl.h>

#include <memory>

#include "common/error.hpp"
#include "server/http/agent_protocol.hpp"

namespace strata {
namespace ap = agent_protocol;
namespace {

// libcurl asks this a few times a second during a transfer: a stopping agent does not wait out its long poll.
int abort_if_cancelled(void* token, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return token && static_cast<const CancelToken*>(token)->cancelled() ? 1 : 0;
}

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

HttpAgentLink::HttpAgentLink(HttpAgentLinkOptions options) : opt_(std::move(options)) {
  while (!opt_.server.empty() && opt_.server.back() == '/') opt_.server.pop_back();
  if (opt_.server.rfind("http://", 0) != 0 && opt_.server.rfind("https://", 0) != 0) {
    fail(ErrorCode::kUsage, "--server '" + opt_.server + "' is not an http:// or https:// URL");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

HttpAgentLink::Answer HttpAgentLink::post(const char* path, const std::string& body, std::chrono::milliseconds extra) {
  std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) fail(ErrorCode::kGeneric, "cannot start an HTTP request (libcurl)");
  std::string url = opt_.server + path;
  std::string auth = "Authorization: Bearer " + opt_.token;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> hold(headers, curl_slist_free_all);
  Answer a;
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>((opt_.timeout + extra).count()));
  if (!opt_.ca_file.empty()) curl_easy_setopt(h.get(), CURLOPT_CAINFO, opt_.ca_file.c_str());
  if (opt_.cancel) {
    curl_easy_setopt(h.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h.get(), CURLOPT_XFERINFOFUNCTION, abort_if_cancelled);
    curl_easy_setopt(h.get(), CURLOPT_XFERINFODATA, const_cast<CancelToken*>(opt_.cancel));
  }
  CURLcode rc = curl_easy_perform(h.get());
  if (rc == CURLE_ABORTED_BY_CALLBACK) fail(ErrorCode::kInterrupted, "the agent is stopping");
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CERTPROBLEM ||
      rc == CURLE_SSL_CACERT_BADFILE) {
    // Not something waiting fixes: the agent stops and says what to change.
    fail(ErrorCode::kUsage, "TLS with the server " + opt_.server + " failed: " + curl_easy_strerror(rc) +
                                "; give the CA that signed the server's certificate with --ca-file");
  }
  if (rc != CURLE_OK) {
    fail(ErrorCode::kGeneric, "cannot reach the server " + opt_.server + ": " + curl_easy_strerror(rc) +
                                  "; is strata server running there?");
  }
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &a.status);
  if (a.status == 401) {
    fail(ErrorCode::kWrongKey, "the server " + opt_.server + " refused this agent's token (from " + opt_.token_file +
                                   "); the server's --token-dir must hold the same token in a file named by the agent");
  }
  if (a.status == 404) fail(ErrorCode::kNotFound, "the server " + opt_.server + ": " + ap::error_of(a.body));
  if (a.status != 200 && a.status != 204) {
    fail(ErrorCode::kGeneric, "the server " + opt_.server + " answered " + std::to_string(a.status) + ": " +
                                  ap::error_of(a.body));
  }
  return a;
}

std::string HttpAgentLink::register_agent(const AgentHello& hello) {
  return ap::parse_agent(post(ap::kRegister, ap::hello_json(hello)).body);
}

std::optional<AgentClaim> HttpAgentLink::claim(std::chrono::milliseconds wait) {
  Answer a = post(ap::kClaim, "{\"wait_ms\":" + std::to_string(wait.count()) + "}", wait);
  if (a.status == 204) return std::nullopt;
  return ap::parse_claim(a.body);
}

AgentBeat HttpAgentLink::heartbeat(int64_t job_id, int64_t epoch) {
  return ap::parse_beat(post(ap::kHeartbeat, ap::job_ref_json(job_id, epoch)).body);
}

ReportResult HttpAgentLink::report(int64_t job_id, int64_t epoch, const JobOutcome& outcome) {
  return ap::parse_result(post(ap::kReport, ap::report_json(job_id, epoch, outcome)).body);
}

}  // namespace strata
