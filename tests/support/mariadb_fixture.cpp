#include "support/mariadb_fixture.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <sstream>
#include <stdexcept>

#include "support/child_process.hpp"

namespace strata::test {

namespace {
const char* kPassword = "s3cret pw#1;";  // '#' and ' ' on purpose: option-file quoting must hold

std::string admin_opts(const MariaDbServer& s) { return "--no-defaults -uroot --socket=" + shq(s.socket); }
}  // namespace

std::string query_with(const std::string& client_opts, const std::string& sql) {
  auto r = run_sh("mariadb " + client_opts + " -N -B -e " + shq(sql));
  if (r.rc != 0) throw std::runtime_error("query failed: " + sql.substr(0, 200) + ": " + r.err);
  return r.out;
}

MariaDbServer::MariaDbServer(const std::string& d, const MariaDbOptions& options) : dir(d) {
  datadir = dir + "/data";
  socket = dir + "/mysqld.sock";
  pid_file_ = dir + "/mariadbd.pid";
  port = free_loopback_port();
  // A private --tmpdir: mariadb-install-db runs concurrently in parallel tests, and with the shared /tmp 3 of 12
  // concurrent runs failed with "Could not remove temporary table '/tmp/#sql-temptable-...'" (CI flake).
  std::string tmpdir = dir + "/tmp";
  auto inst = run_sh("mkdir -p " + shq(tmpdir) + " && mariadb-install-db --no-defaults --datadir=" + shq(datadir) +
                     " --tmpdir=" + shq(tmpdir) + " --user=root --auth-root-authentication-method=normal --skip-test-db > " +
                     shq(dir + "/install.log") + " 2>&1");
  if (inst.rc != 0) {
    // The temp dir is gone when the test ends: the log's tail goes into the failure itself.
    auto tail = run_sh("tail -n 8 " + shq(dir + "/install.log"));
    throw std::runtime_error("mariadb-install-db failed: " + tail.out);
  }
  // --user=root: tests run as root and the temp dir is private; the binary refuses root without it.
  // mariadbd listens only once its storage engines are up; the socket appears at the same moment.
  std::vector<std::string> args = {"/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + datadir, "--user=root",
                                   "--port=" + std::to_string(port), "--bind-address=127.0.0.1", "--socket=" + socket,
                                   "--pid-file=" + pid_file_, "--tmpdir=" + tmpdir, "--log-error=" + dir + "/error.log", "--log-bin=" + datadir + "/binlog",
                                   "--server-id=" + std::to_string(options.server_id), "--binlog-format=ROW",
                                   "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=64M", "--max-connections=50"};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  pid_ = spawn_server(args, {}, port, std::chrono::seconds(120), "mariadbd", dir + "/error.log");
  password_file = dir + "/strata.password";
  write_file(password_file, std::string(kPassword) + "\n");
  ::chmod(password_file.c_str(), 0600);
  std::string pw = kPassword;
  std::string esc;
  for (char c : pw) esc += c == '\'' ? std::string("''") : std::string(1, c);
  query("CREATE USER 'strata'@'localhost' IDENTIFIED BY '" + esc + "';"
        "CREATE USER 'strata'@'127.0.0.1' IDENTIFIED BY '" + esc + "';"
        "GRANT ALL ON *.* TO 'strata'@'localhost' WITH GRANT OPTION;"
        "GRANT ALL ON *.* TO 'strata'@'127.0.0.1' WITH GRANT OPTION;");
}

MariaDbServer::~MariaDbServer() { stop_child(pid_, SIGTERM, std::chrono::seconds(120)); }

std::string MariaDbServer::query(const std::string& sql) const { return query_with(admin_opts(*this), sql); }

void MariaDbServer::create_user(const std::string& user, const std::string& grants) const {
  std::string esc;
  for (char c : std::string(kPassword)) esc += c == '\'' ? std::string("''") : std::string(1, c);
  for (const char* host : {"localhost", "127.0.0.1"}) {
    query("CREATE USER '" + user + "'@'" + host + "' IDENTIFIED BY '" + esc + "'; GRANT " + grants + " TO '" + user +
          "'@'" + host + "'");
  }
}

std::string MariaDbServer::source_toml(const std::string& name, const std::string& extra, const std::string& user) const {
  std::ostringstream t;
  t << "[source." << name << "]\n"
    << "engine = \"mysql\"\n"
    << "socket = \"" << socket << "\"\n"
    << "user = \"" << user << "\"\n"
    << "password_file = \"" << password_file << "\"\n"
    << "datadir = \"" << datadir << "\"\n"
    << "run_as = \"root\"\n"
    << "start_timeout = 120\n"
    << extra << "\n";
  return t.str();
}

void create_app_schema(const MariaDbServer& s) {
  s.query(
      "CREATE DATABASE app;"
      "CREATE TABLE app.orders (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(255) NOT NULL,"
      " amount DECIMAL(12,2) NOT NULL, KEY (k)) ENGINE=InnoDB;"
      "CREATE TABLE app.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, batch BIGINT NOT NULL, note TEXT) ENGINE=InnoDB;"
      "USE app; INSERT INTO app.orders (k, v, amount) SELECT seq % 1000, MD5(seq), seq / 7 FROM seq_1_to_20000;");
}

std::string next_server_second(const MariaDbServer& s) {
  long t = std::stol(s.query("SELECT UNIX_TIMESTAMP()")) + 1;
  bool passed = wait_for([&] { return std::stol(s.query("SELECT UNIX_TIMESTAMP()")) >= t; }, std::chrono::seconds(10));
  if (!passed) throw std::runtime_error("the server's clock did not advance within 10 s");
  return "@" + std::to_string(t);
}

pid_t spawn_strata(const std::string& repo, const std::string& config, const std::vector<std::string>& args,
                   const std::string& log_path) {
  std::vector<std::string> argv = {engine_test_binary(), "--repo", repo, "--config", config};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildOptions o;
  o.stdout_path = log_path;
  return spawn_child(argv, o);
}

std::string tcp_client_opts(const MariaDbServer& origin, int port) {
  std::string path = origin.dir + "/client-" + std::to_string(port) + ".cnf";
  std::string pw = kPassword;
  std::string esc;
  for (char c : pw) esc += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  write_file(path, "[client]\nuser=strata\npassword=\"" + esc + "\"\nhost=127.0.0.1\nprotocol=tcp\nport=" + std::to_string(port) + "\n");
  ::chmod(path.c_str(), 0600);
  return "--defaults-file=" + shq(path);
}

TableState table_state(const std::string& opts, const std::string& db, const std::vector<std::string>& tables) {
  TableState s;
  for (const auto& t : tables) {
    std::string out = query_with(opts, "CHECKSUM TABLE " + db + "." + t + " EXTENDED");
    auto tab = out.find('\t');
    s.checksum[t] = tab == std::string::npos ? out : out.substr(tab + 1, out.find('\n') - tab - 1);
    std::string n = query_with(opts, "SELECT COUNT(*) FROM " + db + "." + t);
    s.rows[t] = n.substr(0, n.find('\n'));
  }
  return s;
}

std::string describe(const TableState& s) {
  std::string out;
  for (const auto& [t, c] : s.checksum) out += t + ": checksum " + c + ", rows " + s.rows.at(t) + "; ";
  return out;
}

bool check_tables_clean(const std::string& opts, const std::string& db, const std::vector<std::string>& tables,
                        std::string* report) {
  bool ok = true;
  for (const auto& t : tables) {
    std::string out = query_with(opts, "CHECK TABLE " + db + "." + t + " EXTENDED");
    *report += out;
    std::stringstream ss(out);
    std::string line;
    while (std::getline(ss, line)) {
      // "app.orders\tcheck\tstatus\tOK"; any other message type or text is a finding.
      if (line.find("\tstatus\tOK") == std::string::npos) ok = false;
    }
  }
  return ok;
}

Writer::Writer(const MariaDbServer& server) : opts_(admin_opts(server)) {}

Writer::~Writer() { stop(); }

void Writer::start() { thread_ = std::thread([this] { loop(); }); }

void Writer::loop() {
  uint64_t n = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      idle_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return stop_ || !paused_; });
      if (stop_) return;
      idle_ = false;
    }
    ++n;
    std::ostringstream sql;
    sql << "BEGIN;";
    for (int i = 0; i < 8; ++i) {
      sql << "INSERT INTO app.orders(k, v, amount) VALUES (" << (n * 131 + i) % 100000 << ", REPEAT('x', " << (n + i) % 200
          << "), " << n << "." << i << ");";
    }
    sql << "UPDATE app.orders SET amount = amount + 1, v = CONCAT('u', " << n << ") WHERE id = " << (n * 7919) % 20000 + 1 << ";";
    sql << "DELETE FROM app.orders WHERE id = " << (n * 104729) % 20000 + 1 << ";";
    sql << "INSERT INTO app.events(batch, note) VALUES (" << n << ", 'batch');";
    sql << "COMMIT;";
    auto r = run_sh("mariadb " + opts_ + " -e " + shq(sql.str()));
    std::lock_guard<std::mutex> lock(mu_);
    if (r.rc != 0) error_ = r.err;
    else batches_.fetch_add(1);
    cv_.notify_all();
  }
}

void Writer::pause() {
  std::unique_lock<std::mutex> lock(mu_);
  paused_ = true;
  cv_.wait(lock, [&] { return idle_ || !thread_.joinable(); });
}

void Writer::resume() {
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = false;
  cv_.notify_all();
}

void Writer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool Writer::wait_batches(uint64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = batches_.load() + n;
  return cv_.wait_for(lock, std::chrono::seconds(120), [&] { return batches_.load() >= target || !error_.empty(); }) &&
         error_.empty();
}

std::string Writer::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

}  // namespace strata::test
