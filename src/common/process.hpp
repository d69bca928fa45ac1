#pragma once
// Child processes for --from-command / --to-command and engine tools. The command runs under /bin/sh -c in a
// process group of its own; its stderr is forwarded to ours and the last few KiB are kept so a failure can quote
// them. Children never see strata's own secrets (child_environment()), and every live child is known, so a signal
// to strata ends them all (terminate_all_children(), common/cancel.hpp).
// Strata never changes its own environment (check_layers.cmake refuses the calls that would, in src/): a secret
// meant for one tool travels in that child's ChildEnv, so two jobs in one process never see each other's.
#include <sys/types.h>

#include <atomic>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace strata {

class CancelToken;
class CancelHook;

// Binds the children this thread starts while the scope lives (Subprocess, run_capture) to a job's cancel token:
// once it is cancelled their process groups are terminated (SIGTERM, SIGKILL kTerminateGraceMs later), a child is
// no longer started, and run_capture throws StrataError(kInterrupted). A use case opens one around its work with
// the job's token (app::backup, app::restore, ...), so an agent's cancel reaches every tool an engine starts
// (pg_basebackup, mariadb-backup, redis-cli, a `command` source's shell) the way a signal to strata reaches all of
// them (terminate_all_children) — without threading the token through every engine helper. A thread inherits
// nothing: code that starts a child on a thread of its own passes the token explicitly (CommandSource takes the
// one in force where it was opened). Scopes nest; the innermost wins; null binds nothing.
class ChildCancelScope {
 public:
  explicit ChildCancelScope(const CancelToken* token);
  ~ChildCancelScope();
  ChildCancelScope(const ChildCancelScope&) = delete;
  ChildCancelScope& operator=(const ChildCancelScope&) = delete;

 private:
  const CancelToken* previous_;
};
// The token of this thread's innermost ChildCancelScope, or null.
const CancelToken* child_cancel_token();

// The environment one child starts with: ours without strata's secrets (child_environment(keep)), then the
// variables set or removed for this child alone — a tool's password (PGPASSWORD, REDISCLI_AUTH) goes here.
class ChildEnv {
 public:
  ChildEnv() = default;
  // Names of strata's secrets this child keeps after all: run_capture(argv, &out, &err, {"STRATA_PASSPHRASE"}).
  ChildEnv(std::initializer_list<std::string> keep) : keep_(keep) {}  // NOLINT(google-explicit-constructor)

  ChildEnv& keep(const std::string& name);
  ChildEnv& set(const std::string& name, std::string value);  // replaces an inherited value
  ChildEnv& unset(const std::string& name);
  // "K=V" strings, in our environment's order; variables set here come last, in the order set.
  std::vector<std::string> entries() const;

 private:
  std::vector<std::string> keep_;
  std::vector<std::pair<std::string, std::optional<std::string>>> changes_;  // nullopt: removed
};

class Subprocess {
 public:
  enum class Pipe { kStdout, kStdin, kNone };

  // Starts `command` with the given pipe connected to us and environment `env`. Throws StrataError(kSourceFailed)
  // if it cannot start, kInterrupted if `cancel` is already cancelled. A cancel of `cancel` terminates the child
  // (terminate()); the default is this thread's ChildCancelScope.
  Subprocess(const std::string& command, Pipe pipe, bool forward_stderr = true, const ChildEnv& env = {},
             const CancelToken* cancel = child_cancel_token());
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  int fd() const { return fd_; }  // our end of the pipe
  // EOF for the child's stdin / stop reading its stdout. Only the thread that uses fd() may call it.
  void close_pipe();
  // Waits for exit. Returns the exit status (128+signal if killed). Any thread, any number of times: the first
  // caller reaps the child, the others get the same status.
  int wait();
  // Asks the child's whole process group to stop (SIGTERM; SIGKILL if it is still there kTerminateGrace later,
  // enforced by whoever waits). Never blocks, never touches the pipe: safe from any thread, also while another
  // thread reads the pipe or waits — the abort path of a pipeline may run on two threads at once.
  void terminate() noexcept;
  // terminate() and wait().
  void kill_and_wait();
  std::string stderr_tail() const;
  const std::string& command() const { return command_; }
  // "exited with status 2: <stderr tail>" for error messages.
  std::string describe_failure(int status) const;

  static constexpr int kTerminateGraceMs = 5000;

 private:
  std::string command_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool forward_stderr_;
  std::thread err_thread_;
  std::shared_ptr<struct TailBuffer> tail_;
  std::mutex wait_mu_;  // one reaper
  std::atomic<bool> waited_{false};
  std::atomic<int64_t> terminate_deadline_ms_{0};  // steady clock; 0 = not asked to stop
  int status_ = 0;
  std::unique_ptr<CancelHook> cancel_hook_;  // terminate() on the job's cancel; removed first on destruction
};

// Runs a command to completion, capturing stdout. Returns exit status. `env` may keep a secret this one child needs
// after all (a restored server's restore_command that reads STRATA_PASSPHRASE) or give it a tool's password.
// Under a ChildCancelScope whose token is (or becomes) cancelled, the child is not started or is terminated, and
// the call throws StrataError(kInterrupted) instead of returning a status.
int run_capture(const std::vector<std::string>& argv, std::string* out, std::string* err = nullptr,
                const ChildEnv& env = {});

// Whether an environment variable holds a credential of strata's own (repository passphrase, S3 keys): children
// never get those. Database passwords meant for the tools (PGPASSWORD, a source's password_env) are not on it.
bool is_strata_secret_env(const std::string& name);
// Our environment without strata's secrets (except those in `keep`), as "K=V" strings.
std::vector<std::string> child_environment(const std::vector<std::string>& keep = {});

// 'text' with embedded quotes escaped, safe to paste into a /bin/sh command line: the one shell-quoting function
// (every command strata builds for /bin/sh -c goes through it).
std::string shell_quote(const std::string& s);

// SIGTERM to the process group of every child strata started and has not reaped yet (Subprocess, run_capture).
// Async-signal-unsafe; called by the signal watcher thread. Idempotent.
void terminate_all_children() noexcept;

}  // namespace strata
