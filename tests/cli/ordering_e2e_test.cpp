// `latest` and `list` order (issue 13 item 1): backups begun within the same second are ordered by when they
// started, not by their random id suffix.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

TEST(Ordering, BackToBackBackupsListInOrderAndLatestIsTheLast) {
  TempDir tmp;
  Env env = {{"STRATA_REPO", tmp / "repo"}, {"STRATA_PASSPHRASE", "order-pass"}, {"HOME", tmp.path()}};
  ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env).code, 0);
  // Eight backups a few ms apart: several share a second, where the id suffix is random.
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    auto r = run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env, "backup " + std::to_string(i));
    ASSERT_EQ(r.code, 0) << r.err;
    ids.push_back(r.out.substr(0, r.out.find('\n')));
    auto latest = run_strata({"restore", "latest", "--source", "s", "--to", "-"}, env);
    ASSERT_EQ(latest.code, 0) << latest.err;
    EXPECT_EQ(latest.out, "backup " + std::to_string(i)) << "latest after backup " << i;
  }
  auto list = run_strata({"list", "--json"}, env);
  ASSERT_EQ(list.code, 0);
  std::vector<std::string> listed;
  for (const auto& m : nlohmann::json::parse(list.out)) listed.push_back(m["id"]);
  EXPECT_EQ(listed, ids) << "list is oldest first";
}

}  // namespace
}  // namespace strata::test
