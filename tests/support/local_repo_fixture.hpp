#pragma once
// A fresh local repository per test for the end-to-end suites of issue 13 (config, usage, exit codes, check,
// delete, output): the real binary through the CLI harness, STRATA_* set explicitly, nothing from the shell.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/cli_harness.hpp"

namespace strata::test {

class LocalRepoTest : public ::testing::Test {
 protected:
  static constexpr const char* kPass = "correct horse battery staple";

  void SetUp() override {
    repo_ = tmp_ / "repo";
    env_ = {{"STRATA_REPO", repo_}, {"STRATA_PASSPHRASE", kPass}, {"HOME", tmp_.path()}};
  }

  RunResult strata(const std::vector<std::string>& args, const std::string& input = "") { return run_strata(args, env_, input); }
  // `extra` overrides env_; an empty value removes the variable.
  RunResult strata_env(const std::vector<std::string>& args, const Env& extra, const std::string& input = "") {
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

  // Backs up `data` with `extra` flags; returns the new id ("" and a test failure if it did not succeed).
  std::string backup(const std::string& data, std::vector<std::string> extra = {}, const std::string& source = "src") {
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

  static size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

  TempDir tmp_;
  std::string repo_;
  Env env_;
  int counter_ = 0;
};

}  // namespace strata::test
