// Retention and drills together (issue 16 parts 2 and 6): only good backups count toward a rule. A newest backup
// whose latest drill failed must not be what `--keep-last 1` keeps while the older good one is expired — the
// policy keeps the good one and names the failure; once a later drill of the same backup passes, it counts again.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

class RetentionDrillE2E : public LocalRepoTest {
 protected:
  // decision and reasons per backup id of a `forget --dry-run --json` of source src.
  std::map<std::string, std::pair<std::string, std::string>> plan(const std::vector<std::string>& rules) {
    std::vector<std::string> args = {"forget", "--source", "src", "--dry-run", "--json"};
    args.insert(args.end(), rules.begin(), rules.end());
    auto r = strata(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::map<std::string, std::pair<std::string, std::string>> out;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object()) return out;
    for (const auto& b : j["sources"][0]["backups"]) out[b["id"]] = {b["decision"], b["reasons"].dump()};
    return out;
  }

  // Flips one byte in the middle of the backup's largest data object; flipping again undoes it.
  void flip(const std::string& id) {
    std::string best;
    uintmax_t size = 0;
    for (const auto& e : fs::recursive_directory_iterator(repo_ + "/data/" + id)) {
      if (e.is_regular_file() && e.file_size() > size) best = e.path().string(), size = e.file_size();
    }
    ASSERT_FALSE(best.empty());
    std::fstream f(best, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x20;
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write(&c, 1);
  }
};

TEST_F(RetentionDrillE2E, ABackupThatFailedItsDrillCountsTowardNoRuleUntilADrillPasses) {
  init();
  const std::string older = backup(make_data(1 << 20, 1));
  const std::string newest = backup(make_data(1 << 20, 2));
  ASSERT_FALSE(older.empty());
  ASSERT_FALSE(newest.empty());

  auto before = plan({"--keep-last", "1"});
  EXPECT_EQ(before[newest].first, "keep");
  EXPECT_EQ(before[older].first, "expire");

  flip(newest);
  auto drill = strata({"drill", "run", "--source", "src", newest, "--level", "1"});
  ASSERT_EQ(drill.code, 13) << drill.out << drill.err;
  auto failed = plan({"--keep-last", "1"});
  EXPECT_EQ(failed[older].first, "keep") << failed[older].second;
  EXPECT_NE(failed[newest].second.find("failed"), std::string::npos) << failed[newest].second;
  // The damage is repaired and a new drill passes: the newest counts again.
  flip(newest);
  auto pass = strata({"drill", "run", "--source", "src", newest, "--level", "1"});
  ASSERT_EQ(pass.code, 0) << pass.out << pass.err;
  auto after = plan({"--keep-last", "1"});
  EXPECT_EQ(after[newest].first, "keep") << after[newest].second;
  EXPECT_EQ(after[older].first, "expire");

  // Damaged and failed again: a real run expires nothing good — the older backup stays listed.
  flip(newest);
  ASSERT_EQ(strata({"drill", "run", "--source", "src", newest, "--level", "1"}).code, 13);
  auto run = strata({"forget", "--source", "src", "--keep-last", "1", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto j = nlohmann::json::parse(run.out);
  for (const auto& id : j["sources"][0]["expired_now"]) EXPECT_NE(id, older) << run.out;
  auto list = strata({"list", "--source", "src", "--json"});
  EXPECT_NE(list.out.find(older), std::string::npos) << list.out;
}

}  // namespace
}  // namespace strata::test
