// The scale-out catalog on PostgreSQL through the project's one libpq wrapper (common/pg_client). Several servers and
// claimers may share it: rows are locked by the statements themselves (FOR UPDATE SKIP LOCKED for candidate jobs,
// UPDATE ... WHERE used < max for limit slots, re-checked by PostgreSQL after a lock wait).
#include <stdexcept>

#include "common/error.hpp"
#include "common/pg_client.hpp"
#include "platform/catalog/sql_connection.hpp"

namespace strata {
namespace {

class PostgresConnection final : public SqlConnection {
 public:
  explicit PostgresConnection(const std::string& conninfo) : client_(target(conninfo)) {
    exec("SET client_min_messages = warning", {});
  }
  SqlDialect dialect() const override { return SqlDialect::kPostgres; }
  std::string describe() const override { return "postgresql " + client_.describe(); }

  SqlResult exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    try {
      PgResult r = client_.exec(sql, params);
      SqlResult out;
      out.rows = std::move(r.rows);
      out.affected = r.affected;
      return out;
    } catch (const StrataError& e) {
      fail(ErrorCode::kGeneric, "catalog " + std::string(e.what()));
    }
  }
  void begin() override { exec("BEGIN", {}); }
  void commit() override { exec("COMMIT", {}); }
  void rollback() noexcept override { client_.rollback(); }

 private:
  static PgTarget target(const std::string& conninfo) {
    PgTarget t;
    t.conninfo = conninfo;
    t.application_name = "strata-catalog";
    t.hint = "check the `catalog` URL in the fleet config and that the catalog database is reachable";
    return t;
  }
  PgClient client_;
};

}  // namespace

std::unique_ptr<SqlConnection> open_postgres_connection(const std::string& conninfo) {
  try {
    return std::make_unique<PostgresConnection>(conninfo);
  } catch (const StrataError& e) {
    fail(ErrorCode::kGeneric, "catalog " + std::string(e.what()));
  }
}

std::unique_ptr<SqlConnection> open_sql_connection(const std::string& url) {
  auto starts = [&](const char* p) { return url.rfind(p, 0) == 0; };
  if (starts("sqlite:///")) return open_sqlite_connection(url.substr(9));
  if (starts("sqlite://")) return open_sqlite_connection(url.substr(9));
  if (starts("sqlite:")) return open_sqlite_connection(url.substr(7));
  if (starts("postgresql://") || starts("postgres://")) return open_postgres_connection(url);
  fail(ErrorCode::kUsage, "catalog '" + url + "' is not a catalog URL; write sqlite:///var/lib/strata/catalog.db or "
                          "postgresql://user@host:5432/strata");
}

}  // namespace strata
