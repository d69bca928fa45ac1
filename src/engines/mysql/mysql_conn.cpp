#include "engines/mysql/mysql_conn.hpp"

#include <cctype>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "common/error.hpp"

namespace strata {

MysqlConn::MysqlConn(const SourceConfig& source, MysqlRole role) {
  MysqlEndpoint ep;
  ep.socket = source.get("socket");
  ep.host = source.get("host");
  std::string port = source.get("port");
  ep.port = port.empty() ? 0 : std::atoi(port.c_str());
  init(source, ep, role);
}

MysqlConn::MysqlConn(const SourceConfig& source, const MysqlEndpoint& endpoint, MysqlRole role) {
  init(source, endpoint, role);
}

void MysqlConn::init(const SourceConfig& source, const MysqlEndpoint& ep, MysqlRole role) {
  source_name_ = source.name;
  client_ = find_tool({source.get("client"), "mariadb", "mysql"});
  if (client_.empty()) {
    fail(ErrorCode::kNotFound, "no mariadb/mysql client in PATH for source " + source.name + ": install mariadb-client");
  }
  // A restore user of its own has its own password keys and never inherits the source's.
  const bool own_restore_user = role == MysqlRole::kRestore && !source.get("restore_user").empty();
  const std::string prefix = own_restore_user ? "restore_" : "";
  std::string user = source.get(prefix + "user", "root");
  user_ = user;
  std::string password = source_password(source, prefix);
  std::ostringstream cnf;
  cnf << "[client]\n";
  if (auto df = source.get("defaults_file"); !df.empty() && !own_restore_user) {
    // The user's own option file comes first; our endpoint settings below override only what we must.
    cnf.str("");
    cnf << "!include " << df << "\n[client]\n";
  } else {
    cnf << "user=" << user << "\n";
    if (!password.empty()) {
      // Quoted so '#', ';' and spaces survive; option files understand backslash escapes inside quotes.
      bool has_dq = password.find('"') != std::string::npos, has_sq = password.find('\'') != std::string::npos;
      if (has_dq && has_sq) {
        fail(ErrorCode::kUsage, "the password of source " + source.name + " contains both ' and \": MariaDB option files "
                                "cannot carry it; use defaults_file with your own option file");
      }
      std::string esc;
      for (char c : password) esc += c == '\\' ? std::string("\\\\") : std::string(1, c);
      char q = has_dq ? '\'' : '"';
      cnf << "password=" << q << esc << q << "\n";
    }
  }
  if (!ep.socket.empty()) {
    cnf << "socket=" << ep.socket << "\n";
    describe_ = "socket " + ep.socket;
  } else if (!ep.host.empty() || ep.port != 0) {
    std::string host = ep.host.empty() ? "127.0.0.1" : ep.host;
    cnf << "host=" << host << "\nprotocol=tcp\n";
    if (ep.port != 0) cnf << "port=" << ep.port << "\n";
    describe_ = host + ":" + std::to_string(ep.port == 0 ? 3306 : ep.port);
  } else {
    describe_ = "the default socket";
  }
  std::string body = cnf.str();
  // mariadb-backup and xtrabackup read [client] too, but only through their own groups for some options.
  std::string groups = body;
  auto pos = body.find("[client]\n");
  std::string client_part = body.substr(pos + 9);
  groups += "[mariadb-backup]\n" + client_part + "[xtrabackup]\n" + client_part;
  dir_ = std::make_unique<PrivateDir>("strata-mysql");
  file_ = dir_->write_file("client.cnf", groups);
}

std::string MysqlConn::defaults_arg() const { return "--defaults-file=" + shell_quote(file_); }

std::vector<std::vector<std::string>> MysqlConn::query(const std::string& sql) const {
  std::string out = run_checked(client_ + " " + defaults_arg() + " -N -B -e " + shell_quote(sql),
                                "query on source " + source_name_ + " (" + describe_ + ")",
                                "check that the server runs and the source's user/password_file in the config");
  std::vector<std::vector<std::string>> rows;
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<std::string> cols;
    size_t start = 0;
    for (;;) {
      size_t tab = line.find('\t', start);
      cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(std::move(cols));
  }
  return rows;
}

std::string MysqlConn::query_value(const std::string& sql) const {
  auto rows = query(sql);
  if (rows.empty() || rows[0].empty()) return "";
  return rows[0][0];
}

std::string major_minor(const std::string& version) {
  static const std::regex re(R"((\d+)\.(\d+))");
  std::smatch m;
  if (std::regex_search(version, m, re)) return m[1].str() + "." + m[2].str();
  return "";
}

std::string ServerVersion::number() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

ServerVersion parse_server_version(const std::string& version) {
  ServerVersion v;
  std::string lower = version;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  v.mariadb = lower.find("mariadb") != std::string::npos;
  std::string text = version;
  // MariaDB 10+ announces itself as "5.5.5-10.x.y-MariaDB" to old replication clients.
  if (v.mariadb && text.rfind("5.5.5-", 0) == 0) text = text.substr(6);
  static const std::regex re(R"(^\s*(\d+)\.(\d+)\.(\d+))");
  std::smatch m;
  if (std::regex_search(text, m, re)) {
    v.parsed = true;
    v.major = std::stoi(m[1]);
    v.minor = std::stoi(m[2]);
    v.patch = std::stoi(m[3]);
  }
  return v;
}

void require_supported_server(const std::string& what, const std::string& version) {
  ServerVersion v = parse_server_version(version);
  if (!v.parsed) {
    fail(ErrorCode::kSourceFailed, what + " reported the server version '" + version + "', which strata cannot read; "
                                   "it supports MariaDB 10.x and 11.x");
  }
  if (!v.mariadb) {
    fail(ErrorCode::kUsage, what + " runs MySQL " + v.number() + ", which strata does not support yet: only MariaDB "
                            "(10.x, 11.x with mariadb-backup) is tested; MySQL 8 with Percona XtraBackup is not "
                            "(docs/MYSQL_REDIS.md, \"MySQL 8\"). Back it up with engine = \"command\" and your own tool meanwhile");
  }
}

}  // namespace strata
