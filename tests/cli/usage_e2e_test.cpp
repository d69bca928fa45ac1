// Issue 13 items 9 and 13: command-line mistakes get the documented one-line error (with "did you mean"), help
// works as `strata help CMD`, and repository locations that are not what the user meant are refused precisely.
#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class UsageE2E : public LocalRepoTest {};

TEST_F(UsageE2E, MisspeltCommandSuggestsTheRightOne) {
  auto r = strata({"bakup", "--source", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: unknown command 'bakup'; did you mean 'backup'? (run 'strata --help' to see the commands)\n");
  auto far = strata({"frobnicate"});
  EXPECT_EQ(far.code, 2);
  EXPECT_EQ(far.err, "strata: error: unknown command 'frobnicate'; run 'strata --help' to see the commands\n");
  auto sub = strata({"key", "ad"});
  EXPECT_EQ(sub.code, 2);
  EXPECT_EQ(sub.err, "strata: error: unknown command 'ad' for 'strata key'; did you mean 'add'? (see 'strata key --help')\n");
  auto none = strata({});
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.err, "strata: error: no command given; run 'strata --help' to see the commands\n");
}

TEST_F(UsageE2E, MisspeltOptionAndMissingValuesAreOneLine) {
  auto r = strata({"backup", "--sorce", "x", "--from-file", "/dev/null"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: unknown option '--sorce' for 'strata backup'; did you mean '--source'? (see 'strata backup --help')\n");
  auto req = strata({"backup", "--from-file", "/dev/null"});
  EXPECT_EQ(req.code, 2);
  EXPECT_EQ(req.err, "strata: error: strata backup: --source is required; see 'strata backup --help'\n");
  auto global = strata({"--repo", repo_, "list", "--jsn"});
  EXPECT_EQ(global.code, 2);
  EXPECT_EQ(global.err, "strata: error: unknown option '--jsn' for 'strata list'; did you mean '--json'? (see 'strata list --help')\n");
  auto nosub = strata({"key"});
  EXPECT_EQ(nosub.code, 2);
  EXPECT_EQ(lines(nosub.err), 1u) << nosub.err;
  EXPECT_EQ(nosub.err.rfind("strata: error: 'strata key' needs a subcommand (", 0), 0u) << nosub.err;
}

TEST_F(UsageE2E, HelpCommand) {
  auto h = strata({"help", "backup"});
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_NE(h.out.find("--from-command"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("Examples:"), std::string::npos);
  EXPECT_EQ(h.out, strata({"backup", "--help"}).out);
  auto top = strata({"help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("Exit codes:"), std::string::npos) << top.out;
  auto nested = strata({"--repo", repo_, "help", "key", "add"});
  EXPECT_EQ(nested.code, 0) << nested.err;
  EXPECT_NE(nested.out.find("--label"), std::string::npos) << nested.out;
}

TEST_F(UsageE2E, LocationsThatAreNotWhatWasMeant) {
  write_file(tmp_ / "seq.txt", "1\n2\n");
  auto file = strata_env({"list"}, {{"STRATA_REPO", tmp_ / "seq.txt"}});
  EXPECT_EQ(file.code, 2);
  EXPECT_EQ(file.err, "strata: error: repository location '" + tmp_ / "seq.txt" + "' is a file; a local repository is a "
                      "directory: give its path (or a new one for 'strata repo init')\n");
  auto init_file = strata({"--repo", tmp_ / "seq.txt", "repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
  EXPECT_EQ(init_file.code, 2);
  EXPECT_EQ(read_file(tmp_ / "seq.txt"), "1\n2\n");
  auto s3 = strata({"--repo", "s3:/bucket/prefix", "list"});
  EXPECT_EQ(s3.code, 2);
  EXPECT_EQ(s3.err, "strata: error: repository location 's3:/bucket/prefix' is not valid; did you mean 's3://bucket/prefix'?\n");
  auto url = strata({"--repo", "file://tmp/x", "repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"});
  EXPECT_EQ(url.code, 2);
  EXPECT_EQ(url.err, "strata: error: repository location 'file://tmp/x' is not valid: a file:// location needs an "
                     "absolute path (file:///tmp/x), or give a plain path\n");
  EXPECT_FALSE(file_exists("tmp/x")) << "nothing may be created relative to the working directory";
  auto fileprefix = strata({"--repo", "file:" + tmp_ / "r", "list"});
  EXPECT_EQ(fileprefix.code, 2);
  EXPECT_NE(fileprefix.err.find("did you mean 'file://" + tmp_ / "r" + "'?"), std::string::npos) << fileprefix.err;
  // The real thing still works, both spellings.
  EXPECT_EQ(strata({"--repo", "file://" + repo_, "repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}).code, 0);
  EXPECT_EQ(strata({"--repo", repo_, "list"}).code, 0);
}

}  // namespace
}  // namespace strata::test
