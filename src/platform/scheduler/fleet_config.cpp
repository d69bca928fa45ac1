#include "platform/scheduler/fleet_config.hpp"

#include "common/duration.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <toml++/toml.h>

#include "common/error.hpp"
#include "common/suggest.hpp"
#include "common/time_zone.hpp"

namespace strata {
namespace {

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; }
bool is_name(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), name_char); }

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  std::string where(const toml::source_region& r) const {
    return "config file " + path_ + (r.begin.line ? " line " + std::to_string(r.begin.line) : "") + ": ";
  }
  [[noreturn]] void fail_at(const toml::node& n, const std::string& what) const {
    fail(ErrorCode::kUsage, where(n.source()) + what);
  }
  // Runs `f`, putting the file, line and subject in front of the one line it throws.
  template <class F>
  auto in_context(const toml::node& n, const std::string& subject, F&& f) const {
    try {
      return f();
    } catch (const StrataError& e) {
      fail(e.code(), where(n.source()) + subject + e.what());
    }
  }

  std::optional<std::string> string(const toml::table& t, const char* key, const std::string& subject) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) fail_at(*n, subject + "'" + key + "' must be a string in quotes");
    return *n->value<std::string>();
  }
  std::optional<int64_t> duration(const toml::table& t, const char* key, const std::string& subject) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (n->is_integer()) {
      int64_t v = *n->value<int64_t>();
      if (v < 0) fail_at(*n, subject + "'" + key + "' must not be negative");
      return v;
    }
    if (!n->is_string()) fail_at(*n, subject + "'" + key + "' must be a duration like \"30m\" or \"26h\"");
    std::string text = *n->value<std::string>();
    return in_context(*n, subject + "'" + key + "': ", [&] { return parse_duration(text); });
  }

 private:
  std::string path_;
};

void check_group(const Reader& r, const toml::node& n, const std::string& subject, const std::string& group) {
  size_t start = 0;
  while (true) {
    size_t slash = group.find('/', start);
    std::string part = group.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!is_name(part)) {
      r.fail_at(n, subject + "group '" + group + "' is not a path of names; write it like "
                             "\"region-cn/idc-sh1/cluster-a\" (letters, digits, '.', '_' and '-', separated by '/')");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

// Whether `limit` names `group` or a group above it ("a" holds "a/b", "a/b/c"; not "ab").
bool encloses(std::string_view limit, std::string_view group) {
  return group == limit || (group.size() > limit.size() && group.compare(0, limit.size(), limit) == 0 &&
                            group[limit.size()] == '/');
}

FleetLimit read_limit(const Reader& r, const toml::table& t, std::string group, const std::string& subject) {
  FleetLimit l;
  l.group = std::move(group);
  l.line = t.source().begin.line;
  if (const toml::node* n = t.get("jobs")) {
    if (!n->is_integer()) r.fail_at(*n, subject + "'jobs' must be a whole number of concurrent jobs");
    int64_t v = *n->value<int64_t>();
    if (v <= 0) {
      r.fail_at(*n, subject + "jobs = " + std::to_string(v) + " would never run a job; give 1 or more (leave 'jobs' "
                              "out for no limit)");
    }
    if (v > 1000000) r.fail_at(*n, subject + "jobs = " + std::to_string(v) + " is not a limit; leave 'jobs' out");
    l.jobs = static_cast<unsigned>(v);
  }
  if (const toml::node* n = t.get("upload")) {
    uint64_t v = 0;
    if (n->is_integer()) {
      v = *n->value<int64_t>() < 0 ? 0 : static_cast<uint64_t>(*n->value<int64_t>());
    } else if (n->is_string()) {
      std::string text = *n->value<std::string>();
      v = r.in_context(*n, subject + "upload: ", [&] { return parse_rate(text); });
    } else {
      r.fail_at(*n, subject + "'upload' must be a rate like \"200MiB/s\"");
    }
    if (v == 0) {
      r.fail_at(*n, subject + "upload = 0 would never finish a backup; give a rate like \"200MiB/s\" (leave 'upload' "
                              "out for no limit)");
    }
    l.upload = v;
  }
  return l;
}

FleetSource read_source(const Reader& r, const std::string& name, const toml::table& st) {
  FleetSource s;
  s.name = name;
  s.line = st.source().begin.line;
  const std::string subject = "source '" + name + "': ";
  s.engine = r.string(st, "engine", subject).value_or("");
  if (auto g = r.string(st, "group", subject)) {
    check_group(r, *st.get("group"), subject, *g);
    s.group = *g;
  }
  if (auto z = r.string(st, "timezone", subject)) {
    r.in_context(*st.get("timezone"), subject, [&] { return TimeZone::locate(*z); });
    s.timezone = *z;
  }
  if (auto w = r.string(st, "window", subject)) {
    r.in_context(*st.get("window"), subject, [&] { return Window::parse(*w); });
    s.window = *w;
  }
  if (const toml::node* n = st.get("priority")) {
    if (!n->is_integer()) r.fail_at(*n, subject + "'priority' must be a whole number (higher runs first)");
    int64_t v = *n->value<int64_t>();
    if (v < -1000 || v > 1000) r.fail_at(*n, subject + "priority " + std::to_string(v) + " is outside -1000..1000");
    s.priority = static_cast<int>(v);
  }
  if (auto v = r.duration(st, "rpo", subject)) {
    if (*v == 0) r.fail_at(*st.get("rpo"), subject + "rpo = 0 can never be met; give the age the newest good backup "
                                                     "may reach, like \"26h\" (leave 'rpo' out to not watch it)");
    s.rpo = *v;
  }
  if (auto v = r.duration(st, "jitter", subject)) s.jitter = *v;
  if (auto v = r.duration(st, "catch_up", subject)) s.catch_up = *v;
  if (auto m = r.string(st, "missed", subject)) {
    s.missed = r.in_context(*st.get("missed"), subject, [&] { return parse_missed_policy(*m); });
  }
  if (const toml::node* n = st.get("tags")) {
    const toml::array* list = n->as_array();
    if (!list) r.fail_at(*n, subject + "'tags' must be a list of strings like [\"idc=sh1\", \"role=db\"]");
    std::set<std::string> seen;
    for (const auto& tag : *list) {
      if (!tag.is_string()) r.fail_at(tag, subject + "'tags' must be a list of strings like [\"idc=sh1\", \"role=db\"]");
      std::string text = *tag.value<std::string>();
      size_t eq = text.find('=');
      bool ok = eq == std::string::npos ? is_name(text) : (is_name(text.substr(0, eq)) && is_name(text.substr(eq + 1)));
      if (!ok) {
        r.fail_at(tag, subject + "tag '" + text + "' is not key=value or a name (letters, digits, '.', '_', '-'), "
                                 "like \"idc=sh1\" or \"db-host\"");
      }
      if (!seen.insert(text).second) r.fail_at(tag, subject + "tag '" + text + "' is listed twice");
      s.tags.push_back(text);
    }
  }
  if (const toml::node* n = st.get("schedule")) {
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& one : *n->as_array()) {  // load_settings checked: a list of tables with known keys
      const toml::table& t = *one.as_table();
      FleetSchedule f;
      f.line = t.source().begin.line;
      auto cron = r.string(t, "cron", subject);
      if (!cron) r.fail_at(t, subject + "a [[source." + name + ".schedule]] needs a cron, like cron = \"0 2 * * *\"");
      f.cron = *cron;
      f.type = r.string(t, "type", subject).value_or("full");
      if (f.type != "full" && f.type != "incremental") {
        r.fail_at(*t.get("type"), subject + "schedule type '" + f.type + "' is not \"full\" or \"incremental\"" +
                                      did_you_mean(f.type, {"full", "incremental"}));
      }
      if (!seen.insert({f.cron, f.type}).second) {
        r.fail_at(t, subject + "the schedule '" + f.cron + "' (" + f.type + ") is listed twice");
      }
      s.schedules.push_back(f);
    }
  }
  return s;
}

}  // namespace

FleetConfig load_fleet_config(const std::string& path) {
  if (path.empty()) fail(ErrorCode::kUsage, "no fleet config given; pass --config FILE (or set STRATA_CONFIG)");
  FleetConfig fc;
  fc.path = path;
  fc.settings = load_settings(path);  // keys, types and secrets, as for every command; throws on a parse error
  toml::table t = toml::parse_file(path);
  Reader r(path);
  if (const toml::table* sources = t["source"].as_table()) {
    for (const auto& [name, node] : *sources) fc.sources.push_back(read_source(r, std::string(name.str()), *node.as_table()));
  }
  std::sort(fc.sources.begin(), fc.sources.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (const toml::table* limits = t["limits"].as_table()) {
    std::vector<std::string> groups;  // every group a source is in, and every group above it
    for (const auto& s : fc.sources) {
      if (s.group.empty()) continue;
      for (size_t at = s.group.find('/'); at != std::string::npos; at = s.group.find('/', at + 1)) {
        groups.push_back(s.group.substr(0, at));
      }
      groups.push_back(s.group);
    }
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    if (limits->contains("jobs") || limits->contains("upload")) {
      fc.limits.push_back(read_limit(r, *limits, "", "[limits]: "));
    }
    for (const auto& [key, node] : *limits) {
      const toml::table* g = node.as_table();
      if (!g) continue;
      std::string group(key.str());
      std::string subject = "[limits.\"" + group + "\"]: ";
      check_group(r, *g, subject, group);
      bool used = std::any_of(fc.sources.begin(), fc.sources.end(), [&](const auto& s) { return encloses(group, s.group); });
      if (!used) {
        r.fail_at(*g, subject + "no source is in group '" + group + "' or below it" + did_you_mean(group, groups) +
                          "; name a group of a source's 'group'");
      }
      fc.limits.push_back(read_limit(r, *g, group, subject));
    }
  }
  (void)fc.compile_schedules();  // cron, zone and window of every schedule, with file and line
  return fc;
}

std::vector<Schedule> FleetConfig::compile_schedules() const {
  std::vector<Schedule> out;
  for (const auto& s : sources) {
    for (const auto& f : s.schedules) {
      ScheduleSpec spec;
      spec.source = s.name;
      spec.type = f.type;
      spec.cron = f.cron;
      spec.zone = s.timezone;
      spec.window = s.window;
      spec.jitter = s.jitter;
      spec.missed = s.missed;
      spec.catch_up = s.catch_up;
      spec.priority = s.priority;
      try {
        out.push_back(Schedule::compile(spec));
      } catch (const StrataError& e) {
        fail(e.code(), "config file " + path + " line " + std::to_string(f.line) + ": source '" + s.name + "': " +
                           e.what());
      }
    }
  }
  return out;
}

namespace {

std::string quoted_or_none(const std::string& s) { return s.empty() ? "none" : "'" + s + "'"; }
std::string duration_or_none(int64_t s) { return s == 0 ? "none" : format_duration(s); }
std::string rate_text(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) + " B/s" : "none"; }
std::string jobs_text(const std::optional<unsigned>& v) { return v ? std::to_string(*v) : "none"; }
std::string list_text(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

void diff_source(const FleetConfig& before, const FleetSource& a, const FleetConfig& after, const FleetSource& b,
                 std::vector<std::string>& out) {
  const std::string who = "source '" + a.name + "': ";
  auto field = [&](const char* name, const std::string& x, const std::string& y) {
    if (x != y) out.push_back(who + name + " " + x + " -> " + y);
  };
  field("engine", quoted_or_none(a.engine), quoted_or_none(b.engine));
  field("group", quoted_or_none(a.group), quoted_or_none(b.group));
  field("timezone", "'" + a.timezone + "'", "'" + b.timezone + "'");
  field("window", quoted_or_none(a.window), quoted_or_none(b.window));
  field("priority", std::to_string(a.priority), std::to_string(b.priority));
  field("rpo", duration_or_none(a.rpo), duration_or_none(b.rpo));
  field("tags", list_text(a.tags), list_text(b.tags));
  field("jitter", format_duration(a.jitter), format_duration(b.jitter));
  field("missed", missed_policy_name(a.missed), missed_policy_name(b.missed));
  field("catch_up", format_duration(a.catch_up), format_duration(b.catch_up));
  auto has = [](const FleetSource& s, const FleetSchedule& f) {
    return std::any_of(s.schedules.begin(), s.schedules.end(),
                       [&](const FleetSchedule& g) { return g.cron == f.cron && g.type == f.type; });
  };
  for (const auto& f : a.schedules) {
    if (!has(b, f)) out.push_back(who + "schedule '" + f.cron + "' (" + f.type + ") removed");
  }
  for (const auto& f : b.schedules) {
    if (!has(a, f)) out.push_back(who + "schedule '" + f.cron + "' (" + f.type + ") added");
  }
  // The engine's own keys: names only (a command line or a path may be nobody's business in a log).
  static const std::map<std::string, std::string> none;
  auto ea = before.settings.sources.find(a.name);
  auto eb = after.settings.sources.find(b.name);
  const auto& ma = ea == before.settings.sources.end() ? none : ea->second;
  const auto& mb = eb == after.settings.sources.end() ? none : eb->second;
  std::set<std::string> keys;
  for (const auto& [k, v] : ma) {
    auto it = mb.find(k);
    if (it == mb.end() || it->second != v) keys.insert(k);
  }
  for (const auto& [k, v] : mb) {
    if (!ma.count(k)) keys.insert(k);
  }
  for (const char* fleet_key : {"engine", "group", "timezone", "window", "priority", "rpo", "jitter", "missed",
                                "catch_up"}) {
    keys.erase(fleet_key);  // reported above, with values
  }
  if (!keys.empty()) {
    std::string names;
    for (const auto& k : keys) names += (names.empty() ? "" : ", ") + k;
    out.push_back(who + "engine settings changed: " + names);
  }
}

}  // namespace

std::vector<std::string> diff_fleet(const FleetConfig& before, const FleetConfig& after) {
  std::vector<std::string> out;
  for (const auto& a : before.sources) {
    if (const FleetSource* b = after.find(a.name)) diff_source(before, a, after, *b, out);
    else out.push_back("source '" + a.name + "' removed");
  }
  for (const auto& b : after.sources) {
    if (!before.find(b.name)) out.push_back("source '" + b.name + "' added");
  }
  auto name = [](const FleetLimit& l) { return l.group.empty() ? std::string("[limits]") : "[limits.\"" + l.group + "\"]"; };
  auto find = [](const std::vector<FleetLimit>& v, const std::string& g) -> const FleetLimit* {
    for (const auto& l : v) {
      if (l.group == g) return &l;
    }
    return nullptr;
  };
  for (const auto& a : before.limits) {
    const FleetLimit* b = find(after.limits, a.group);
    if (!b) {
      out.push_back(name(a) + " removed");
      continue;
    }
    if (a.jobs != b->jobs) out.push_back(name(a) + ": jobs " + jobs_text(a.jobs) + " -> " + jobs_text(b->jobs));
    if (a.upload != b->upload) out.push_back(name(a) + ": upload " + rate_text(a.upload) + " -> " + rate_text(b->upload));
  }
  for (const auto& b : after.limits) {
    if (!find(before.limits, b.group)) out.push_back(name(b) + " added");
  }
  return out;
}

const FleetSource* FleetConfig::find(std::string_view source) const {
  for (const auto& s : sources) {
    if (s.name == source) return &s;
  }
  return nullptr;
}

}  // namespace strata
