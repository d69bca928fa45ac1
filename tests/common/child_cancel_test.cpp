// A job's cancel token reaches the children started under its ChildCancelScope (common/process.hpp), not only the
// process token that signals set: run_capture and Subprocess children are terminated with their process group,
// nothing is started once the token is cancelled, and run_capture reports the cancel (kInterrupted). Children block on
// a FIFO the test controls and tell their pid through another: no sleeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "../common/test_helpers.hpp"
#include "common/cancel.hpp"
#include "common/process.hpp"

namespace strata {
namespace {

struct Fifos {
  testing::TempDir dir;
  std::string pid = dir.path() + "/pid", gate = dir.path() + "/gate";
  Fifos() {
    EXPECT_EQ(::mkfifo(pid.c_str(), 0600), 0);
    EXPECT_EQ(::mkfifo(gate.c_str(), 0600), 0);
  }
  // The child writes its pid (its process group: strata starts every child as a group leader), then blocks until
  // someone writes the gate, which only release() does.
  std::string command() const { return "echo $$ > " + shell_quote(pid) + "; read x < " + shell_quote(gate); }
  pid_t read_pid() const {
    int fd = ::open(pid.c_str(), O_RDONLY | O_CLOEXEC);  // returns once the child opened it: it is running
    std::string text;
    char c;
    while (fd >= 0 && ::read(fd, &c, 1) == 1) text += c;
    if (fd >= 0) ::close(fd);
    return static_cast<pid_t>(std::stol(text));
  }
  // Lets a child that was not stopped finish, so a failing test fails instead of hanging.
  void release() const {
    int fd = ::open(gate.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, "\n", 1);
      ::close(fd);
    }
  }
};

bool group_gone(pid_t pgid) { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }

TEST(ChildCancel, RunCaptureUnderAJobsTokenIsStoppedWithItsGroupAndReportsTheCancel) {
  Fifos f;
  CancelToken token;
  auto run = std::async(std::launch::async, [&]() -> ErrorCode {
    ChildCancelScope scope(&token);
    std::string out;
    try {
      run_capture({"/bin/sh", "-c", f.command()}, &out);
    } catch (const StrataError& e) {
      return e.code();
    }
    return ErrorCode::kGeneric;  // returned a status: the cancel was not reported
  });
  pid_t pgid = f.read_pid();
  EXPECT_FALSE(group_gone(pgid));
  token.cancel("the job was cancelled");
  if (run.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    f.release();
    FAIL() << "the job's cancel did not stop the child";
  }
  EXPECT_EQ(run.get(), ErrorCode::kInterrupted);
  EXPECT_TRUE(group_gone(pgid)) << "the child's process group is gone";
  EXPECT_FALSE(CancelToken::process().cancelled());
}

TEST(ChildCancel, SubprocessUnderAJobsTokenIsTerminatedByItsCancel) {
  Fifos f;
  CancelToken token;
  std::unique_ptr<Subprocess> p;
  {
    ChildCancelScope scope(&token);
    p = std::make_unique<Subprocess>(f.command(), Subprocess::Pipe::kNone, false);
  }
  pid_t pgid = f.read_pid();
  // Another thread cancels, as an agent's heartbeat thread does; this one waits like the job's thread.
  std::thread canceller([&] { token.cancel("the job was cancelled"); });
  auto status = std::async(std::launch::async, [&] { return p->wait(); });
  canceller.join();
  if (status.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    f.release();
    FAIL() << "the job's cancel did not stop the child";
  }
  EXPECT_EQ(status.get(), 128 + SIGTERM);
  EXPECT_TRUE(group_gone(pgid));
}

TEST(ChildCancel, NothingStartsOnceTheTokenIsCancelled) {
  testing::TempDir dir;
  std::string marker = dir.path() + "/ran";
  CancelToken token;
  token.cancel("the job was cancelled");
  ChildCancelScope scope(&token);
  EXPECT_STRATA_ERROR(run_capture({"/bin/sh", "-c", "touch " + shell_quote(marker)}, nullptr), ErrorCode::kInterrupted,
                      "the job was cancelled");
  EXPECT_STRATA_ERROR(Subprocess("touch " + shell_quote(marker), Subprocess::Pipe::kNone, false), ErrorCode::kInterrupted,
                      "the job was cancelled");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(ChildCancel, ScopesNestPerThreadAndAnotherTokensCancelLeavesTheChildAlone) {
  CancelToken outer, inner;
  EXPECT_EQ(child_cancel_token(), nullptr);
  {
    ChildCancelScope a(&outer);
    EXPECT_EQ(child_cancel_token(), &outer);
    {
      ChildCancelScope b(&inner);
      EXPECT_EQ(child_cancel_token(), &inner);
      const CancelToken* seen = &outer;
      std::thread([&] { seen = child_cancel_token(); }).join();
      EXPECT_EQ(seen, nullptr) << "a thread inherits no scope";
    }
    EXPECT_EQ(child_cancel_token(), &outer);
    // A child of this job is not stopped by another job's cancel.
    inner.cancel("another job");
    std::string out;
    EXPECT_EQ(run_capture({"/bin/sh", "-c", "echo ok"}, &out), 0);
    EXPECT_EQ(out, "ok\n");
  }
  EXPECT_EQ(child_cancel_token(), nullptr);
}

}  // namespace
}  // namespace strata
