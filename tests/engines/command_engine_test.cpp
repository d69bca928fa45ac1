// engine = "command": any tool that writes a backup to stdout and reads it back on stdin.
#include <gtest/gtest.h>

#include <random>

#include "support/engine_fixture.hpp"

namespace strata::test {
namespace {

std::string random_bytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(CommandEngine, RoundTripThroughBackupAndRestoreCommands) {
  TempDir tmp("strata-cmd");
  std::string data = random_bytes(3 << 20) + std::string(2 << 20, 'a');
  write_file(tmp / "store.bin", data);
  write_file(tmp / "strata.toml", "[source.tt]\nengine = \"command\"\nbackup_command = \"cat " + tmp / "store.bin" +
                                      "\"\nrestore_command = \"cat > " + tmp / "restored.bin" + "\"\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  auto b = cli.run({"backup", "--source", "tt"});
  ASSERT_EQ(b.rc, 0) << b.err;
  auto r = cli.run({"restore", "--source", "tt", "--latest"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(read_file(tmp / "restored.bin") == data);

  // --to overrides the configured restore command.
  auto to = cli.run({"restore", "--source", "tt", "--latest", "--to", tmp / "copy.bin"});
  ASSERT_EQ(to.rc, 0) << to.err;
  EXPECT_TRUE(read_file(tmp / "copy.bin") == data);
}

TEST(CommandEngine, FailingBackupCommandCommitsNothing) {
  TempDir tmp("strata-cmd");
  write_file(tmp / "strata.toml",
             "[source.tt]\nengine = \"command\"\nbackup_command = \"printf partial; echo 'tt dump failed' >&2; exit 3\"\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  auto b = cli.run({"backup", "--source", "tt"});
  EXPECT_EQ(b.rc, 7) << b.err;
  EXPECT_NE(b.err.find("tt dump failed"), std::string::npos) << b.err;
  EXPECT_EQ(cli.run({"list"}).out.find(" tt"), std::string::npos);
}

TEST(CommandEngine, MissingBackupCommandNamesTheKey) {
  TempDir tmp("strata-cmd");
  write_file(tmp / "strata.toml", "[source.tt]\nengine = \"command\"\n");
  StrataCli cli(tmp / "repo", tmp / "strata.toml");
  ASSERT_EQ(cli.init().rc, 0);
  auto b = cli.run({"backup", "--source", "tt"});
  EXPECT_EQ(b.rc, 2);
  EXPECT_NE(b.err.find("backup_command"), std::string::npos) << b.err;
}

}  // namespace
}  // namespace strata::test
