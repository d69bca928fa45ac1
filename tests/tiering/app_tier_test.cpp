// The tier use cases (app/tier.hpp) against a real PostgreSQL 15: the observer hears every batch, and a job's cancel
// token stops a freeze, a batch thaw and a cooldown between batches — what was committed stays, the rest is untouched,
// the call ends with kInterrupted, the process token is never touched, and the next run picks up where it stopped.
#include "../common/test_helpers.hpp"
#include "app/tier.hpp"
#include "common/cancel.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

// Cancels `token` when the first batch is reported, and records what the observer is told.
class CancelAfterFirstBatch final : public app::Observer {
 public:
  explicit CancelAfterFirstBatch(CancelToken* token) : token_(token) {}
  void begin(std::string_view phase, uint64_t total) override { events.push_back("begin " + std::string(phase)); }
  void progress(const app::Progress& p) override {
    last_objects = p.objects;
    ++batches;
    if (token_) token_->cancel("the job was cancelled");
  }
  void end(std::string_view phase, bool ok, const app::PhaseTotals& t) override {
    events.push_back("end " + std::string(phase) + (ok ? " ok" : " failed"));
    totals = t;
  }
  std::vector<std::string> events;
  uint64_t last_objects = 0;
  int batches = 0;
  app::PhaseTotals totals;

 private:
  CancelToken* token_;
};

class AppTierTest : public TieringTest {
 protected:
  app::Services services(Repository* repo, CancelToken* token, app::Observer* observer) {
    app::Services s;
    s.repo = repo;
    s.cancel = token;
    s.observer = observer;
    return s;
  }
};

TEST_F(AppTierTest, CancelStopsAFreezeBetweenBatchesAndTheNextRunFinishesIt) {
  demo(50);
  make_all_warm();
  auto repo = open_repo();
  auto e = entity(5, 10, 1);  // batches of 10, one worker: the cancel lands after exactly one batch
  CancelToken token;
  CancelAfterFirstBatch cancelling(&token);
  EXPECT_STRATA_ERROR(app::tier_freeze(services(repo.get(), &token, &cancelling), {e, SIZE_MAX, {}}), ErrorCode::kInterrupted,
                      "freeze interrupted by the job was cancelled after 10 entities");
  EXPECT_EQ(cancelling.batches, 1);
  EXPECT_EQ(cancelling.events, (std::vector<std::string>{"begin tier_freeze", "end tier_freeze failed"}));
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 10u) << "the committed batch stays";
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'warm'"), 40u) << "the rest is untouched";
  EXPECT_FALSE(CancelToken::process().cancelled());

  CancelToken fresh;
  CancelAfterFirstBatch watching(nullptr);
  auto r = app::tier_freeze(services(repo.get(), &fresh, &watching), {e, SIZE_MAX, {}});
  EXPECT_EQ(r.stats.frozen, 40u);
  EXPECT_FALSE(r.problem);
  EXPECT_EQ(watching.batches, 4);
  EXPECT_EQ(watching.last_objects, 40u);
  EXPECT_EQ(watching.events, (std::vector<std::string>{"begin tier_freeze", "end tier_freeze ok"}));
  EXPECT_EQ(watching.totals.objects, 40u);
  EXPECT_EQ(watching.totals.bytes_out, r.stats.stored_bytes);
  EXPECT_GT(r.stats.stored_bytes, 0u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 50u);
}

TEST_F(AppTierTest, CancelStopsABatchThawAndACooldownBetweenBatches) {
  demo(30);
  make_all_warm();
  auto repo = open_repo();
  auto e = entity(5, 10, 1);
  std::string expected = digest();
  ASSERT_EQ(app::tier_freeze(services(repo.get(), nullptr, nullptr), {e, SIZE_MAX, {}}).stats.frozen, 30u);

  CancelToken token;
  CancelAfterFirstBatch cancelling(&token);
  EXPECT_STRATA_ERROR(app::tier_thaw_batch(services(repo.get(), &token, &cancelling), {e, true, SIZE_MAX}),
                      ErrorCode::kInterrupted, "thaw interrupted by the job was cancelled after 10 entities");
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'hot'"), 10u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 20u);
  auto rest = app::tier_thaw_batch(services(repo.get(), nullptr, nullptr), {e, true, SIZE_MAX});
  EXPECT_EQ(rest.stats.thawed, 20u);
  EXPECT_EQ(digest(), expected) << "nothing lost or duplicated across the stop";

  // Cooldown: batches of cooldown_batch rows.
  e.cooldown_batch = 7;
  CancelToken cool_token;
  CancelAfterFirstBatch cool(&cool_token);
  EXPECT_STRATA_ERROR(app::tier_cooldown(services(nullptr, &cool_token, &cool), {e, SIZE_MAX}), ErrorCode::kInterrupted,
                      "cooldown interrupted by the job was cancelled after 7 entities");
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'warm'"), 7u);
  EXPECT_FALSE(CancelToken::process().cancelled());
}

}  // namespace
