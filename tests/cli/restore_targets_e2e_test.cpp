// Restore targets that are not regular files (issue 13 item 2): a character device or FIFO is written into, never
// replaced; a directory is refused; an existing device needs no --force.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "support/cli_harness.hpp"
#include "support/fifo_gate.hpp"

namespace strata::test {
namespace {

class RestoreTargets : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"STRATA_REPO", tmp_ / "repo"}, {"STRATA_PASSPHRASE", "targets-pass"}, {"HOME", tmp_.path()}};
    ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env_).code, 0);
    data_ = make_data(3 << 20, 5);
    ASSERT_EQ(run_strata({"-q", "backup", "--source", "s", "--from-file", "-"}, env_, data_).code, 0);
  }
  TempDir tmp_;
  Env env_;
  std::string data_;
};

TEST_F(RestoreTargets, FifoIsWrittenIntoWithoutForce) {
  std::string fifo = tmp_ / "pipe";
  make_fifo(fifo);
  std::string got;
  std::atomic<bool> opened{false};
  std::thread reader([&] {
    int fd = ::open(fifo.c_str(), O_RDONLY);  // until a writer opens it
    opened = true;
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
    ::close(fd);
  });
  auto r = run_strata({"restore", "latest", "--source", "s", "--to", fifo}, env_);
  // If strata never opened the FIFO, release the reader so the test can report it.
  while (!opened) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    std::this_thread::yield();
  }
  reader.join();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(got == data_) << "read " << got.size() << " bytes of " << data_.size();
  struct stat st;
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_FALSE(file_exists(fifo + ".strata-partial"));
}

TEST_F(RestoreTargets, CharacterDeviceIsNeverReplaced) {
  std::string dev = tmp_ / "null";
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot create a device node here (" << std::strerror(errno) << "); needs root";
  }
  for (bool force : {false, true}) {
    std::vector<std::string> args = {"restore", "latest", "--source", "s", "--to", dev};
    if (force) args.push_back("--force");
    auto r = run_strata(args, env_);
    EXPECT_EQ(r.code, 0) << r.err;
    struct stat st;
    ASSERT_EQ(::stat(dev.c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced by a file (force=" << force << ")";
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_FALSE(file_exists(dev + ".strata-partial"));
  }
}

TEST_F(RestoreTargets, DirectoryIsRefused) {
  std::string dir = tmp_ / "somedir";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  for (bool force : {false, true}) {
    std::vector<std::string> args = {"restore", "latest", "--source", "s", "--to", dir};
    if (force) args.push_back("--force");
    auto r = run_strata(args, env_);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err, "strata: error: restore target " + dir + " is a directory; give a file path inside it (--to " +
                         dir + "/NAME) or --to - to write to standard output\n");
    EXPECT_FALSE(file_exists(dir + ".strata-partial"));
    struct stat st;
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
  }
}

}  // namespace
}  // namespace strata::test
