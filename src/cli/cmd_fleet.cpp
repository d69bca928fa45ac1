// strata fleet schedule: what the fleet config's schedules will do — each source's next fire times in its zone and
// in UTC, with jitter, window deadline and DST shifts (docs/SCHEDULING.md). Reads only the config file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/context.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/json_text.hpp"
#include "common/time_zone.hpp"
#include "platform/scheduler/fleet_config.hpp"
#include "platform/scheduler/fleet_plan.hpp"

namespace strata {
namespace {

const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// "now", "2027-03-14" (UTC midnight), "2027-03-14T02:00Z", "2027-03-14T02:00:00Z", "2027-03-14T10:00:00+08:00".
int64_t parse_from(const std::string& text) {
  if (text.empty() || text == "now") return now_epoch();
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, oh = 0, om = 0;
  char sign = 0;
  int n = 0;
  bool ok = false;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && static_cast<size_t>(n) == text.size()) {
    ok = true;
  } else if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) == 5) {
    std::string rest = text.substr(static_cast<size_t>(n));
    int m = 0;
    if (!rest.empty() && rest[0] == ':' && std::sscanf(rest.c_str(), ":%2d%n", &s, &m) == 1) rest = rest.substr(m);
    if (rest == "Z") ok = true;
    else if (std::sscanf(rest.c_str(), "%c%2d:%2d%n", &sign, &oh, &om, &m) == 3 && (sign == '+' || sign == '-') &&
             static_cast<size_t>(m) == rest.size()) ok = true;
  }
  if (!ok || mo < 1 || mo > 12 || d < 1 || d > static_cast<int>(days_in_month(y, static_cast<unsigned>(mo))) || h > 23 ||
      mi > 59 || s > 59 || oh > 23 || om > 59) {
    fail(ErrorCode::kUsage, "--from '" + text + "' is not a time; write it like 2027-03-14 (UTC midnight), "
                            "2027-03-14T02:00:00Z or 2027-03-14T10:00:00+08:00");
  }
  int64_t t = local_seconds_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d), static_cast<unsigned>(h),
                                       static_cast<unsigned>(mi), static_cast<unsigned>(s));
  int64_t off = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
  return t - off;
}

std::string local_text(const TimeZone& zone, int64_t at) {
  CivilTime c = zone.to_local(at);
  std::string iso = zone.format(at);  // 2027-03-14T03:00:00+08:00
  return std::string(kDays[c.weekday]) + " " + iso.substr(0, 10) + " " + iso.substr(11, 5) + " " + iso.substr(19);
}

std::string wall_hhmm(int64_t wall) {
  CivilTime c = civil_from_local_seconds(wall);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u:%02u", c.hour, c.minute);
  return buf;
}

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string json_plan(const std::vector<SourcePlan>& plans, int64_t from, int days) {
  std::string out = "{\"from\":" + quoted(iso_utc(from)) + ",\"days\":" + std::to_string(days) + ",\"sources\":[";
  for (size_t i = 0; i < plans.size(); ++i) {
    const FleetSource& s = *plans[i].source;
    out += i ? ",\n " : "\n ";
    out += "{\"name\":" + quoted(s.name) + ",\"group\":" + quoted(s.group) + ",\"timezone\":" + quoted(s.timezone) +
           ",\"window\":" + (s.window.empty() ? std::string("null") : quoted(s.window)) +
           ",\"jitter_seconds\":" + std::to_string(s.jitter) + ",\"superseded\":" + std::to_string(plans[i].superseded) +
           ",\"fires\":[";
    for (size_t j = 0; j < plans[i].fires.size(); ++j) {
      const PlannedFire& f = plans[i].fires[j];
      const Occurrence& o = f.occurrence;
      out += j ? "," : "";
      out += "{\"type\":" + quoted(f.schedule->spec().type) + ",\"cron\":" + quoted(f.schedule->spec().cron) +
             ",\"local\":" + quoted(f.schedule->zone().format(o.fire)) + ",\"utc\":" + quoted(iso_utc(o.fire)) +
             ",\"not_before\":" + quoted(iso_utc(o.not_before)) +
             ",\"deadline\":" + (o.deadline == kNoDeadline ? std::string("null") : quoted(iso_utc(o.deadline))) +
             ",\"dst_shifted\":" + (f.shifted ? "true" : "false") + "}";
    }
    out += "]}";
  }
  out += "\n]}\n";
  return out;
}

void print_plan(const std::vector<SourcePlan>& plans, int64_t from, int days) {
  std::printf("fires from %s for %d day%s\n", iso_utc(from).c_str(), days, days == 1 ? "" : "s");
  for (const auto& plan : plans) {
    const FleetSource& s = *plan.source;
    std::string head = s.name + "  (" + (s.group.empty() ? "" : "group " + s.group + ", ") + s.timezone;
    if (!s.window.empty()) head += ", window " + s.window;
    if (s.jitter) head += ", jitter " + format_duration(s.jitter);
    std::printf("\n%s)\n", head.c_str());
    if (s.schedules.empty()) std::printf("  no schedule\n");
    else if (plan.fires.empty()) std::printf("  no fire in this period\n");
    for (const auto& f : plan.fires) {
      const Occurrence& o = f.occurrence;
      std::string line = "  " + local_text(f.schedule->zone(), o.fire) + "  " + iso_utc(o.fire) + "  ";
      std::string type = f.schedule->spec().type;
      line += type + std::string(type.size() < 12 ? 12 - type.size() : 1, ' ') + f.schedule->spec().cron;
      if (o.not_before != o.fire) line += "  starts " + iso_utc(o.not_before).substr(11);
      if (o.deadline != kNoDeadline) line += "  until " + iso_utc(o.deadline).substr(11);
      if (f.shifted) line += "  (" + wall_hhmm(o.wall) + " does not exist that day: DST)";
      std::printf("%s\n", line.c_str());
    }
    if (plan.superseded) {
      std::printf("  (%zu fire%s of other types at the same instant as a full: the full runs)\n", plan.superseded,
                  plan.superseded == 1 ? "" : "s");
    }
  }
}

}  // namespace

void register_fleet(CLI::App& app, CliContext& ctx) {
  auto* fleet = app.add_subcommand("fleet", "The fleet of scheduled sources (docs/SCHEDULING.md)");
  fleet->require_subcommand(1);
  struct Opts {
    std::string from;
    int days = 7;
    bool json = false;
    std::string source;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = fleet->add_subcommand("schedule", "Each source's next fire times, in its time zone and in UTC");
  cmd->add_option("--from", o->from, "Start of the listing: now (default), 2027-03-14 or 2027-03-14T02:00:00Z");
  cmd->add_option("--days", o->days, "How many days to list (1-366, default 7)");
  cmd->add_option("--source", o->source, "Only this source");
  cmd->add_flag("--json", o->json, "One JSON document instead of the text listing");
  cmd->footer("Examples:\n  strata fleet schedule --config /etc/strata/fleet.toml\n"
              "  strata fleet schedule --config fleet.toml --from 2027-03-14 --days 1 --json");
  cmd->callback([&ctx, o] {
    std::string path = ctx.config_path;
    if (path.empty() && std::getenv("STRATA_CONFIG")) path = std::getenv("STRATA_CONFIG");
    if (o->days < 1 || o->days > 366) {
      fail(ErrorCode::kUsage, "--days " + std::to_string(o->days) + " is outside 1-366; list at most a year at once");
    }
    int64_t from = parse_from(o->from);
    FleetConfig fleet = load_fleet_config(path);
    ctx.config_path = path;
    ctx.finalize();  // log settings of the same file
    if (!o->source.empty()) {
      if (!fleet.find(o->source)) fail(ErrorCode::kNotFound, "source '" + o->source + "' is not in " + path +
                                                                 "; strata fleet schedule lists them all");
      std::erase_if(fleet.sources, [&](const FleetSource& s) { return s.name != o->source; });
    }
    std::vector<Schedule> schedules = fleet.compile_schedules();
    auto plans = plan_fleet(fleet, schedules, from, from + o->days * 86400LL);
    if (o->json) std::fputs(json_plan(plans, from, o->days).c_str(), stdout);
    else print_plan(plans, from, o->days);
  });
}

}  // namespace strata
