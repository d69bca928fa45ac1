#pragma once
// Cooperative cancellation. A CancelToken is set once (SIGINT/SIGTERM, or a caller that gives up) and observed by
// whatever is running: the pipeline checks it between frames and registers hooks that stop its producers (a source
// command's process group), and every child process strata started is terminated. Work that observes the token
// ends with StrataError(kInterrupted), so the usual unwinding releases locks and removes partial files.
//
// The process token is what signals set; use cases take a token so that a later caller (an agent cancelling a job)
// can pass its own.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace strata {

class CancelToken {
 public:
  using Hook = std::function<void()>;

  // Sets the token (first call wins; `reason` is shown in the error, e.g. "SIGTERM") and runs every hook once.
  void cancel(const std::string& reason);
  bool cancelled() const;
  std::string reason() const;
  // Throws StrataError(kInterrupted) naming the reason if the token is set.
  void throw_if_cancelled() const;
  // Blocks until the token is set.
  void wait() const;

  // Runs `hook` when the token is set (at once, on this thread, if it already is). Hooks run on the cancelling
  // thread and must not block: signal a producer, cancel a queue. Returns an id for remove_hook(), which returns
  // only once the hook cannot run any more (it waits for one that is running).
  uint64_t add_hook(Hook hook);
  void remove_hook(uint64_t id);

  // The token SIGINT/SIGTERM set once install_signal_handlers() ran.
  static CancelToken& process();

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
  bool running_hooks_ = false;
  std::string reason_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Hook> hooks_;
};

// Removes its hook on destruction: a scope that registered a hook can never have it run after the scope ended.
class CancelHook {
 public:
  CancelHook(const CancelToken* token, CancelToken::Hook hook);
  ~CancelHook();
  CancelHook(const CancelHook&) = delete;
  CancelHook& operator=(const CancelHook&) = delete;

 private:
  CancelToken* token_ = nullptr;
  uint64_t id_ = 0;
};

// SIGINT, SIGTERM and SIGHUP set CancelToken::process() and terminate every child process strata started
// (common/process.hpp). The handler only writes to a pipe; a watcher thread does the rest. A second signal while
// the first is still being handled ends the process at once with the signal's default action.
void install_signal_handlers();

// "interrupted by SIGTERM; the source was stopped, nothing was committed and the lock was released; run the
// command again" — the one line a cancelled command ends with.
std::string interrupted_message(const std::string& reason);

// Test hook: when STRATA_TEST_PAUSE is "<name>:<fifo path>", the process opens the FIFO for writing (so the test's
// open for reading returns once we are here), writes the name, and then waits until `token` is cancelled. Lets a
// test signal a command at an exact point without sleeping. Does nothing otherwise.
void test_pause_point(const char* name, const CancelToken& token);

}  // namespace strata
