// Issue 17, authenticated drill records: a record carries a MAC under the repository's key, so whoever can write
// to the storage but has no passphrase cannot turn a failed backup into a verified one; records without a MAC (as
// written before they were authenticated) are shown as unverified and never verify a backup.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

class DrillRecordsE2E : public LocalRepoTest {
 protected:
  // A command source whose drill passes while `verdict` holds "0" and fails otherwise.
  void SetUp() override {
    LocalRepoTest::SetUp();
    init();
    verdict_ = tmp_ / "verdict";
    write_file(verdict_, "1");
    {
      std::ofstream f(tmp_ / "strata.toml");
      f << "[drill]\nscratch_dir = \"" << tmp_ / "scratch" << "\"\n[source.files]\nengine = \"command\"\n"
      << "backup_command = \"echo data\"\ndrill_verify_command = \"exit $(cat '" << verdict_ << "')\"\nrpo = \"1h\"\n";
    }
    env_["STRATA_CONFIG"] = tmp_ / "strata.toml";
    auto b = strata({"-q", "backup", "--source", "files"});
    ASSERT_EQ(b.code, 0) << b.err;
    id_ = b.out.substr(0, b.out.find('\n'));
  }
  fs::path only_record() {
    auto dir = fs::path(repo_) / "drills" / id_;
    std::vector<fs::path> all;
    for (const auto& e : fs::directory_iterator(dir)) all.push_back(e.path());
    EXPECT_EQ(all.size(), 1u);
    return all.at(0);
  }
  // Writes `rec` as a later drill of the same backup (a new id, started a second later).
  void plant(nlohmann::json rec, const std::string& new_id) {
    rec["id"] = new_id;
    rec["started_us"] = rec["started_us"].get<int64_t>() + 1000000;
    write_file((fs::path(repo_) / "drills" / id_ / (new_id + ".json")).string(), rec.dump(1));
  }
  nlohmann::json status() {
    auto st = strata({"status", "--json"});
    return nlohmann::json::parse(st.out)[0];
  }

  std::string verdict_, id_;
};

TEST_F(DrillRecordsE2E, AForgedPassDoesNotClearAFailure) {
  auto r = strata({"drill", "run", "--source", "files"});
  ASSERT_EQ(r.code, 13) << r.err;
  nlohmann::json failed = nlohmann::json::parse(read_file(only_record().string()));
  EXPECT_EQ(failed["mac"].get<std::string>().size(), 64u);
  nlohmann::json forged = failed;
  forged["result"] = "passed";
  forged["error"] = "";
  plant(forged, "29991231T000000Z-ffffffff");

  auto st = strata({"status"});
  EXPECT_EQ(st.code, 13) << st.out;
  EXPECT_NE(st.out.find("no good backup (1 failed their drills)"), std::string::npos) << st.out;
  auto list = strata({"drill", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  auto all = nlohmann::json::parse(list.out);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["auth"], "authentic");
  EXPECT_EQ(all[1]["result"], "passed");
  EXPECT_EQ(all[1]["auth"], "forged");

  // A real pass, recorded by whoever holds the passphrase, does clear it.
  write_file(verdict_, "0");
  ASSERT_EQ(strata({"drill", "run", "--source", "files"}).code, 0);
  EXPECT_EQ(status()["newest_verified"], id_);
  EXPECT_EQ(status()["state"], "OK");
}

TEST_F(DrillRecordsE2E, AnUnsignedRecordIsUnverifiedAndVerifiesNothing) {
  ASSERT_EQ(strata({"drill", "run", "--source", "files"}).code, 13);
  nlohmann::json old = nlohmann::json::parse(read_file(only_record().string()));
  old.erase("mac");
  old["result"] = "passed";
  plant(old, "29991231T000000Z-eeeeeeee");
  auto list = strata({"drill", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("29991231T000000Z-eeeeeeee  " + id_), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("passed   unverified"), std::string::npos) << list.out;
  EXPECT_EQ(status()["state"], "CRITICAL");
  EXPECT_EQ(status()["newest_verified"], "");
  // Without the passphrase nothing can be checked: a genuine pass is unverified too, and status says so safely.
  write_file(verdict_, "0");
  ASSERT_EQ(strata({"drill", "run", "--source", "files"}).code, 0);
  EXPECT_EQ(status()["newest_verified"], id_);
  env_["STRATA_PASSPHRASE"] = "";
  auto locked = strata({"drill", "list", "--json"});
  ASSERT_EQ(locked.code, 0) << locked.err;
  for (const auto& d : nlohmann::json::parse(locked.out)) EXPECT_EQ(d["auth"], "unverified");
  EXPECT_EQ(status()["newest_verified"], "");
}

// A pass recorded for one backup, copied under another backup's name, is not that backup's.
TEST_F(DrillRecordsE2E, APassCopiedToAnotherBackupIsDamaged) {
  write_file(verdict_, "0");
  ASSERT_EQ(strata({"drill", "run", "--source", "files"}).code, 0);
  auto b = strata({"-q", "backup", "--source", "files"});
  ASSERT_EQ(b.code, 0);
  std::string second = b.out.substr(0, b.out.find('\n'));
  fs::path rec = only_record();
  fs::create_directories(fs::path(repo_) / "drills" / second);
  fs::copy_file(rec, fs::path(repo_) / "drills" / second / rec.filename());
  auto list = strata({"drill", "list"});
  EXPECT_EQ(list.code, 13);
  EXPECT_NE(list.err.find("DAMAGED drills/" + second + "/" + rec.filename().string() + " holds the record of drills/" + id_),
            std::string::npos) << list.err;
  EXPECT_EQ(status()["newest_verified"], id_);
}

}  // namespace
}  // namespace strata::test
