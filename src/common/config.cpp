#include "common/config.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <toml++/toml.h>

#include "common/bytes.hpp"
#include "common/error.hpp"

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
    toml::table t;
    try {
      t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      fail(ErrorCode::kUsage, "config file " + path + " line " + std::to_string(e.source().begin.line) + ": " +
                                  std::string(e.description()));
    }
    s.config_path = path;
    s.repo = t["repo"].value_or(s.repo);
    s.passphrase_file = t["passphrase_file"].value_or(s.passphrase_file);
    s.log_level = t["log_level"].value_or(s.log_level);
    s.log_format = t["log_format"].value_or(s.log_format);
    s.write_only = t["write_only"].value_or(s.write_only);
    s.public_key = t["public_key"].value_or(s.public_key);
    s.writer_key_file = t["writer_key_file"].value_or(s.writer_key_file);
    s.unsigned_backups = t["unsigned_backups"].value_or(s.unsigned_backups);
    if (t.contains("passphrase")) {
      fail(ErrorCode::kUsage, "config file " + path + " contains a passphrase; use passphrase_file or STRATA_PASSPHRASE instead");
    }
    auto b = t["backup"];
    s.compression = b["compression"].value_or(s.compression);
    s.frame_size = size_value(b["frame_size"], s.frame_size, "backup.frame_size");
    s.object_size = size_value(b["object_size"], s.object_size, "backup.object_size");
    s.threads = count_value(b["threads"], 0, "backup.threads");
    s.io_threads = count_value(b["io_threads"], s.io_threads, "backup.io_threads");
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
    if (auto src = t["source"].as_table()) {
      for (const auto& [name, node] : *src) {
        auto* tbl = node.as_table();
        if (!tbl) continue;
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
  return s;
}

}  // namespace strata
