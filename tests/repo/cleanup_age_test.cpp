// Cleanup's safety age (issue 13 item 15, Kopia's rule): leftovers of backups that started less than min_age ago
// are left alone, whatever the locks say; older ones go.
#include <gtest/gtest.h>

#include "../common/test_helpers.hpp"
#include "common/clock.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

TEST(CleanupAge, YoungLeftoversAreKeptOldOnesRemoved) {
  auto mem = std::make_unique<MemoryStorage>();
  MemoryStorage* raw = mem.get();
  InitOptions init;
  init.encrypted = false;
  Repository::init(*raw, init);
  Repository repo(std::move(mem));
  const std::string young = "data/" + compact_utc(now_epoch() - 60) + "-0000000a/000000";
  const std::string old = "data/" + compact_utc(now_epoch() - 7200) + "-0000000b/000000";
  const std::string unnamed = "data/not-a-time/000000";
  for (const auto& k : {young, old, unnamed}) raw->put(k, testing::bytes_of("x"));
  std::vector<std::string> kept;
  EXPECT_EQ(repo.cleanup(false, 3600, &kept), (std::vector<std::string>{old}));
  EXPECT_EQ(kept, (std::vector<std::string>{young, unnamed})) << "an age it cannot read counts as young";
  EXPECT_TRUE(raw->stat(young));
  EXPECT_FALSE(raw->stat(old));
  EXPECT_EQ(repo.cleanup(false, 0).size(), 2u) << "min_age 0 removes every leftover";
  EXPECT_TRUE(raw->list("data/").empty());
}

TEST(CleanupAge, DefaultIsAnHour) { EXPECT_EQ(Repository::kCleanupMinAge, 3600); }

}  // namespace
}  // namespace strata
