#include "common/log.hpp"
#include "common/logger.hpp"

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

// Plain decimals (durations such as 0.125 s), never an exponent or a rounded-away fraction.
Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  value = buf;
  while (value.size() > 1 && value.back() == '0' && value[value.size() - 2] != '.') value.pop_back();
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

Format format() { return g_format; }

bool enabled(Level level) { return level >= g_level; }

namespace {

void emit(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

std::string json_line(Level level, std::string_view event, const std::string* message, const std::vector<Field>& fields) {
  std::string line = "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + level_name(level) + "\",\"event\":\"" +
                     json_escape(event) + "\"";
  if (message) line += ",\"message\":\"" + json_escape(*message) + "\"";
  for (const auto& f : fields) {
    line += ",\"" + json_escape(f.key) + "\":";
    line += f.quoted ? "\"" + json_escape(f.value) + "\"" : f.value;
  }
  return line + "}\n";
}

}  // namespace

void report_error(std::string_view code, int exit_code, std::string_view message) {
  std::string m(message);
  if (g_format == Format::kJson) {
    emit(json_line(Level::kError, "command_failed", &m, {{"code", code}, {"exit_code", exit_code}}));
  } else {
    emit("strata: error: " + m + "\n");
  }
}

void report_warning(std::string_view event, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(Level::kWarn)) return;
  std::string m(message);
  emit(g_format == Format::kJson ? json_line(Level::kWarn, event, &m, fields) : "strata: warning: " + m + "\n");
}

void report_summary(std::string_view event, std::string_view message, std::initializer_list<Field> fields) {
  std::string m(message);
  emit(g_format == Format::kJson ? json_line(Level::kInfo, event, &m, fields) : m + "\n");
}

namespace {

// One line of a log record: `context` (a Logger's own fields) after the event, then the call's `fields`; a
// context field whose key the call gives too is left out, so no line carries a key twice.
std::string record_line(Level level, std::string_view event, const std::vector<Field>& context,
                        std::initializer_list<Field> fields) {
  std::vector<Field> all;
  all.reserve(context.size() + fields.size());
  for (const auto& c : context) {
    if (std::none_of(fields.begin(), fields.end(), [&](const Field& f) { return f.key == c.key; })) all.push_back(c);
  }
  all.insert(all.end(), fields.begin(), fields.end());
  if (g_format == Format::kJson) return json_line(level, event, nullptr, all);
  std::string line = timestamp() + " " + level_name(level) + " " + std::string(event);
  for (const auto& f : all) {
    line += " " + f.key + "=";
    // Control characters are quoted (and so escaped) too: a raw newline would forge a second log line.
    bool needs_quotes = f.quoted && (f.value.empty() || f.value.find_first_of(" \"=") != std::string::npos ||
                                     std::any_of(f.value.begin(), f.value.end(),
                                                 [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
    line += needs_quotes ? "\"" + json_escape(f.value) + "\"" : f.value;
  }
  return line + "\n";
}

}  // namespace

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  emit(record_line(level, event, {}, fields));
}

}  // namespace strata::log

namespace strata {

Logger::Logger(Sink sink) : sink_(std::make_shared<const Sink>(std::move(sink))) {}

Logger Logger::with(std::string_view key, std::string_view value) const { return with(log::Field(key, value)); }

Logger Logger::with(log::Field field) const {
  Logger copy = *this;
  std::erase_if(copy.fields_, [&](const log::Field& f) { return f.key == field.key; });
  copy.fields_.push_back(std::move(field));
  return copy;
}

const Logger& logger_or_default(const Logger* given) {
  static const Logger* plain = new Logger();  // never destroyed: threads may log during exit
  return given ? *given : *plain;
}

void Logger::write(log::Level level, std::string_view event, std::initializer_list<log::Field> fields) const {
  if (!log::enabled(level)) return;
  std::string line = log::record_line(level, event, fields_, fields);
  if (sink_) (*sink_)(line);
  else log::emit(line);
}

}  // namespace strata
