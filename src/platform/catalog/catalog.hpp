#pragma once
// The fleet catalog (issue 15 part 2; docs/CATALOG.md): one schema on SQLite (embedded default) or PostgreSQL
// (scale-out), migrated by version on open. It holds the fleet's sources, schedules with their next fire (UTC), jobs
// with their attempts and events, agents, limit slots, an index of backups and the outbox. The repositories stay the
// truth about backups; the catalog is the truth about jobs.
//
// Time: every decision by time (leases, retries, due jobs) uses the catalog's clock — the injected Clock when there
// is one (tests, simulations), else the database's own (PostgreSQL's clock_timestamp(), so several servers and any
// number of agents share one clock; the server process's clock for the embedded SQLite file). Never an agent's.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "platform/catalog/sql_connection.hpp"

namespace strata {

// The schema version this build writes. A catalog of a newer version is refused (kUnsupportedVersion).
constexpr int kCatalogSchemaVersion = 2;

class Catalog {
 public:
  // Opens (creating an empty SQLite file if needed) and migrates to kCatalogSchemaVersion in one transaction.
  // `clock` may be null (the database's clock); it must outlive the catalog.
  static std::unique_ptr<Catalog> open(const std::string& url, const Clock* clock = nullptr);
  Catalog(std::unique_ptr<SqlConnection> conn, const Clock* clock);

  SqlConnection& sql() { return *conn_; }
  SqlDialect dialect() const { return conn_->dialect(); }
  bool postgres() const { return conn_->dialect() == SqlDialect::kPostgres; }
  std::string describe() const { return conn_->describe(); }
  int schema_version();

  // The catalog's time, UTC seconds (see above).
  int64_t now();

  // Runs fn inside one write transaction and commits; rolls back and rethrows on an exception. Not reentrant.
  void write(const std::function<void()>& fn);
  // SQL fragments that differ by dialect.
  const char* skip_locked() const { return postgres() ? " FOR UPDATE SKIP LOCKED" : ""; }
  const char* for_update() const { return postgres() ? " FOR UPDATE" : ""; }

 private:
  void migrate();
  std::unique_ptr<SqlConnection> conn_;
  const Clock* clock_;
  bool in_tx_ = false;
};

}  // namespace strata
