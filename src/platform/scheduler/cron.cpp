#include "platform/scheduler/cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <vector>

#include "common/error.hpp"
#include "common/suggest.hpp"
#include "common/time_zone.hpp"

namespace strata {
namespace {

struct Field {
  const char* name;
  unsigned min;
  unsigned max;
  const char* range;  // as shown in messages
  std::vector<std::string> names;  // names[i] stands for min + i
};

const std::array<Field, 5>& fields() {
  static const std::array<Field, 5> f = {{
      {"minute", 0, 59, "0-59", {}},
      {"hour", 0, 23, "0-23", {}},
      {"day-of-month", 1, 31, "1-31", {}},
      {"month", 1, 12, "1-12 or jan-dec", {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                           "dec"}},
      {"day-of-week", 0, 7, "0-7 (0 and 7 are Sunday) or sun-sat", {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
  }};
  return f;
}

constexpr const char* kFieldsHint =
    "a cron has 5 fields: minute hour day-of-month month day-of-week (or @hourly, @daily, @weekly, @monthly, "
    "@yearly)";

struct Macro {
  const char* name;
  const char* spec;
};
constexpr Macro kMacros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                             {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                             {"@hourly", "0 * * * *"}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class FieldParser {
 public:
  FieldParser(const std::string& spec, const Field& field) : spec_(spec), field_(field) {}

  [[noreturn]] void bad(const std::string& token, const std::string& problem) const {
    fail(ErrorCode::kUsage, "cron '" + spec_ + "': " + field_.name + " '" + token + "' " + problem + "; " +
                                field_.name + " takes " + field_.range + ", lists (1,15), ranges (1-5) and steps (*/10, "
                                "8-18/2)");
  }

  unsigned value(const std::string& token, const std::string& whole) const {
    if (token.empty()) bad(whole, "has an empty value");
    if (std::all_of(token.begin(), token.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      if (token.size() > 3) bad(whole, "is out of range");
      unsigned v = static_cast<unsigned>(std::stoul(token));
      if (v < field_.min || v > field_.max) bad(whole, "is out of range");
      return v;
    }
    std::string l = lower(token);
    for (size_t i = 0; i < field_.names.size(); ++i) {
      if (field_.names[i] == l) return field_.min + static_cast<unsigned>(i);
    }
    if (field_.names.empty()) bad(whole, "is not a number");
    fail(ErrorCode::kUsage, "cron '" + spec_ + "': " + field_.name + " '" + whole + "' is not a number or a name" +
                                did_you_mean(l, field_.names) + "; " + field_.name + " takes " + field_.range);
  }

  // Bits [min, max] of the field that the token sets.
  uint64_t parse(const std::string& token) const {
    uint64_t mask = 0;
    size_t start = 0;
    while (true) {
      size_t comma = token.find(',', start);
      std::string item = token.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (item.empty()) bad(token, "has an empty list element");
      mask |= element(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return mask;
  }

 private:
  uint64_t element(const std::string& item) const {
    std::string base = item;
    unsigned step = 1;
    bool stepped = false;
    if (size_t slash = item.find('/'); slash != std::string::npos) {
      base = item.substr(0, slash);
      std::string s = item.substr(slash + 1);
      if (s.empty() || s.size() > 4 ||
          !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        bad(item, "has a step that is not a whole number");
      }
      step = static_cast<unsigned>(std::stoul(s));
      if (step == 0) bad(item, "has a step of 0 (a step is 1 or more)");
      stepped = true;
    }
    unsigned lo;
    unsigned hi;
    if (base == "*") {
      lo = field_.min;
      hi = field_.max;
    } else if (size_t dash = base.find('-'); dash != std::string::npos) {
      lo = value(base.substr(0, dash), item);
      hi = value(base.substr(dash + 1), item);
      if (lo > hi) bad(item, "runs backwards (a range goes from low to high; split it, e.g. 22-23,0-2)");
    } else {
      lo = hi = value(base, item);
      if (stepped) {
        bad(item, "steps from a single value (write a range: " + base + "-" + std::to_string(field_.max) + "/" +
                      std::to_string(step) + ", or */" + std::to_string(step) + ")");
      }
    }
    uint64_t mask = 0;
    for (unsigned v = lo; v <= hi; v += step) mask |= uint64_t{1} << v;
    return mask;
  }

  const std::string& spec_;
  const Field& field_;
};

int ctz64(uint64_t v) { return __builtin_ctzll(v); }

}  // namespace

CronSpec CronSpec::parse(std::string_view input) {
  std::string text(input);
  auto first = text.find_first_not_of(" \t");
  auto last = text.find_last_not_of(" \t");
  text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  if (text.empty()) fail(ErrorCode::kUsage, std::string("the cron is empty; ") + kFieldsHint);
  std::string expanded = text;
  if (text[0] == '@') {
    std::string l = lower(text);
    const Macro* found = nullptr;
    for (const auto& m : kMacros) {
      if (l == m.name) found = &m;
    }
    if (!found) {
      std::vector<std::string> names;
      for (const auto& m : kMacros) names.push_back(m.name);
      std::string hint = l == "@reboot" ? " (a backup schedule needs times, not a boot event)" : did_you_mean(l, names);
      fail(ErrorCode::kUsage, "cron '" + text + "' is not a known macro" + hint +
                                  "; macros are @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually)");
    }
    expanded = found->spec;
  }
  std::vector<std::string> tokens;
  size_t pos = 0;
  while (pos < expanded.size()) {
    size_t start = expanded.find_first_not_of(" \t", pos);
    if (start == std::string::npos) break;
    size_t end = expanded.find_first_of(" \t", start);
    tokens.push_back(expanded.substr(start, end == std::string::npos ? std::string::npos : end - start));
    pos = end == std::string::npos ? expanded.size() : end;
  }
  if (tokens.size() != 5) {
    fail(ErrorCode::kUsage, "cron '" + text + "' has " + std::to_string(tokens.size()) + " field" +
                                (tokens.size() == 1 ? "" : "s") + "; " + kFieldsHint);
  }
  CronSpec c;
  c.text_ = text;
  uint64_t masks[5];
  for (size_t i = 0; i < 5; ++i) masks[i] = FieldParser(text, fields()[i]).parse(tokens[i]);
  c.minutes_ = masks[0];
  c.hours_ = static_cast<uint32_t>(masks[1]);
  c.days_ = static_cast<uint32_t>(masks[2]);
  c.months_ = static_cast<uint16_t>(masks[3]);
  uint64_t dow = masks[4];
  if (dow & (uint64_t{1} << 7)) dow = (dow | 1) & 0x7f;  // 7 is Sunday too
  c.weekdays_ = static_cast<uint8_t>(dow);
  c.minute_star_ = tokens[0][0] == '*';
  c.hour_star_ = tokens[1][0] == '*';
  c.dom_star_ = tokens[2][0] == '*';
  c.dow_star_ = tokens[4][0] == '*';
  // With a '*' day field both day fields must match, so a day-of-month that no named month has never fires.
  if (c.dom_star_ || c.dow_star_) {
    bool possible = false;
    for (unsigned m = 1; m <= 12; ++m) {
      if (!(c.months_ >> m & 1)) continue;
      unsigned max_day = days_in_month(2028, m);  // a leap year: February 29 exists
      uint32_t allowed = max_day == 31 ? 0xfffffffeu : ((uint32_t{1} << (max_day + 1)) - 2);
      if (c.days_ & allowed) possible = true;
    }
    if (!possible) {
      fail(ErrorCode::kUsage, "cron '" + text + "' never fires: no month it names has the day of month it names; "
                              "check the day-of-month and month fields (February has 29 days at most, April, June, "
                              "September and November 30)");
    }
  }
  return c;
}

bool CronSpec::matches_day(int year, unsigned month, unsigned day, unsigned weekday) const {
  (void)year;
  if (!(months_ >> month & 1)) return false;
  bool dom = days_ >> day & 1;
  bool dow = weekdays_ >> weekday & 1;
  return (dom_star_ || dow_star_) ? (dom && dow) : (dom || dow);
}

bool CronSpec::matches(const CivilTime& c) const {
  return matches_minute(c.hour, c.minute) && matches_day(c.year, c.month, c.day, c.weekday);
}

std::optional<int64_t> CronSpec::next_match(int64_t from, int64_t limit) const {
  int64_t t = from % 60 == 0 ? from : from + (60 - ((from % 60) + 60) % 60);
  int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  unsigned start_minute = static_cast<unsigned>((t - day * 86400) / 60);
  while (day * 86400 < limit) {
    CivilDate c = civil_date_from_days(day);
    if (!(months_ >> c.month & 1)) {
      day = c.month == 12 ? days_from_civil(c.year + 1, 1, 1) : days_from_civil(c.year, c.month + 1, 1);
      start_minute = 0;
      continue;
    }
    if (matches_day(c.year, c.month, c.day, c.weekday)) {
      for (unsigned h = start_minute / 60; h < 24; ++h) {
        if (!(hours_ >> h & 1)) continue;
        unsigned m0 = h == start_minute / 60 ? start_minute % 60 : 0;
        uint64_t mins = minutes_ >> m0 << m0;
        if (!mins) continue;
        int64_t found = day * 86400 + h * 3600 + ctz64(mins) * 60;
        if (found >= limit) return std::nullopt;
        return found;
      }
    }
    ++day;
    start_minute = 0;
  }
  return std::nullopt;
}

bool CronSpec::any_minute_of_day(unsigned from_minute, unsigned to_minute) const {
  for (unsigned m = from_minute; m < to_minute && m < 1440; ++m) {
    if (matches_minute(m / 60, m % 60)) return true;
  }
  return false;
}

std::string CronSpec::describe_times() const {
  std::vector<std::string> times;
  for (unsigned m = 0; m < 1440; ++m) {
    if (!matches_minute(m / 60, m % 60)) continue;
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02u:%02u", m / 60, m % 60);
    times.push_back(buf);
  }
  if (times.size() > 4) {
    return std::to_string(times.size()) + " times a day from " + times.front() + " to " + times.back();
  }
  std::string out = "at ";
  for (size_t i = 0; i < times.size(); ++i) out += (i ? ", " : "") + times[i];
  return out;
}

}  // namespace strata
