#include "platform/notify/webhook_config.hpp"

#include <fstream>
#include <sstream>

#include "common/duration.hpp"
#include "common/error.hpp"

namespace strata {

std::vector<WebhookEndpoint> webhook_endpoints(const Settings& settings) {
  std::vector<WebhookEndpoint> out;
  for (const auto& [name, keys] : settings.webhooks) {
    auto get = [&](const char* k) {
      auto it = keys.find(k);
      return it == keys.end() ? std::string() : it->second;
    };
    std::string where = "[webhook." + name + "] in " + settings.config_path;
    WebhookEndpoint e;
    e.name = name;
    e.url = get("url");
    if (e.url.rfind("http://", 0) != 0 && e.url.rfind("https://", 0) != 0) {
      fail(ErrorCode::kUsage, where + ": url '" + e.url + "' is not an http:// or https:// URL; set url = \"https://...\"");
    }
    if (std::string file = get("secret_file"); !file.empty()) {
      std::ifstream f(file, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      e.secret = ss.str();
      while (!e.secret.empty() && std::isspace(static_cast<unsigned char>(e.secret.back()))) e.secret.pop_back();
      if (!f || e.secret.empty()) {
        fail(ErrorCode::kUsage, where + ": secret_file " + file + " cannot be read or is empty; write the shared secret "
                                "into it (mode 0600)");
      }
    }
    std::string events = get("events");
    for (size_t start = 0; !events.empty();) {
      size_t comma = events.find(',', start);
      e.kinds.push_back(events.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    e.timeout_ms = parse_duration(get("timeout").empty() ? "10s" : get("timeout"), "webhook." + name + ".timeout") * 1000;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace strata
