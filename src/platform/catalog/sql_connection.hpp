#pragma once
// The catalog's one database seam: SQLite (embedded, one file) and PostgreSQL (scale-out) behind the same few calls,
// so every statement of the catalog, the queue and the outbox is written once. Parameters are written $1, $2, ... in
// both dialects (SQLite binds them by name), values travel as text (nullopt is NULL). docs/CATALOG.md.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata {

using SqlValue = std::optional<std::string>;
using SqlRow = std::vector<SqlValue>;

struct SqlResult {
  std::vector<SqlRow> rows;
  uint64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

enum class SqlDialect { kSqlite, kPostgres };

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual SqlDialect dialect() const = 0;
  // Throws StrataError(kGeneric) "catalog WHERE: REASON".
  virtual SqlResult exec(const std::string& sql, const std::vector<SqlValue>& params = {}) = 0;
  // A write transaction: SQLite BEGIN IMMEDIATE (the one writer lock, taken now, waited for up to the busy timeout),
  // PostgreSQL BEGIN (READ COMMITTED; rows are locked by the statements, FOR UPDATE SKIP LOCKED).
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual std::string describe() const = 0;  // "sqlite /var/lib/strata/catalog.db", "postgresql host:port/db"
};

// "sqlite:///abs/path.db", "sqlite://relative.db" or "sqlite:PATH"; "postgresql://..." / "postgres://..." (a libpq
// URI: passwords through PGPASSWORD/PGPASSFILE/~/.pgpass, never in the URL). Throws StrataError(kUsage) for another
// scheme, (kGeneric) when the database cannot be opened.
std::unique_ptr<SqlConnection> open_sql_connection(const std::string& url);
std::unique_ptr<SqlConnection> open_sqlite_connection(const std::string& path);
std::unique_ptr<SqlConnection> open_postgres_connection(const std::string& conninfo);

// Integer columns read back: "" / NULL -> def.
int64_t sql_int(const SqlValue& v, int64_t def = 0);
inline SqlValue sql_param(int64_t v) { return std::to_string(v); }
inline std::string sql_text(const SqlValue& v) { return v ? *v : std::string(); }

}  // namespace strata
