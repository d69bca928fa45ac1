// The repository's upkeep through app:: (issue 14 part 1): check reports damage before leftovers as its problem
// (the caller prints the report first), cleanup and delete do what the CLI's commands did, on the in-memory driver.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/test_helpers.hpp"
#include "app/backup.hpp"
#include "app/maintenance.hpp"
#include "common/clock.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

class PhaseLog final : public app::Observer {
 public:
  void begin(std::string_view phase, uint64_t) override { events.push_back("begin " + std::string(phase)); }
  void progress(const app::Progress& p) override { last_total = p.total; }
  void end(std::string_view phase, bool ok, const app::PhaseTotals&) override {
    events.push_back("end " + std::string(phase) + (ok ? " ok" : " failed"));
  }
  std::vector<std::string> events;
  uint64_t last_total = 0;
};

struct Repo {
  Repo() {
    auto mem = std::make_unique<MemoryStorage>(state);
    InitOptions init;
    init.encrypted = false;
    Repository::init(*mem, init);
    repo = std::make_unique<Repository>(std::move(mem));
    services.repo = repo.get();
    services.observer = &observer;
  }
  std::string backup(size_t bytes) {
    Bytes data = testing::compressible(bytes);
    testing::BufferSource src(data, 65536);
    app::BackupRequest req;
    req.source = "orders";
    req.stream = &src;
    return app::backup(services, req).manifests.at(0).id;
  }
  std::vector<std::string> keys_under(const std::string& prefix) {
    std::vector<std::string> keys;
    std::lock_guard<std::mutex> g(state->mu);
    for (const auto& [k, v] : state->objects) {
      if (k.rfind(prefix, 0) == 0) keys.push_back(k);
    }
    return keys;
  }
  std::shared_ptr<MemoryStorage::State> state = std::make_shared<MemoryStorage::State>();
  std::unique_ptr<Repository> repo;
  PhaseLog observer;
  app::Services services;
};

TEST(AppMaintenance, CheckReportsDamageBeforeLeftoversAsItsProblem) {
  Repo r;
  std::string id = r.backup(1 << 20);
  app::CheckResult clean = app::check_repository(r.services, {true, 1.0, 0, 0});
  EXPECT_FALSE(clean.problem) << clean.problem->message;
  EXPECT_EQ(clean.report.backups, 1u);
  EXPECT_TRUE(clean.read_any);
  EXPECT_GT(r.observer.last_total, 0u) << "the observer learns the total to read";

  const std::string leftover = "data/" + compact_utc(now_epoch() - 7200) + "-0000000b/000000";
  r.repo->storage().put(leftover, testing::bytes_of("x"));
  app::CheckResult with_leftover = app::check_repository(r.services, {true, 0, 0, 0});
  ASSERT_TRUE(with_leftover.problem);
  EXPECT_EQ(with_leftover.problem->code, ErrorCode::kProblemsFound);
  EXPECT_NE(with_leftover.problem->message.find("1 leftover"), std::string::npos) << with_leftover.problem->message;
  EXPECT_FALSE(with_leftover.read_any);

  auto objects = r.keys_under("data/" + id + "/");
  ASSERT_FALSE(objects.empty());
  {
    std::lock_guard<std::mutex> g(r.state->mu);
    Bytes& b = r.state->objects.at(objects[0]);
    b[b.size() / 2] ^= 0x01;
  }
  app::CheckResult damaged = app::check_repository(r.services, {true, 1.0, 0, 0});
  ASSERT_TRUE(damaged.problem);
  EXPECT_EQ(damaged.problem->code, ErrorCode::kCorrupt) << "damage is reported before leftovers";
  EXPECT_FALSE(damaged.report.errors.empty());
  EXPECT_STRATA_ERROR(app::raise(damaged.problem), ErrorCode::kCorrupt, "damaged backups or objects");
  EXPECT_EQ(r.observer.events, (std::vector<std::string>{"begin backup", "end backup ok", "begin check", "end check ok",
                                                         "begin check", "end check ok", "begin check", "end check ok"}));
}

TEST(AppMaintenance, CleanupAndDeleteDoWhatTheCommandsDid) {
  Repo r;
  std::string id = r.backup(256 << 10);
  const std::string leftover = "data/" + compact_utc(now_epoch() - 7200) + "-0000000b/000000";
  r.repo->storage().put(leftover, testing::bytes_of("x"));
  app::CleanupResult dry = app::cleanup(r.services, {true, 0});
  EXPECT_EQ(dry.removed, (std::vector<std::string>{leftover}));
  EXPECT_TRUE(r.repo->storage().stat(leftover)) << "a dry run removes nothing";
  app::CleanupResult done = app::cleanup(r.services, {false, 0});
  EXPECT_EQ(done.removed, (std::vector<std::string>{leftover}));
  EXPECT_FALSE(r.repo->storage().stat(leftover));

  EXPECT_EQ(app::delete_backups(r.services, {{id.substr(0, 12)}, true}), (std::vector<std::string>{id}));
  EXPECT_EQ(r.repo->list().size(), 1u) << "a dry run deletes nothing";
  EXPECT_EQ(app::delete_backups(r.services, {{id}, false}), (std::vector<std::string>{id}));
  EXPECT_TRUE(r.repo->list().empty());
  EXPECT_TRUE(r.keys_under("data/" + id + "/").empty());
  EXPECT_STRATA_ERROR(app::delete_backups(r.services, {{"20990101T000000Z-deadbeef"}, false}), ErrorCode::kNotFound, "");
}

}  // namespace
}  // namespace strata
