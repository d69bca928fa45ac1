#include "common/duration.hpp"

#include "common/error.hpp"

namespace strata {

int64_t parse_duration_seconds(const std::string& text, const std::string& what) {
  auto bad = [&]() -> int64_t {
    fail(ErrorCode::kUsage, "invalid " + what + " '" + text + "': use e.g. 30m, 26h or 7d");
  };
  size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (...) {
    return bad();
  }
  if (n < 0 || text.empty() || text[0] == '-' || text[0] == '+' || text[0] == ' ') return bad();
  std::string unit = text.substr(used);
  int64_t mult = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400
                 : unit == "w" ? 7 * 86400 : 0;
  if (mult == 0 || n > INT64_MAX / mult) return bad();
  return static_cast<int64_t>(n) * mult;
}

std::string format_duration(int64_t s) {
  if (s < 0) return "-" + format_duration(-s);
  const int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  auto two = [](int64_t a, const char* ua, int64_t b, const char* ub) {
    return std::to_string(a) + ua + (b ? " " + std::to_string(b) + ub : "");
  };
  if (d) return two(d, "d", h, "h");
  if (h) return two(h, "h", m, "m");
  if (m) return two(m, "m", sec, "s");
  return std::to_string(sec) + "s";
}

}  // namespace strata
