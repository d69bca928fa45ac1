#include "common/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <initializer_list>
#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <toml++/toml.h>

#include "common/bytes.hpp"
#include "common/config_keys.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "common/suggest.hpp"

namespace strata {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// TOML integers are signed: a negative one must not wrap around into a huge size or thread count.
int64_t non_negative(int64_t v, const std::string& key) {
  if (v < 0) fail(ErrorCode::kUsage, "config key '" + key + "' must not be negative");
  return v;
}

// Checks is_integer() first: toml++'s value<int64_t>() also converts `true` to 1.
unsigned count_value(const toml::node_view<toml::node>& n, unsigned def, const std::string& key) {
  if (!n) return def;
  if (!n.is_integer()) fail(ErrorCode::kUsage, "config key '" + key + "' must be a whole number");
  return static_cast<unsigned>(non_negative(*n.value<int64_t>(), key));
}

uint64_t size_value(const toml::node_view<toml::node>& n, uint64_t def, const std::string& key) {
  if (!n) return def;
  if (n.is_integer()) return static_cast<uint64_t>(non_negative(*n.value<int64_t>(), key));
  if (auto s = n.value<std::string>()) return parse_size(*s);
  fail(ErrorCode::kUsage, "config key '" + key + "' must be a size like \"64MiB\"");
}

uint64_t rate_value(const toml::node_view<toml::node>& n, uint64_t def, const std::string& key) {
  if (!n) return def;
  if (n.is_integer()) return static_cast<uint64_t>(non_negative(*n.value<int64_t>(), key));
  if (auto s = n.value<std::string>()) return parse_rate(*s);
  fail(ErrorCode::kUsage, "config key '" + key + "' must be a rate like \"50MiB/s\"");
}

// Refuses what the loader would otherwise ignore: unknown keys (typos), tables where a value belongs, secrets.
class Validator {
 public:
  explicit Validator(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail_at(const toml::source_region& where, const std::string& what) const {
    std::string line = where.begin.line ? " line " + std::to_string(where.begin.line) : "";
    fail(ErrorCode::kUsage, "config file " + path_ + line + ": " + what);
  }

  void keys(const toml::table& t, std::string_view table, const std::string& shown,
            const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> known = known_config_keys(table);
    known.insert(known.end(), extra.begin(), extra.end());
    for (const auto& [k, v] : t) {
      std::string key(k.str());
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      fail_at(k.source(), "unknown key '" + key + "'" + (shown.empty() ? "" : " in [" + shown + "]") +
                              did_you_mean(key, known) + " (docs/CONFIG.md lists every key)");
    }
  }

  const toml::table& table(const toml::node& n, const std::string& shown) const {
    if (auto* t = n.as_table()) return *t;
    fail_at(n.source(), "'" + shown + "' must be a table ([" + shown + "])");
  }

  // [webhook.NAME] / [amqp.NAME]: named channel tables whose secret must live in a file (<secret>_file), never in
  // the config itself.
  void channels(const toml::table& t, const std::string& kind, const std::string& secret) const {
    auto* c = t.get(kind);
    if (!c) return;
    for (const auto& [name, node] : table(*c, kind)) {
      std::string shown = kind + "." + std::string(name.str());
      const toml::table& ct = table(node, shown);
      if (auto* sec = ct.get(secret)) {
        fail_at(sec->source(), "[" + shown + "] has its " + secret + " in the config; put it in a file and name it in " +
                                   secret + "_file");
      }
      keys(ct, kind, shown);
    }
  }

  void validate(const toml::table& t) const {
    if (auto* p = t.get("passphrase")) {
      fail_at(p->source(), "the file contains a passphrase; use passphrase_file or STRATA_PASSPHRASE instead");
    }
    keys(t, "", "");
    if (auto* b = t.get("backup")) keys(table(*b, "backup"), "backup", "backup");
    if (auto* s3 = t.get("s3")) keys(table(*s3, "s3"), "s3", "s3");
    if (auto* d = t.get("drill")) keys(table(*d, "drill"), "drill", "drill");
    channels(t, "webhook", "secret");
    channels(t, "amqp", "password");
    if (auto* src = t.get("source")) {
      for (const auto& [name, node] : table(*src, "source")) {
        std::string shown = "source." + std::string(name.str());
        const toml::table& st = table(node, shown);
        if (auto* pw = st.get("password")) {
          fail_at(pw->source(), "source '" + std::string(name.str()) + "' has a password in the config; use "
                                "password_file, password_env (mysql, redis), a .pgpass file (passfile) or PGPASSWORD instead");
        }
        if (auto* r = st.get("retention")) keys(table(*r, shown + ".retention"), "retention.policy", shown + ".retention");
        std::vector<std::string> allowed = known_config_keys("source");
        if (auto* e = st.get("engine")) {
          std::string engine = e->value_or(std::string());
          const auto& engines = known_engines();
          if (std::find(engines.begin(), engines.end(), engine) == engines.end()) {
            fail_at(e->source(), "unknown engine '" + engine + "' in [" + shown + "]" + did_you_mean(engine, engines) +
                                     " (engines: command, postgres, mysql, redis)");
          }
          const auto& own = known_config_keys("source." + engine);
          allowed.insert(allowed.end(), own.begin(), own.end());
        } else {
          for (const auto& engine : known_engines()) {
            const auto& own = known_config_keys("source." + engine);
            allowed.insert(allowed.end(), own.begin(), own.end());
          }
        }
        keys(st, "", shown, allowed);
        if (auto* sch = st.get("schedule")) {
          const toml::array* list = sch->as_array();
          if (!list || !list->is_array_of_tables()) {
            fail_at(sch->source(), "'schedule' in [" + shown + "] must be a list of tables ([[" + shown + ".schedule]])");
          }
          for (const auto& one : *list) keys(*one.as_table(), "source.schedule", shown + ".schedule");
        }
      }
    }
    if (auto* limits = t.get("limits")) {
      // Keys of the whole fleet's limits, and quoted group paths holding a group's.
      for (const auto& [k, v] : table(*limits, "limits")) {
        if (const toml::table* group = v.as_table()) {
          keys(*group, "limits", "limits.\"" + std::string(k.str()) + "\"");
          continue;
        }
        const auto& known = known_config_keys("limits");
        if (std::find(known.begin(), known.end(), std::string(k.str())) == known.end()) {
          fail_at(k.source(), "unknown key '" + std::string(k.str()) + "' in [limits]" + did_you_mean(k.str(), known) +
                                  " (a group's limits go in [limits.\"group/path\"]; docs/CONFIG.md lists every key)");
        }
      }
    }
    if (auto* ret = t.get("retention")) {
      const toml::table& rt = table(*ret, "retention");
      keys(rt, "retention", "retention");
      if (auto* d = rt.get("default")) keys(table(*d, "retention.default"), "retention.policy", "retention.default");
    }
    if (auto* ents = t.get("entity")) {
      for (const auto& [name, node] : table(*ents, "entity")) {
        std::string shown = "entity." + std::string(name.str());
        const toml::table& et = table(node, shown);
        if (auto* pw = et.get("password")) {
          fail_at(pw->source(), "[" + shown + "] contains a password; use PGPASSWORD or ~/.pgpass instead");
        }
        keys(et, "entity", shown);
        if (auto* kids = et.get("child"); kids && kids->is_array()) {
          for (const auto& kid : *kids->as_array()) {
            if (auto* kt = kid.as_table()) keys(*kt, "entity.child", shown + ".child");
          }
        }
      }
    }
  }

 private:
  std::string path_;
};

// A value of the wrong type is an error, not the default: `compression = 3` must not mean zstd:3 by accident.
std::string string_value(const toml::node_view<toml::node>& n, const std::string& def, const std::string& key) {
  if (!n) return def;
  if (auto s = n.value<std::string>(); s && n.is_string()) return *s;
  fail(ErrorCode::kUsage, "config key '" + key + "' must be a string in quotes");
}

bool bool_value(const toml::node_view<toml::node>& n, bool def, const std::string& key) {
  if (!n) return def;
  if (n.is_boolean()) return *n.value<bool>();
  fail(ErrorCode::kUsage, "config key '" + key + "' must be true or false");
}

// [webhook.NAME] / [amqp.NAME] tables as text by key, for platform/notify (which checks the values): the string keys
// named, timeout (default 10s), and events joined with commas.
void read_channels(toml::table& t, const std::string& kind, std::initializer_list<const char*> strings,
                   std::map<std::string, std::map<std::string, std::string>>& into) {
  auto* c = t[kind].as_table();
  if (!c) return;
  for (const auto& [name, node] : *c) {
    auto* ct = node.as_table();
    if (!ct) continue;
    std::string key = kind + "." + std::string(name.str());
    auto& out = into[std::string(name.str())];
    for (const char* k : strings) out[k] = string_value((*ct)[k], "", key + "." + k);
    out["timeout"] = string_value((*ct)["timeout"], "10s", key + ".timeout");
    if (auto* ev = ct->get("events")) {
      const toml::array* list = ev->as_array();
      std::string joined;
      for (size_t i = 0; list && i < list->size(); ++i) {
        auto str = (*list)[i].value<std::string>();
        if (!str || !(*list)[i].is_string()) list = nullptr;
        else joined += (joined.empty() ? "" : ",") + *str;
      }
      if (!list) fail(ErrorCode::kUsage, "config key '" + key + ".events' must be a list of event kinds in quotes");
      out["events"] = joined;
    }
  }
}

}  // namespace

uint64_t parse_rate(std::string text) {
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "/s") == 0) text.resize(text.size() - 2);
  return parse_size(text);
}

Settings load_settings(const std::string& explicit_path) {
  Settings s;
  std::string path = explicit_path;
  if (path.empty()) path = env("STRATA_CONFIG");
  if (path.empty()) {
    std::string home = env("HOME");
    if (!home.empty() && file_exists(home + "/.config/strata/strata.toml")) path = home + "/.config/strata/strata.toml";
  }
  if (!path.empty()) {
    if (!file_exists(path)) fail(ErrorCode::kUsage, "config file " + path + " does not exist");
    toml::table parsed;
    try {
      parsed = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      std::string what(e.description());
      // Two [source.X] tables of one name: say so in our words (toml++ says "cannot redefine existing table").
      if (auto at = what.find("cannot redefine existing table '"); at != std::string::npos) {
        std::string table = what.substr(at + 32, what.find('\'', at + 32) - (at + 32));
        what = "[" + table + "] is defined twice; every source (and table) needs a name of its own: rename or "
               "merge one";
      }
      fail(ErrorCode::kUsage, "config file " + path + " line " + std::to_string(e.source().begin.line) + ": " + what);
    }
    Validator(path).validate(parsed);
    toml::table& t = parsed;
    s.config_path = path;
    s.repo = string_value(t["repo"], s.repo, "repo");
    s.passphrase_file = string_value(t["passphrase_file"], s.passphrase_file, "passphrase_file");
    s.log_level = string_value(t["log_level"], s.log_level, "log_level");
    s.log_format = string_value(t["log_format"], s.log_format, "log_format");
    s.write_only = bool_value(t["write_only"], s.write_only, "write_only");
    s.public_key = string_value(t["public_key"], s.public_key, "public_key");
    s.writer_key_file = string_value(t["writer_key_file"], s.writer_key_file, "writer_key_file");
    s.unsigned_backups = string_value(t["unsigned_backups"], s.unsigned_backups, "unsigned_backups");
    s.catalog = string_value(t["catalog"], s.catalog, "catalog");
    read_channels(t, "amqp", {"url", "password_file", "exchange", "routing_key"}, s.amqp);
    read_channels(t, "webhook", {"url", "secret_file"}, s.webhooks);
    auto b = t["backup"];
    s.compression = string_value(b["compression"], s.compression, "backup.compression");
    s.frame_size = size_value(b["frame_size"], s.frame_size, "backup.frame_size");
    s.object_size = size_value(b["object_size"], s.object_size, "backup.object_size");
    s.threads = count_value(b["threads"], 0, "backup.threads");
    s.io_threads = count_value(b["io_threads"], s.io_threads, "backup.io_threads");
    if (b["fail_on_empty"]) s.fail_on_empty = bool_value(b["fail_on_empty"], false, "backup.fail_on_empty");
    auto d = t["drill"];
    s.drill_scratch_dir = string_value(d["scratch_dir"], s.drill_scratch_dir, "drill.scratch_dir");
    s.drill_disk_budget = size_value(d["disk_budget"], s.drill_disk_budget, "drill.disk_budget");
    if (d["time_limit"]) {
      s.drill_time_limit_s = parse_duration(string_value(d["time_limit"], "", "drill.time_limit"), "drill.time_limit");
    }
    if (auto s3 = t["s3"].as_table()) {
      for (const auto& [k, v] : *s3) {
        // Booleans first: value<int64_t>() would turn `true` into "1".
        if (auto str = v.value<std::string>()) s.s3[std::string(k.str())] = *str;
        else if (v.is_boolean()) s.s3[std::string(k.str())] = *v.value<bool>() ? "true" : "false";
        else if (auto i = v.value<int64_t>()) s.s3[std::string(k.str())] = std::to_string(*i);
      }
    }
    s.limit_upload = rate_value(t["limit_upload"], s.limit_upload, "limit_upload");
    s.limit_download = rate_value(t["limit_download"], s.limit_download, "limit_download");
    s.max_requests = count_value(t["max_requests"], 0, "max_requests");
    s.lock_refresh_every = count_value(t["lock_refresh_every"], static_cast<unsigned>(s.lock_refresh_every), "lock_refresh_every");
    s.lock_stale_after = count_value(t["lock_stale_after"], static_cast<unsigned>(s.lock_stale_after), "lock_stale_after");
    // Retention tables keep their values as text; docs/RETENTION.md says what each means.
    auto retention_table = [](const toml::table& tbl, std::map<std::string, std::string>& out) {
      for (const auto& [k, v] : tbl) {
        if (auto str = v.value<std::string>(); str && v.is_string()) out[std::string(k.str())] = *str;
        else if (v.is_integer()) out[std::string(k.str())] = std::to_string(*v.value<int64_t>());
        else if (v.is_floating_point()) out[std::string(k.str())] = std::to_string(*v.value<double>());
        else fail(ErrorCode::kUsage, "config key '" + std::string(k.str()) + "' in a retention table must be a number or a string");
      }
    };
    if (auto d = t["retention"]["default"].as_table()) retention_table(*d, s.retention_default);
    if (auto src = t["source"].as_table()) {
      for (const auto& [name, node] : *src) {
        auto* tbl = node.as_table();
        if (!tbl) continue;
        if (auto* r = tbl->get_as<toml::table>("retention")) retention_table(*r, s.retention_by_source[std::string(name.str())]);
        auto& out = s.sources[std::string(name.str())];
        for (const auto& [k, v] : *tbl) {
          if (auto str = v.value<std::string>()) out[std::string(k.str())] = *str;
          else if (v.is_boolean()) out[std::string(k.str())] = *v.value<bool>() ? "true" : "false";
          else if (auto i = v.value<int64_t>()) out[std::string(k.str())] = std::to_string(*i);
        }
      }
    }
  }
  if (auto v = env("STRATA_REPO"); !v.empty()) s.repo = v;
  if (auto v = env("STRATA_CATALOG"); !v.empty()) s.catalog = v;
  if (auto v = env("STRATA_PASSPHRASE_FILE"); !v.empty()) s.passphrase_file = v;
  if (auto v = env("STRATA_LOG_LEVEL"); !v.empty()) s.log_level = v;
  if (auto v = env("STRATA_LOG_FORMAT"); !v.empty()) s.log_format = v;
  if (auto v = env("STRATA_COMPRESSION"); !v.empty()) s.compression = v;
  if (auto v = env("STRATA_PUBLIC_KEY"); !v.empty()) s.public_key = v;
  if (auto v = env("STRATA_WRITER_KEY_FILE"); !v.empty()) s.writer_key_file = v;
  if (auto v = env("STRATA_UNSIGNED_BACKUPS"); !v.empty()) s.unsigned_backups = v;
  if (s.unsigned_backups != "warn" && s.unsigned_backups != "refuse") {
    fail(ErrorCode::kUsage, "unsigned_backups must be \"warn\" or \"refuse\", not '" + s.unsigned_backups + "'");
  }
  if (auto v = env("STRATA_LIMIT_UPLOAD"); !v.empty()) s.limit_upload = parse_rate(v);
  if (auto v = env("STRATA_LIMIT_DOWNLOAD"); !v.empty()) s.limit_download = parse_rate(v);
  for (auto [name, field] : {std::pair{"STRATA_LOCK_REFRESH_EVERY", &s.lock_refresh_every},
                             std::pair{"STRATA_LOCK_STALE_AFTER", &s.lock_stale_after}}) {
    std::string v = env(name);
    if (v.empty()) continue;
    try {
      size_t used = 0;
      *field = std::stoll(v, &used);
      if (used != v.size() || *field < 0) throw std::invalid_argument(v);
    } catch (const std::exception&) {
      fail(ErrorCode::kUsage, std::string(name) + " must be a whole number of seconds, not '" + v + "'");
    }
  }
  if (s.lock_refresh_every > 0 && s.lock_stale_after <= s.lock_refresh_every) {
    fail(ErrorCode::kUsage, "lock_stale_after (" + std::to_string(s.lock_stale_after) + " s) must be longer than "
                            "lock_refresh_every (" + std::to_string(s.lock_refresh_every) + " s)");
  }
  return s;
}

}  // namespace strata
