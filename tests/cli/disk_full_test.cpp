// Disk full while writing a local repository: the backup fails with exit 8 and a "disk full" line, nothing is
// listed, and no partial object is left behind. Uses a 1 MiB tmpfs, so it needs root (CI runs as root).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>

#include <cerrno>
#include <cstring>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

TEST(DiskFull, BackupFailsCleanlyAndRepositoryStaysUsable) {
  TempDir tmp;
  std::string mnt = tmp / "small";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << "); needs root";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};

  Env env = {{"STRATA_REPO", mnt + "/repo"}, {"STRATA_PASSPHRASE", "pass"}};
  ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env).code, 0);
  std::string small = make_data(10000, 1);
  write_file(tmp / "small-input", small);
  ASSERT_EQ(run_strata({"-q", "backup", "--source", "s", "--from-file", tmp / "small-input"}, env).code, 0);

  write_file(tmp / "big-input", make_data(3 << 20, 2));
  auto r = run_strata({"backup", "--source", "big", "--frame-size", "64KiB", "--object-size", "256KiB", "--from-file",
                       tmp / "big-input"},
                      env);
  EXPECT_EQ(r.code, 8) << r.err;
  EXPECT_NE(r.err.find("disk full"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("free space and run the command again"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;

  auto list = run_strata({"list"}, env);
  EXPECT_EQ(list.code, 0);
  EXPECT_EQ(list.out.find("big"), std::string::npos) << list.out;
  for (const auto& f : list_files(mnt + "/repo")) {
    EXPECT_TRUE(f.rfind("data/", 0) != 0 || f.find(".strata-tmp-") == std::string::npos) << "partial write left: " << f;
  }
  auto check = run_strata({"check", "--read-data"}, env);
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.find("LEFTOVER"), std::string::npos) << check.out;
  // The earlier backup is intact.
  auto restore = run_strata({"restore", "latest", "--source", "s", "--to", "-"}, env);
  EXPECT_EQ(restore.code, 0) << restore.err;
  EXPECT_EQ(restore.out, small);
}

}  // namespace
}  // namespace strata::test
