#include "io/stream.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace strata {

size_t ByteSource::read_full(uint8_t* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    size_t r = read(buf + done, n - done);
    if (r == 0) break;
    done += r;
  }
  return done;
}

namespace {

size_t read_fd(int fd, uint8_t* buf, size_t n, const std::string& what) {
  for (;;) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    fail(ErrorCode::kSourceFailed, "cannot read " + what + ": " + std::strerror(errno));
  }
}

void write_fd(int fd, ByteView data, const std::string& what) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write " + what, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// A file, stdin or a FIFO. A read from a pipe or FIFO can block for ever (its writer is alive but silent), and
// there is no child to stop: abort() (any thread) wakes such a read through a pipe of its own, which then reports
// the end of the stream — the pipeline turns that into the error that made it abort (SIGTERM: kInterrupted).
class FdSource final : public ByteSource {
 public:
  FdSource(int fd, std::string name, bool owned) : fd_(fd), name_(std::move(name)), owned_(owned) {
    struct stat st;
    // A regular file never blocks; everything else waits in poll() next to the abort pipe.
    if (::fstat(fd_, &st) == 0 && !S_ISREG(st.st_mode) && ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      wake_[0] = wake_[1] = -1;
    }
  }
  ~FdSource() override {
    if (owned_) ::close(fd_);
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }
  size_t read(uint8_t* buf, size_t n) override {
    if (aborted_) return 0;
    if (wake_[0] >= 0) {
      for (;;) {
        pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        int rc = ::poll(p, 2, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) fail(ErrorCode::kSourceFailed, "cannot read " + name_ + ": " + std::strerror(errno));
        if (p[1].revents || aborted_) return 0;
        break;  // readable, at its end, or in error: read() says which
      }
    }
    return read_fd(fd_, buf, n, name_);
  }
  void abort() noexcept override {
    aborted_ = true;
    if (wake_[1] >= 0) {
      ssize_t w = ::write(wake_[1], "x", 1);
      (void)w;
    }
  }
  std::string describe() const override { return name_; }

 private:
  int fd_;
  std::string name_;
  bool owned_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> aborted_{false};
};

// The command starts on the first read, not when the source is opened: by then the repository lock is held, so
// a locked repository never starts a dump, and a signal before that point has no child to stop.
class CommandSource final : public ByteSource {
 public:
  // With --log-format json stderr carries JSON lines only: the child's stderr is not passed through (its tail is
  // still quoted in the error if it fails).
  // The job's cancel token is taken here, on the caller's thread: the command starts on the pipeline's reader.
  CommandSource(const std::string& command, ChildEnv env)
      : command_(command), env_(std::move(env)), cancel_(child_cancel_token()) {}
  size_t read(uint8_t* buf, size_t n) override {
    if (!proc_) start();
    return read_fd(proc_->fd(), buf, n, "output of '" + command_ + "'");
  }
  void finish() override {
    if (!proc_) start();
    proc_->close_pipe();
    int st = proc_->wait();
    if (st != 0) fail(ErrorCode::kSourceFailed, "source command '" + command_ + "' " + proc_->describe_failure(st));
  }
  // Any thread, also while read() blocks: stops the command's process group; the reader then sees EOF.
  void abort() noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    if (proc_) proc_->terminate();
  }
  std::string describe() const override { return "command '" + command_ + "'"; }

 private:
  void start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_) fail(ErrorCode::kSourceFailed, "source command '" + command_ + "' was not started: the backup stopped");
    proc_ = std::make_unique<Subprocess>(command_, Subprocess::Pipe::kStdout, log::format() == log::Format::kText, env_,
                                         cancel_);
  }
  std::string command_;
  ChildEnv env_;
  const CancelToken* cancel_;
  std::mutex mu_;  // start() against abort()
  bool aborted_ = false;
  std::unique_ptr<Subprocess> proc_;
};

// A regular file (or a new path) is written as PATH.strata-partial and renamed over PATH once verified. Anything
// else that exists is written into, never replaced: a character device or FIFO (/dev/null, a pipe another process
// reads) like `tar -O`, a block device only with --force. A directory is refused.
class FileSink final : public ByteSink {
 public:
  FileSink(std::string path, bool overwrite) : path_(std::move(path)), partial_(path_ + ".strata-partial") {
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        fail(ErrorCode::kUsage, "restore target " + path_ + " is a directory; give a file path inside it (--to " +
                                    path_ + "/NAME) or --to - to write to standard output");
      }
      if (S_ISBLK(st.st_mode) && !overwrite) {
        fail(ErrorCode::kAlreadyExists, "restore target " + path_ + " is a block device; pass --force to write the "
                                        "backup over its contents");
      }
      if (!S_ISREG(st.st_mode)) {
        open_in_place(S_ISBLK(st.st_mode));
        return;
      }
      if (!overwrite) fail(ErrorCode::kAlreadyExists, "restore target " + path_ + " already exists; remove it or pass --force");
    }
    fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd_ < 0) fail_errno("cannot create " + partial_, errno);
  }
  ~FileSink() override { abort(); }
  void write(ByteView data) override { write_fd(fd_, data, path_); }
  void finish() override {
    if (in_place_) {
      // A block device keeps what it was given only once synced; character devices and FIFOs cannot be synced.
      if (sync_in_place_ && ::fsync(fd_) != 0) fail_errno("cannot sync " + path_, errno);
      ::close(fd_);
      fd_ = -1;
      done_ = true;
      return;
    }
    if (::fsync(fd_) != 0) fail_errno("cannot sync " + partial_, errno);
    ::close(fd_);
    fd_ = -1;
    if (::rename(partial_.c_str(), path_.c_str()) != 0) fail_errno("cannot rename " + partial_, errno);
    done_ = true;
  }
  void abort() noexcept override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    // What was written into a device or FIFO cannot be taken back (like --to -); the device itself stays.
    if (!done_ && !in_place_) ::unlink(partial_.c_str());
    done_ = true;
  }
  std::string describe() const override { return path_; }

 private:
  void open_in_place(bool block) {
    // No O_CREAT and no O_TRUNC: the node exists and is not ours to recreate.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) fail_errno("cannot open restore target " + path_, errno);
    in_place_ = true;
    sync_in_place_ = block;
  }
  std::string path_, partial_;
  int fd_ = -1;
  bool done_ = false;
  bool in_place_ = false, sync_in_place_ = false;
};

class StdoutSink final : public ByteSink {
 public:
  void write(ByteView data) override { write_fd(STDOUT_FILENO, data, "standard output"); }
  void finish() override {}
  void abort() noexcept override {}
  std::string describe() const override { return "standard output"; }
};

class CommandSink final : public ByteSink {
 public:
  CommandSink(const std::string& command, const ChildEnv& env)
      : proc_(command, Subprocess::Pipe::kStdin, log::format() == log::Format::kText, env) {}
  void write(ByteView data) override {
    const uint8_t* p = data.data();
    size_t left = data.size();
    while (left) {
      ssize_t n = ::write(proc_.fd(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        proc_.close_pipe();
        int st = proc_.wait();
        fail(ErrorCode::kGeneric, "restore command '" + proc_.command() + "' stopped reading (" + std::strerror(err) +
                                      ") and " + proc_.describe_failure(st));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void finish() override {
    proc_.close_pipe();
    int st = proc_.wait();
    if (st != 0) fail(ErrorCode::kGeneric, "restore command '" + proc_.command() + "' " + proc_.describe_failure(st));
  }
  // Stops the command; the thread that writes sees EPIPE and the owner reaps it.
  void abort() noexcept override { proc_.terminate(); }
  std::string describe() const override { return "command '" + proc_.command() + "'"; }

 private:
  Subprocess proc_;
};

}  // namespace

std::unique_ptr<ByteSource> open_file_source(const std::string& path) {
  if (path == "-") return std::make_unique<FdSource>(STDIN_FILENO, "standard input", false);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    fail(ErrorCode::kSourceFailed, "cannot open source file " + path + ": " + std::strerror(err));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::make_unique<FdSource>(fd, path, true);
}

std::unique_ptr<ByteSource> open_fd_source(int fd, std::string name) {
  return std::make_unique<FdSource>(fd, std::move(name), false);
}

std::unique_ptr<ByteSource> open_command_source(const std::string& command) { return open_command_source(command, {}); }

std::unique_ptr<ByteSource> open_command_source(const std::string& command, const ChildEnv& env) {
  return std::make_unique<CommandSource>(command, env);
}

std::unique_ptr<ByteSink> open_file_sink(const std::string& path, bool overwrite) {
  if (path == "-") return std::make_unique<StdoutSink>();
  // A target in a directory that does not exist is a wrong command line (exit 2), not a missing backup (9).
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  struct stat dst;
  if (!dir.empty() && ::stat(dir.c_str(), &dst) != 0 && errno == ENOENT) {
    fail(ErrorCode::kUsage, "cannot restore to " + path + ": directory " + dir + " does not exist; create it or choose another --to");
  }
  return std::make_unique<FileSink>(path, overwrite);
}

std::unique_ptr<ByteSink> open_command_sink(const std::string& command) { return open_command_sink(command, {}); }

std::unique_ptr<ByteSink> open_command_sink(const std::string& command, const ChildEnv& env) {
  return std::make_unique<CommandSink>(command, env);
}

}  // namespace strata
