#pragma once
// Durations as users write them in flags and config files — "90s", "30m", "26h", "7d", "2w", "1d12h30m" — the one
// parser and printer every command uses (scheduler windows and rpo, retention rules, drill limits, status ages).
#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

// Whether a number without a unit is seconds (config values like `catch_up = 3600`) or refused (flags such as
// --keep-within 14, where a user may mean days).
enum class BareNumber { kSeconds, kRefused };

// Seconds. Throws StrataError(kUsage): "[<what> ]'<text>' is not a duration; write it like "90s", "30m", "26h",
// "7d", "2w" or "1h30m"". At most 100 years.
int64_t parse_duration(std::string_view text, const std::string& what = "", BareNumber bare = BareNumber::kSeconds);

// 129600 -> "1d12h", 5400 -> "1h30m", 90 -> "1m30s", 0 (or less) -> "0s": every unit, largest first.
std::string format_duration(int64_t seconds);

}  // namespace strata
