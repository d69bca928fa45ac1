#pragma once
// Shared pieces of the engine end-to-end suites: temp dirs, loopback ports, running the real strata binary.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "support/net_util.hpp"

namespace strata::test {

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

// /bin/sh -c `cmd`, capturing both streams.
CmdResult run_sh(const std::string& cmd);

class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// wait_until() with a timeout; the bound makes a hung server a test failure instead of a hung CI job.
bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

// SIGTERM to the pid in `pid_file` and wait until the process is gone.
void stop_pidfile(const std::string& pid_file);

// The binary under test: STRATA_BINARY, or $STRATA_TEST_BINARY when set (to run a suite against another build,
// e.g. the one before a fix).
std::string engine_test_binary();

// The strata binary under test with a repository and a config file of its own.
class StrataCli {
 public:
  StrataCli(std::string repo, std::string config);
  // Creates the repository with a cheap KDF (tests only) and the passphrase in STRATA_PASSPHRASE.
  CmdResult init() const;
  CmdResult run(const std::vector<std::string>& args) const;

 private:
  std::string repo_, config_;
};

std::string shq(const std::string& s);  // shell quoting

}  // namespace strata::test
