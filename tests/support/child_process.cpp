#include "support/child_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "engines/tool_util.hpp"
#include "support/net_util.hpp"

extern char** environ;

namespace strata::test {
namespace {

// Between fork and exec only async-signal-safe calls: the test process has other threads (gtest, proxies, writers)
// whose locks may be held at the moment of the fork.
[[noreturn]] void child_fail(int report_fd) {
  int err = errno;
  ssize_t rc = ::write(report_fd, &err, sizeof err);
  (void)rc;
  ::_exit(127);
}

void redirect(int target, const char* path, int report_fd) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0 || ::dup2(fd, target) < 0) child_fail(report_fd);
  if (fd != target) ::close(fd);
}

// Marks every descriptor above stderr close-on-exec (the report pipe must stay open until exec succeeds).
void cloexec_inherited(int report_fd) {
  if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
  rlimit rl{};
  long max = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? static_cast<long>(rl.rlim_cur) : 65536;
  for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace

pid_t spawn_child(const std::vector<std::string>& argv, const ChildOptions& options) {
  if (argv.empty()) throw std::runtime_error("spawn_child: no command");
  // Everything the child needs is prepared here, before the fork.
  std::string exe = find_tool({argv[0]});
  if (exe.empty()) throw std::runtime_error("cannot start " + argv[0] + ": it is not on PATH or not executable");
  std::vector<std::string> env_strings;
  uid_t uid = 0;
  gid_t gid = 0;
  bool switch_user = !options.run_as.empty() && ::geteuid() == 0;
  if (switch_user) {
    struct passwd* pw = ::getpwnam(options.run_as.c_str());
    if (!pw) throw std::runtime_error("cannot start " + argv[0] + ": user " + options.run_as + " does not exist");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (options.env) {
    env_strings = *options.env;
  } else {
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  }
  if (switch_user) {
    // What `runuser -u USER` (which the fixtures used before) sets; the rest of the environment is kept.
    struct passwd* pw = ::getpwnam(options.run_as.c_str());
    std::vector<std::pair<std::string, std::string>> set = {
        {"HOME", pw->pw_dir}, {"SHELL", pw->pw_shell}, {"USER", options.run_as}, {"LOGNAME", options.run_as}};
    for (const auto& [k, v] : set) {
      std::erase_if(env_strings, [&](const std::string& e) { return e.rfind(k + "=", 0) == 0; });
      env_strings.push_back(k + "=" + v);
    }
  }
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* out_path = options.stdout_path.empty() ? "/dev/null" : options.stdout_path.c_str();
  const char* err_path = options.stderr_path.empty() ? nullptr : options.stderr_path.c_str();
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw std::runtime_error("cannot start " + argv[0] + ": fork: " + std::strerror(err));
  }
  if (pid == 0) {
    ::close(report[0]);
    int rfd = report[1];
    if (options.own_process_group && ::setpgid(0, 0) != 0) child_fail(rfd);
    // Credentials first: changing them clears the parent-death signal.
    if (switch_user && (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) child_fail(rfd);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(rfd);
    if (::getppid() != parent) ::_exit(127);  // the test died before the line above took effect
    int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, STDIN_FILENO) < 0) child_fail(rfd);
    if (in != STDIN_FILENO) ::close(in);
    redirect(STDOUT_FILENO, out_path, rfd);
    if (err_path) redirect(STDERR_FILENO, err_path, rfd);
    else if (::dup2(STDOUT_FILENO, STDERR_FILENO) < 0) child_fail(rfd);
    if (cwd && ::chdir(cwd) != 0) child_fail(rfd);
    cloexec_inherited(rfd);
    ::execve(exe.c_str(), args.data(), envp.data());
    child_fail(rfd);
  }
  ::close(report[1]);
  int err = 0;
  ssize_t n;
  while ((n = ::read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(err));
  }
  return pid;
}

pid_t spawn_server(const std::vector<std::string>& argv, const ChildOptions& options, int port,
                   std::chrono::milliseconds timeout, const std::string& name, const std::string& log_path) {
  pid_t pid = spawn_child(argv, options);
  try {
    wait_for_port(port, deadline_in(timeout), name, log_path, [pid] { return child_running(pid); });
  } catch (...) {
    stop_child(pid, SIGKILL, std::chrono::seconds(10));
    throw;
  }
  return pid;
}

bool child_running(pid_t pid) {
  int status;
  pid_t r;
  while ((r = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  return r == 0;
}

int stop_child(pid_t pid, int sig, std::chrono::milliseconds grace, bool group) {
  if (pid <= 0) return -1;
  ::kill(group ? -pid : pid, sig);
  int status = 0;
  bool reaped = false;
  auto exited = [&] {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) reaped = true;
    return r != 0 && !(r < 0 && errno == EINTR);  // exited, or not (any longer) our child
  };
  if (!wait_until(exited, deadline_in(grace))) {
    ::kill(group ? -pid : pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  }
  if (!reaped) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace strata::test
