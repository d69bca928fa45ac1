#pragma once
// Runs the real strata binary for end-to-end tests: arguments, environment and stdin in; exit code, stdout and
// stderr out. Also temp dirs and file helpers.
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace strata::test {

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

std::string strata_binary();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

using Env = std::map<std::string, std::string>;

// Runs argv[0] (a path) with a clean STRATA_* environment plus `env`. Stdin gets `input` then EOF.
RunResult run_process(const std::vector<std::string>& argv, const Env& env, const std::string& input = "");
RunResult run_strata(const std::vector<std::string>& args, const Env& env, const std::string& input = "");
// Like run_strata, but stderr is a pseudo-terminal (what an operator watching progress sees); `err` is what was
// drawn on it, control sequences included.
RunResult run_strata_tty(const std::vector<std::string>& args, const Env& env);

// Starts strata in its own process group without waiting; returns the pid.
pid_t spawn_strata(const std::vector<std::string>& args, const Env& env, const std::string& log_path);
void kill_group(pid_t pid, int sig);
int wait_pid(pid_t pid);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);
bool file_exists(const std::string& path);
std::vector<std::string> list_files(const std::string& dir);  // recursive, relative paths, sorted
// Deterministic pseudo-random bytes; `compressible` makes text-like rows.
std::string make_data(size_t size, uint64_t seed, bool compressible = false);

}  // namespace strata::test
