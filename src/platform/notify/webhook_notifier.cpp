#include "platform/notify/webhook_notifier.hpp"

#include <curl/curl.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/clock.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

// One POST; "" when the receiver answered 2xx, else why not (for last_error and the log — never the secret).
std::string post(const WebhookEndpoint& e, const std::string& body, int64_t event_id, const std::string& kind, int64_t t) {
  CURL* h = curl_easy_init();
  if (!h) return "libcurl could not start a request";
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, ("Idempotency-Key: " + std::to_string(event_id)).c_str());
  headers = curl_slist_append(headers, ("Strata-Event: " + kind).c_str());
  if (!e.secret.empty()) {
    headers = curl_slist_append(headers, ("Strata-Signature: " + webhook_signature(e.secret, t, body)).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, e.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(e.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(e.timeout_ms, 5000)));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) return curl_easy_strerror(rc);
  if (status < 200 || status > 299) return "HTTP " + std::to_string(status);
  return "";
}

}  // namespace

std::string webhook_signature(const std::string& secret, int64_t t, const std::string& body) {
  std::string msg = std::to_string(t) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return "t=" + std::to_string(t) + ",sha256=" + hex;
}

WebhookNotifier::WebhookNotifier(Catalog& catalog, std::vector<WebhookEndpoint> endpoints, NotifyOptions options)
    : notifier_(catalog, webhook_channels(std::move(endpoints)), options) {}

NotifyStats WebhookNotifier::pass() { return notifier_.pass(); }

std::vector<NotifyChannel> webhook_channels(std::vector<WebhookEndpoint> endpoints) {
  std::vector<NotifyChannel> out;
  for (auto& e : endpoints) {
    NotifyChannel c;
    c.name = e.name;  // the endpoint column of its delivery rows (webhooks came first: no prefix)
    c.kinds = e.kinds;
    c.timeout_ms = e.timeout_ms;
    c.send = [e](const NotifyEvent& ev) { return post(e, notify_event_json(ev), ev.id, ev.kind, ev.sent_at); };
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace strata
