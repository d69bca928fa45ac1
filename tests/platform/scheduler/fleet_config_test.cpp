#include "platform/scheduler/fleet_config.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "common/error.hpp"
#include "common/test_helpers.hpp"
#include "common/time_zone.hpp"
#include "platform/scheduler/fleet_plan.hpp"

namespace strata {
namespace {

class FleetConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::string p = dir_.path() + "/fleet" + std::to_string(++n_) + ".toml";
    std::ofstream(p) << text;
    return p;
  }
  // The one error line, with the file's path replaced by F.
  std::string error_of(const std::string& text) {
    std::string p = write(text);
    try {
      load_fleet_config(p);
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUsage);
      std::string what = e.what();
      if (auto at = what.find(p); at != std::string::npos) what.replace(at, p.size(), "F");
      return what;
    }
    return "(accepted)";
  }

  testing::TempDir dir_;
  int n_ = 0;
};

const char* const kFleet = R"(repo = "/backups/main"

[source.orders]
engine = "postgres"
host = "127.0.0.1"
group = "region-cn/idc-sh1/pg-a"
timezone = "Asia/Shanghai"
window = "01:00-05:00"
priority = 10
rpo = "26h"
tags = ["idc=sh1", "role=db"]
jitter = "30m"
missed = "skip"
catch_up = "6h"

[[source.orders.schedule]]
cron = "0 3 * * 0"
type = "full"

[[source.orders.schedule]]
cron = "0 2 * * 1-6"
type = "incremental"

[source.cache]
engine = "redis"
group = "region-eu/idc-fra1"
timezone = "Europe/Berlin"

[[source.cache.schedule]]
cron = "*/30 * * * *"

[limits]
jobs = 50
upload = "1GiB/s"

[limits."region-cn/idc-sh1"]
jobs = 4
upload = "200MiB/s"

[limits."region-eu"]
jobs = 2
)";

TEST_F(FleetConfigTest, ReadsSourcesSchedulesAndLimits) {
  std::string p = write(kFleet);
  FleetConfig fc = load_fleet_config(p);
  ASSERT_EQ(fc.sources.size(), 2u);
  const FleetSource& o = *fc.find("orders");
  EXPECT_EQ(o.engine, "postgres");
  EXPECT_EQ(o.group, "region-cn/idc-sh1/pg-a");
  EXPECT_EQ(o.timezone, "Asia/Shanghai");
  EXPECT_EQ(o.window, "01:00-05:00");
  EXPECT_EQ(o.priority, 10);
  EXPECT_EQ(o.rpo, 26 * 3600);
  EXPECT_EQ(o.tags, (std::vector<std::string>{"idc=sh1", "role=db"}));
  EXPECT_EQ(o.jitter, 1800);
  EXPECT_EQ(o.missed, MissedPolicy::kSkip);
  EXPECT_EQ(o.catch_up, 6 * 3600);
  ASSERT_EQ(o.schedules.size(), 2u);
  EXPECT_EQ(o.schedules[0].cron, "0 3 * * 0");
  EXPECT_EQ(o.schedules[0].type, "full");
  EXPECT_EQ(o.schedules[1].type, "incremental");
  EXPECT_EQ(o.schedules[1].line, 20u);
  const FleetSource& c = *fc.find("cache");
  EXPECT_EQ(c.schedules.at(0).type, "full") << "the default type";
  EXPECT_EQ(c.missed, MissedPolicy::kOnce) << "the default policy";
  EXPECT_EQ(c.catch_up, 86400);
  EXPECT_EQ(fc.sources[0].name, "cache") << "sorted by name";
  ASSERT_EQ(fc.limits.size(), 3u);
  EXPECT_EQ(fc.limits[0].group, "");
  EXPECT_EQ(fc.limits[0].jobs, 50u);
  EXPECT_EQ(fc.limits[0].upload, uint64_t{1} << 30);
  EXPECT_EQ(fc.limits[1].group, "region-cn/idc-sh1");
  EXPECT_EQ(fc.limits[1].jobs, 4u);
  EXPECT_EQ(fc.limits[1].upload, 200u << 20);
  EXPECT_EQ(fc.limits[2].group, "region-eu");
  EXPECT_EQ(fc.limits[2].upload, std::nullopt);
  std::vector<Schedule> compiled = fc.compile_schedules();
  ASSERT_EQ(compiled.size(), 3u);
  EXPECT_EQ(compiled[0].spec().source, "cache");
  EXPECT_EQ(compiled[1].zone().name(), "Asia/Shanghai");
  EXPECT_EQ(compiled[1].spec().jitter, 1800);
  // The same file is an ordinary config for every other command: the engine keys are still the engine's.
  EXPECT_EQ(fc.settings.sources.at("orders").at("host"), "127.0.0.1");
  EXPECT_EQ(load_settings(p).repo, "/backups/main");
}

TEST_F(FleetConfigTest, UnknownKeysNameFileLineAndTheClosestKey) {
  EXPECT_EQ(error_of("[source.db1]\nengine = \"command\"\ntimezon = \"UTC\"\n"),
            "config file F line 3: unknown key 'timezon' in [source.db1]; did you mean 'timezone'? (docs/CONFIG.md "
            "lists every key)");
  EXPECT_EQ(error_of("[source.db1]\nengine = \"command\"\n[[source.db1.schedule]]\ncrn = \"0 2 * * *\"\n"),
            "config file F line 4: unknown key 'crn' in [source.db1.schedule]; did you mean 'cron'? (docs/CONFIG.md "
            "lists every key)");
  EXPECT_EQ(error_of("[source.db1]\nengine = \"command\"\ngroup = \"a/b\"\n[limits.\"a/b\"]\njob = 3\n"),
            "config file F line 5: unknown key 'job' in [limits.\"a/b\"]; did you mean 'jobs'? (docs/CONFIG.md lists "
            "every key)");
  EXPECT_EQ(error_of("[limits]\nuplaod = \"1MiB/s\"\n"),
            "config file F line 2: unknown key 'uplaod' in [limits]; did you mean 'upload'? (a group's limits go in "
            "[limits.\"group/path\"]; docs/CONFIG.md lists every key)");
  EXPECT_EQ(error_of("[source.db1]\nengine = \"command\"\nschedule = \"0 2 * * *\"\n"),
            "config file F line 3: 'schedule' in [source.db1] must be a list of tables ([[source.db1.schedule]])");
}

TEST_F(FleetConfigTest, DuplicateSourceNamesAreRefused) {
  EXPECT_EQ(error_of("[source.db1]\nengine = \"command\"\n\n[source.db1]\nengine = \"mysql\"\n"),
            "config file F line 4: [source.db1] is defined twice; every source (and table) needs a name of its own: "
            "rename or merge one");
}

TEST_F(FleetConfigTest, LimitsOfZeroAndLimitsOfNoGroupAreRefused) {
  const std::string src = "[source.db1]\nengine = \"command\"\ngroup = \"region-cn/idc-sh1/a\"\n";
  EXPECT_EQ(error_of(src + "[limits.\"region-cn\"]\njobs = 0\n"),
            "config file F line 5: [limits.\"region-cn\"]: jobs = 0 would never run a job; give 1 or more (leave "
            "'jobs' out for no limit)");
  EXPECT_EQ(error_of(src + "[limits]\nupload = \"0MiB/s\"\n"),
            "config file F line 5: [limits]: upload = 0 would never finish a backup; give a rate like \"200MiB/s\" "
            "(leave 'upload' out for no limit)");
  EXPECT_EQ(error_of(src + "[limits.\"region-cn/idc-sh2\"]\njobs = 2\n"),
            "config file F line 4: [limits.\"region-cn/idc-sh2\"]: no source is in group 'region-cn/idc-sh2' or "
            "below it; did you mean 'region-cn/idc-sh1'?; name a group of a source's 'group'");
  EXPECT_EQ(error_of(src + "[limits.\"region\"]\njobs = 2\n").find("[limits.\"region\"]: no source is in group 'region'"), 22u)
      << "a prefix of a name is not a group above it";
  EXPECT_EQ(error_of(src + "[limits.\"region-cn/idc-sh1\"]\njobs = 2\nupload = \"200MiB/s\"\n"), "(accepted)");
  EXPECT_EQ(error_of(src + "[limits]\njobs = \"4\"\n"),
            "config file F line 5: [limits]: 'jobs' must be a whole number of concurrent jobs");
}

TEST_F(FleetConfigTest, BadValuesNameTheSourceAndTheLine) {
  const std::string head = "[source.db1]\nengine = \"command\"\n";
  EXPECT_EQ(error_of(head + "timezone = \"Europe/Berln\"\n"),
            "config file F line 3: source 'db1': unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?; use "
            "an IANA zone name such as Europe/Berlin, America/New_York or UTC (timedatectl list-timezones lists them)");
  EXPECT_EQ(error_of(head + "\n[[source.db1.schedule]]\ncron = \"0 25 * * *\"\n"),
            "config file F line 4: source 'db1': cron '0 25 * * *': hour '25' is out of range; hour takes 0-23, lists "
            "(1,15), ranges (1-5) and steps (*/10, 8-18/2)");
  EXPECT_EQ(error_of(head + "window = \"01:00-05:00\"\n[[source.db1.schedule]]\ncron = \"0 12 * * *\"\n"),
            "config file F line 4: source 'db1': window '01:00-05:00' never opens for cron '0 12 * * *': it fires at "
            "12:00, all outside the window; move the window or the cron so that they meet (both are on the source's "
            "wall clock, UTC)");
  EXPECT_EQ(error_of(head + "window = \"1am-5am\"\n").substr(0, 73),
            "config file F line 3: source 'db1': window '1am-5am' is not HH:MM-HH:MM; ");
  EXPECT_EQ(error_of(head + "[[source.db1.schedule]]\ntype = \"full\"\n"),
            "config file F line 3: source 'db1': a [[source.db1.schedule]] needs a cron, like cron = \"0 2 * * *\"");
  EXPECT_EQ(error_of(head + "[[source.db1.schedule]]\ncron = \"@daily\"\ntype = \"ful\"\n"),
            "config file F line 5: source 'db1': schedule type 'ful' is not \"full\" or \"incremental\"; did you mean "
            "'full'?");
  EXPECT_EQ(error_of(head + "[[source.db1.schedule]]\ncron = \"@daily\"\n[[source.db1.schedule]]\ncron = \"@daily\"\n"),
            "config file F line 5: source 'db1': the schedule '@daily' (full) is listed twice");
  EXPECT_EQ(error_of(head + "rpo = \"26 hours\"\n"),
            "config file F line 3: source 'db1': 'rpo': '26 hours' is not a duration; write it like \"90s\", \"30m\", "
            "\"26h\", \"7d\", \"2w\" or \"1h30m\"");
  EXPECT_EQ(error_of(head + "rpo = \"0s\"\n"),
            "config file F line 3: source 'db1': rpo = 0 can never be met; give the age the newest good backup may "
            "reach, like \"26h\" (leave 'rpo' out to not watch it)");
  EXPECT_EQ(error_of(head + "tags = [\"idc:sh1\"]\n"),
            "config file F line 3: source 'db1': tag 'idc:sh1' is not key=value or a name (letters, digits, '.', '_', "
            "'-'), like \"idc=sh1\" or \"db-host\"");
  EXPECT_EQ(error_of(head + "tags = [\"a=1\", \"a=1\"]\n"), "config file F line 3: source 'db1': tag 'a=1' is listed twice");
  EXPECT_EQ(error_of(head + "tags = \"a=1\"\n"),
            "config file F line 3: source 'db1': 'tags' must be a list of strings like [\"idc=sh1\", \"role=db\"]");
  EXPECT_EQ(error_of(head + "group = \"a//b\"\n"),
            "config file F line 3: source 'db1': group 'a//b' is not a path of names; write it like "
            "\"region-cn/idc-sh1/cluster-a\" (letters, digits, '.', '_' and '-', separated by '/')");
  EXPECT_EQ(error_of(head + "missed = \"all\"\n"),
            "config file F line 3: source 'db1': missed = \"all\" is not a policy; use \"once\" (run the newest missed "
            "fire after downtime, the default) or \"skip\" (run none)");
  EXPECT_EQ(error_of(head + "priority = \"high\"\n"),
            "config file F line 3: source 'db1': 'priority' must be a whole number (higher runs first)");
  EXPECT_EQ(error_of(head + "timezone = 3\n"), "config file F line 3: source 'db1': 'timezone' must be a string in quotes");
}

TEST_F(FleetConfigTest, PlanMergesASourcesSchedulesAndMarksDstShifts) {
  FleetConfig fc = load_fleet_config(write(
      "[source.a]\ntimezone = \"America/New_York\"\n"
      "[[source.a.schedule]]\ncron = \"0 3 * * 0\"\ntype = \"full\"\n"
      "[[source.a.schedule]]\ncron = \"30 2 * * *\"\ntype = \"incremental\"\n"
      "[source.b]\ntimezone = \"UTC\"\n"));
  std::vector<Schedule> compiled = fc.compile_schedules();
  int64_t from = local_seconds_from_civil(2027, 3, 13, 0, 0);
  std::vector<SourcePlan> plans = plan_fleet(fc, compiled, from, from + 3 * 86400);
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].source->name, "a");
  const TimeZone& ny = compiled[0].zone();
  std::vector<std::string> got;
  for (const auto& f : plans[0].fires) {
    got.push_back(ny.format(f.occurrence.fire) + " " + f.schedule->spec().type + (f.shifted ? " shifted" : ""));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"2027-03-13T02:30:00-05:00 incremental",
                                            "2027-03-14T03:00:00-04:00 full",
                                            "2027-03-15T02:30:00-04:00 incremental"}));
  EXPECT_EQ(plans[0].superseded, 1u) << "the incremental DST moved onto the full's 03:00";
  EXPECT_TRUE(plans[1].fires.empty());
  // Without the full the moved incremental shows as shifted.
  FleetConfig only = load_fleet_config(write(
      "[source.a]\ntimezone = \"America/New_York\"\n[[source.a.schedule]]\ncron = \"30 2 * * *\"\n"));
  std::vector<Schedule> one = only.compile_schedules();
  auto p = plan_fleet(only, one, local_seconds_from_civil(2027, 3, 14, 0, 0), local_seconds_from_civil(2027, 3, 15, 0, 0));
  ASSERT_EQ(p[0].fires.size(), 1u);
  EXPECT_TRUE(p[0].fires[0].shifted);
  EXPECT_EQ(ny.format(p[0].fires[0].occurrence.fire), "2027-03-14T03:00:00-04:00");
}

TEST_F(FleetConfigTest, ReloadDiffNamesWhatChangedButNoEngineValues) {
  FleetConfig before = load_fleet_config(write(kFleet));
  std::string text = kFleet;
  auto replace = [&](const std::string& from, const std::string& to) {
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace("timezone = \"Asia/Shanghai\"", "timezone = \"Asia/Tokyo\"");
  replace("host = \"127.0.0.1\"", "host = \"10.0.0.7\"\nport = 5433");
  replace("cron = \"0 2 * * 1-6\"", "cron = \"0 1 * * 1-6\"");
  replace("[limits.\"region-cn/idc-sh1\"]\njobs = 4", "[limits.\"region-cn/idc-sh1\"]\njobs = 2");
  replace("[limits.\"region-eu\"]\njobs = 2\n", "");
  text += "\n[source.reports]\nengine = \"command\"\n";
  FleetConfig after = load_fleet_config(write(text));
  EXPECT_EQ(diff_fleet(before, after), (std::vector<std::string>{
                                           "source 'orders': timezone 'Asia/Shanghai' -> 'Asia/Tokyo'",
                                           "source 'orders': schedule '0 2 * * 1-6' (incremental) removed",
                                           "source 'orders': schedule '0 1 * * 1-6' (incremental) added",
                                           "source 'orders': engine settings changed: host, port",
                                           "source 'reports' added",
                                           "[limits.\"region-cn/idc-sh1\"]: jobs 4 -> 2",
                                           "[limits.\"region-eu\"] removed",
                                       }));
  EXPECT_TRUE(diff_fleet(before, before).empty());
}

TEST(Duration, ParsesAndFormats) {
  EXPECT_EQ(parse_duration("90s"), 90);
  EXPECT_EQ(parse_duration("30m"), 1800);
  EXPECT_EQ(parse_duration("26h"), 93600);
  EXPECT_EQ(parse_duration("7d"), 604800);
  EXPECT_EQ(parse_duration("2w"), 1209600);
  EXPECT_EQ(parse_duration("1h30m"), 5400);
  EXPECT_EQ(parse_duration("45"), 45);
  for (const char* bad : {"", "h", "1x", "1h30", "-5m", "1.5h", "99999999999999"}) {
    EXPECT_THROW(parse_duration(bad), StrataError) << bad;
  }
  EXPECT_EQ(format_duration(93600), "1d2h");
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(172800), "2d");
  EXPECT_EQ(format_duration(90), "1m30s");
  EXPECT_EQ(format_duration(0), "0s");
}

}  // namespace
}  // namespace strata
