#pragma once
// Tiering's PostgreSQL session: the shared client (common/pg_client.hpp) pinned to settings that make every value's
// text form stable (UTC, ISO dates, hex bytea, exact floats), so a value read out and written back through COPY is
// byte-for-byte the same value; and the COPY text escaping that archives are restored with.
#include <string>

#include "common/pg_client.hpp"

namespace strata::tiering {

class PgConn : public PgClient {
 public:
  // conninfo as libpq takes it ("host=127.0.0.1 port=5432 dbname=game user=app"). Passwords belong in PGPASSWORD or
  // ~/.pgpass. Throws StrataError(kSourceFailed).
  explicit PgConn(const std::string& conninfo);
};

// Appends one value in COPY text format (\N for NULL; backslash, tab, newline, CR escaped).
void copy_escape(std::string& out, const PgValue& v);

}  // namespace strata::tiering
