#pragma once
// Child processes for --from-command / --to-command and engine tools. The command runs under /bin/sh -c;
// its stderr is forwarded to ours and the last few KiB are kept so a failure can quote them.
#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace strata {

class Subprocess {
 public:
  enum class Pipe { kStdout, kStdin, kNone };

  // Starts `command` with the given pipe connected to us. Throws StrataError(kSourceFailed) if it cannot start.
  Subprocess(const std::string& command, Pipe pipe, bool forward_stderr = true);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  int fd() const { return fd_; }  // our end of the pipe
  void close_pipe();               // EOF for the child's stdin / stop reading its stdout
  // Waits for exit. Returns the exit status (128+signal if killed).
  int wait();
  void kill_and_wait();
  std::string stderr_tail() const;
  const std::string& command() const { return command_; }
  // "exited with status 2: <stderr tail>" for error messages.
  std::string describe_failure(int status) const;

 private:
  std::string command_;
  pid_t pid_ = -1;
  int fd_ = -1;
  int err_fd_ = -1;
  bool forward_stderr_;
  std::thread err_thread_;
  std::shared_ptr<struct TailBuffer> tail_;
  bool waited_ = false;
  int status_ = 0;
};

// Runs a command to completion, capturing stdout. Returns exit status.
int run_capture(const std::vector<std::string>& argv, std::string* out, std::string* err = nullptr);

}  // namespace strata
