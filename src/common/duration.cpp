#include "common/duration.hpp"

#include <algorithm>
#include <cctype>

#include "common/error.hpp"

namespace strata {

int64_t parse_duration(std::string_view input, const std::string& what, BareNumber bare) {
  std::string text(input);
  auto bad = [&]() {
    fail(ErrorCode::kUsage, (what.empty() ? "" : what + " ") + "'" + text +
                                "' is not a duration; write it like \"90s\", \"30m\", \"26h\", \"7d\", \"2w\" or \"1h30m\"");
  };
  constexpr int64_t kMax = 100LL * 366 * 86400;
  if (text.empty()) bad();
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (bare == BareNumber::kRefused || text.size() > 12) bad();
    int64_t v = std::stoll(text);
    if (v > kMax) bad();
    return v;
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits = 0;
    int64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (++digits > 9) bad();
      v = v * 10 + (text[i++] - '0');
    }
    if (digits == 0 || i >= text.size()) bad();
    int64_t unit = 0;
    switch (text[i++]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: bad();
    }
    total += v * unit;
    if (total > kMax) bad();
  }
  return total;
}

std::string format_duration(int64_t s) {
  if (s <= 0) return "0s";
  static const std::pair<int64_t, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string out;
  for (auto [size, name] : units) {
    if (s >= size) {
      out += std::to_string(s / size) + name;
      s %= size;
    }
  }
  return out;
}

}  // namespace strata
