#include "platform/notify/webhook_config.hpp"


#include "common/duration.hpp"
#include "common/error.hpp"
#include "common/secret_file.hpp"

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
      e.secret = read_channel_secret(file, where, "secret_file", "shared secret");
    }
    e.kinds = split_kinds(get("events"));
    e.timeout_ms = parse_duration(get("timeout").empty() ? "10s" : get("timeout"), "webhook." + name + ".timeout") * 1000;
    out.push_back(std::move(e));
  }
  return out;
}

std::string read_channel_secret(const std::string& file, const std::string& where, const std::string& key,
                                const std::string& what) {
  SecretFile f = read_secret_file(file, SecretTrim::kWhitespace);
  if (!f.read || f.value.empty()) {
    fail(ErrorCode::kUsage, where + ": " + key + " " + file + " cannot be read or is empty; write the " + what +
                                " into it (mode 0600)");
  }
  return f.value;
}

std::vector<std::string> split_kinds(const std::string& events) {
  std::vector<std::string> kinds;
  for (size_t start = 0; !events.empty();) {
    size_t comma = events.find(',', start);
    kinds.push_back(events.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return kinds;
}

}  // namespace strata
