#include "app/sources.hpp"

#include <vector>

#include "common/error.hpp"

namespace strata::app {

SourceConfig engine_source(const Settings& settings, const std::string& name, const std::string& engine) {
  auto it = settings.sources.find(name);
  if (it == settings.sources.end()) {
    fail(ErrorCode::kUsage, "source '" + name + "' is not in the config: add [source." + name + "] with engine = \"" +
                                engine + "\"");
  }
  SourceConfig sc{name, it->second};
  if (sc.get("engine") != engine) {
    fail(ErrorCode::kUsage, "source '" + name + "' is not a " + engine + " source (engine = \"" + engine + "\")");
  }
  return sc;
}

SourceConfig postgres_source(const Settings& settings, const std::string& name) {
  if (!name.empty()) {
    auto it = settings.sources.find(name);
    if (it == settings.sources.end()) {
      fail(ErrorCode::kUsage, "no [source." + name + "] in the config" +
                                  (settings.config_path.empty() ? "" : " (" + settings.config_path + ")") +
                                  "; add it with engine = \"postgres\"");
    }
    SourceConfig sc{name, it->second};
    if (sc.get("engine") != "postgres") fail(ErrorCode::kUsage, "source '" + name + "' is not engine = \"postgres\"");
    return sc;
  }
  std::vector<std::string> found;
  for (const auto& [n, values] : settings.sources) {
    auto e = values.find("engine");
    if (e != values.end() && e->second == "postgres") found.push_back(n);
  }
  if (found.size() != 1) {
    fail(ErrorCode::kUsage, found.empty() ? "no source with engine = \"postgres\" in the config; give --config and --source"
                                          : "several postgres sources in the config; give --source NAME");
  }
  return SourceConfig{found[0], settings.sources.at(found[0])};
}

}  // namespace strata::app
