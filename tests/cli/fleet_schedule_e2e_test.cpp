// strata fleet schedule (issue 15 part 1/4): the fleet config's fire times through the real binary — in each
// source's zone and in UTC, jitter, window deadline, DST shifts — and its config errors as one line, exit 2.
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class FleetScheduleE2E : public LocalRepoTest {
 protected:
  std::string config(const std::string& text) {
    std::string p = tmp_ / "fleet.toml";
    write_file(p, text);
    return p;
  }
};

const char* const kFleet = R"([source.orders]
engine = "postgres"
group = "region-us/idc-nyc1/pg-a"
timezone = "America/New_York"
window = "01:00-05:00"
jitter = "30m"

[[source.orders.schedule]]
cron = "0 3 * * 0"
type = "full"

[[source.orders.schedule]]
cron = "30 2 * * *"
type = "incremental"

[source.idle]
engine = "command"

[limits."region-us"]
jobs = 2
)";

TEST_F(FleetScheduleE2E, ListsFiresInTheSourcesZoneAndInUtc) {
  std::string cfg = config(kFleet);
  // 2027-03-13/14 in New York: Saturday's 02:30 as usual; on Sunday 02:30 does not exist (DST), so the incremental
  // moves to 03:00, where the weekly full is: the full runs. orders' jitter offset is FNV-1a("orders") % 1800 = 172 s.
  auto r = strata({"fleet", "schedule", "--config", cfg, "--from", "2027-03-13", "--days", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "fires from 2027-03-13T00:00:00Z for 2 days\n"
            "\n"
            "idle  (UTC)\n"
            "  no schedule\n"
            "\n"
            "orders  (group region-us/idc-nyc1/pg-a, America/New_York, window 01:00-05:00, jitter 30m)\n"
            "  Sat 2027-03-13 02:30 -05:00  2027-03-13T07:30:00Z  incremental 30 2 * * *  starts 07:32:52Z  until "
            "10:00:00Z\n"
            "  Sun 2027-03-14 03:00 -04:00  2027-03-14T07:00:00Z  full        0 3 * * 0  starts 07:02:52Z  until "
            "09:00:00Z\n"
            "  (1 fire of other types at the same instant as a full: the full runs)\n");
  auto j = strata({"fleet", "schedule", "--config", cfg, "--from", "2027-03-15T00:00:00-04:00", "--days", "1",
                   "--source", "orders", "--json"});
  ASSERT_EQ(j.code, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["from"], "2027-03-15T04:00:00Z");
  ASSERT_EQ(doc["sources"].size(), 1u);
  const auto& fires = doc["sources"][0]["fires"];
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0]["local"], "2027-03-15T02:30:00-04:00");
  EXPECT_EQ(fires[0]["utc"], "2027-03-15T06:30:00Z");
  EXPECT_EQ(fires[0]["not_before"], "2027-03-15T06:32:52Z");
  EXPECT_EQ(fires[0]["deadline"], "2027-03-15T09:00:00Z");
  EXPECT_EQ(fires[0]["type"], "incremental");
  EXPECT_EQ(fires[0]["dst_shifted"], false);
  // The shifted fire when the full is not there to supersede it: the gap day of 2028 (March 12 is a Sunday too,
  // so take a fleet without the full).
  std::string only_incr = config("[source.a]\ntimezone = \"America/New_York\"\n[[source.a.schedule]]\ncron = \"30 2 * * *\"\n");
  auto g = strata({"fleet", "schedule", "--config", only_incr, "--from", "2028-03-12", "--days", "1"});
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(g.out, "fires from 2028-03-12T00:00:00Z for 1 day\n\na  (America/New_York)\n"
                   "  Sun 2028-03-12 03:00 -04:00  2028-03-12T07:00:00Z  full        30 2 * * *  (02:30 does not exist "
                   "that day: DST)\n");
}

TEST_F(FleetScheduleE2E, EveryOtherCommandReadsTheSameFile) {
  init();
  std::string cfg = config(std::string(kFleet) + "\n[source.files]\nengine = \"command\"\nbackup_command = \"printf abc\"\n"
                                                 "restore_command = \"cat\"\ntimezone = \"Asia/Kolkata\"\n"
                                                 "[[source.files.schedule]]\ncron = \"@daily\"\n");
  auto b = strata({"-q", "backup", "--config", cfg, "--source", "files"});
  ASSERT_EQ(b.code, 0) << b.err;
  auto l = strata({"list", "--config", cfg, "--json"});
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_EQ(nlohmann::json::parse(l.out).size(), 1u);
}

TEST_F(FleetScheduleE2E, ConfigErrorsAreOneLineWithFileAndLine) {
  std::string cfg = config("[source.db1]\nengine = \"command\"\ntimezone = \"Europe/Berln\"\n");
  auto r = strata({"fleet", "schedule", "--config", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: config file " + cfg + " line 3: source 'db1': unknown time zone 'Europe/Berln'; "
                   "did you mean 'Europe/Berlin'?; use an IANA zone name such as Europe/Berlin, America/New_York or "
                   "UTC (timedatectl list-timezones lists them)\n");
  cfg = config("[source.db1]\nengine = \"command\"\n[[source.db1.schedule]]\ncron = \"0 2 * *\"\n");
  r = strata({"fleet", "schedule", "--config", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: config file " + cfg + " line 3: source 'db1': cron '0 2 * *' has 4 fields; a cron "
                   "has 5 fields: minute hour day-of-month month day-of-week (or @hourly, @daily, @weekly, @monthly, "
                   "@yearly)\n");
  // The same file is refused by every other command too: the fleet keys are checked for everyone.
  cfg = config("[source.db1]\nengine = \"command\"\nwindoe = \"01:00-05:00\"\n");
  r = strata({"list", "--config", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: config file " + cfg + " line 3: unknown key 'windoe' in [source.db1]; did you mean "
                   "'window'? (docs/CONFIG.md lists every key)\n");
  auto none = strata_env({"fleet", "schedule"}, {{"STRATA_CONFIG", ""}});
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.err, "strata: error: no fleet config given; pass --config FILE (or set STRATA_CONFIG)\n");
  auto unknown = strata({"fleet", "schedule", "--config", config(kFleet), "--source", "nope"});
  EXPECT_EQ(unknown.code, 9);
  auto bad_from = strata({"fleet", "schedule", "--config", config(kFleet), "--from", "tomorrow"});
  EXPECT_EQ(bad_from.code, 2);
  EXPECT_EQ(bad_from.err, "strata: error: --from 'tomorrow' is not a time; write it like 2027-03-14 (UTC midnight), "
                          "2027-03-14T02:00:00Z or 2027-03-14T10:00:00+08:00\n");
}

}  // namespace
}  // namespace strata::test
