#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "common/cancel.hpp"
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

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Live children by pid (= their process group id). An entry is removed after the child has exited but before it
// is reaped, so a pid in here can never belong to an unrelated process that reused it.
struct ChildRegistry {
  std::mutex mu;
  std::map<pid_t, std::atomic<int64_t>*> live;  // -> the child's terminate deadline
};
ChildRegistry& registry() {
  static ChildRegistry* r = new ChildRegistry();  // never destroyed: the signal watcher may use it at exit
  return *r;
}

void signal_group(pid_t pid, int sig) {
  // The child leads its own group; if it is not a group leader any more (it called setsid), reach it directly.
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

int64_t pidfd_open_compat(pid_t pid) { return ::syscall(SYS_pidfd_open, pid, 0); }

// Waits until `pid` has exited without reaping it. Once `*deadline` is set (someone asked it to stop) and passes,
// the group is SIGKILLed: a child that ignores SIGTERM must not hang strata.
void wait_exited(pid_t pid, std::atomic<int64_t>* deadline) {
  int pfd = static_cast<int>(pidfd_open_compat(pid));
  bool killed = false;
  for (;;) {
    siginfo_t info{};
    int rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT | WNOHANG);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || info.si_pid == pid) break;  // exited (or not our child any more)
    int64_t d = deadline ? deadline->load() : 0;
    if (d && !killed && steady_ms() >= d) {
      signal_group(pid, SIGKILL);
      killed = true;
    }
    // Wake up on exit at once (pidfd), and every 100 ms to notice a terminate() from another thread.
    int timeout = 100;
    if (d && !killed) timeout = static_cast<int>(std::clamp<int64_t>(d - steady_ms(), 0, 100));
    if (pfd >= 0) {
      pollfd p{pfd, POLLIN, 0};
      ::poll(&p, 1, timeout);
    } else {
      ::poll(nullptr, 0, std::min(timeout, 10));
    }
  }
  if (pfd >= 0) ::close(pfd);
}

// Waits for exit, leaves the registry, then reaps. Returns the raw wait status.
int reap(pid_t pid, std::atomic<int64_t>* deadline) {
  wait_exited(pid, deadline);
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    registry().live.erase(pid);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      st = 0;
      break;
    }
  }
  return st;
}

// Appends everything `fd` yields until EOF (or a read error) to *into, or drops it when into is null.
void read_to_eof(int fd, std::string* into) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (into) into->append(buf, static_cast<size_t>(n));
  }
}

int shell_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1; }

struct EnvBlock {
  std::vector<std::string> strings;
  std::vector<char*> ptrs;
  explicit EnvBlock(const ChildEnv& env) : strings(env.entries()) {
    for (auto& s : strings) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
};

// Children get a process group of their own (so one signal reaches everything a shell command started) and the
// default disposition of the signals we handle or ignore.
struct SpawnAttr {
  posix_spawnattr_t attr;
  SpawnAttr() {
    posix_spawnattr_init(&attr);
    sigset_t def;
    sigemptyset(&def);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) sigaddset(&def, sig);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
};

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

namespace {
thread_local const CancelToken* t_child_cancel = nullptr;
}  // namespace

ChildCancelScope::ChildCancelScope(const CancelToken* token) : previous_(t_child_cancel) { t_child_cancel = token; }
ChildCancelScope::~ChildCancelScope() { t_child_cancel = previous_; }
const CancelToken* child_cancel_token() { return t_child_cancel; }

bool is_strata_secret_env(const std::string& name) {
  static const std::set<std::string> kSecrets = {
      "STRATA_PASSPHRASE",      "STRATA_NEW_PASSPHRASE", "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",  "AWS_SESSION_TOKEN",     "AWS_SECURITY_TOKEN",
      "AWS_CONTAINER_AUTHORIZATION_TOKEN"};
  return kSecrets.count(name) > 0;
}

std::vector<std::string> child_environment(const std::vector<std::string>& keep) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (is_strata_secret_env(name) && std::find(keep.begin(), keep.end(), name) == keep.end()) continue;
    out.push_back(std::move(kv));
  }
  return out;
}

ChildEnv& ChildEnv::keep(const std::string& name) {
  keep_.push_back(name);
  return *this;
}

ChildEnv& ChildEnv::set(const std::string& name, std::string value) {
  changes_.emplace_back(name, std::move(value));
  return *this;
}

ChildEnv& ChildEnv::unset(const std::string& name) {
  changes_.emplace_back(name, std::nullopt);
  return *this;
}

std::vector<std::string> ChildEnv::entries() const {
  std::vector<std::string> out = child_environment(keep_);
  // The last change of a name wins; a name set here is dropped from what we inherit and appended.
  std::map<std::string, const std::optional<std::string>*> last;
  for (const auto& [name, value] : changes_) last[name] = &value;
  if (last.empty()) return out;
  std::erase_if(out, [&](const std::string& kv) { return last.count(kv.substr(0, kv.find('='))) > 0; });
  for (const auto& [name, value] : changes_) {
    auto it = last.find(name);
    if (it == last.end() || it->second != &value) continue;
    if (value) out.push_back(name + "=" + *value);
  }
  return out;
}

void terminate_all_children() noexcept {
  std::lock_guard<std::mutex> lock(registry().mu);
  for (auto& [pid, deadline] : registry().live) {
    if (deadline) {
      int64_t none = 0;
      deadline->compare_exchange_strong(none, steady_ms() + Subprocess::kTerminateGraceMs);
    }
    signal_group(pid, SIGTERM);
  }
}

Subprocess::Subprocess(const std::string& command, Pipe pipe, bool forward_stderr, const ChildEnv& child_env,
                       const CancelToken* cancel)
    : command_(command), forward_stderr_(forward_stderr), tail_(std::make_shared<TailBuffer>()) {
  if (cancel) cancel->throw_if_cancelled();  // a cancelled job starts nothing more
  int io[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe != Pipe::kNone && ::pipe2(io, O_CLOEXEC) != 0) fail_errno("cannot create pipe", errno);
  if (::pipe2(err, O_CLOEXEC) != 0) fail_errno("cannot create pipe", errno);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (pipe == Pipe::kStdout) posix_spawn_file_actions_adddup2(&fa, io[1], STDOUT_FILENO);
  if (pipe == Pipe::kStdin) posix_spawn_file_actions_adddup2(&fa, io[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  SpawnAttr attr;
  EnvBlock env(child_env);

  const char* argv[] = {"/bin/sh", "-c", command_.c_str(), nullptr};
  int rc;
  {
    // Registered before the signal watcher could miss it: hold the registry while spawning.
    std::lock_guard<std::mutex> lock(registry().mu);
    rc = posix_spawn(&pid_, "/bin/sh", &fa, &attr.attr, const_cast<char**>(argv), env.ptrs.data());
    if (rc == 0) registry().live[pid_] = &terminate_deadline_ms_;
  }
  posix_spawn_file_actions_destroy(&fa);
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
    fd_ = -1;
    ::close(err[0]);
    fail(ErrorCode::kSourceFailed, "cannot start command '" + command_ + "': " + std::strerror(rc));
  }
  err_thread_ = std::thread(drain_stderr, err[0], forward_stderr_, tail_);
  // Runs at once if the token was cancelled since the check above: the child then starts and is stopped.
  if (cancel) cancel_hook_ = std::make_unique<CancelHook>(cancel, [this] { terminate(); });
}

Subprocess::~Subprocess() {
  cancel_hook_.reset();  // the hook uses this object: it must not run once destruction began
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
  std::lock_guard<std::mutex> lock(wait_mu_);
  if (waited_) return status_;
  int st = reap(pid_, &terminate_deadline_ms_);
  tail_->child_exited = true;
  if (err_thread_.joinable()) err_thread_.join();
  status_ = shell_status(st);
  waited_ = true;
  return status_;
}

void Subprocess::terminate() noexcept {
  if (waited_ || pid_ <= 0) return;
  int64_t none = 0;
  terminate_deadline_ms_.compare_exchange_strong(none, steady_ms() + kTerminateGraceMs);
  // Under the registry lock: the child cannot be reaped (and its pid reused) between the check and the kill.
  std::lock_guard<std::mutex> lock(registry().mu);
  if (registry().live.count(pid_)) signal_group(pid_, SIGTERM);
}

void Subprocess::kill_and_wait() {
  terminate();
  wait();
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

int run_capture(const std::vector<std::string>& argv, std::string* out, std::string* err, const ChildEnv& child_env) {
  const CancelToken* cancel = child_cancel_token();
  if (cancel) cancel->throw_if_cancelled();
  int o[2], e[2];
  if (::pipe2(o, O_CLOEXEC) != 0 || ::pipe2(e, O_CLOEXEC) != 0) fail_errno("cannot create pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, e[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  SpawnAttr attr;
  EnvBlock env(child_env);
  std::atomic<int64_t> deadline{0};
  pid_t pid;
  int rc;
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    rc = posix_spawnp(&pid, args[0], &fa, &attr.attr, args.data(), env.ptrs.data());
    if (rc == 0) registry().live[pid] = &deadline;
  }
  posix_spawn_file_actions_destroy(&fa);
  ::close(o[1]);
  ::close(e[1]);
  if (rc != 0) {
    ::close(o[0]);
    ::close(e[0]);
    return 127;
  }
  // The job's cancel stops the child's group as Subprocess::terminate does; the reads below then see EOF.
  auto stop = [pid, &deadline] {
    int64_t none = 0;
    deadline.compare_exchange_strong(none, steady_ms() + Subprocess::kTerminateGraceMs);
    std::lock_guard<std::mutex> lock(registry().mu);
    if (registry().live.count(pid)) signal_group(pid, SIGTERM);
  };
  std::unique_ptr<CancelHook> hook;
  if (cancel) hook = std::make_unique<CancelHook>(cancel, stop);
  std::string errbuf;
  std::thread t([&] { read_to_eof(e[0], &errbuf); });
  read_to_eof(o[0], out);
  t.join();
  ::close(o[0]);
  ::close(e[0]);
  int st = reap(pid, &deadline);
  hook.reset();
  if (err) *err = errbuf;
  if (cancel) cancel->throw_if_cancelled();  // whatever the child's status, it is the cancel's doing
  return shell_status(st);
}

}  // namespace strata
