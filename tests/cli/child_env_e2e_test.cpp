// Children never inherit strata's secrets (issue 13 item 20): --from-command and --to-command run without
// STRATA_PASSPHRASE and the S3 credentials; variables meant for the tools (PGPASSWORD) stay.
#include <gtest/gtest.h>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

TEST(ChildEnvironment, CommandsDoNotSeeStrataSecrets) {
  TempDir tmp;
  Env env = {{"STRATA_REPO", tmp / "repo"},
             {"STRATA_PASSPHRASE", "passphrase-value-1"},
             {"AWS_ACCESS_KEY_ID", "AKIDVALUE2"},
             {"AWS_SECRET_ACCESS_KEY", "secret-value-3"},
             {"AWS_SESSION_TOKEN", "token-value-4"},
             {"PGPASSWORD", "pg-value-5"},
             {"HOME", tmp.path()}};
  ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env).code, 0);
  auto b = run_strata({"-q", "backup", "--source", "env", "--from-command", "env"}, env);
  ASSERT_EQ(b.code, 0) << b.err;
  auto r = run_strata({"restore", "latest", "--source", "env", "--to", "-"}, env);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* secret : {"passphrase-value-1", "AKIDVALUE2", "secret-value-3", "token-value-4"}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "--from-command saw " << secret;
  }
  EXPECT_NE(r.out.find("PGPASSWORD=pg-value-5"), std::string::npos) << "tool variables stay";
  auto t = run_strata({"restore", "latest", "--source", "env", "--to-command", "cat >/dev/null; env > '" + tmp / "seen" + "'"}, env);
  ASSERT_EQ(t.code, 0) << t.err;
  std::string seen = read_file(tmp / "seen");
  for (const char* secret : {"passphrase-value-1", "AKIDVALUE2", "secret-value-3", "token-value-4"}) {
    EXPECT_EQ(seen.find(secret), std::string::npos) << "--to-command saw " << secret;
  }
}

}  // namespace
}  // namespace strata::test
