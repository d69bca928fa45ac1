#pragma once
// Scratch space for one drill: <root>/strata-drill-<id>/, removed when the drill ends — and, if the drill was
// killed, by the next drill: each directory names its owner (pid and process start time, so a reused pid does not
// keep a dead drill's directory alive), and an owner that is gone means the directory is garbage.
#include <cstdint>
#include <string>
#include <vector>

namespace strata {

class DrillScratch {
 public:
  // Creates the directory (0700). Throws StrataError(kUsage) if `root` is not usable.
  DrillScratch(const std::string& root, const std::string& drill_id);
  ~DrillScratch();  // removes it (after stopping what ran in it: see add_cleanup)
  DrillScratch(const DrillScratch&) = delete;
  DrillScratch& operator=(const DrillScratch&) = delete;
  const std::string& path() const { return path_; }
  // A pid file of a server started inside: the server is terminated (SIGTERM; SIGKILL after 5 s) before removal.
  void add_server_pid_file(const std::string& pid_file) { pid_files_.push_back(pid_file); }

 private:
  std::string path_;
  std::vector<std::string> pid_files_;
};

// Removes the scratch directories under `root` whose owner is gone; returns their paths. A server a killed drill
// started there (its pid file inside) is stopped first.
std::vector<std::string> remove_stale_drill_scratch(const std::string& root);

// Bytes free for an unprivileged writer on the file system holding `path` (0 if it cannot be told).
uint64_t free_bytes_at(const std::string& path);

}  // namespace strata
