#pragma once
// A real MariaDB server (Debian mariadb-server) in a temp dir on a free 127.0.0.1 port, with binary logging, plus
// a concurrent writer. Never touches the system service: its own datadir, socket, pid file and no my.cnf.
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_fixture.hpp"

namespace strata::test {

struct MariaDbOptions {
  int server_id = 1;
  std::vector<std::string> extra_args;  // more mariadbd options, e.g. "--version=8.0.36" (what VERSION() reports)
};

class MariaDbServer {
 public:
  // Creates the datadir with mariadb-install-db and starts mariadbd; throws if it does not answer within 120 s.
  explicit MariaDbServer(const std::string& dir, const MariaDbOptions& options = {});
  ~MariaDbServer();

  // Administrative client (root over the socket). Throws with the client's error on failure.
  std::string query(const std::string& sql) const;
  // [source.NAME] block connecting as `user` (default 'strata', who may do anything) through password_file.
  std::string source_toml(const std::string& name, const std::string& extra = "", const std::string& user = "strata") const;
  // Creates 'user'@'localhost' and 'user'@'127.0.0.1' with the password in password_file and `grants` (e.g.
  // "RELOAD, PROCESS ON *.*").
  void create_user(const std::string& user, const std::string& grants) const;

  std::string dir, datadir, socket, password_file;
  int port = 0;

 private:
  std::string pid_file_;
  pid_t pid_ = -1;
};

// app.orders (20,000 rows) and app.events, as the Writer expects them.
void create_app_schema(const MariaDbServer& s);
// The server's clock decides which binlog events fall before a --target-time: waits (on that clock) until a whole
// second has passed, so everything committed so far is strictly before the returned "@EPOCH" and all later
// commits at or after it.
std::string next_server_second(const MariaDbServer& s);
// Starts the strata binary (not waiting) with a repository and config of its own; stop it with stop_child().
pid_t spawn_strata(const std::string& repo, const std::string& config, const std::vector<std::string>& args,
                   const std::string& log_path);

// Any server reachable with these client options (e.g. a restored one on a port).
std::string query_with(const std::string& client_opts, const std::string& sql);
// "--no-defaults -h127.0.0.1 -P<port> -ustrata -p..." is avoided: the test user's password goes through a file.
std::string tcp_client_opts(const MariaDbServer& origin, int port);

struct TableState {
  std::map<std::string, std::string> checksum;  // table -> CHECKSUM TABLE value
  std::map<std::string, std::string> rows;      // table -> COUNT(*)
  bool operator==(const TableState& o) const { return checksum == o.checksum && rows == o.rows; }
};
TableState table_state(const std::string& client_opts, const std::string& db, const std::vector<std::string>& tables);
std::string describe(const TableState& s);
// Every row of CHECK TABLE says OK.
bool check_tables_clean(const std::string& client_opts, const std::string& db, const std::vector<std::string>& tables,
                        std::string* report);

// Runs small transactions (inserts, updates, deletes) against app.orders / app.events until stopped.
class Writer {
 public:
  explicit Writer(const MariaDbServer& server);
  ~Writer();
  void start();
  // Returns once no batch is in flight: the data stays still until resume().
  void pause();
  void resume();
  void stop();
  // Blocks until at least `n` more batches committed (so a following backup has something new).
  bool wait_batches(uint64_t n);
  uint64_t batches() const { return batches_.load(); }
  std::string last_error() const;

 private:
  void loop();
  std::string opts_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false, idle_ = true, stop_ = false;
  std::atomic<uint64_t> batches_{0};
  std::string error_;
};

}  // namespace strata::test
