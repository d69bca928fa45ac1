// Issue 17: restore drills and freshness monitoring through the CLI — a good backup passes and is recorded, a
// damaged one fails naming the object and stops counting as good, budgets and time limits refuse or stop cleanly
// and leave no scratch behind, a killed drill's scratch is removed by the next one, and `status` judges the RPO.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

// A TOML basic string: the commands hold both kinds of quotes.
std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class DrillE2E : public LocalRepoTest {
 protected:
  void SetUp() override {
    LocalRepoTest::SetUp();
    original_ = tmp_ / "orig";
    write_file(original_, make_data(3 << 20, 7));
    scratch_ = tmp_ / "scratch";
  }

  // A command source whose drill restores into the scratch dir and compares with the original.
  void config(const std::string& verify = "cmp restored \"$ORIG\"", const std::string& drill_table = "") {
    std::ofstream f(tmp_ / "strata.toml");
    f << "[drill]\nscratch_dir = \"" << scratch_ << "\"\n" << drill_table << "\n"
      << "[source.files]\nengine = \"command\"\nbackup_command = \"cat '" << original_ << "'\"\n"
      << "drill_restore_command = \"cat > restored\"\n"
      << "drill_verify_command = " << toml_string("ORIG=" + original_ + "; " + verify) << "\n"
      << "rpo = \"1h\"\n";
    env_["STRATA_CONFIG"] = tmp_ / "strata.toml";
  }

  std::string engine_backup() {
    auto r = strata({"-q", "backup", "--source", "files"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  int64_t finished_epoch(const std::string& id) {
    auto r = strata({"show", id, "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out).at("finished_epoch").get<int64_t>();
  }

  nlohmann::json drills() {
    auto r = strata({"drill", "list", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  std::vector<std::string> scratch_entries() {
    std::vector<std::string> out;
    if (!fs::exists(scratch_)) return out;
    for (const auto& e : fs::directory_iterator(scratch_)) out.push_back(e.path().filename().string());
    return out;
  }

  std::string original_, scratch_;
};

TEST_F(DrillE2E, GoodBackupPassesBothLevelsIsRecordedAndLeavesNoScratch) {
  init();
  config();
  std::string id = engine_backup();
  auto r2 = strata({"drill", "run", "--source", "files", "--latest"});
  ASSERT_EQ(r2.code, 0) << r2.err << r2.out;
  EXPECT_NE(r2.out.find("level 2): passed"), std::string::npos) << r2.out;
  EXPECT_NE(r2.out.find("drill_verify_command   ok"), std::string::npos) << r2.out;
  auto r1 = strata({"drill", "run", "--source", "files", id, "--level", "1", "--json"});
  ASSERT_EQ(r1.code, 0) << r1.err;
  auto rec = nlohmann::json::parse(r1.out);
  EXPECT_EQ(rec["result"], "passed");
  EXPECT_EQ(rec["backup"], id);
  EXPECT_EQ(rec["checks"][0]["name"], "read-data");

  auto all = drills();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["level"], 2);
  EXPECT_EQ(all[0]["result"], "passed");
  EXPECT_GT(all[0]["rto_seconds"].get<double>(), 0.0);
  EXPECT_EQ(all[0]["plain_bytes"], 3 << 20);
  EXPECT_TRUE(scratch_entries().empty());
  // The drill restored through its own command, never the production restore_command (there is none here) — and
  // the record is in the repository itself.
  EXPECT_EQ(list_files(repo_ + "/drills/" + id).size(), 2u);

  auto st = strata({"status", "--json"});
  ASSERT_EQ(st.code, 0) << st.err;
  auto s = nlohmann::json::parse(st.out);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["state"], "OK");
  EXPECT_EQ(s[0]["newest_verified"], id);
}

TEST_F(DrillE2E, FlippedByteFailsTheDrillNamingTheObjectAndTheBackupStopsCountingAsGood) {
  init();
  config();
  std::string id = engine_backup();
  auto objects = list_files(repo_ + "/data/" + id);
  ASSERT_FALSE(objects.empty());
  std::string obj = repo_ + "/data/" + id + "/" + objects[0];
  std::string bytes = read_file(obj);
  bytes[bytes.size() / 2] ^= 0x20;
  write_file(obj, bytes);

  for (const char* level : {"1", "2"}) {
    auto r = strata({"drill", "run", "--source", "files", "--level", level});
    EXPECT_EQ(r.code, 13) << level << ": " << r.err;
    EXPECT_NE(r.err.find("failed its drill"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("data/" + id + "/" + objects[0]), std::string::npos) << r.err;
  }
  auto all = drills();
  ASSERT_EQ(all.size(), 2u);
  for (const auto& d : all) EXPECT_EQ(d["result"], "failed");
  EXPECT_TRUE(scratch_entries().empty());
  auto failed = strata({"drill", "list", "--failed"});
  EXPECT_NE(failed.out.find("2 drills"), std::string::npos) << failed.out;

  // Its only backup failed: the source has no good backup.
  auto st = strata({"status"});
  EXPECT_EQ(st.code, 13) << st.out << st.err;
  EXPECT_NE(st.out.find("CRITICAL  no good backup (1 failed their drills)"), std::string::npos) << st.out;
  auto nag = strata({"status", "--nagios"});
  EXPECT_EQ(nag.code, 2);
  EXPECT_EQ(nag.out.rfind("STRATA CRITICAL - files: no good backup", 0), 0u) << nag.out;
}

TEST_F(DrillE2E, AFailingVerifyCommandFailsTheDrillWithItsOutput) {
  init();
  config("echo 'orders: 0 rows' >&2; exit 3");
  engine_backup();
  auto r = strata({"drill", "run", "--source", "files", "--json"});
  EXPECT_EQ(r.code, 13) << r.err;
  auto rec = nlohmann::json::parse(r.out);
  EXPECT_EQ(rec["result"], "failed");
  EXPECT_EQ(rec["checks"][1]["name"], "drill_verify_command");
  EXPECT_EQ(rec["checks"][1]["detail"], "exit 3: orders: 0 rows");
  EXPECT_TRUE(scratch_entries().empty());
}

TEST_F(DrillE2E, ABackupLargerThanTheDiskBudgetIsRefusedBeforeAnythingIsWritten) {
  init();
  config("true", "disk_budget = \"1MiB\"");
  engine_backup();
  auto r = strata({"drill", "run", "--source", "files"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("restores to 3.0 MiB, more than the drill disk budget of 1.0 MiB"), std::string::npos) << r.err;
  EXPECT_TRUE(drills().empty());
  EXPECT_TRUE(scratch_entries().empty());
  // Level 1 writes nothing, so the budget does not apply.
  EXPECT_EQ(strata({"drill", "run", "--source", "files", "--level", "1"}).code, 0);
}

TEST_F(DrillE2E, TheTimeLimitStopsAHangingCheckAndCleansUp) {
  init();
  std::string gate = tmp_ / "gate";
  ASSERT_EQ(::mkfifo(gate.c_str(), 0600), 0);
  // The check blocks on a FIFO nobody writes: only the time limit can end it.
  config("cat '" + gate + "'", "time_limit = \"5s\"");
  engine_backup();
  auto r = strata({"drill", "run", "--source", "files", "--json"});
  EXPECT_EQ(r.code, 11) << r.err;
  EXPECT_NE(r.err.find("reached its time limit of 5 s during drill_verify_command"), std::string::npos) << r.err;
  auto all = drills();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["result"], "stopped");
  EXPECT_TRUE(scratch_entries().empty());
  // Nothing of the check outlives the drill: the shell's child `cat` went with its process group, so the FIFO
  // has no reader left (a write-open without one fails with ENXIO).
  int fd = ::open(gate.c_str(), O_WRONLY | O_NONBLOCK);
  EXPECT_LT(fd, 0) << "the stopped check's cat still reads " << gate;
  if (fd >= 0) ::close(fd);
  else EXPECT_EQ(errno, ENXIO);
  // A stopped drill says nothing about the backup: it still counts as good (not verified).
  auto st = strata({"status", "--json"});
  EXPECT_EQ(st.code, 0) << st.out;
  EXPECT_EQ(nlohmann::json::parse(st.out)[0]["newest_verified"], "");
}

TEST_F(DrillE2E, TheScratchOfAKilledDrillIsRemovedByTheNextOne) {
  init();
  std::string ready = tmp_ / "ready", gate = tmp_ / "gate";
  ASSERT_EQ(::mkfifo(ready.c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(gate.c_str(), 0600), 0);
  config("echo up > '" + ready + "'; cat '" + gate + "' >/dev/null; cmp restored \"$ORIG\"");
  engine_backup();
  pid_t pid = spawn_strata({"drill", "run", "--source", "files"}, env_, tmp_ / "drill.log");
  // The drill's check writes "up" into the FIFO once the restore is in the scratch dir. Opened non-blocking and
  // polled, so a drill that dies before that fails the test instead of hanging it.
  int rfd = ::open(ready.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(rfd, 0);
  std::string got;
  for (int waited_ms = 0; got.find('\n') == std::string::npos; waited_ms += 100) {
    pollfd p{rfd, POLLIN, 0};
    ::poll(&p, 1, 100);
    char buf[16];
    ssize_t n = ::read(rfd, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the drill ended before its check ran: " << read_file(tmp_ / "drill.log");
    ASSERT_LT(waited_ms, 120000) << "the drill's check never started: " << read_file(tmp_ / "drill.log");
  }
  ::close(rfd);
  ASSERT_EQ(got, "up\n");
  auto left = scratch_entries();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(file_exists(scratch_ + "/" + left[0] + "/restored"));
  kill_group(pid, SIGKILL);
  wait_pid(pid);
  // Release the orphaned check, if it outlived the kill.
  int fd = ::open(gate.c_str(), O_WRONLY | O_NONBLOCK);
  if (fd >= 0) ::close(fd);
  ASSERT_EQ(scratch_entries(), left);  // nothing removed it yet

  config("cmp restored \"$ORIG\"");
  auto r = strata({"drill", "run", "--source", "files"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(scratch_entries().empty());
}

TEST_F(DrillE2E, StatusIsCriticalOutOfTheRpoAndOkOnceANewBackupLands) {
  init();
  config();
  std::string a = engine_backup();
  int64_t ta = finished_epoch(a);
  auto late = strata({"status", "--at", "@" + std::to_string(ta + 7200)});
  EXPECT_EQ(late.code, 13) << late.err;
  EXPECT_NE(late.out.find("CRITICAL  out of rpo: newest good backup 2h ago, rpo 1h"), std::string::npos) << late.out;
  auto nag = strata({"status", "--nagios", "--at", "@" + std::to_string(ta + 7200)});
  EXPECT_EQ(nag.code, 2) << nag.out;
  EXPECT_NE(nag.out.find("'files_age'=7200s"), std::string::npos) << nag.out;
  // --max-age overrides the configured rpo.
  EXPECT_EQ(strata({"status", "--max-age", "3h", "--at", "@" + std::to_string(ta + 7200)}).code, 0);

  std::string b = engine_backup();
  int64_t tb = finished_epoch(b);
  auto fresh = strata({"status", "--at", "@" + std::to_string(tb + 60), "--json"});
  EXPECT_EQ(fresh.code, 0) << fresh.out << fresh.err;
  auto s = nlohmann::json::parse(fresh.out);
  EXPECT_EQ(s[0]["newest_good"], b);
  EXPECT_EQ(s[0]["newest_good_age_seconds"], 60);
  // Judged at a time before B existed, B is ignored.
  auto before = strata({"status", "--json", "--at", "@" + std::to_string(tb - 1)});
  if (tb - 1 >= ta) {
    EXPECT_EQ(nlohmann::json::parse(before.out)[0]["newest_good"], a);
  }
  // A source nobody backs up is critical, and a monitoring check that cannot look is UNKNOWN, never OK.
  auto unknown = strata_env({"status", "--nagios"}, {{"STRATA_REPO", tmp_ / "nosuch"}});
  EXPECT_EQ(unknown.code, 3) << unknown.out;
  EXPECT_EQ(unknown.out.rfind("STRATA UNKNOWN - ", 0), 0u) << unknown.out;
}

}  // namespace
}  // namespace strata::test
