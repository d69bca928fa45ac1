#include "platform/retention/policy_config.hpp"

#include <cstdlib>

#include "common/error.hpp"
#include "platform/retention/buckets.hpp"

namespace strata::retention {
namespace {

int count_of(const std::string& v, const std::string& where, const std::string& key) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < -1 || n > 1000000) {
    fail(ErrorCode::kUsage, where + ": " + key + " must be a count (0 or more, -1 for unlimited), not '" + v + "'");
  }
  return static_cast<int>(n);
}

}  // namespace

void apply_policy_table(const std::map<std::string, std::string>& table, const std::string& where, Policy& p,
                        int64_t& grace) {
  for (const auto& [key, v] : table) {
    if (key == "keep_last") p.keep_last = count_of(v, where, key);
    else if (key == "keep_hourly") p.keep_hourly = count_of(v, where, key);
    else if (key == "keep_daily") p.keep_daily = count_of(v, where, key);
    else if (key == "keep_weekly") p.keep_weekly = count_of(v, where, key);
    else if (key == "keep_monthly") p.keep_monthly = count_of(v, where, key);
    else if (key == "keep_yearly") p.keep_yearly = count_of(v, where, key);
    else if (key == "keep_within") p.keep_within = parse_duration(v, where + ": keep_within", BareNumber::kRefused);
    else if (key == "recovery_window") p.recovery_window = parse_duration(v, where + ": recovery_window", BareNumber::kRefused);
    else if (key == "grace") grace = parse_duration(v, where + ": grace", BareNumber::kRefused);
    else if (key == "min_good") {
      int n = count_of(v, where, key);
      if (n < 0) fail(ErrorCode::kUsage, where + ": min_good must be 0 or more");
      p.min_good = n;
    } else if (key == "max_share") {
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(d > 0) || d > 1) {
        fail(ErrorCode::kUsage, where + ": max_share must be a share above 0 and at most 1 (0.5 = 50%), not '" + v + "'");
      }
      p.max_share = d;
    } else if (key == "time_zone") {
      require_time_zone(v);
      p.time_zone = v;
    } else {
      fail(ErrorCode::kUsage, where + ": unknown retention key '" + key + "' (docs/RETENTION.md lists them)");
    }
  }
}

std::string describe_policy(const Policy& p) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  auto count = [&](const char* name, int n) {
    if (n != 0) add(std::string(name) + " " + (n < 0 ? std::string("all") : std::to_string(n)));
  };
  count("keep-last", p.keep_last);
  count("keep-hourly", p.keep_hourly);
  count("keep-daily", p.keep_daily);
  count("keep-weekly", p.keep_weekly);
  count("keep-monthly", p.keep_monthly);
  count("keep-yearly", p.keep_yearly);
  if (p.keep_within > 0) add("keep-within " + format_duration(p.keep_within));
  if (p.recovery_window > 0) add("recovery-window " + format_duration(p.recovery_window));
  if (p.min_good != 1) add("min-good " + std::to_string(p.min_good));
  if (p.time_zone != "UTC" && (p.keep_hourly || p.keep_daily || p.keep_weekly || p.keep_monthly || p.keep_yearly)) {
    add("time-zone " + p.time_zone);
  }
  return out.empty() ? "no rule" : out;
}

}  // namespace strata::retention
