#pragma once
// For tests that signal strata while an engine tool runs: strata started with a STRATA_TEST_PAUSE point, the
// process groups of its children (strata starts each tool in a group of its own), and who is still in a group.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/fifo_gate.hpp"

extern char** environ;

namespace strata::test {

struct ProcStat {
  pid_t pid = 0, ppid = 0, pgrp = 0;
  std::string state, cmdline;
};

inline std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto paren = s.rfind(')');
    if (paren == std::string::npos || paren + 2 > s.size()) continue;
    ProcStat p;
    p.pid = static_cast<pid_t>(std::stol(name));
    std::istringstream rest(s.substr(paren + 2));
    long ppid = 0, pgrp = 0;
    rest >> p.state >> ppid >> pgrp;
    p.ppid = static_cast<pid_t>(ppid);
    p.pgrp = static_cast<pid_t>(pgrp);
    std::ifstream cmd(e.path() / "cmdline");
    p.cmdline.assign((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    for (auto& ch : p.cmdline) ch = ch == '\0' ? ' ' : ch;
    out.push_back(std::move(p));
  }
  return out;
}

// Command lines of the live (not zombie) members of process group `pgid`.
inline std::vector<std::string> group_members(pid_t pgid) {
  std::vector<std::string> out;
  for (const auto& p : all_processes()) {
    if (p.pgrp == pgid && p.state != "Z") out.push_back(p.cmdline);
  }
  return out;
}

// The process groups of `pid`'s children.
inline std::set<pid_t> child_groups(pid_t pid) {
  std::set<pid_t> out;
  for (const auto& p : all_processes()) {
    if (p.ppid == pid) out.insert(p.pgrp);
  }
  return out;
}

// Starts `argv` like spawn_child (its own process group, killed with the test) with STRATA_TEST_PAUSE=`pause`
// added to our environment, stdout and stderr to files. Returns its pid.
inline pid_t spawn_with_pause(const std::vector<std::string>& argv, const std::string& pause, const std::string& out,
                              const std::string& err) {
  ChildOptions o;
  o.stdout_path = out;
  o.stderr_path = err;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::string(*e).rfind("STRATA_TEST_PAUSE=", 0) != 0) env.push_back(*e);
  }
  env.push_back("STRATA_TEST_PAUSE=" + pause);
  o.env = env;
  return spawn_child(argv, o);
}

// What every engine's signal test asserts (issue 13 item 3), for a strata `pid` spawned with
// spawn_with_pause(..., "backup_first_frame:" + pause_fifo, ..., err_path): at the pause point `tool` runs in a
// process group strata made for it (not strata's own); SIGTERM to strata alone makes strata exit 11 with
// "strata: error: interrupted by SIGTERM", and nothing of the tool's groups outlives it. strata is reaped (or
// killed) before this returns, whatever fails. The caller then checks the repository: lock gone, nothing listed.
inline void sigterm_at_pause_stops_tool(pid_t pid, const std::string& pause_fifo, const std::string& err_path,
                                        const std::string& tool) {
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid > 0 && wait_pid_for(pid, 0) == -1) {
        ::kill(pid, SIGKILL);
        wait_pid_for(pid, 10);
      }
    }
  } reap{pid};
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  ASSERT_EQ(wait_for_pause(pause_fifo, pid), "backup_first_frame\n") << slurp(err_path);
  const auto groups = child_groups(pid);
  bool tool_running = false;
  for (pid_t g : groups) {
    ASSERT_NE(g, pid) << "a child of strata in strata's own process group";
    for (const auto& c : group_members(g)) tool_running |= c.find(tool) != std::string::npos;
  }
  ASSERT_TRUE(tool_running) << tool << " is not running at the pause point";

  ASSERT_EQ(::kill(pid, SIGTERM), 0);  // strata only: it must stop its tool itself
  const int code = wait_pid_for(pid, 60);
  reap.pid = code == -1 ? pid : -1;
  const std::string err = slurp(err_path);
  ASSERT_NE(code, -1) << "strata did not exit after SIGTERM: " << err;
  EXPECT_EQ(code, 11) << err;
  EXPECT_NE(err.find("strata: error: interrupted by SIGTERM"), std::string::npos) << err;
  auto all_gone = [&] {
    for (pid_t g : groups) {
      if (!group_members(g).empty()) return false;
    }
    return true;
  };
  // Members are killed by strata before it exits; the kernel may still be tearing them down: poll, bounded.
  bool gone = all_gone();
  for (int i = 0; i < 1000 && !gone; ++i) {
    ::usleep(10 * 1000);
    gone = all_gone();
  }
  EXPECT_TRUE(gone) << tool << " outlived strata";
}

}  // namespace strata::test
