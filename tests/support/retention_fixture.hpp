#pragma once
// The fixture of the retention end-to-end tests (tests/cli/retention_*_e2e_test.cpp): a local encrypted repository,
// backups made at chosen times through the binary (STRATA_TEST_NOW) or, for engine-style chains, through the
// repository, and helpers that list and restore byte-exact.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "support/cli_harness.hpp"

namespace strata::test {

inline constexpr const char* kPass = "retention passphrase";
inline constexpr int64_t kNoon = 1796040000;  // 2026-11-30T12:00:00Z
inline constexpr int64_t kDay = 86400;

class RetentionFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = tmp_ / "repo";
    env_["STRATA_REPO"] = repo_;
    env_["STRATA_PASSPHRASE"] = kPass;
    env_["HOME"] = tmp_.path();
    auto r = strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  RunResult strata(std::vector<std::string> args, int64_t now = kNoon + kDay) {
    Env e = env_;
    e["STRATA_TEST_NOW"] = std::to_string(now);
    return run_strata(args, e);
  }

  // A stream backup of `data` started at `at`; returns its id.
  std::string backup_at(int64_t at, const std::string& data, const std::string& source = "db") {
    std::string path = tmp_ / ("in-" + std::to_string(counter_++));
    write_file(path, data);
    auto r = strata({"-q", "backup", "--source", source, "--from-file", path}, at);
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = r.out.substr(0, r.out.find('\n'));
    data_[id] = data;
    return id;
  }

  // An engine-style backup (type, parent) written through the repository, as the MariaDB engine writes them.
  std::string engine_backup_at(int64_t at, const std::string& type, const std::string& parent, const std::string& data,
                               const std::string& engine_json = "{}", const std::string& catalog = "",
                               const std::string& id = "") {
    ::setenv("STRATA_TEST_NOW", std::to_string(at).c_str(), 1);
    Repository repo(open_storage(repo_));
    repo.unlock(kPass);
    std::string path = tmp_ / ("in-" + std::to_string(counter_++));
    write_file(path, data);
    auto src = open_file_source(path);
    BackupOptions o;
    o.source = "db";
    o.type = type;
    o.parent = parent;
    o.engine_json = engine_json;
    o.catalog = catalog;
    o.id = id;
    Manifest m = repo.backup(*src, o, {});
    ::unsetenv("STRATA_TEST_NOW");
    data_[m.id] = data;
    return m.id;
  }

  std::vector<std::string> listed(bool all = false) {
    std::vector<std::string> args = {"list", "--json"};
    if (all) args.push_back("--all");
    auto r = strata(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<std::string> ids;
    for (const auto& m : nlohmann::json::parse(r.out)) ids.push_back(m["id"]);
    return ids;
  }

  void expect_restores(const std::string& id) {
    std::string out = tmp_ / ("out-" + std::to_string(counter_++));
    auto r = strata({"restore", id, "--to", out});
    ASSERT_EQ(r.code, 0) << id << ": " << r.err;
    EXPECT_EQ(read_file(out), data_.at(id)) << id;
  }

  bool present(const std::string& key) { return file_exists(repo_ + "/" + key); }

  TempDir tmp_;
  std::string repo_;
  Env env_;
  int counter_ = 0;
  std::map<std::string, std::string> data_;
};

}  // namespace strata::test
