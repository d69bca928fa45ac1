// Invalidation notices of retention (issue 16 part 5): with a catalog configured, every version `forget` expires or
// deletes is an outbox event (delivered to the webhooks by platform/notify, tested in tests/platform/notify) —
// exactly once per version and kind however often forget runs, recorded before anything is deleted, and sent by
// the next run when a kill between the tombstone and the notice lost it. A catalog that cannot be written stops
// forget before it deletes anything.
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>

#include "platform/catalog/catalog.hpp"
#include "platform/catalog/outbox.hpp"
#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class RetentionNoticeE2E : public LocalRepoTest {
 protected:
  void SetUp() override {
    LocalRepoTest::SetUp();
    catalog_url_ = "sqlite://" + tmp_ / "catalog.db";
    std::ofstream(tmp_ / "strata.toml") << "catalog = \"" << catalog_url_ << "\"\n";
    env_["STRATA_CONFIG"] = tmp_ / "strata.toml";
  }

  // (kind, backup id) of every backup.* event, sorted (a duplicate shows as two equal entries).
  using Events = std::vector<std::pair<std::string, std::string>>;
  Events events(std::vector<nlohmann::json>* payloads = nullptr) {
    auto cat = Catalog::open(catalog_url_);
    Events out;
    for (const auto& e : outbox_read(*cat, 0)) {
      if (e.kind.rfind("backup.", 0) != 0) continue;
      auto j = nlohmann::json::parse(e.payload);
      out.emplace_back(e.kind, j["backup"].get<std::string>());
      if (payloads) payloads->push_back(j);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  RunResult forget(std::vector<std::string> extra = {}, const Env& env = {}) {
    std::vector<std::string> args = {"forget", "--source", "src", "--keep-last", "1", "--confirm"};
    args.insert(args.end(), extra.begin(), extra.end());
    return strata_env(args, env);
  }

  std::string catalog_url_;
};

TEST_F(RetentionNoticeE2E, EveryExpiredAndDeletedVersionIsOneOutboxEventRecordedBeforeAnyDelete) {
  init();
  const std::string b1 = backup(make_data(64 << 10, 1)), b2 = backup(make_data(64 << 10, 2)),
                    b3 = backup(make_data(64 << 10, 3));

  // Killed right after the first tombstone: that backup is invalid and nobody was told yet.
  auto killed = forget({}, {{"STRATA_RETENTION_FAILPOINT", "expire.after_tombstone"}});
  ASSERT_EQ(killed.code, 86) << killed.err;
  EXPECT_TRUE(events().empty());

  // The next run tells about both expired versions, once each, with what the OPS platform needs.
  auto run = forget();
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<nlohmann::json> payloads;
  auto after = events(&payloads);
  auto sorted = [](Events e) {
    std::sort(e.begin(), e.end());
    return e;
  };
  EXPECT_EQ(after, sorted({{"backup.expired", b1}, {"backup.expired", b2}}));
  for (const auto& p : payloads) {
    EXPECT_EQ(p["source"], "src");
    EXPECT_EQ(p["policy"], "keep-last 1");
    EXPECT_FALSE(p["reasons"].empty()) << p.dump();
    EXPECT_FALSE(p["delete_after"].get<std::string>().empty()) << p.dump();
    EXPECT_FALSE(p["started"].get<std::string>().empty()) << p.dump();
    EXPECT_FALSE(p["repository_id"].get<std::string>().empty()) << p.dump();
  }
  ASSERT_EQ(forget().code, 0);
  EXPECT_EQ(events(), after) << "a re-run reports nothing twice";

  // Physical deletion: one backup.deleted each, and still one backup.expired each.
  ASSERT_EQ(forget({"--now"}).code, 0);
  EXPECT_EQ(events(), sorted({{"backup.deleted", b1}, {"backup.deleted", b2}, {"backup.expired", b1}, {"backup.expired", b2}}));

  // The catalog cannot be written (a second session holds SQLite's write lock): forget stops before deleting.
  const std::string b4 = backup(make_data(64 << 10, 4));
  {
    auto holder = Catalog::open(catalog_url_);
    holder->sql().begin();
    auto blocked = forget({"--now"});
    holder->sql().rollback();
    EXPECT_NE(blocked.code, 0) << blocked.out;
    EXPECT_NE(blocked.err.find("catalog"), std::string::npos) << blocked.err;
    auto list = strata({"list", "--source", "src", "--all", "--json"});
    EXPECT_NE(list.out.find(b3), std::string::npos) << "nothing was deleted: " << list.out;
  }
  ASSERT_EQ(forget({"--now"}).code, 0);
  EXPECT_EQ(events(), sorted({{"backup.deleted", b1}, {"backup.deleted", b2}, {"backup.deleted", b3}, {"backup.expired", b1},
                              {"backup.expired", b2}, {"backup.expired", b3}}));
  auto list = strata({"list", "--source", "src", "--json"});
  EXPECT_NE(list.out.find(b4), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(b3), std::string::npos) << list.out;
}

}  // namespace
}  // namespace strata::test
