#pragma once
// Structured logging to stderr: `text` for people, `json` (one object per line) for Promtail/Loki.
// Secrets must never be passed as fields; nothing here can tell a secret from a value.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace strata::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);
  std::string key;
  std::string value;
  bool quoted;
};

void configure(Level min_level, Format format);
Format format();
Level parse_level(std::string_view name);  // throws StrataError(kUsage)
Format parse_format(std::string_view name);
bool enabled(Level level);

void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});
inline void debug(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::kDebug, e, f); }
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::kInfo, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::kWarn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::kError, e, f); }

// What the user must see, in the chosen format, so that stderr stays one format (docs/CLI.md "Logs"):
// text: "strata: error: MSG" / "strata: warning: MSG" / "MSG"; json: one object per line with "message" (and, for
// errors, "code" and "exit_code"). A command's failure is exactly one such error line, written whatever the level;
// warnings follow the level; summaries (the line a command prints on stderr when it is done) are always written.
void report_error(std::string_view code, int exit_code, std::string_view message);
void report_warning(std::string_view event, std::string_view message, std::initializer_list<Field> fields = {});
void report_summary(std::string_view event, std::string_view message, std::initializer_list<Field> fields = {});

}  // namespace strata::log
