#include "common/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/error.hpp"
#include "common/json_text.hpp"

namespace strata::log {
namespace {
Level g_level = Level::kWarn;
Format g_format = Format::kText;
std::mutex g_mutex;

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}
}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  value = buf;
}

void configure(Level min_level, Format format) {
  g_level = min_level;
  g_format = format;
}

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  fail(ErrorCode::kUsage, "unknown log level '" + std::string(name) + "': use debug, info, warn or error");
}

Format parse_format(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  fail(ErrorCode::kUsage, "unknown log format '" + std::string(name) + "': use text or json");
}

bool enabled(Level level) { return level >= g_level; }

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  if (g_format == Format::kJson) {
    line = "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + level_name(level) + "\",\"event\":\"" +
           json_escape(event) + "\"";
    for (const auto& f : fields) {
      line += ",\"" + json_escape(f.key) + "\":";
      line += f.quoted ? "\"" + json_escape(f.value) + "\"" : f.value;
    }
    line += "}\n";
  } else {
    line = timestamp() + " " + level_name(level) + " " + std::string(event);
    for (const auto& f : fields) {
      line += " " + f.key + "=";
      // Control characters are quoted (and so escaped) too: a raw newline would forge a second log line.
      bool needs_quotes = f.quoted && (f.value.empty() || f.value.find_first_of(" \"=") != std::string::npos ||
                                       std::any_of(f.value.begin(), f.value.end(),
                                                   [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
      line += needs_quotes ? "\"" + json_escape(f.value) + "\"" : f.value;
    }
    line += "\n";
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace strata::log
