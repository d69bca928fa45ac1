// Issue 16 part 5: a backup `check` finds damaged becomes an invalidation notice for the OPS platform — one
// "backup.corrupt" event per (repository, backup) in the catalog's outbox however often check finds it again
// (delivered to webhooks/RabbitMQ by platform/notify, tested there); a sound backup sends nothing, and a catalog
// that cannot be written costs the notice, never check's verdict.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "platform/catalog/outbox.hpp"
#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

class CheckNoticeE2E : public LocalRepoTest {
 protected:
  void SetUp() override {
    LocalRepoTest::SetUp();
    init();
    catalog_ = "sqlite://" + tmp_ / "catalog.db";
    env_["STRATA_CATALOG"] = catalog_;
    good_ = backup("sound data", {}, "orders");
    bad_ = backup("data that will be damaged", {}, "orders");
  }
  // Truncates the first data object of `id` by one byte.
  std::string damage(const std::string& id) {
    for (const auto& e : fs::directory_iterator(repo_ + "/data/" + id)) {
      std::string body = read_file(e.path().string());
      write_file(e.path().string(), body.substr(0, body.size() - 1));
      return "data/" + id + "/" + e.path().filename().string();
    }
    ADD_FAILURE() << "backup " << id << " has no data object";
    return "";
  }
  std::string catalog_, good_, bad_;
};

TEST_F(CheckNoticeE2E, ADamagedBackupIsAnnouncedOnceASoundOneNever) {
  ASSERT_EQ(strata({"check"}).code, 0);
  auto cat = Catalog::open(catalog_);
  EXPECT_TRUE(outbox_read(*cat, 0).empty());

  std::string key = damage(bad_);
  auto r = strata({"check"});
  ASSERT_EQ(r.code, 5) << r.err;  // kCorrupt
  EXPECT_NE(r.out.find("ERROR   backup " + bad_ + ": object " + key + " has "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warn backup_corrupt backup=" + bad_ + " source=orders"), std::string::npos) << r.err;
  auto events = outbox_read(*cat, 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "backup.corrupt");
  auto data = nlohmann::json::parse(events[0].payload);
  EXPECT_EQ(data["backup"], bad_);
  EXPECT_EQ(data["source"], "orders");
  EXPECT_EQ(data["type"], "stream");
  EXPECT_EQ(data["backup_state"], "invalid");
  EXPECT_EQ(data["repository"], repo_);
  EXPECT_FALSE(data["repository_id"].get<std::string>().empty());
  EXPECT_FALSE(data["started"].get<std::string>().empty());
  EXPECT_NE(data["error"].get<std::string>().find("object " + key + " has "), std::string::npos) << data.dump();

  // Found again: still one event for it.
  ASSERT_EQ(strata({"check"}).code, 5);
  EXPECT_EQ(outbox_read(*cat, 0).size(), 1u);
}

TEST_F(CheckNoticeE2E, AnUnreachableCatalogIsAWarningNotADifferentResult) {
  damage(bad_);
  auto r = strata_env({"check"}, {{"STRATA_CATALOG", "sqlite://" + tmp_ / "no-such-dir/catalog.db"}});
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_NE(r.err.find("corrupt_notice_not_queued"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("strata: error: check found 1 damaged backups or objects in "), std::string::npos) << r.err;
  // The next check with the catalog back announces it: nothing is lost.
  ASSERT_EQ(strata({"check"}).code, 5);
  auto cat = Catalog::open(catalog_);
  EXPECT_EQ(outbox_read(*cat, 0).size(), 1u);
}

}  // namespace
}  // namespace strata::test
