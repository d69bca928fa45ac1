#include "support/cli_harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"

extern char** environ;

namespace strata::test {

std::string strata_binary() { return STRATA_BINARY; }

TempDir::TempDir() {
  std::string tmpl = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") + "/strata-test.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::string cmd = "rm -rf '" + path_ + "'";
  int rc = std::system(cmd.c_str());
  (void)rc;
}

namespace {

std::vector<std::string> build_env(const Env& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    // Tests control every strata setting explicitly; nothing from the developer's shell leaks in.
    if (kv.rfind("STRATA_", 0) == 0 || kv.rfind("AWS_", 0) == 0) continue;
    out.push_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

void drain(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
}

}  // namespace

RunResult run_process(const std::vector<std::string>& argv, const Env& env, const std::string& input) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> envs = build_env(env);
  std::vector<char*> envp, args;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0] + ": " + std::strerror(rc));
  RunResult r;
  std::thread t_out(drain, out[0], &r.out), t_err(drain, err[0], &r.err);
  std::thread t_in([&] {
    size_t done = 0;
    ::signal(SIGPIPE, SIG_IGN);
    while (done < input.size()) {
      ssize_t n = ::write(in[1], input.data() + done, input.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(in[1]);
  });
  t_in.join();
  t_out.join();
  t_err.join();
  r.code = wait_pid(pid);
  return r;
}

RunResult run_strata(const std::vector<std::string>& args, const Env& env, const std::string& input) {
  std::vector<std::string> argv = {strata_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, env, input);
}

RunResult run_strata_tty(const std::vector<std::string>& args, const Env& env) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) throw std::runtime_error("no pseudo-terminal");
  int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  int out[2];
  if (slave < 0 || ::pipe2(out, O_CLOEXEC)) throw std::runtime_error("cannot open the pseudo-terminal");
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, devnull, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, slave, 2);
  std::vector<std::string> envs = build_env(env);
  std::vector<char*> envp, argv;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> all = {strata_binary()};
  all.insert(all.end(), args.begin(), args.end());
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(slave);
  ::close(out[1]);
  ::close(devnull);
  if (rc != 0) throw std::runtime_error(std::string("cannot spawn strata: ") + std::strerror(rc));
  RunResult r;
  std::thread t_out(drain, out[0], &r.out);
  // The master reads EIO once the child (the slave's last holder) is gone.
  drain(master, &r.err);
  t_out.join();
  r.code = wait_pid(pid);
  return r;
}

pid_t spawn_strata(const std::vector<std::string>& args, const Env& env, const std::string& log_path) {
  std::vector<std::string> argv = {strata_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildOptions o;
  o.stdout_path = log_path;
  o.stderr_path = log_path + ".err";
  o.env = build_env(env);
  return spawn_child(argv, o);
}

void kill_group(pid_t pid, int sig) { ::kill(-pid, sig); }

int wait_pid(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> out;
  std::function<void(const std::string&)> walk = [&](const std::string& rel) {
    std::string full = rel.empty() ? dir : dir + "/" + rel;
    DIR* d = ::opendir(full.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string r = rel.empty() ? name : rel + "/" + name;
      struct stat st;
      if (::stat((dir + "/" + r).c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) walk(r);
      else out.push_back(r);
    }
    ::closedir(d);
  };
  walk("");
  std::sort(out.begin(), out.end());
  return out;
}

std::string make_data(size_t size, uint64_t seed, bool compressible) {
  std::string s;
  s.reserve(size);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  if (compressible) {
    while (s.size() < size) {
      s += "row " + std::to_string(next() % 100000) + "\tstatus=paid\tamount=" + std::to_string(next() % 1000) + "\n";
    }
    s.resize(size);
  } else {
    while (s.size() < size) {
      uint64_t v = next();
      s.append(reinterpret_cast<const char*>(&v), std::min<size_t>(8, size - s.size()));
    }
  }
  return s;
}

}  // namespace strata::test
