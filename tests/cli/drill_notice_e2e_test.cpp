// Issue 17: a failed drill invalidates its backup and says so to the fleet — a "drill.failed" event in the
// catalog's outbox (delivered to webhooks by platform/notify, tested there); a passed drill sends nothing.
#include <fstream>
#include <nlohmann/json.hpp>

#include "platform/catalog/outbox.hpp"
#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class DrillNoticeE2E : public LocalRepoTest {
 protected:
  void SetUp() override {
    LocalRepoTest::SetUp();
    init();
    verdict_ = tmp_ / "verdict";
    catalog_ = "sqlite://" + tmp_ / "catalog.db";
    {
      std::ofstream f(tmp_ / "strata.toml");
      f << "catalog = \"" << catalog_ << "\"\n[drill]\nscratch_dir = \"" << tmp_ / "scratch" << "\"\n"
        << "[source.files]\nengine = \"command\"\nbackup_command = \"echo data\"\n"
        << "drill_verify_command = \"echo 'orders: 0 rows'; exit $(cat '" << verdict_ << "')\"\n";
    }
    env_["STRATA_CONFIG"] = tmp_ / "strata.toml";
    auto b = strata({"-q", "backup", "--source", "files"});
    ASSERT_EQ(b.code, 0) << b.err;
    id_ = b.out.substr(0, b.out.find('\n'));
  }
  std::string verdict_, catalog_, id_;
};

TEST_F(DrillNoticeE2E, AFailedDrillQueuesOneNoticeAPassedOneNone) {
  write_file(verdict_, "0");
  ASSERT_EQ(strata({"drill", "run", "--source", "files"}).code, 0);
  auto cat = Catalog::open(catalog_);
  EXPECT_TRUE(outbox_read(*cat, 0).empty());

  write_file(verdict_, "4");
  auto r = strata({"drill", "run", "--source", "files", "--json"});
  ASSERT_EQ(r.code, 13) << r.err;
  auto rec = nlohmann::json::parse(r.out);
  auto events = outbox_read(*cat, 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "drill.failed");
  auto data = nlohmann::json::parse(events[0].payload);
  EXPECT_EQ(data["backup"], id_);
  EXPECT_EQ(data["source"], "files");
  EXPECT_EQ(data["drill"], rec["id"]);
  EXPECT_EQ(data["backup_state"], "invalid");
  EXPECT_EQ(data["error"], "drill_verify_command: exit 4: orders: 0 rows");
}

// A catalog that cannot be opened costs the notice, never the drill's verdict (the repository has the record).
TEST_F(DrillNoticeE2E, AnUnreachableCatalogIsAWarningNotADifferentResult) {
  write_file(verdict_, "4");
  env_["STRATA_CATALOG"] = "sqlite://" + tmp_ / "no-such-dir/catalog.db";
  auto r = strata({"drill", "run", "--source", "files"});
  EXPECT_EQ(r.code, 13) << r.err;
  EXPECT_NE(r.err.find("drill_notice_not_queued"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("strata: error: backup " + id_ + " of files failed its drill: drill_verify_command: exit 4"),
            std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata::test
