// strata jobs (issue 15 parts 2, 3, 7) through the real binary on an SQLite catalog: run now (deduplicated), list and
// show in text and JSON, cancel and retry with their exit codes, and `jobs tick` queueing a due schedule once. The
// time is the tests' fixed clock (STRATA_TEST_NOW), which the embedded catalog's clock follows.
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class JobsE2E : public LocalRepoTest {
 protected:
  void SetUp() override {
    LocalRepoTest::SetUp();
    cfg_ = tmp_ / "fleet.toml";
    write_file(cfg_, "catalog = \"sqlite://" + (tmp_ / "catalog.db") + "\"\n" + R"(
[source.orders]
engine = "command"
group = "region-cn/idc-sh1"
tags = ["role=db"]
priority = 5

[[source.orders.schedule]]
cron = "0 2 * * *"
type = "full"

[limits."region-cn"]
jobs = 2
)");
    env_["STRATA_TEST_NOW"] = "1800000000";  // 2027-01-15T08:00:00Z
  }
  RunResult jobs(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", cfg_, "jobs"});
    return strata(args);
  }
  std::string cfg_;
};

TEST_F(JobsE2E, RunNowIsQueuedOnceAndListedShownCancelledAndRetried) {
  auto r = jobs({"run", "orders"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "queued job 1 (orders full)\n");
  r = jobs({"run", "orders", "--type", "incremental"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "source orders already has job 1 (queued); not queued twice\n");

  r = jobs({"list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["jobs"].size(), 1u);
  EXPECT_EQ(j["jobs"][0]["state"], "queued");
  EXPECT_EQ(j["jobs"][0]["type"], "full");
  EXPECT_EQ(j["jobs"][0]["group"], "region-cn/idc-sh1");
  EXPECT_EQ(j["jobs"][0]["tags"], nlohmann::json::array({"role=db"}));
  EXPECT_EQ(j["jobs"][0]["priority"], 5);
  EXPECT_EQ(j["jobs"][0]["run_after"], "2027-01-15T08:00:00Z");

  r = jobs({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1        queued     orders               full         0/3      2027-01-15T08:00:00Z  -"),
            std::string::npos) << r.out;
  EXPECT_EQ(jobs({"list", "--state", "running"}).out, "no jobs\n");

  r = jobs({"cancel", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job 1 cancelled\n");
  r = jobs({"cancel", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "strata: error: job 1 is already cancelled; there is nothing to cancel\n");

  r = jobs({"show", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["state"], "cancelled");
  std::vector<std::string> kinds;
  for (const auto& e : j["events"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"queued", "coalesced", "cancelled"}));

  r = jobs({"retry", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "queued job 2 (retry of 1)\n");
  r = jobs({"retry", "2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "strata: error: job 2 is queued; only a failed, dead, cancelled or missed job can be retried\n");
}

TEST_F(JobsE2E, UnknownJobsSourcesStatesAndAMissingCatalogAreErrors) {
  auto r = jobs({"show", "99"});
  EXPECT_EQ(r.code, 9);
  EXPECT_EQ(r.err, "strata: error: job 99 does not exist; strata jobs list shows the jobs\n");
  r = jobs({"run", "nosuch"});
  EXPECT_EQ(r.code, 9);
  EXPECT_NE(r.err.find("source 'nosuch' is not in"), std::string::npos) << r.err;
  r = strata({"--config", cfg_, "agents", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "no agents\n");
  r = jobs({"list", "--state", "finished"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--state 'finished' is not a job state"), std::string::npos) << r.err;
  r = jobs({"run", "orders", "--type", "diff"});
  EXPECT_EQ(r.code, 2);
  std::string bare = tmp_ / "bare.toml";
  write_file(bare, "[source.orders]\nengine = \"command\"\n");
  r = strata({"--config", bare, "jobs", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: no catalog configured; set catalog = \"sqlite:///var/lib/strata/catalog.db\" in the "
                   "config file (or STRATA_CATALOG, or --catalog)\n");
  r = jobs({"--catalog", "mysql://x", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is not a catalog URL"), std::string::npos) << r.err;
}

TEST_F(JobsE2E, ATickQueuesADueScheduleOnceAndStoresItsNextFire) {
  // First tick at 08:00: the schedule is new, it starts from now (02:00 tomorrow is its next fire).
  auto r = jobs({"tick"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "queued 0, joined 0, missed 0, expired 0, webhooks delivered 0, retrying 0, given up 0\n");
  env_["STRATA_TEST_NOW"] = "1800064830";  // 2027-01-16T02:00:30Z
  r = jobs({"tick"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "queued 1, joined 0, missed 0, expired 0, webhooks delivered 0, retrying 0, given up 0\n");
  r = jobs({"tick"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "queued 0, joined 0, missed 0, expired 0, webhooks delivered 0, retrying 0, given up 0\n");
  auto j = nlohmann::json::parse(jobs({"list", "--json"}).out);
  ASSERT_EQ(j["jobs"].size(), 1u);
  EXPECT_EQ(j["jobs"][0]["origin"], "schedule");
  EXPECT_EQ(j["jobs"][0]["scheduled_for"], "2027-01-16T02:00:00Z");
}

}  // namespace
}  // namespace strata::test
