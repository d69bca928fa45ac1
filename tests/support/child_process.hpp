#pragma once
// Starts the servers and helper processes of the test fixtures so that none of them can outlive the test: the child
// is SIGKILLed when the test process dies, however it dies (PR_SET_PDEATHSIG; a crashed or timed-out test leaves no
// orphan), and inherits no descriptor above stderr (an orphaned moto_server once held an inherited descriptor and
// kept the test run from finishing). Only the direct child is covered: servers that fork workers (postgres) must
// end them themselves when their parent dies, and are therefore started directly, never through a daemonizing
// wrapper such as pg_ctl, `redis-server --daemonize yes` or `setsid ... &`.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, so start fixtures from the test's main thread.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace strata::test {

struct ChildOptions {
  std::string stdout_path;                      // appended to; "" = /dev/null
  std::string stderr_path;                      // appended to; "" = where stdout goes
  std::optional<std::vector<std::string>> env;  // "K=V" entries: the child's whole environment; unset = ours
  std::string run_as;                           // when we are root: switch to this user before exec
  std::string cwd;                              // "" = ours
  bool own_process_group = true;                // a terminal's Ctrl-C reaches only the test
};

// fork + exec of argv; argv[0] is an absolute path or a name looked up on PATH. Stdin is /dev/null. Throws
// std::runtime_error naming argv[0] when it cannot be started (exec's error comes back through a close-on-exec pipe).
pid_t spawn_child(const std::vector<std::string>& argv, const ChildOptions& options = {});

// spawn_child, then wait_for_port (support/net_util.hpp) on 127.0.0.1:port while the child lives; a child that does
// not come up within `timeout` is killed and the error names `name` and quotes the tail of `log_path`.
pid_t spawn_server(const std::vector<std::string>& argv, const ChildOptions& options, int port,
                   std::chrono::milliseconds timeout, const std::string& name, const std::string& log_path);

// True while our child `pid` runs; reaps it once it has exited.
bool child_running(pid_t pid);

// Sends `sig` to the child (to its whole process group if `group`), waits up to `grace` for it to exit, then
// SIGKILLs it; always reaps it. Returns the exit status as the shell reports it (128 + signal when killed).
int stop_child(pid_t pid, int sig, std::chrono::milliseconds grace, bool group = true);

}  // namespace strata::test
