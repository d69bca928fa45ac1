// The scheduler's due occurrences into the queue (platform/queue/fleet_sync): one transaction per tick reads the
// stored next fires, enqueues, stores the new ones and reports missed fires to the outbox — on SQLite and PostgreSQL.
#include "platform/queue/fleet_sync.hpp"

#include "platform/catalog/outbox.hpp"
#include "platform/queue/catalog_fixture.hpp"

namespace strata::test {
namespace {

class ScheduleTickTest : public CatalogTest {
 protected:
  void SetUp() override {
    CatalogTest::SetUp();
    if (IsSkipped()) return;
    std::string cfg = dir_ / "fleet.toml";
    write_file(cfg, R"(
[source.orders]
engine = "command"
group = "region-cn/idc-sh1"
timezone = "Asia/Shanghai"
window = "01:00-05:00"
tags = ["role=db"]

[[source.orders.schedule]]
cron = "0 2 * * *"
type = "incremental"

[[source.orders.schedule]]
cron = "0 2 * * 0"
type = "full"

[limits."region-cn"]
jobs = 1
)");
    fleet_ = load_fleet_config(cfg);
    schedules_ = fleet_.compile_schedules();
    queue_ = std::make_unique<JobQueue>(*catalog_);
  }
  TickResult tick() { return schedule_tick(*catalog_, *queue_, fleet_, schedules_); }
  FleetConfig fleet_;
  std::vector<Schedule> schedules_;
  std::unique_ptr<JobQueue> queue_;
};

// 2027-01-15 is a Friday; 02:00 in Shanghai is 18:00Z the day before.
constexpr int64_t kFri0200Shanghai = 1800000000 - 14 * 3600;  // 2027-01-14T18:00:00Z = Fri 02:00 +08:00

TEST_P(ScheduleTickTest, ADueFireIsQueuedOnceWithItsWindowAndTheNextFireIsStored) {
  clock_.set(kFri0200Shanghai - 3600);
  sync_fleet(*catalog_, *queue_, fleet_);
  EXPECT_EQ(tick().enqueued, 0u);  // new schedules start from now
  EXPECT_EQ(scalar("SELECT count(*) FROM schedules"), "2");
  EXPECT_EQ(scalar("SELECT min(next_fire) FROM schedules"), std::to_string(kFri0200Shanghai));

  clock_.set(kFri0200Shanghai + 10);
  TickResult t = tick();
  EXPECT_EQ(t.enqueued, 1u);
  EXPECT_EQ(tick().enqueued, 0u);  // the next fire was stored with the job: nothing twice
  auto jobs = queue_->list();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].type, "incremental");
  EXPECT_EQ(jobs[0].origin, "schedule");
  EXPECT_EQ(jobs[0].group, "region-cn/idc-sh1");
  EXPECT_EQ(jobs[0].tags, std::vector<std::string>{"role=db"});
  EXPECT_EQ(*jobs[0].scheduled_for, kFri0200Shanghai);
  EXPECT_EQ(*jobs[0].deadline, kFri0200Shanghai + 3 * 3600);  // 05:00 Shanghai
  EXPECT_EQ(scalar("SELECT min(next_fire) FROM schedules"), std::to_string(kFri0200Shanghai + 86400));

  // Saturday's fire while Friday's job is still queued joins it (one active job per source) ...
  clock_.set(kFri0200Shanghai + 86400 + 5);
  t = tick();
  EXPECT_EQ(t.enqueued, 0u);
  EXPECT_EQ(t.coalesced, 1u);
  // ... and the Friday job, never started before its window closed, was reported missed by the claim path.
  EXPECT_EQ(queue_->reap(), 1);
  EXPECT_EQ(queue_->get(jobs[0].id)->state, "missed");
  bool missed = false;
  for (const auto& e : outbox_read(*catalog_, 0)) missed |= e.kind == "job.missed";
  EXPECT_TRUE(missed);
  std::map<std::string, std::optional<int64_t>> lim;
  for (const auto& l : queue_->limits()) lim[l.scope] = l.max_jobs;
  EXPECT_EQ(lim["group:region-cn"], 1);
}

TEST_P(ScheduleTickTest, FiresMissedWhileNoSchedulerRanAreReportedToTheOutbox) {
  clock_.set(kFri0200Shanghai - 3 * 3600);  // Thursday 23:00 in Shanghai: the last tick before an outage
  tick();
  clock_.set(kFri0200Shanghai + 86400 + 10 * 3600);  // Saturday 12:00: Friday's and Saturday's windows have closed
  TickResult t = tick();
  EXPECT_EQ(t.enqueued, 0u);
  EXPECT_GE(t.missed, 1u);
  uint64_t count = 0;
  for (const auto& e : outbox_read(*catalog_, 0)) {
    ASSERT_EQ(e.kind, "schedule.missed");
    EXPECT_NE(e.payload.find("\"reason\":\"window_closed\""), std::string::npos) << e.payload;
    EXPECT_NE(e.payload.find("\"source\":\"orders\""), std::string::npos) << e.payload;
    count += std::stoull(e.payload.substr(e.payload.find("\"count\":") + 8));
  }
  EXPECT_EQ(count, 2u);  // Friday's and Saturday's 02:00
  EXPECT_EQ(scalar("SELECT min(next_fire) FROM schedules"), std::to_string(kFri0200Shanghai + 2 * 86400));
  EXPECT_EQ(tick().missed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Catalogs, ScheduleTickTest, ::testing::Values("sqlite", "postgres"), backend_name);

}  // namespace
}  // namespace strata::test
