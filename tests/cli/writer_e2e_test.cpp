// End-to-end: writer identities (issue 13, item 19; docs/CLI.md "Writer identities"). A writer's backups are signed
// with its registered Ed25519 key; list/show/restore say who wrote a backup, and refuse forged, tampered or
// unknown-writer manifests; unsigned ones are flagged (default) or refused (unsigned_backups = "refuse").
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

constexpr int kExitUsage = 2, kExitCorrupt = 5, kExitProblems = 13;
constexpr const char* kPass = "correct horse battery staple";

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

class WriterE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = tmp_ / "repo";
    env_["STRATA_REPO"] = repo_;
    env_["STRATA_PASSPHRASE"] = kPass;
    env_["HOME"] = tmp_.path();
    auto r = strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  RunResult strata(std::vector<std::string> args, const Env& extra = {}) {
    Env e = env_;
    for (const auto& [k, v] : extra) {
      if (v.empty()) e.erase(k);
      else e[k] = v;
    }
    return run_strata(args, e);
  }

  // Creates a writer key file; returns its writer id.
  std::string gen_writer(const std::string& name, const std::string& path) {
    auto r = strata({"key", "gen-writer", "--name", name, "--key-file", path}, {{"STRATA_PASSPHRASE", ""}});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "strata key add-writer --name " + name + " --public-key ")) << r.out;
    return r.out.substr(std::string("created writer key ").size(), 16);
  }

  std::string backup(const std::string& data, const Env& extra, int expect = 0, std::string* err = nullptr,
                     bool write_only = false) {
    std::string path = tmp_ / ("input-" + std::to_string(counter_++));
    write_file(path, data);
    std::vector<std::string> args = {"-q", "backup", "--source", "s", "--from-file", path};
    if (write_only) args.push_back("--write-only");
    auto r = strata(args, extra);
    EXPECT_EQ(r.code, expect) << r.err;
    if (err) *err = r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  TempDir tmp_;
  std::string repo_;
  Env env_;
  int counter_ = 0;
};

TEST_F(WriterE2E, SignedBackupsNameTheirWriterAndForgeriesAreRefused) {
  std::string key_file = tmp_ / "db-1.key";
  std::string wid = gen_writer("db-1", key_file);
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the writer's secret key must be readable by its owner only";
  EXPECT_FALSE(contains(read_file(key_file), "\"secret_key\": \"\"")) << read_file(key_file);

  // A key the repository does not know is refused before anything is written.
  std::string err;
  backup("x", {{"STRATA_WRITER_KEY_FILE", key_file}}, kExitUsage, &err);
  EXPECT_TRUE(contains(err, "is not registered in repository")) << err;
  EXPECT_TRUE(list_files(repo_ + "/data").empty());

  auto r = strata({"key", "add-writer", "--name", "db-1", "--key-file", key_file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "added writer " + wid + " (db-1)\n");
  std::string data = make_data(200000, 1);
  std::string signed_id = backup(data, {{"STRATA_WRITER_KEY_FILE", key_file}});

  r = strata({"list"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "db-1")) << r.out;
  r = strata({"show", signed_id});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "signed by:    db-1 (writer " + wid + ", verified)")) << r.out;
  r = strata({"show", signed_id, "--json"});
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["writer_id"], wid);
  EXPECT_EQ(j["writer_status"], "verified");
  r = strata({"restore", signed_id, "--to", tmp_ / "signed.out"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(tmp_ / "signed.out"), data);
  EXPECT_FALSE(contains(r.err, "unsigned")) << r.err;

  // A write-only host without a writer key adds an unsigned backup: flagged by default, refused on request.
  std::string unsigned_id = backup(make_data(1000, 2), {{"STRATA_PASSPHRASE", ""}}, 0, nullptr, true);
  r = strata({"list"});
  EXPECT_TRUE(contains(r.out, unsigned_id) && contains(r.out, "unsigned")) << r.out;
  r = strata({"restore", unsigned_id, "--to", tmp_ / "u.out"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "backup_unsigned")) << "an unsigned backup in a repository with writers is flagged: " << r.err;
  r = strata({"restore", unsigned_id, "--to", tmp_ / "u2.out"}, {{"STRATA_UNSIGNED_BACKUPS", "refuse"}});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "is not signed by a registered writer")) << r.err;
  EXPECT_FALSE(file_exists(tmp_ / "u2.out"));

  // A forger with write access plants a writer record for its own key (it cannot compute the MAC) and signs.
  std::string evil_file = tmp_ / "evil.key";
  std::string evil = gen_writer("db-1", evil_file);
  auto ek = nlohmann::json::parse(read_file(evil_file));
  nlohmann::json record = {{"format", "strata-writer"}, {"version", 1},     {"id", evil},
                           {"name", "db-1"},            {"public_key", ek["public_key"]},
                           {"created", "2026-01-01T00:00:00Z"}, {"host", "x"}, {"mac", std::string(64, 'a')}};
  write_file(repo_ + "/writers/" + evil, record.dump());
  std::string forged_id = backup(make_data(1000, 3), {{"STRATA_WRITER_KEY_FILE", evil_file}});
  r = strata({"restore", forged_id, "--to", tmp_ / "f.out"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "which is not registered in this repository")) << r.err;
  EXPECT_FALSE(file_exists(tmp_ / "f.out"));
  r = strata({"check"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   backup " + forged_id)) << r.out;
  r = strata({"key", "writers"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, evil) && contains(r.out, "NOT AUTHENTIC")) << r.out;

  // A signed manifest changed afterwards (here: its signature) no longer verifies, even without the passphrase.
  std::string path = repo_ + "/backups/" + signed_id;
  std::string raw = read_file(path);
  raw[raw.size() - 1] ^= 1;
  write_file(path, raw);
  r = strata({"list"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  EXPECT_TRUE(contains(r.err, "signature that does not verify")) << r.err;
  r = strata({"restore", signed_id, "--to", tmp_ / "t.out"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  raw[raw.size() - 1] ^= 1;
  write_file(path, raw);

  // Unregistering a writer makes its backups unknown-writer ones.
  r = strata({"key", "remove-writer", wid});
  ASSERT_EQ(r.code, 0) << r.err;
  r = strata({"restore", signed_id, "--to", tmp_ / "r.out"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "signed by writer " + wid)) << r.err;
}

TEST_F(WriterE2E, KeyFileReadableByOthersIsRefused) {
  std::string key_file = tmp_ / "w.key";
  gen_writer("w", key_file);
  ASSERT_EQ(::chmod(key_file.c_str(), 0644), 0);
  auto r = strata({"key", "add-writer", "--name", "w", "--key-file", key_file});
  EXPECT_EQ(r.code, kExitUsage) << r.err;
  EXPECT_TRUE(contains(r.err, "is accessible by other users; run 'chmod 600")) << r.err;
  // gen-writer never overwrites a key.
  r = strata({"key", "gen-writer", "--name", "w", "--key-file", key_file});
  EXPECT_EQ(r.code, 12) << r.err;
}

TEST_F(WriterE2E, RepositoriesWithoutWritersKeepWorkingUnflagged) {
  std::string data = make_data(5000, 4);
  std::string id = backup(data, {});
  auto r = strata({"restore", id, "--to", tmp_ / "out"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(tmp_ / "out"), data);
  EXPECT_EQ(r.err.find("unsigned"), std::string::npos) << r.err;
  r = strata({"show", id});
  EXPECT_TRUE(contains(r.out, "signed by:    unsigned")) << r.out;
}

}  // namespace
}  // namespace strata::test
