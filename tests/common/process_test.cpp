#include "common/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "../common/test_helpers.hpp"

extern char** environ;

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

std::string read_all(int fd) {
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  return got;
}

bool environ_mentions(const std::string& text) {
  for (char** e = environ; *e; ++e) {
    if (std::strstr(*e, text.c_str())) return true;
  }
  return false;
}

// Issue 14 part 2: two jobs in one process give their tools different passwords; each child sees its own only, and
// our own environment never holds either (a job's secret used to be set on the whole process while its tool started).
TEST(ChildEnv, ConcurrentChildrenSeeOnlyTheirOwnSecret) {
  testing::TempDir dir;
  const std::string secret[2] = {"job-a-pw-7f3e", "job-b-pw-91c2"};
  std::string gate[2];
  std::unique_ptr<Subprocess> child[2];
  for (int i = 0; i < 2; ++i) {
    gate[i] = dir.path() + "/gate" + std::to_string(i);
    ASSERT_EQ(::mkfifo(gate[i].c_str(), 0600), 0);
    // Each child blocks on its gate, so both are alive at once; then it prints what it was given.
    ChildEnv env;
    env.set("PGPASSWORD", secret[i]).set("REDISCLI_AUTH", secret[i]);
    child[i] = std::make_unique<Subprocess>("cat '" + gate[i] + "' >/dev/null; env", Subprocess::Pipe::kStdout, false, env);
  }
  EXPECT_FALSE(environ_mentions(secret[0]));
  EXPECT_FALSE(environ_mentions(secret[1]));
  for (int i = 0; i < 2; ++i) {
    int fd = ::open(gate[i].c_str(), O_WRONLY);  // returns once child i has opened its end
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  for (int i = 0; i < 2; ++i) {
    std::string got = read_all(child[i]->fd());
    EXPECT_EQ(child[i]->wait(), 0);
    EXPECT_NE(got.find("PGPASSWORD=" + secret[i] + "\n"), std::string::npos) << got;
    EXPECT_NE(got.find("REDISCLI_AUTH=" + secret[i] + "\n"), std::string::npos) << got;
    EXPECT_EQ(got.find(secret[1 - i]), std::string::npos) << "child " << i << " saw the other job's secret:\n" << got;
  }

  // The same from two threads spawning at once (run_capture): no interleaving leaks one into the other.
  std::string leaks[2];
  std::thread jobs[2];
  for (int i = 0; i < 2; ++i) {
    jobs[i] = std::thread([&, i] {
      for (int round = 0; round < 20; ++round) {
        std::string out;
        ChildEnv env;
        env.set("PGPASSWORD", secret[i]);
        if (run_capture({"/bin/sh", "-c", "printf %s \"$PGPASSWORD\""}, &out, nullptr, env) != 0 || out != secret[i]) {
          leaks[i] += "round " + std::to_string(round) + ": '" + out + "'\n";
        }
      }
    });
  }
  for (auto& t : jobs) t.join();
  EXPECT_EQ(leaks[0], "");
  EXPECT_EQ(leaks[1], "");
  EXPECT_FALSE(environ_mentions(secret[0]));
  EXPECT_FALSE(environ_mentions(secret[1]));
}

TEST(ChildEnv, SetReplacesUnsetRemovesKeepRestoresAStrataSecret) {
  ASSERT_EQ(::setenv("STRATA_TEST_INHERITED", "from-parent", 1), 0);  // a test may change its own environment
  ASSERT_EQ(::setenv("STRATA_PASSPHRASE", "repo-secret", 1), 0);
  ChildEnv env;
  env.set("STRATA_TEST_INHERITED", "first").set("STRATA_TEST_INHERITED", "for-the-child").set("STRATA_TEST_NEW", "x");
  env.set("STRATA_TEST_GONE", "y").unset("STRATA_TEST_GONE");
  std::vector<std::string> entries = env.entries();
  auto count = [&](const std::string& kv) { return std::count(entries.begin(), entries.end(), kv); };
  EXPECT_EQ(count("STRATA_TEST_INHERITED=for-the-child"), 1);
  EXPECT_EQ(count("STRATA_TEST_INHERITED=from-parent"), 0);
  EXPECT_EQ(count("STRATA_TEST_INHERITED=first"), 0);
  EXPECT_EQ(count("STRATA_TEST_NEW=x"), 1);
  EXPECT_EQ(count("STRATA_TEST_GONE=y"), 0);
  EXPECT_EQ(count("STRATA_PASSPHRASE=repo-secret"), 0) << "strata's secrets stay scrubbed";

  ChildEnv drop;
  drop.unset("STRATA_TEST_INHERITED").keep("STRATA_PASSPHRASE");
  entries = drop.entries();
  EXPECT_EQ(count("STRATA_TEST_INHERITED=from-parent"), 0);
  EXPECT_EQ(count("STRATA_PASSPHRASE=repo-secret"), 1);
  std::string out;
  ASSERT_EQ(run_capture({"/bin/sh", "-c", "printf %s \"${STRATA_TEST_INHERITED-unset}\""}, &out, nullptr, drop), 0);
  EXPECT_EQ(out, "unset");
  ::unsetenv("STRATA_TEST_INHERITED");
  ::unsetenv("STRATA_PASSPHRASE");
}

}  // namespace
}  // namespace strata
