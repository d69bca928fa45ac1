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

#include "support/child_process.hpp"

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

}  // namespace strata::test
