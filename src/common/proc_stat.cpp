#include "common/proc_stat.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace strata {

std::optional<ProcStat> read_proc_stat(int64_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto paren = s.rfind(')');  // the command name (field 2) may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(s.substr(paren + 1));
  std::vector<std::string> fields;  // fields[0] is field 3
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 20 || fields[0].empty()) return std::nullopt;
  ProcStat st;
  st.state = fields[0][0];
  try {
    st.start_time = std::stoull(fields[19]);
  } catch (...) {
    return std::nullopt;
  }
  return st;
}

bool process_running(int64_t pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  auto st = read_proc_stat(pid);
  return !st || !st->stopped();  // unreadable /proc: trust kill()
}

}  // namespace strata
