#pragma once
// A real PostgreSQL 15 for end-to-end tests, in its own temp dir on a free 127.0.0.1 port. postgres refuses to run
// as root, so when the tests run as root the server — and every strata command that must share files with it —
// runs as the unprivileged user `strata-test` (created by scripts/install-deps.sh). Reusable by other suites.
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "support/net_util.hpp"

namespace strata::test::pg {

using Env = std::map<std::string, std::string>;

struct ProcResult {
  int code = -1;
  std::string out, err;
};

std::string bin(const std::string& tool);  // /usr/lib/postgresql/15/bin/<tool>
// Empty when a server can be started here; otherwise the reason (for GTEST_SKIP).
std::string unavailable_reason();
bool running_as_root();

// Runs argv directly (no shell) with our environment plus `env`; captures stdout and stderr.
ProcResult run(const std::vector<std::string>& argv, const Env& env = {});
// The same as the server's OS user (strata-test when we are root, else ourselves).
ProcResult run_as_owner(const std::vector<std::string>& argv, const Env& env = {});
// Starts argv in the background (own process group, killed with the test process); returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path);
// SIGTERM to the process group, then waits for it.
void terminate(pid_t pid);

// A directory owned by the server's OS user, removed (with every cluster in it stopped) on destruction.
class PgRoot {
 public:
  PgRoot();
  ~PgRoot();
  PgRoot(const PgRoot&) = delete;
  PgRoot& operator=(const PgRoot&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // Writes a file owned by the server's OS user, mode 0600.
  void write(const std::string& name, const std::string& content) const;
  // Remembers a data directory so the destructor stops its server.
  void track(const std::string& data_dir) { tracked_.push_back(data_dir); }

 private:
  std::string path_;
  std::vector<std::string> tracked_;
};

class PostgresServer {
 public:
  // initdb into root/name (no server yet). Throws std::runtime_error with initdb's output on failure.
  PostgresServer(PgRoot& root, const std::string& name);
  ~PostgresServer();
  // Appends settings to postgresql.conf.
  void configure(const std::vector<std::string>& lines);
  // Starts postgres itself, as our child (not through pg_ctl, whose server would be a daemon that outlives a
  // crashed test), and waits as pg_ctl -w does; `env` reaches archive_command / restore_command.
  void start(const Env& env = {});
  // Fast shutdown (SIGINT to postgres, as pg_ctl -m fast).
  void stop();
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  // psql as superuser "postgres" over 127.0.0.1; each statement is a separate -c in one session. Returns the
  // trimmed, unaligned, tuples-only output. Throws std::runtime_error on failure.
  std::string psql(const std::vector<std::string>& statements, const std::string& db = "postgres") const;
  std::string psql(const std::string& sql, const std::string& db = "postgres") const {
    return psql(std::vector<std::string>{sql}, db);
  }

 private:
  PgRoot& root_;
  std::string data_dir_;
  int port_;
  pid_t pid_ = -1;
};

// psql against any port on 127.0.0.1 (restored clusters).
std::string psql_at(int port, const std::vector<std::string>& statements, const std::string& db = "postgres");
// pg_ctl stop -m fast for a data directory started elsewhere (strata restore --start). Such clusters are not our
// children and are stopped by PgRoot's destructor; only a test process killed outright can leave them running.
void stop_cluster(const std::string& data_dir);

}  // namespace strata::test::pg
