#include "engines/mysql/mysql_server.hpp"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "common/proc_stat.hpp"
#include "common/process.hpp"
#include "engines/tool_util.hpp"

namespace strata {

namespace fs = std::filesystem;

namespace {
int read_pid(const std::string& path) {
  std::ifstream f(path);
  int pid = 0;
  if (f >> pid) return pid;
  return 0;
}

std::string last_error_line(const std::string& log) {
  std::ifstream f(log);
  std::string line, last, last_err;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("[ERROR]") != std::string::npos) last_err = line;
  }
  return last_err.empty() ? last : last_err;
}
}  // namespace

RunningServer start_server(const SourceConfig& source, const std::string& datadir, const std::string& socket,
                           int port, const std::string& run_as, const std::string& tmpdir) {
  std::string server = find_tool({source.get("server"), "mariadbd", "mysqld"});
  if (server.empty()) fail(ErrorCode::kNotFound, "no mariadbd or mysqld found to start: install mariadb-server");
  std::string admin = find_tool({"mariadb-admin", "mysqladmin"});
  std::string pid_file = datadir + "/strata-mariadbd.pid";
  std::string err_log = datadir + "/strata-mariadbd.err";
  std::error_code ec;
  fs::remove(pid_file, ec);
  std::string cmd = shell_quote(server) + " --no-defaults --datadir=" + shell_quote(datadir) + " --user=" +
                    shell_quote(run_as) + " --socket=" + shell_quote(socket) + " --pid-file=" + shell_quote(pid_file) +
                    " --log-error=" + shell_quote(err_log);
  if (port > 0) cmd += " --port=" + std::to_string(port) + " --bind-address=127.0.0.1";
  else cmd += " --skip-networking";
  if (!tmpdir.empty()) cmd += " --tmpdir=" + shell_quote(tmpdir);
  if (auto extra = source.get("server_options"); !extra.empty()) cmd += " " + extra;
  launch_detached(cmd, err_log);
  int timeout = std::atoi(source.get("start_timeout", "300").c_str());
  bool died = false;
  RunningServer rs;
  rs.socket = socket;
  bool up = poll_until(
      [&] {
        rs.pid = read_pid(pid_file);
        if (rs.pid > 0 && !process_running(rs.pid)) {
          died = true;
          return true;
        }
        // ping exits 0 as soon as the server answers, even with "access denied": no credentials needed.
        std::string out, err;
        return rs.pid > 0 && run_capture({admin, "--no-defaults", "--socket=" + socket, "--connect-timeout=2", "ping"},
                                         &out, &err) == 0;
      },
      std::chrono::seconds(timeout));
  if (died || !up) {
    if (rs.pid > 0 && !died) ::kill(rs.pid, SIGTERM);
    fail(ErrorCode::kSourceFailed, "the server on restored datadir " + datadir + (died ? " exited" : " did not answer within " + std::to_string(timeout) + "s") +
                                       ": " + last_error_line(err_log) + "; see " + err_log);
  }
  return rs;
}

void stop_server(const RunningServer& s) {
  if (s.pid <= 0) return;
  ::kill(s.pid, SIGTERM);
  if (!poll_until([&] { return !process_running(s.pid); }, std::chrono::minutes(5))) {
    fail(ErrorCode::kGeneric, "the temporary server (pid " + std::to_string(s.pid) + ") did not stop; stop it by hand");
  }
}

}  // namespace strata
