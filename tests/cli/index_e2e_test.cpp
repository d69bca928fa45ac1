// End-to-end: the source index through the real binary (docs/FORMAT.md "Source index"). A new repository writes
// an entry per backup; a lost entry hides its backup from `list --source` until `strata repo reindex`, an entry
// whose backup never committed is skipped with a warning and removed by reindex, and delete takes the entry along.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

class IndexE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = tmp_ / "repo";
    env_["STRATA_REPO"] = repo_;
    env_["STRATA_PASSPHRASE"] = "index test passphrase";
    env_["HOME"] = tmp_.path();
    auto r = strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  RunResult strata(std::vector<std::string> args) { return run_strata(args, env_); }
  std::string backup(const std::string& data, const std::string& source) {
    std::string path = tmp_ / ("in-" + std::to_string(counter_++));
    write_file(path, data);
    auto r = strata({"-q", "backup", "--source", source, "--from-file", path});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }
  // The entry files of one source (index/src/<source>/<time>.<id>).
  std::vector<std::string> entries(const std::string& source) {
    std::string dir = repo_ + "/index/src/" + source;
    return fs::exists(dir) ? list_files(dir) : std::vector<std::string>{};
  }
  std::string entry_of(const std::string& source, const std::string& id) {
    for (const auto& e : entries(source)) {
      if (e.size() > id.size() && e.compare(e.size() - id.size(), id.size(), id) == 0) return repo_ + "/index/src/" + source + "/" + e;
    }
    return "";
  }
  static bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

  TempDir tmp_;
  std::string repo_;
  Env env_;
  int counter_ = 0;
};

TEST_F(IndexE2E, ListRestoreReindexAndDeleteThroughTheIndex) {
  ASSERT_TRUE(file_exists(repo_ + "/index/v1")) << "repo init marks a new repository as indexed";
  std::string a1 = backup("first of a", "a"), a2 = backup("second of a", "a"), b1 = backup("only b", "b");
  ASSERT_EQ(entries("a").size(), 2u);
  ASSERT_EQ(entries("b").size(), 1u);
  auto r = strata({"list", "--source", "a"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, a1) && contains(r.out, a2) && !contains(r.out, b1)) << r.out;

  // The newest entry of a lost: the index is what a marked repository trusts, so a1 is the latest until reindex.
  std::string lost = entry_of("a", a2);
  ASSERT_FALSE(lost.empty());
  fs::remove(lost);
  r = strata({"list", "--source", "a"});
  EXPECT_FALSE(contains(r.out, a2)) << r.out;
  r = strata({"repo", "reindex"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "3 backups")) << r.out;
  EXPECT_TRUE(contains(r.out, "1 entry written")) << r.out;
  EXPECT_TRUE(file_exists(lost));
  std::string out = tmp_ / "latest";
  r = strata({"restore", "latest", "--source", "a", "--to", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(out), "second of a");

  // An entry whose backup never committed (a crash between entry and manifest): skipped with a warning.
  std::string ghost = repo_ + "/index/src/a/02000000000000000000.29990101T000000Z-deadbeef";
  write_file(ghost, "{}");
  r = strata({"list", "--source", "a"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "index_entry_without_manifest")) << r.err;
  fs::remove(out);
  r = strata({"restore", "latest", "--source", "a", "--to", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(out), "second of a");
  r = strata({"repo", "reindex"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 removed")) << r.out;
  EXPECT_FALSE(file_exists(ghost));

  r = strata({"delete", a2});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(entries("a").size(), 1u);
  EXPECT_TRUE(entry_of("a", a2).empty());
  r = strata({"list", "--source", "a", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, a1) && !contains(r.out, a2)) << r.out;
}

TEST_F(IndexE2E, ADamagedManifestIsReportedByItsOwnSource) {
  std::string s1 = backup("first of s", "s"), s2 = backup("second of s", "s"), t1 = backup("only t", "t");
  std::string manifest = repo_ + "/backups/" + s2;
  std::string raw = read_file(manifest);
  write_file(manifest, raw.substr(0, raw.size() / 2));
  // Its entry says which source it belonged to: the listings of that source report it, other sources' do not.
  auto r = strata({"list", "--source", "s"});
  EXPECT_EQ(r.code, 13) << r.err;
  EXPECT_TRUE(contains(r.out, s1)) << r.out;
  EXPECT_TRUE(contains(r.err, "manifest backups/" + s2 + " is truncated")) << r.err;
  r = strata({"list", "--source", "t"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, t1)) << r.out;
  r = strata({"list"});
  EXPECT_EQ(r.code, 13) << "a plain list still reads every manifest: " << r.err;
  std::string out = tmp_ / "s.out";
  r = strata({"restore", "latest", "--source", "s", "--to", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(out), "first of s");
  EXPECT_TRUE(contains(r.err, "backups/" + s2)) << "restore latest must say which manifest it skipped: " << r.err;
}

TEST_F(IndexE2E, ARepositoryWithoutTheMarkerIsScanned) {
  std::string a1 = backup("a", "a"), b1 = backup("b", "b");
  // What a strata from before the index leaves: no marker, no entries.
  fs::remove_all(repo_ + "/index");
  auto r = strata({"list", "--source", "b"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, b1) && !contains(r.out, a1)) << r.out;
  r = strata({"repo", "reindex"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(file_exists(repo_ + "/index/v1"));
  EXPECT_EQ(entries("a").size(), 1u);
  EXPECT_EQ(entries("b").size(), 1u);
}

}  // namespace
}  // namespace strata::test
