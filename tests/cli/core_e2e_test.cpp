// End-to-end tests of the core commands through the real binary, run against every repository backend
// (tests/support/backends.cpp). Each case asserts the restored bytes or the exact error and exit code.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/backends.hpp"
#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

constexpr int kExitUsage = 2, kExitNotRepo = 3, kExitWrongKey = 4, kExitCorrupt = 5, kExitLocked = 6,
              kExitSourceFailed = 7, kExitNotFound = 9, kExitVersion = 10, kExitExists = 12;
constexpr const char* kPass = "correct horse battery staple";

class CoreE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string unique = std::string(info->name());
    for (auto& c : unique) {
      if (!isalnum(static_cast<unsigned char>(c))) c = '-';
    }
    repo_ = backend().make(unique + "-" + std::to_string(::getpid()), tmp_.path());
    env_ = repo_.env;
    env_["STRATA_REPO"] = repo_.location;
    env_["STRATA_PASSPHRASE"] = kPass;
    // Small frames and objects so boundaries and multi-object streams are exercised with little data.
    env_["HOME"] = tmp_.path();
  }

  const Backend& backend() const { return strata::test::backend(GetParam()); }

  RunResult strata(std::vector<std::string> args, const std::string& input = "") { return run_strata(args, env_, input); }
  RunResult strata_env(std::vector<std::string> args, const Env& extra, const std::string& input = "") {
    Env e = env_;
    for (const auto& [k, v] : extra) {
      if (v.empty()) e.erase(k);
      else e[k] = v;
    }
    return run_strata(args, e, input);
  }

  void init(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = strata(args);
    ASSERT_EQ(r.code, 0) << r.err;
  }

  // Backs up `data` from a file; returns the backup id.
  std::string backup_file(const std::string& data, std::vector<std::string> extra = {}, const std::string& source = "src") {
    std::string path = tmp_ / ("input-" + std::to_string(counter_++));
    write_file(path, data);
    std::vector<std::string> args = {"-q", "backup", "--source", source, "--from-file", path};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = strata(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  std::string restore_bytes(const std::string& id, int expect_code = 0, std::string* err = nullptr) {
    std::string out = tmp_ / ("restored-" + std::to_string(counter_++));
    auto r = strata({"restore", id, "--to", out});
    EXPECT_EQ(r.code, expect_code) << r.err;
    if (err) *err = r.err;
    if (r.code != 0) {
      EXPECT_FALSE(file_exists(out)) << "a failed restore must not leave the target file";
      EXPECT_FALSE(file_exists(out + ".strata-partial")) << "a failed restore must not leave a partial file";
      return "";
    }
    return read_file(out);
  }

  nlohmann::json list_json() {
    auto r = strata({"list", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  std::vector<std::string> data_objects(const std::string& id) {
    return backend().list_objects(repo_, "data/" + id + "/");
  }

  TempDir tmp_;
  BackendRepo repo_;
  Env env_;
  int counter_ = 0;
};

TEST_P(CoreE2E, RoundTripAtFrameAndObjectBoundaries) {
  init();
  const size_t frame = 64 * 1024, object = 4 * frame;
  for (size_t size : {size_t{0}, size_t{1}, frame - 1, frame, frame + 1, object - 1, object, object + 1,
                      3 * object + 7}) {
    SCOPED_TRACE("size " + std::to_string(size));
    std::string data = make_data(size, size + 1);
    std::string id = backup_file(data, {"--frame-size", "64KiB", "--object-size", "256KiB"});
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(restore_bytes(id), data);
    size_t expected_objects = size == 0 ? 1 : (size + object - 1) / object + (size % object == 0 ? 0 : 0);
    EXPECT_EQ(data_objects(id).size(), expected_objects);
  }
  EXPECT_EQ(list_json().size(), 9u);
}

TEST_P(CoreE2E, DefaultObjectSizeFollowsTheLocation) {
  init();
  std::string data = make_data((17 << 20) + 3, 21);
  std::string id = backup_file(data, {"--compression", "none"});
  EXPECT_EQ(restore_bytes(id), data);
  // 64 MiB of plaintext per object on local disk; 8 MiB (one PUT each) on S3.
  EXPECT_EQ(data_objects(id).size(), repo_.location.rfind("s3://", 0) == 0 ? 3u : 1u) << repo_.location;
}

TEST_P(CoreE2E, CompressionChoicesRoundTrip) {
  init();
  std::string data = make_data(3 << 20, 5, true);
  for (const char* c : {"zstd:1", "zstd:19", "lz4", "none"}) {
    SCOPED_TRACE(c);
    std::string id = backup_file(data, {"--compression", c});
    EXPECT_EQ(restore_bytes(id), data);
    auto m = nlohmann::json::parse(strata({"show", id, "--json"}).out);
    EXPECT_EQ(m["compression"], c);
    if (std::string(c) != "none") EXPECT_LT(m["stored_bytes"].get<uint64_t>(), data.size() / 2);
  }
}

TEST_P(CoreE2E, StdinToStdoutAndCommandToCommand) {
  init();
  std::string data = make_data(2 << 20, 11);
  auto r = strata({"-q", "backup", "--source", "piped", "--from-file", "-"}, data);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  auto out = strata({"restore", id, "--to", "-"});
  ASSERT_EQ(out.code, 0) << out.err;
  EXPECT_EQ(out.out, data);

  std::string src = tmp_ / "cmd-src";
  write_file(src, data);
  r = strata({"-q", "backup", "--source", "cmd", "--from-command", "cat '" + src + "'"});
  ASSERT_EQ(r.code, 0) << r.err;
  id = r.out.substr(0, r.out.find('\n'));
  std::string dst = tmp_ / "cmd-dst";
  auto rr = strata({"restore", "latest", "--source", "cmd", "--to-command", "cat > '" + dst + "'"});
  ASSERT_EQ(rr.code, 0) << rr.err;
  EXPECT_EQ(read_file(dst), data);
}

TEST_P(CoreE2E, FailingSourceCommandLeavesNothing) {
  init();
  auto r = strata({"backup", "--source", "bad", "--frame-size", "64KiB", "--object-size", "128KiB", "--from-command",
                   "head -c 1000000 /dev/zero; echo 'pg_dump: connection to server lost' >&2; exit 3"});
  EXPECT_EQ(r.code, kExitSourceFailed);
  EXPECT_NE(r.err.find("exited with status 3: pg_dump: connection to server lost"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), std::count(r.err.begin(), r.err.end(), '\n'));
  EXPECT_EQ(list_json().size(), 0u);
  EXPECT_TRUE(backend().list_objects(repo_, "data/").empty()) << "objects of the failed backup were not removed";
  EXPECT_TRUE(backend().list_objects(repo_, "backups/").empty());
  EXPECT_TRUE(backend().list_objects(repo_, "locks/").empty());
}

TEST_P(CoreE2E, SourceCommandKilledBySignalFails) {
  init();
  auto r = strata({"backup", "--source", "bad", "--from-command", "head -c 5000 /dev/zero; kill -9 $$"});
  EXPECT_EQ(r.code, kExitSourceFailed);
  EXPECT_NE(r.err.find("was killed by signal 9"), std::string::npos) << r.err;
  EXPECT_EQ(list_json().size(), 0u);
}

TEST_P(CoreE2E, WrongPassphraseIsOneClearLine) {
  init();
  std::string id = backup_file(make_data(1000, 1));
  auto r = strata_env({"restore", id, "--to", tmp_ / "x"}, {{"STRATA_PASSPHRASE", "not the passphrase"}});
  EXPECT_EQ(r.code, kExitWrongKey);
  EXPECT_EQ(r.err, "strata: error: wrong passphrase: none of the 1 keys of repository " + repo_.location +
                       " opens with it; check STRATA_PASSPHRASE or --passphrase-file\n");
  EXPECT_FALSE(file_exists(tmp_ / "x"));
}

TEST_P(CoreE2E, PassphraseFileAndNoPassphrase) {
  init();
  write_file(tmp_ / "pass", std::string(kPass) + "\n");
  std::string data = make_data(5000, 2);
  write_file(tmp_ / "in", data);
  auto r = strata_env({"--passphrase-file", tmp_ / "pass", "-q", "backup", "--source", "s", "--from-file", tmp_ / "in"},
                      {{"STRATA_PASSPHRASE", ""}});
  ASSERT_EQ(r.code, 0) << r.err;
  r = strata_env({"list"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(r.code, 0) << "listing needs no passphrase: " << r.err;
  r = strata_env({"restore", "latest", "--source", "s", "--to", tmp_ / "out"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(r.code, kExitWrongKey);
  EXPECT_NE(r.err.find("no passphrase given"), std::string::npos) << r.err;
}

TEST_P(CoreE2E, NotARepository) {
  auto r = strata({"list"});
  EXPECT_EQ(r.code, kExitNotRepo);
  EXPECT_NE(r.err.find("is not a strata repository"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("strata repo init"), std::string::npos) << r.err;
}

TEST_P(CoreE2E, InitTwiceRefused) {
  init();
  auto r = strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
  EXPECT_EQ(r.code, kExitExists);
  EXPECT_NE(r.err.find("already exists"), std::string::npos);
}

TEST_P(CoreE2E, NewerFormatVersionRefused) {
  init();
  auto cfg = nlohmann::json::parse(backend().read_object(repo_, "config"));
  cfg["version"] = 99;
  backend().write_object(repo_, "config", cfg.dump());
  auto r = strata({"list"});
  EXPECT_EQ(r.code, kExitVersion);
  EXPECT_NE(r.err.find("has format version 99"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("upgrade strata"), std::string::npos) << r.err;
}

TEST_P(CoreE2E, FlippedByteInDataObjectDetected) {
  init();
  std::string data = make_data(600000, 3);
  std::string id = backup_file(data, {"--frame-size", "64KiB", "--object-size", "256KiB"});
  auto objects = data_objects(id);
  ASSERT_EQ(objects.size(), 3u);
  std::string key = objects[1];
  std::string obj = backend().read_object(repo_, key);
  obj[obj.size() / 2] ^= 0x20;
  backend().write_object(repo_, key, obj);
  std::string err;
  restore_bytes(id, kExitCorrupt, &err);
  EXPECT_NE(err.find("object " + key + " is corrupt: frame"), std::string::npos) << err;
  EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
  auto c = strata({"check", "--read-data"});
  EXPECT_EQ(c.code, kExitCorrupt);
  EXPECT_NE(c.out.find("ERROR   backup " + id + ": object " + key), std::string::npos) << c.out;
  // Without keys the stored digest still catches it.
  auto nk = strata_env({"check", "--read-data", "--no-key"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(nk.code, kExitCorrupt);
  EXPECT_NE(nk.out.find("does not match its recorded digest"), std::string::npos) << nk.out;
}

TEST_P(CoreE2E, TruncatedAndMissingObjectsDetected) {
  init();
  std::string data = make_data(600000, 4);
  std::string id = backup_file(data, {"--frame-size", "64KiB", "--object-size", "256KiB"});
  auto objects = data_objects(id);
  ASSERT_EQ(objects.size(), 3u);
  std::string obj = backend().read_object(repo_, objects[2]);
  backend().write_object(repo_, objects[2], obj.substr(0, obj.size() - 100));
  std::string err;
  restore_bytes(id, kExitCorrupt, &err);
  EXPECT_NE(err.find("object " + objects[2]), std::string::npos) << err;
  EXPECT_NE(err.find("bytes, the manifest records"), std::string::npos) << err;

  backend().delete_object(repo_, objects[0]);
  restore_bytes(id, kExitCorrupt, &err);
  EXPECT_NE(err.find("object " + objects[0] + " is missing"), std::string::npos) << err;
  auto c = strata({"check"});
  EXPECT_EQ(c.code, kExitCorrupt);
  EXPECT_NE(c.out.find("object " + objects[0] + " is missing"), std::string::npos) << c.out;
}

TEST_P(CoreE2E, SwappedObjectsDetected) {
  init();
  std::string data = make_data(600000, 5);
  std::string id = backup_file(data, {"--frame-size", "64KiB", "--object-size", "256KiB"});
  auto objects = data_objects(id);
  ASSERT_EQ(objects.size(), 3u);
  // Same size, different place: frames bound to their object name must refuse to open elsewhere.
  std::string a = backend().read_object(repo_, objects[0]), b = backend().read_object(repo_, objects[1]);
  ASSERT_EQ(a.size(), b.size());
  backend().write_object(repo_, objects[0], b);
  backend().write_object(repo_, objects[1], a);
  std::string err;
  restore_bytes(id, kExitCorrupt, &err);
  EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
}

TEST_P(CoreE2E, TamperedManifestDetected) {
  init();
  std::string id = backup_file(make_data(100000, 6));
  std::string key = "backups/" + id;
  std::string m = backend().read_object(repo_, key);
  auto pos = m.find("\"source\":\"src\"");
  ASSERT_NE(pos, std::string::npos);
  m.replace(pos, 14, "\"source\":\"xyz\"");
  backend().write_object(repo_, key, m);
  auto r = strata({"show", id});
  EXPECT_EQ(r.code, kExitCorrupt);
  EXPECT_NE(r.err.find("manifest " + key + " failed authentication"), std::string::npos) << r.err;
  std::string err;
  restore_bytes(id, kExitCorrupt, &err);
  auto c = strata({"check"});
  EXPECT_EQ(c.code, kExitCorrupt);
}

TEST_P(CoreE2E, ConcurrentBackupsBothCommit) {
  init();
  std::string a = make_data(3 << 20, 7), b = make_data(3 << 20, 8);
  write_file(tmp_ / "a", a);
  write_file(tmp_ / "b", b);
  RunResult ra, rb;
  std::thread ta([&] { ra = strata({"-q", "backup", "--source", "a", "--from-file", tmp_ / "a"}); });
  std::thread tb([&] { rb = strata({"-q", "backup", "--source", "b", "--from-file", tmp_ / "b"}); });
  ta.join();
  tb.join();
  ASSERT_EQ(ra.code, 0) << ra.err;
  ASSERT_EQ(rb.code, 0) << rb.err;
  EXPECT_EQ(list_json().size(), 2u);
  EXPECT_EQ(restore_bytes(ra.out.substr(0, ra.out.find('\n'))), a);
  EXPECT_EQ(restore_bytes(rb.out.substr(0, rb.out.find('\n'))), b);
  EXPECT_EQ(strata({"check", "--read-data"}).code, 0);
}

TEST_P(CoreE2E, ExclusiveOperationsRespectLiveLocks) {
  init();
  std::string id = backup_file(make_data(1000, 9));
  // A backup running on another host holds a shared lock: delete must wait for it, not pull objects from under it.
  // Locks are leases: a running backup refreshed its lock moments ago.
  int64_t now = static_cast<int64_t>(::time(nullptr));
  nlohmann::json lock = {{"kind", "shared"}, {"host", "db-7.example"}, {"pid", 4242}, {"command", "backup orders"},
                         {"boot_id", "boot-of-db-7"}, {"pid_ns", "pid:[4026531836]"}, {"backup_id", "x"},
                         {"started", "2026-11-21T05:00:00Z"}, {"started_epoch", now}, {"refreshed_epoch", now}};
  backend().write_object(repo_, "locks/20261121T050000Z-0000000000000001", lock.dump());
  auto r = strata({"delete", id});
  EXPECT_EQ(r.code, kExitLocked);
  EXPECT_NE(r.err.find("is locked by 'backup orders' (pid 4242 on db-7.example"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("strata unlock"), std::string::npos) << r.err;
  EXPECT_EQ(list_json().size(), 1u);
  // Shared with shared is fine.
  backup_file(make_data(1000, 10));
  EXPECT_EQ(strata({"unlock"}).out, "removed 0 locks\n") << "a live lock on another host is not stale";
  EXPECT_EQ(strata({"unlock", "--all"}).code, 0);
  EXPECT_EQ(strata({"delete", id}).code, 0);
  EXPECT_EQ(list_json().size(), 1u);
  EXPECT_TRUE(data_objects(id).empty());
}

TEST_P(CoreE2E, InterruptedBackupIsNeverListedAndIsCleanedUp) {
  init();
  std::string log = tmp_ / "killed.log";
  // Emits 1 MiB then blocks until killed: the first object commits, the backup never ends.
  pid_t pid = spawn_strata({"backup", "--source", "slow", "--frame-size", "64KiB", "--object-size", "256KiB",
                            "--from-command", "head -c 1048576 /dev/urandom; exec sleep 600"},
                           env_, log);
  // If an assertion below ends the test early, the backup and its `sleep 600` must not outlive it.
  struct KillOnExit {
    pid_t pid;
    bool armed = true;
    ~KillOnExit() {
      if (armed) {
        kill_group(pid, SIGKILL);
        wait_pid(pid);
      }
    }
  } guard{pid};
  // Wait for a committed data object (a real condition, bounded), then kill the whole process group.
  auto committed = [&] {
    for (const auto& k : backend().list_objects(repo_, "data/")) {
      if (k.find(".strata-tmp-") == std::string::npos) return true;
    }
    return false;
  };
  bool seen = false;
  for (int i = 0; i < 3000 && !(seen = committed()); ++i) usleep(10000);
  ASSERT_TRUE(seen) << read_file(log + ".err");
  kill_group(pid, SIGKILL);
  guard.armed = false;
  EXPECT_EQ(wait_pid(pid), 128 + SIGKILL);
  EXPECT_EQ(list_json().size(), 0u);
  auto c = strata({"check"});
  EXPECT_EQ(c.code, 13) << "leftovers are problems found (kProblemsFound): " << c.out << c.err;
  EXPECT_NE(c.out.find("LEFTOVER data/"), std::string::npos) << c.out;
  // --min-age 0: the killed backup started moments ago, younger than cleanup's default safety age (1h).
  auto cl = strata({"cleanup", "--min-age", "0"});
  EXPECT_EQ(cl.code, 0) << cl.err;
  EXPECT_TRUE(backend().list_objects(repo_, "data/").empty());
  EXPECT_TRUE(backend().list_objects(repo_, "locks/").empty()) << "the dead process's lock is stale and removed";
}

TEST_P(CoreE2E, WriteOnlyHostCanBackUpButNotRead) {
  init();
  auto pk = strata({"key", "public"});
  ASSERT_EQ(pk.code, 0);
  std::string pubkey = pk.out.substr(0, 64);
  std::string data = make_data(200000, 12);
  write_file(tmp_ / "in", data);
  Env no_pass = {{"STRATA_PASSPHRASE", ""}, {"STRATA_PUBLIC_KEY", pubkey}};
  auto r = strata_env({"-q", "backup", "--write-only", "--source", "wo", "--from-file", tmp_ / "in"}, no_pass);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  auto denied = strata_env({"restore", id, "--to", tmp_ / "out"}, {{"STRATA_PASSPHRASE", "guess"}});
  EXPECT_EQ(denied.code, kExitWrongKey);
  EXPECT_EQ(restore_bytes(id), data);
  auto m = nlohmann::json::parse(strata({"show", id, "--json"}).out);
  EXPECT_EQ(m["writer"], "public-key");
  // A pinned key that differs from the repository's is refused: never encrypt to an unknown key.
  std::string wrong(64, 'a');
  auto pinned = strata_env({"backup", "--write-only", "--source", "wo", "--from-file", tmp_ / "in"},
                           {{"STRATA_PASSPHRASE", ""}, {"STRATA_PUBLIC_KEY", wrong}});
  EXPECT_EQ(pinned.code, kExitWrongKey);
  EXPECT_NE(pinned.err.find("differs from the pinned key"), std::string::npos) << pinned.err;
}

TEST_P(CoreE2E, KeyRotation) {
  init();
  std::string data = make_data(10000, 13);
  std::string id = backup_file(data);
  auto add = strata_env({"key", "add", "--label", "rotated"}, {{"STRATA_NEW_PASSPHRASE", "new passphrase 2027"}});
  ASSERT_EQ(add.code, 0) << add.err;
  auto list = nlohmann::json::parse(strata({"key", "list", "--json"}).out);
  ASSERT_EQ(list.size(), 2u);
  std::string old_id;
  for (const auto& k : list) {
    if (k["current"].get<bool>()) old_id = k["id"];
  }
  ASSERT_FALSE(old_id.empty());
  auto self = strata({"key", "remove", old_id});
  EXPECT_EQ(self.code, kExitUsage);
  EXPECT_NE(self.err.find("is the one you unlocked with"), std::string::npos) << self.err;
  auto rm = strata_env({"key", "remove", old_id}, {{"STRATA_PASSPHRASE", "new passphrase 2027"}});
  ASSERT_EQ(rm.code, 0) << rm.err;
  auto old = strata({"restore", id, "--to", tmp_ / "o1"});
  EXPECT_EQ(old.code, kExitWrongKey);
  auto fresh = strata_env({"restore", id, "--to", tmp_ / "o2"}, {{"STRATA_PASSPHRASE", "new passphrase 2027"}});
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(read_file(tmp_ / "o2"), data);
}

TEST_P(CoreE2E, UnencryptedOnlyWhenAskedAndStillChecked) {
  auto r = strata_env({"repo", "init", "--no-encryption"}, {{"STRATA_PASSPHRASE", ""}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("UNENCRYPTED"), std::string::npos);
  std::string data = make_data(300000, 14);
  std::string id = backup_file(data);
  EXPECT_EQ(restore_bytes(id), data);
  auto objects = data_objects(id);
  std::string obj = backend().read_object(repo_, objects[0]);
  obj[100] ^= 1;
  backend().write_object(repo_, objects[0], obj);
  std::string err;
  restore_bytes(id, kExitCorrupt, &err);
  EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
}

TEST_P(CoreE2E, ShowListLabelsAndIdPrefix) {
  init();
  std::string id = backup_file(make_data(4096, 15), {"--label", "env=prod", "--label", "ticket=OPS-1"}, "orders-db");
  auto all = list_json();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["id"], id);
  EXPECT_EQ(all[0]["source"], "orders-db");
  EXPECT_EQ(all[0]["labels"]["env"], "prod");
  EXPECT_EQ(all[0]["plain_bytes"], 4096);
  auto show = strata({"show", id.substr(0, 20)});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("label:        ticket=OPS-1"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("sha256:       "), std::string::npos);
  auto missing = strata({"show", "19990101T000000Z-deadbeef"});
  EXPECT_EQ(missing.code, kExitNotFound);
  EXPECT_NE(missing.err.find("strata list"), std::string::npos) << missing.err;
}

TEST_P(CoreE2E, RestoreRefusesToOverwriteWithoutForce) {
  init();
  std::string data = make_data(1000, 16);
  std::string id = backup_file(data);
  write_file(tmp_ / "existing", "precious");
  auto r = strata({"restore", id, "--to", tmp_ / "existing"});
  EXPECT_EQ(r.code, kExitExists);
  EXPECT_EQ(read_file(tmp_ / "existing"), "precious");
  EXPECT_EQ(strata({"restore", id, "--to", tmp_ / "existing", "--force"}).code, 0);
  EXPECT_EQ(read_file(tmp_ / "existing"), data);
}

TEST_P(CoreE2E, FailingRestoreCommandReported) {
  init();
  std::string id = backup_file(make_data(3 << 20, 17));
  auto r = strata({"restore", id, "--to-command", "head -c 10 >/dev/null; echo 'pg_restore: bad input' >&2; exit 1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("pg_restore: bad input"), std::string::npos) << r.err;
}

TEST_P(CoreE2E, DeleteRemovesEverything) {
  init();
  std::string keep = backup_file(make_data(300000, 18), {"--object-size", "128KiB", "--frame-size", "64KiB"});
  std::string gone = backup_file(make_data(300000, 19), {"--object-size", "128KiB", "--frame-size", "64KiB"});
  ASSERT_EQ(data_objects(gone).size(), 3u);
  ASSERT_EQ(strata({"delete", gone}).code, 0);
  EXPECT_TRUE(data_objects(gone).empty());
  EXPECT_EQ(data_objects(keep).size(), 3u);
  EXPECT_EQ(list_json().size(), 1u);
  EXPECT_EQ(strata({"check", "--read-data"}).code, 0);
}

TEST_P(CoreE2E, SecretsNeverInLogsAndJsonLogsParse) {
  init();
  std::string data = make_data(100000, 20);
  write_file(tmp_ / "in", data);
  auto r = strata({"--log-level", "debug", "--log-format", "json", "backup", "--source", "s", "--from-file", tmp_ / "in"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find(kPass), std::string::npos) << "passphrase leaked into logs";
  int lines = 0;
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '\r') continue;
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("event")) << line;
    ++lines;
  }
  EXPECT_GE(lines, 2);
}

TEST_P(CoreE2E, UsageErrorsExitTwo) {
  init();
  EXPECT_EQ(strata({"backup", "--source", "x"}).code, kExitUsage);
  EXPECT_EQ(strata({"backup", "--source", "x", "--from-file", "/dev/null", "--compression", "brotli"}).code, kExitUsage);
  EXPECT_EQ(strata({"no-such-command"}).code, kExitUsage);
  auto help = strata({"backup", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos);
}

TEST_P(CoreE2E, ConfigFileAndOverrides) {
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "repo = \"" + repo_.location + "\"\n[backup]\ncompression = \"lz4\"\nframe_size = \"128KiB\"\n");
  Env e = {{"STRATA_REPO", ""}, {"STRATA_CONFIG", cfg}};
  ASSERT_EQ(strata_env({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, e).code, 0);
  std::string data = make_data(500000, 21, true);
  write_file(tmp_ / "in", data);
  auto r = strata_env({"-q", "backup", "--source", "c", "--from-file", tmp_ / "in"}, e);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  auto m = nlohmann::json::parse(strata_env({"show", id, "--json"}, e).out);
  EXPECT_EQ(m["compression"], "lz4");
  EXPECT_EQ(m["frame_size"], 128 * 1024);
  auto over = strata_env({"-q", "backup", "--source", "c", "--compression", "zstd:2", "--from-file", tmp_ / "in"},
                         {{"STRATA_REPO", ""}, {"STRATA_CONFIG", cfg}, {"STRATA_COMPRESSION", "none"}});
  ASSERT_EQ(over.code, 0) << over.err;
  auto m2 = nlohmann::json::parse(strata_env({"show", over.out.substr(0, over.out.find('\n')), "--json"}, e).out);
  EXPECT_EQ(m2["compression"], "zstd:2") << "a flag beats the environment, which beats the file";
  write_file(tmp_ / "bad.toml", "repo = \n");
  auto bad = strata_env({"list"}, {{"STRATA_CONFIG", tmp_ / "bad.toml"}});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_NE(bad.err.find("bad.toml line 1"), std::string::npos) << bad.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, CoreE2E, ::testing::ValuesIn(backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace strata::test
