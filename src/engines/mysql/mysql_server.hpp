#pragma once
// Servers strata starts on restored datadirs: detached, on a private socket (replay) or a loopback port (--start),
// waited for with a bounded readiness poll, stopped by pid.
#include <string>

#include "engines/engine.hpp"

namespace strata {

struct RunningServer {
  int pid = 0;
  std::string socket;
};

// port 0: no TCP at all (--skip-networking). Throws StrataError(kSourceFailed) with the server's last error line
// if it exits or does not answer within start_timeout. tmpdir non-empty: the server's temporary tables go there
// instead of the shared /tmp (two servers started at once on one host were seen to collide on a temp table name).
RunningServer start_server(const SourceConfig& source, const std::string& datadir, const std::string& socket, int port,
                           const std::string& run_as, const std::string& tmpdir = "");
void stop_server(const RunningServer& s);

// Stops the server when it goes out of scope, unless stop() already did.
class ServerGuard {
 public:
  explicit ServerGuard(RunningServer s) : s_(std::move(s)) {}
  ~ServerGuard() {
    if (!stopped_) {
      try {
        stop_server(s_);
      } catch (...) {
      }
    }
  }
  ServerGuard(const ServerGuard&) = delete;
  ServerGuard& operator=(const ServerGuard&) = delete;
  void stop() {
    stopped_ = true;
    stop_server(s_);
  }

 private:
  RunningServer s_;
  bool stopped_ = false;
};

}  // namespace strata
