// The cancellation token and what it stops (issue 13 items 3, 16, 20): hooks, child process groups, and the
// environment children get.
#include "common/cancel.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fcntl.h>
#include <fstream>
#include <thread>

#include "../common/test_helpers.hpp"
#include "common/process.hpp"

namespace strata {
namespace {

TEST(CancelToken, RunsHooksOnceAndThrowsInterrupted) {
  CancelToken t;
  int runs = 0;
  uint64_t id = t.add_hook([&] { ++runs; });
  EXPECT_FALSE(t.cancelled());
  EXPECT_NO_THROW(t.throw_if_cancelled());
  t.cancel("SIGTERM");
  t.cancel("SIGINT");  // the first reason wins, hooks run once
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(t.reason(), "SIGTERM");
  EXPECT_STRATA_ERROR(t.throw_if_cancelled(), ErrorCode::kInterrupted, "interrupted by SIGTERM");
  t.remove_hook(id);
  int late = 0;
  t.add_hook([&] { ++late; });
  EXPECT_EQ(late, 1) << "a hook added after the cancel runs at once";
}

TEST(CancelToken, RemovedHookNeverRuns) {
  CancelToken t;
  int runs = 0;
  { CancelHook h(&t, [&] { ++runs; }); }
  t.cancel("test");
  EXPECT_EQ(runs, 0);
}

// Item 16: the pipeline's writer and reader may both abort the same command at once; terminate() from one thread
// while another reads the pipe and a third waits must neither hang nor reap twice.
TEST(Subprocess, TerminateFromAnotherThreadWhileReadingAndWaiting) {
  for (int round = 0; round < 20; ++round) {
    Subprocess p("exec cat /dev/zero", Subprocess::Pipe::kStdout, false);
    std::atomic<uint64_t> got{0};
    char first[1];
    ASSERT_EQ(::read(p.fd(), first, 1), 1);  // the command is producing
    std::thread reader([&] {
      char buf[65536];
      for (;;) {
        ssize_t n = ::read(p.fd(), buf, sizeof buf);
        if (n <= 0) break;
        got += static_cast<uint64_t>(n);
      }
    });
    std::thread a([&] { p.terminate(); p.wait(); });
    std::thread b([&] { p.kill_and_wait(); });
    int st = p.wait();
    a.join();
    b.join();
    reader.join();
    EXPECT_EQ(st, 128 + SIGTERM);
    EXPECT_EQ(p.wait(), st);
  }
}

TEST(Subprocess, TerminateReachesTheWholeProcessGroup) {
  // The shell starts a grandchild that keeps stdout open; a SIGTERM to the shell alone would leave it running and
  // the reader blocked until it ends. EOF on the pipe proves every holder of its write end is gone.
  Subprocess p("sleep 600 & echo started; wait", Subprocess::Pipe::kStdout, false);
  char buf[16];
  ASSERT_EQ(::read(p.fd(), buf, 8), 8);
  p.terminate();
  EXPECT_EQ(::read(p.fd(), buf, sizeof buf), 0) << "EOF once the group is gone";
  EXPECT_EQ(p.wait(), 128 + SIGTERM);
}

TEST(Subprocess, ChildThatIgnoresSigtermIsKilledAfterTheGrace) {
  // SIGKILL after kTerminateGraceMs: waiting must end even if the command traps SIGTERM.
  Subprocess p("trap '' TERM; echo ready; exec sleep 600", Subprocess::Pipe::kStdout, false);
  char buf[8];
  ASSERT_GT(::read(p.fd(), buf, sizeof buf), 0);
  auto t0 = std::chrono::steady_clock::now();
  p.kill_and_wait();
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(Subprocess::kTerminateGraceMs - 100));
  EXPECT_LT(waited, std::chrono::milliseconds(Subprocess::kTerminateGraceMs + 3000));
  EXPECT_EQ(p.wait(), 128 + SIGKILL);
}

// Item 3: a signal stops children nobody holds a hook for (an engine's run_capture of pg_ctl, mariadb-backup).
TEST(TerminateAllChildren, StopsRunCaptureChildren) {
  testing::TempDir dir;
  std::string fifo = dir.path() + "/started";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int status = -1;
  std::thread runner([&] {
    std::string out;
    status = run_capture({"/bin/sh", "-c", "echo go > '" + fifo + "'; exec sleep 600"}, &out);
  });
  // Opening the FIFO returns once the child opened it: it is running and registered.
  int fd = ::open(fifo.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[4];
  ASSERT_GT(::read(fd, buf, sizeof buf), 0);
  ::close(fd);
  terminate_all_children();
  runner.join();
  EXPECT_EQ(status, 128 + SIGTERM);
}

// Item 20: children never see strata's own credentials; what the tools need (PGPASSWORD) stays.
TEST(ChildEnvironment, StrataSecretsAreScrubbed) {
  ::setenv("STRATA_PASSPHRASE", "repo-secret", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "aws-secret", 1);
  ::setenv("AWS_SESSION_TOKEN", "aws-token", 1);
  ::setenv("PGPASSWORD", "db-pass", 1);
  std::string out;
  ASSERT_EQ(run_capture({"/bin/sh", "-c", "env"}, &out), 0);
  EXPECT_EQ(out.find("repo-secret"), std::string::npos) << out;
  EXPECT_EQ(out.find("aws-secret"), std::string::npos);
  EXPECT_EQ(out.find("aws-token"), std::string::npos);
  EXPECT_NE(out.find("PGPASSWORD=db-pass"), std::string::npos);
  Subprocess p("env", Subprocess::Pipe::kStdout, false);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(p.fd(), buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(got.find("repo-secret"), std::string::npos) << got;
  EXPECT_EQ(got.find("aws-"), std::string::npos);
  ASSERT_EQ(run_capture({"/bin/sh", "-c", "env"}, &out, nullptr, {"STRATA_PASSPHRASE"}), 0);
  EXPECT_NE(out.find("STRATA_PASSPHRASE=repo-secret"), std::string::npos) << "kept when asked for";
  for (const char* v : {"STRATA_PASSPHRASE", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD"}) ::unsetenv(v);
}

}  // namespace
}  // namespace strata
