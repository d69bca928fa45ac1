#include "common/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <unistd.h>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

TEST(Subprocess, ReportsExitStatusAndTheLastStderrLine) {
  Subprocess p("echo first >&2; echo 'second line' >&2; exit 4", Subprocess::Pipe::kNone, false);
  EXPECT_EQ(p.wait(), 4);
  EXPECT_EQ(p.stderr_tail(), "second line");
  EXPECT_EQ(p.describe_failure(4), "exited with status 4: second line");
  EXPECT_EQ(p.wait(), 4) << "wait is idempotent";
}

TEST(Subprocess, KilledBySignal) {
  Subprocess p("kill -9 $$", Subprocess::Pipe::kNone, false);
  int st = p.wait();
  EXPECT_EQ(st, 128 + 9);
  EXPECT_EQ(p.describe_failure(st), "was killed by signal 9");
}

TEST(Subprocess, LongStderrIsCutToOneShortLine) {
  Subprocess p("head -c 2000 /dev/zero | tr '\\0' x >&2; exit 1", Subprocess::Pipe::kNone, false);
  p.wait();
  std::string tail = p.stderr_tail();
  EXPECT_EQ(tail.size(), 303u);
  EXPECT_EQ(tail.substr(0, 3), "...");
}

TEST(Subprocess, PipesStdoutAndStdin) {
  Subprocess out("printf abc", Subprocess::Pipe::kStdout, false);
  char buf[8] = {};
  ssize_t n = ::read(out.fd(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "abc");
  EXPECT_EQ(out.wait(), 0);

  Subprocess in("test \"$(cat)\" = hello", Subprocess::Pipe::kStdin, false);
  ASSERT_EQ(::write(in.fd(), "hello", 5), 5);
  in.close_pipe();
  EXPECT_EQ(in.wait(), 0);
}

TEST(Subprocess, GrandchildHoldingStderrDoesNotHangWait) {
  testing::TempDir dir;
  std::string pidfile = dir.path() + "/pid";
  // The background sleep inherits stderr and outlives the shell; wait() must return once the shell exits.
  Subprocess p("sleep 600 & echo $! > '" + pidfile + "'; echo 'started daemon' >&2; exit 4", Subprocess::Pipe::kNone,
               false);
  EXPECT_EQ(p.wait(), 4);
  EXPECT_EQ(p.stderr_tail(), "started daemon");
  std::ifstream f(pidfile);
  std::string pid;
  std::getline(f, pid);
  ASSERT_FALSE(pid.empty());
  ::kill(std::stoi(pid), SIGKILL);
}

TEST(RunCapture, CapturesBothStreamsAndTheStatus) {
  std::string out, err;
  EXPECT_EQ(run_capture({"/bin/sh", "-c", "echo out; echo err >&2; exit 2"}, &out, &err), 2);
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
  EXPECT_EQ(run_capture({"/nonexistent/strata-tool"}, &out), 127);
}

}  // namespace
}  // namespace strata
