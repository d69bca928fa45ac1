#include "common/clock.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

namespace strata {

int64_t now_epoch() {
  // The injectable clock of the end-to-end tests (retention buckets, grace periods): a fixed epoch for the whole
  // process. Never set in production; docs/RETENTION.md "Testing".
  const char* fixed = std::getenv("STRATA_TEST_NOW");
  if (fixed && *fixed) return std::strtoll(fixed, nullptr, 10);
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t now_epoch_us() {
  // The tests' fixed clock has whole seconds: backups started under it order by id within the second, as before.
  const char* fixed = std::getenv("STRATA_TEST_NOW");
  if (fixed && *fixed) return std::strtoll(fixed, nullptr, 10) * 1000000;
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

static std::string fmt(int64_t epoch, const char* pattern) {
  time_t t = static_cast<time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, pattern, &tm);
  return buf;
}

std::string iso_utc(int64_t epoch) { return fmt(epoch, "%Y-%m-%dT%H:%M:%SZ"); }
std::string compact_utc(int64_t epoch) { return fmt(epoch, "%Y%m%dT%H%M%SZ"); }
std::string sql_utc(int64_t epoch) { return fmt(epoch, "%Y-%m-%d %H:%M:%S"); }

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace strata
