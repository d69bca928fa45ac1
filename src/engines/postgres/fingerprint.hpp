#pragma once
// The fingerprint of a PostgreSQL cluster at backup time (issue 17, docs/DRILLS.md): per table, the exact row count,
// a write counter and the relation's file, taken once just before pg_basebackup starts and once just after it ends.
// A restore drill counts the rows of the restored copy and compares: a table nobody wrote during the backup must have
// exactly its count; a table written meanwhile (its count, write counter or file changed) must lie between the two
// counts. Stored in the manifest's engine metadata ("fingerprint").
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/pg_client.hpp"

namespace strata::pg {

struct FingerprintLimits {
  long long max_rows = 20000000;  // tables estimated larger are not counted (their count would cost a full scan)
  size_t max_tables = 2000;       // over the whole cluster: the manifest stays small
};

// Counts every permanent table of every connectable database reachable as `base` (its dbname is replaced), each
// database in one REPEATABLE READ snapshot. Returns {"taken_us", "lsn", "databases": {db: {"size", "tables":
// {"schema.table": [rows, writes, relfilenode]}}}, "skipped": [...]}.
nlohmann::json take_fingerprint(const PgTarget& base, const FingerprintLimits& limits);

struct FingerprintCheck {
  std::vector<std::string> mismatches;  // "db.schema.table: 0 rows, fingerprint 500" (empty: everything matches)
  size_t tables = 0;                    // compared
  size_t written = 0;                   // of those, written during the backup (compared with a range)
};

// Compares the restored copy reachable as `restored` with the fingerprints taken at the start and the end of the backup.
FingerprintCheck check_fingerprint(const PgTarget& restored, const nlohmann::json& at_start, const nlohmann::json& at_end);

}  // namespace strata::pg
