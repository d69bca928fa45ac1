#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

#include "common/error.hpp"

extern char** environ;

namespace strata {

struct TailBuffer {
  static constexpr size_t kMax = 4096;
  mutable std::mutex mu;
  std::string data;
  std::atomic<bool> child_exited{false};
  void append(const char* p, size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    data.append(p, n);
    if (data.size() > kMax) data.erase(0, data.size() - kMax);
  }
};

namespace {
void drain_stderr(int fd, bool forward, std::shared_ptr<TailBuffer> tail) {
  // Reads until EOF, or — once the child itself has exited — until the pipe goes quiet: a grandchild that inherited
  // stderr (a daemon the command started) may keep it open forever, and must not hang us.
  using Clock = std::chrono::steady_clock;
  Clock::time_point exited_at{};
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 100);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      if (tail->child_exited) break;
      continue;
    }
    if (tail->child_exited) {
      if (exited_at == Clock::time_point{}) exited_at = Clock::now();
      if (Clock::now() - exited_at > std::chrono::seconds(1)) break;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    tail->append(buf, static_cast<size_t>(n));
    if (forward) {
      ssize_t unused = ::write(STDERR_FILENO, buf, static_cast<size_t>(n));
      (void)unused;
    }
  }
  ::close(fd);
}
}  // namespace

Subprocess::Subprocess(const std::string& command, Pipe pipe, bool forward_stderr)
    : command_(command), forward_stderr_(forward_stderr), tail_(std::make_shared<TailBuffer>()) {
  int io[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe != Pipe::kNone && ::pipe2(io, O_CLOEXEC) != 0) fail_errno("cannot create pipe", errno);
  if (::pipe2(err, O_CLOEXEC) != 0) fail_errno("cannot create pipe", errno);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (pipe == Pipe::kStdout) posix_spawn_file_actions_adddup2(&fa, io[1], STDOUT_FILENO);
  if (pipe == Pipe::kStdin) posix_spawn_file_actions_adddup2(&fa, io[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  // The child must not inherit our SIGPIPE disposition.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  const char* argv[] = {"/bin/sh", "-c", command_.c_str(), nullptr};
  int rc = posix_spawn(&pid_, "/bin/sh", &fa, &attr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(err[1]);
  if (pipe == Pipe::kStdout) {
    ::close(io[1]);
    fd_ = io[0];
  } else if (pipe == Pipe::kStdin) {
    ::close(io[0]);
    fd_ = io[1];
  }
  if (rc != 0) {
    if (fd_ >= 0) ::close(fd_);
    ::close(err[0]);
    fail(ErrorCode::kSourceFailed, "cannot start command '" + command_ + "': " + std::strerror(rc));
  }
  err_fd_ = err[0];
  err_thread_ = std::thread(drain_stderr, err_fd_, forward_stderr_, tail_);
}

Subprocess::~Subprocess() {
  if (!waited_ && pid_ > 0) kill_and_wait();
  close_pipe();
  if (err_thread_.joinable()) err_thread_.join();
}

void Subprocess::close_pipe() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

int Subprocess::wait() {
  if (waited_) return status_;
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0) {
    if (errno != EINTR) {
      st = 0;
      break;
    }
  }
  waited_ = true;
  tail_->child_exited = true;
  if (err_thread_.joinable()) err_thread_.join();
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
  return status_;
}

void Subprocess::kill_and_wait() {
  if (!waited_ && pid_ > 0) {
    ::kill(pid_, SIGTERM);
    close_pipe();
    wait();
  }
}

std::string Subprocess::stderr_tail() const {
  std::lock_guard<std::mutex> lock(tail_->mu);
  std::string t = tail_->data;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  // One line for the error message: the last line of stderr is almost always the reason.
  auto nl = t.rfind('\n');
  if (nl != std::string::npos) t = t.substr(nl + 1);
  if (t.size() > 300) t = "..." + t.substr(t.size() - 300);
  return t;
}

std::string Subprocess::describe_failure(int status) const {
  std::string msg = status > 128 ? "was killed by signal " + std::to_string(status - 128)
                                 : "exited with status " + std::to_string(status);
  std::string tail = stderr_tail();
  if (!tail.empty()) msg += ": " + tail;
  return msg;
}

int run_capture(const std::vector<std::string>& argv, std::string* out, std::string* err) {
  int o[2], e[2];
  if (::pipe2(o, O_CLOEXEC) != 0 || ::pipe2(e, O_CLOEXEC) != 0) fail_errno("cannot create pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, e[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(o[1]);
  ::close(e[1]);
  if (rc != 0) {
    ::close(o[0]);
    ::close(e[0]);
    return 127;
  }
  std::string errbuf;
  std::thread t([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(e[0], buf, sizeof buf)) > 0) errbuf.append(buf, static_cast<size_t>(n));
  });
  char buf[65536];
  ssize_t n;
  while ((n = ::read(o[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (out) out->append(buf, static_cast<size_t>(n));
  }
  t.join();
  ::close(o[0]);
  ::close(e[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (err) *err = errbuf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace strata
