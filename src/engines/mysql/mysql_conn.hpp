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

class MysqlConn {
 public:
  // Connection keys of [source.NAME]: socket | host + port, user, password_file | password_env, defaults_file.
  explicit MysqlConn(const SourceConfig& source);
  // Same credentials, another server (a restored datadir on a private socket or a loopback port).
  MysqlConn(const SourceConfig& source, const MysqlEndpoint& endpoint);

  // "--defaults-file='...'": must be the first option of every MariaDB tool.
  std::string defaults_arg() const;
  const std::string& client() const { return client_; }
  // Rows of a query, columns split on tabs. Throws StrataError(kSourceFailed) naming the source.
  std::vector<std::vector<std::string>> query(const std::string& sql) const;
  std::string query_value(const std::string& sql) const;
  std::string describe() const { return describe_; }

 private:
  void init(const SourceConfig& source, const MysqlEndpoint& endpoint);
  std::unique_ptr<PrivateDir> dir_;
  std::string file_;
  std::string client_;
  std::string describe_;
  std::string source_name_;
};

// "10.11.19-MariaDB-0+deb12u1-log" -> "10.11"
std::string major_minor(const std::string& version);

}  // namespace strata
