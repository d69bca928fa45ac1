#pragma once
// Retention policies from the config file ([retention.default], [source.NAME.retention]) and their one-line
// description (the policy a tombstone and a log line name). docs/RETENTION.md lists the keys.
#include <cstdint>
#include <map>
#include <string>

#include "platform/retention/planner.hpp"

namespace strata::retention {

inline constexpr int64_t kDefaultGrace = 86400;

// Applies the keys of one table over `policy` and `grace` (a key the table does not set keeps its value).
// Throws StrataError(kUsage) naming `where` and the key for a bad value.
void apply_policy_table(const std::map<std::string, std::string>& table, const std::string& where, Policy& policy,
                        int64_t& grace);

// "keep-last 3, keep-daily 7, recovery-window 14d" (the rules that are on; zone and limits when not default).
std::string describe_policy(const Policy& policy);

}  // namespace strata::retention
