#pragma once
// Durations as users write them in flags and the config: "45s", "30m", "26h", "7d", "2w", or plain seconds.
#include <cstdint>
#include <string>

namespace strata {

// Seconds. Throws StrataError(kUsage) "invalid <what> '<text>': use e.g. 30m, 26h or 7d".
int64_t parse_duration_seconds(const std::string& text, const std::string& what);

// "3d 4h", "26h 5m", "4m 10s", "12s": the two largest units, for ages in reports.
std::string format_duration(int64_t seconds);

}  // namespace strata
