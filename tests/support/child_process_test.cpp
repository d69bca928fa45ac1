// The guarantees the server fixtures rely on: a child started with spawn_child dies with the process that started
// it, inherits no descriptor above stderr, and a command that cannot start is one clear error.
#include "support/child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/net_util.hpp"

namespace strata::test {
namespace {

// Not running: gone, or a zombie its new parent has not reaped yet.
bool running(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string stat = ss.str();
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

TEST(ChildProcess, DiesWithTheProcessThatStartedIt) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {  // stands in for a test process that dies without running any destructor
    pid_t c = -1;
    try {
      c = spawn_child({"sleep", "600"});
    } catch (...) {
    }
    ssize_t w = ::write(p[1], &c, sizeof c);
    ::_exit(w == sizeof c ? 0 : 1);
  }
  ::close(p[1]);
  pid_t child = -1;
  ASSERT_EQ(::read(p[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  ::close(p[0]);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(middle, nullptr, 0), middle);
  EXPECT_TRUE(wait_until([&] { return !running(child); }, deadline_in(std::chrono::seconds(30))))
      << "sleep " << child << " outlived the process that started it";
  if (running(child)) ::kill(child, SIGKILL);
}

TEST(ChildProcess, InheritsNoDescriptorAboveStderr) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);  // deliberately not close-on-exec
  pid_t child = spawn_child({"sleep", "600"});
  ::close(p[1]);
  ASSERT_EQ(::fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
  char b;
  // End of file at once: nobody else holds the write end. An inherited copy would give EAGAIN instead.
  EXPECT_EQ(::read(p[0], &b, 1), 0);
  ::close(p[0]);
  EXPECT_TRUE(child_running(child));
  EXPECT_EQ(stop_child(child, SIGTERM, std::chrono::seconds(30)), 128 + SIGTERM);
}

TEST(ChildProcess, ReportsACommandThatCannotStart) {
  try {
    spawn_child({"strata-no-such-command"});
    FAIL() << "spawn_child returned for a missing command";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot start strata-no-such-command"), std::string::npos) << e.what();
  }
  // Exists but exec fails: the error comes back from the child.
  std::string path = "/tmp/strata-child-test-" + std::to_string(::getpid());
  std::ofstream(path) << "not a program\n";
  ::chmod(path.c_str(), 0755);
  try {
    spawn_child({path});
    FAIL() << "spawn_child returned for a file exec refuses";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Exec format error"), std::string::npos) << e.what();
  }
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace strata::test
