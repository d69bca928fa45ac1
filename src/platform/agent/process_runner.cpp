// ProcessJobRunner: the job as a child `strata backup` (until src/app's use cases can be called in process).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/process.hpp"
#include "platform/agent/job_runner.hpp"

namespace strata {
namespace {

constexpr size_t kKeepStdout = 64 * 1024;
constexpr size_t kKeepStderr = 4 * 1024;

JobOutcome failure(const std::string& error) {
  JobOutcome o;
  o.error = error;
  return o;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// The child's process group, signalled from the stop hook (any thread) and reaped by the runner: one mutex so a
// signal never goes to a reaped pid that the kernel may have given to someone else.
struct ChildGroup {
  std::mutex mu;
  pid_t pid = -1;
  bool reaped = false;
  std::atomic<int64_t> stop_at_ms{0};
  void signal(int sig) {
    std::lock_guard lock(mu);
    if (!reaped && pid > 0) ::kill(-pid, sig);
  }
};

}  // namespace

JobOutcome ProcessJobRunner::run(const JobRun& r, const CancelToken& stop) {
  JobOutcome out;
  out.repo = opt_.repo;
  std::vector<std::string> args{opt_.binary};
  args.insert(args.end(), opt_.global_args.begin(), opt_.global_args.end());
  for (const char* a : {"-q", "backup", "--source"}) args.emplace_back(a);
  args.push_back(r.job.source);
  args.emplace_back("--type");
  args.push_back(r.job.type);
  if (r.upload > 0) {
    args.emplace_back("--limit-upload");
    args.push_back(std::to_string(r.upload));
  }
  std::vector<std::string> env = child_environment(opt_.keep_env);
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return failure(std::string("cannot create a pipe: ") + std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return failure(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  ChildGroup group;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a stop reaches the child's whole tree, a terminal's ^C does not
    // Dies with the agent (SIGKILL included). The signal follows the *thread* that forked: this one waits for the
    // child below, so it outlives it. If the agent died between fork and here, stop at once.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execve(argv[0], argv.data(), envp.data());
    const char msg[] = "strata: error: cannot start the backup process\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  int fork_errno = errno;
  if (devnull >= 0) ::close(devnull);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return failure(std::string("cannot start the backup process: ") + std::strerror(fork_errno));
  }
  ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before a stop can signal it
  group.pid = pid;

  CancelHook hook(&stop, [&group] {
    group.stop_at_ms.store(steady_ms());
    group.signal(SIGTERM);  // strata backup ends its source commands and removes what it had not committed
  });

  std::string stdout_text, stderr_tail;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  int status = 0;
  bool exited = false, killed = false;
  char buf[8192];
  while (!exited) {
    ::poll(fds, 2, 100);
    for (auto& f : fds) {
      if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(f.fd, buf, sizeof buf);
      if (n > 0) {
        if (f.fd == out_pipe[0]) {
          if (stdout_text.size() < kKeepStdout) stdout_text.append(buf, static_cast<size_t>(n));
        } else {
          (void)!::write(2, buf, static_cast<size_t>(n));  // the child's log lines are the agent's
          stderr_tail.append(buf, static_cast<size_t>(n));
          if (stderr_tail.size() > kKeepStderr) stderr_tail.erase(0, stderr_tail.size() - kKeepStderr);
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(f.fd);
        f.fd = -1;
        --open_fds;
      }
    }
    int64_t asked = group.stop_at_ms.load();
    if (asked != 0 && !killed && steady_ms() - asked >= opt_.kill_grace.count()) {
      group.signal(SIGKILL);
      killed = true;
    }
    // Reap as soon as the child is gone, even if a grandchild still holds a pipe open.
    {
      std::lock_guard lock(group.mu);
      if (::waitpid(pid, &status, open_fds == 0 ? 0 : WNOHANG) == pid) {
        exited = true;
        group.reaped = true;
      }
    }
  }
  for (auto& f : fds) {  // what the child wrote just before it exited
    if (f.fd < 0) continue;
    int fl = ::fcntl(f.fd, F_GETFL);
    ::fcntl(f.fd, F_SETFL, fl | O_NONBLOCK);
    ssize_t n;
    while ((n = ::read(f.fd, buf, sizeof buf)) > 0) {
      if (f.fd == out_pipe[0]) stdout_text.append(buf, static_cast<size_t>(n));
      else stderr_tail.append(buf, static_cast<size_t>(n));
    }
    ::close(f.fd);
  }

  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 0) {  // committed, even if a stop came too late: said as it is (a fenced report makes it an orphan)
    out.manifest = last_line(stdout_text);
    out.success = !out.manifest.empty();
    if (!out.success) out.error = "the backup process printed no backup id";
    return out;
  }
  if (stop.cancelled()) {
    out.error = "stopped: " + stop.reason();
    return out;
  }
  std::string line = last_line(stderr_tail);
  const std::string prefix = "strata: error: ";
  if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
  out.error = "backup exited with status " + std::to_string(code) + (line.empty() ? "" : ": " + line);
  return out;
}

}  // namespace strata
