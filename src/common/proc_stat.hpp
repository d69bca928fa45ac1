#pragma once
// What /proc says about a process on this host: whether it still runs and when it started. Locks, drill scratch
// dirs and the servers strata starts detached all ask "is the process that wrote this still the one alive?" — a pid
// alone is not enough, because pids are reused and a detached server's zombie still answers kill(pid, 0).
#include <cstdint>
#include <optional>

namespace strata {

struct ProcStat {
  char state = 0;           // field 3: R, S, D, Z (zombie), X (dead), ...
  uint64_t start_time = 0;  // field 22: clock ticks since boot; with the pid it names one process for good
  bool stopped() const { return state == 'Z' || state == 'X'; }
};

// /proc/<pid>/stat, or nullopt when there is no such process (or /proc cannot be read).
std::optional<ProcStat> read_proc_stat(int64_t pid);

// kill(pid, 0) succeeds (EPERM counts: the process exists but is another user's) and it is not a zombie.
bool process_running(int64_t pid);

}  // namespace strata
