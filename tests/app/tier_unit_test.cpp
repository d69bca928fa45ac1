// The tier use cases (app/tier.hpp) where no database is needed: which entity a config names, the latency
// summary of `tier thaw --keys-from`, and that a job cancelled before it starts connects nowhere and shows no
// phase. What needs PostgreSQL (batches, the stop between them) is in tests/tiering/app_tier_test.cpp.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "../common/test_helpers.hpp"
#include "app/tier.hpp"
#include "common/cancel.hpp"
#include "repo/repository.hpp"

namespace strata {
namespace {

std::string entity_toml(const std::string& name) {
  return "[entity." + name + "]\n"
         "database = \"host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2\"\n"
         "root = \"players\"\nkey = \"id\"\nactivity = \"last_active\"\n";
}

std::string write(const testing::TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(AppTier, TheEntityIsTheNamedOneOrTheOnlyOne) {
  testing::TempDir dir;
  std::string none = write(dir, "none.toml", "[repo]\n");
  std::string one = write(dir, "one.toml", entity_toml("players"));
  std::string two = write(dir, "two.toml", entity_toml("players") + entity_toml("guilds"));
  EXPECT_STRATA_ERROR(app::tier_entity(none, ""), ErrorCode::kUsage, "no [entity.NAME] in the config");
  EXPECT_STRATA_ERROR(app::tier_entity(two, ""), ErrorCode::kUsage, "several entities in the config; give --entity NAME");
  EXPECT_EQ(app::tier_entity(one, "").name, "players");
  EXPECT_EQ(app::tier_entity(two, "guilds").name, "guilds");
  EXPECT_STRATA_ERROR(app::tier_entity(one, "guilds"), ErrorCode::kUsage, "has no [entity.guilds]");
}

TEST(AppTier, LatencySummaryTakesTheSampleAtEachPercentile) {
  EXPECT_EQ(app::summarize_latencies({}).count, 0u);
  EXPECT_EQ(app::summarize_latencies({}).max, 0.0);
  std::vector<double> ms;
  for (int i = 100; i >= 1; --i) ms.push_back(i);  // unsorted on purpose
  auto s = app::summarize_latencies(ms);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.p50, 51.0);
  EXPECT_EQ(s.p95, 96.0);
  EXPECT_EQ(s.p99, 100.0);
  EXPECT_EQ(s.max, 100.0);
  auto one = app::summarize_latencies({7.5});
  EXPECT_EQ(one.p50, 7.5);
  EXPECT_EQ(one.p99, 7.5);
}

class PhaseLog final : public app::Observer {
 public:
  void begin(std::string_view phase, uint64_t) override { events.push_back("begin " + std::string(phase)); }
  void end(std::string_view phase, bool ok, const app::PhaseTotals&) override {
    events.push_back("end " + std::string(phase) + (ok ? " ok" : " failed"));
  }
  std::vector<std::string> events;
};

TEST(AppTier, ACancelledJobConnectsNowhereAndShowsNoPhase) {
  testing::TempDir dir;
  auto entity = app::tier_entity(write(dir, "one.toml", entity_toml("players")), "");
  CancelToken token;
  PhaseLog observer;
  app::Services services;
  services.cancel = &token;
  services.observer = &observer;
  services.open_repository = []() -> std::unique_ptr<Repository> {
    ADD_FAILURE() << "a cancelled job must not open the repository";
    return nullptr;
  };
  // Not cancelled: the operation starts, tries the database (nothing listens on port 1) and fails as a phase.
  EXPECT_THROW(app::tier_cooldown(services, {entity, 10}), StrataError);
  EXPECT_EQ(observer.events, (std::vector<std::string>{"begin tier_cooldown", "end tier_cooldown failed"}));
  observer.events.clear();

  token.cancel("the job was cancelled");
  EXPECT_STRATA_ERROR(app::tier_cooldown(services, {entity, 10}), ErrorCode::kInterrupted, "the job was cancelled");
  EXPECT_STRATA_ERROR(app::tier_freeze(services, {entity, SIZE_MAX, {}}), ErrorCode::kInterrupted, "cancelled");
  EXPECT_STRATA_ERROR(app::tier_thaw_batch(services, {entity, true, SIZE_MAX}), ErrorCode::kInterrupted, "cancelled");
  EXPECT_STRATA_ERROR(app::tier_gc(services, {entity}), ErrorCode::kInterrupted, "cancelled");
  EXPECT_TRUE(observer.events.empty());
  EXPECT_FALSE(CancelToken::process().cancelled());
}

TEST(AppTier, LatencyRunRefusesAnUnreadableKeyFile) {
  testing::TempDir dir;
  auto entity = app::tier_entity(write(dir, "one.toml", entity_toml("players")), "");
  app::Services services;
  app::TierThawLatencyRequest req;
  req.entity = entity;
  req.keys_from = dir.path() + "/missing.txt";
  EXPECT_STRATA_ERROR(app::tier_thaw_latency(services, req), ErrorCode::kUsage, "cannot read " + req.keys_from);
}

}  // namespace
}  // namespace strata
