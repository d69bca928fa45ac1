#pragma once
// The fingerprint of a MariaDB server at backup time (issue 17, docs/DRILLS.md): the exact row count of every table
// information_schema estimates at most `max_rows` rows (the estimate only for larger ones), in one consistent
// snapshot, taken just before mariadb-backup starts and just after it ends. A restore drill counts the restored
// copy and compares: a table whose count is the same at both ends must match exactly, one that changed must lie
// between them. Stored in the manifest's engine metadata ("fingerprint").
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engines/mysql/mysql_conn.hpp"

namespace strata::mysql {

// {"tables": {"db.table": rows}, "estimated": {"db.table": rows}, "gtid": "..."}
nlohmann::json take_fingerprint(const MysqlConn& conn, long long max_rows, size_t max_tables = 2000);

struct FingerprintCheck {
  std::vector<std::string> mismatches;
  size_t tables = 0, written = 0;
};

FingerprintCheck check_fingerprint(const MysqlConn& restored, const nlohmann::json& at_start, const nlohmann::json& at_end);

}  // namespace strata::mysql
