#include "support/postgres_fixture.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"

extern char** environ;

namespace strata::test::pg {
namespace {

constexpr const char* kOwner = "strata-test";
constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

std::vector<std::string> merged_env(const Env& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // A developer's own libpq settings must not redirect the test's clients.
  for (const char* k : {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE", "PGDATA"}) all.erase(k);
  for (const auto& [k, v] : extra) all[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

void chown_to_owner(const std::string& path) {
  if (!running_as_root()) return;
  struct passwd* pw = ::getpwnam(kOwner);
  if (!pw) throw std::runtime_error(std::string("user ") + kOwner + " is missing: run scripts/install-deps.sh");
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown " + path + ": " + std::strerror(errno));
}

// What pg_ctl -w waits for: postmaster.pid names this process and its status line says it takes connections.
bool postmaster_ready(const std::string& data_dir, pid_t pid) {
  std::ifstream f(data_dir + "/postmaster.pid");
  std::vector<std::string> lines;
  for (std::string l; lines.size() < 8 && std::getline(f, l);) lines.push_back(l);
  if (lines.size() < 8 || lines[0] != std::to_string(pid)) return false;
  std::string status = trim(lines[7]);
  return status == "ready" || status == "standby";
}

}  // namespace

std::string bin(const std::string& tool) { return std::string(kBinDir) + "/" + tool; }

bool running_as_root() { return ::geteuid() == 0; }

std::string unavailable_reason() {
  if (::access(bin("postgres").c_str(), X_OK) != 0) return "PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)";
  if (running_as_root() && !::getpwnam(kOwner)) return std::string("user ") + kOwner + " is missing: run scripts/install-deps.sh";
  return "";
}

ProcResult run(const std::vector<std::string>& argv, const Env& env) {
  int o[2], e[2];
  if (::pipe2(o, O_CLOEXEC) != 0 || ::pipe2(e, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, o[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, e[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto envs = merged_env(env);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(o[1]);
  ::close(e[1]);
  ProcResult r;
  if (rc != 0) {
    ::close(o[0]);
    ::close(e[0]);
    r.code = 127;
    r.err = "cannot start " + argv[0];
    return r;
  }
  std::thread t([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(e[0], buf, sizeof buf)) > 0) r.err.append(buf, static_cast<size_t>(n));
  });
  char buf[65536];
  ssize_t n;
  while ((n = ::read(o[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  t.join();
  ::close(o[0]);
  ::close(e[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

ProcResult run_as_owner(const std::vector<std::string>& argv, const Env& env) {
  if (!running_as_root()) return run(argv, env);
  // runuser keeps our environment, so secrets travel in env, never argv.
  std::vector<std::string> full = {"runuser", "-u", kOwner, "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full, env);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  ChildOptions o;
  o.stdout_path = log_path;
  o.env = merged_env({});
  return spawn_child(argv, o);
}

void terminate(pid_t pid) { stop_child(pid, SIGTERM, std::chrono::seconds(60)); }

PgRoot::PgRoot() {
  char tmpl[] = "/tmp/strata-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  ::chmod(path_.c_str(), 0755);
  chown_to_owner(path_);
}

PgRoot::~PgRoot() {
  for (const auto& d : tracked_) {
    if (::access((d + "/postmaster.pid").c_str(), F_OK) == 0) {
      run_as_owner({bin("pg_ctl"), "-D", d, "-m", "immediate", "-w", "stop"});
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void PgRoot::write(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  {
    std::ofstream f(p, std::ios::trunc);
    f << content;
  }
  ::chmod(p.c_str(), 0600);
  chown_to_owner(p);
}

PostgresServer::PostgresServer(PgRoot& root, const std::string& name)
    : root_(root), data_dir_(root / name), port_(free_loopback_port()) {
  auto r = run_as_owner({bin("initdb"), "-D", data_dir_, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                         "--locale=C"});
  if (r.code != 0) throw std::runtime_error("initdb failed: " + r.err + r.out);
  root_.track(data_dir_);
  configure({"port = " + std::to_string(port_), "listen_addresses = '127.0.0.1'",
             "unix_socket_directories = '" + root_.path() + "'", "fsync = off", "synchronous_commit = off",
             "max_wal_size = 256MB", "log_min_messages = warning"});
}

PostgresServer::~PostgresServer() {
  try {
    stop();
  } catch (...) {
  }
}

void PostgresServer::configure(const std::vector<std::string>& lines) {
  std::ofstream f(data_dir_ + "/postgresql.conf", std::ios::app);
  for (const auto& l : lines) f << l << "\n";
}

void PostgresServer::start(const Env& env) {
  if (pid_ > 0) throw std::runtime_error("postgres in " + data_dir_ + " is already running");
  std::string log = data_dir_ + "/server.log";
  ChildOptions o;
  o.stdout_path = log;
  o.env = merged_env(env);
  o.run_as = kOwner;  // only when we are root: postgres refuses to run as root
  // Signals go to postgres alone: it stops its own workers, and they exit by themselves if it is killed.
  pid_t pid = spawn_child({bin("postgres"), "-D", data_dir_}, o);
  bool up = wait_until([&] { return !child_running(pid) || postmaster_ready(data_dir_, pid); },
                       deadline_in(std::chrono::seconds(60)));
  if (!up || !child_running(pid)) {
    stop_child(pid, SIGKILL, std::chrono::seconds(10), false);
    throw std::runtime_error("postgres in " + data_dir_ + (up ? " exited while starting" : " did not start within 60 s") +
                             " (log " + log + "): " + log_tail(log));
  }
  pid_ = pid;
}

void PostgresServer::stop() {
  if (pid_ <= 0) return;
  stop_child(pid_, SIGINT, std::chrono::seconds(120), false);
  pid_ = -1;
}

std::string psql_at(int port, const std::vector<std::string>& statements, const std::string& db) {
  std::vector<std::string> argv = {bin("psql"), "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "postgres", "-d", db,
                                   "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"};
  for (const auto& s : statements) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  auto r = run(argv);
  if (r.code != 0) throw std::runtime_error("psql on port " + std::to_string(port) + " failed: " + r.err);
  return trim(r.out);
}

std::string PostgresServer::psql(const std::vector<std::string>& statements, const std::string& db) const {
  return psql_at(port_, statements, db);
}

void stop_cluster(const std::string& data_dir) {
  run_as_owner({bin("pg_ctl"), "-D", data_dir, "-m", "fast", "-w", "stop"});
}

}  // namespace strata::test::pg
