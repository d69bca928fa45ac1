#pragma once
// How the mysql engine reaches a server: credentials go into a 0600 option file in a private directory, passed as
// --defaults-file so no password ever appears on a command line, and no system my.cnf (with its datadir and socket)
// leaks into what we run.
#include <memory>
#include <string>
#include <vector>

#include "engines/engine.hpp"
#include "engines/tool_util.hpp"

namespace strata {

struct MysqlEndpoint {
  std::string socket;
  std::string host;
  int port = 0;
};

// Whose credentials: the source's (backup, archiving, dumps) or the restore user's, which replays binlogs into a
// restored copy and needs far more privileges (docs/MYSQL_REDIS.md, "Restore user").
enum class MysqlRole { kBackup, kRestore };

class MysqlConn {
 public:
  // Connection keys of [source.NAME]: socket | host + port, user, password_file | password_env, defaults_file;
  // for kRestore restore_user, restore_password_file | restore_password_env (default: the source's credentials).
  explicit MysqlConn(const SourceConfig& source, MysqlRole role = MysqlRole::kBackup);
  // Same credentials, another server (a restored datadir on a private socket or a loopback port).
  MysqlConn(const SourceConfig& source, const MysqlEndpoint& endpoint, MysqlRole role = MysqlRole::kBackup);
  // The user these credentials log in as ("strata_restore"), for messages.
  const std::string& user() const { return user_; }

  // "--defaults-file='...'": must be the first option of every MariaDB tool.
  std::string defaults_arg() const;
  const std::string& client() const { return client_; }
  // Rows of a query, columns split on tabs. Throws StrataError(kSourceFailed) naming the source.
  std::vector<std::vector<std::string>> query(const std::string& sql) const;
  std::string query_value(const std::string& sql) const;
  std::string describe() const { return describe_; }

 private:
  void init(const SourceConfig& source, const MysqlEndpoint& endpoint, MysqlRole role);
  std::unique_ptr<PrivateDir> dir_;
  std::string user_;
  std::string file_;
  std::string client_;
  std::string describe_;
  std::string source_name_;
};

// "10.11.19-MariaDB-0+deb12u1-log" -> "10.11"
std::string major_minor(const std::string& version);

// What SELECT VERSION() says: "10.11.19-MariaDB-0+deb12u1-log", "11.4.2-MariaDB", "5.5.5-10.11.6-MariaDB" (the
// replication-protocol prefix), "8.0.36", "8.0.36-28" (Percona Server), "8.4.3-log".
struct ServerVersion {
  bool mariadb = false;
  bool parsed = false;  // a major.minor.patch was found
  int major = 0, minor = 0, patch = 0;
  std::string product() const { return mariadb ? "MariaDB" : "MySQL"; }
  std::string number() const;  // "10.11.19"
};
ServerVersion parse_server_version(const std::string& version);

// Only MariaDB is supported: MySQL 8 (GTIDs of the form uuid:N, Percona XtraBackup, other privilege names) is
// written for but untested, so it is refused with one line (kUsage) instead of half-working. `what` names the
// source or backup.
void require_supported_server(const std::string& what, const std::string& version);

}  // namespace strata
