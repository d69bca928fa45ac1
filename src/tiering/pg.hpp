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

// The two ways tiering writes a value into what it sends (identifiers go through quote_ident):
// Appends one value in COPY text format (\N for NULL; backslash, tab, newline, CR escaped).
void copy_escape(std::string& out, const PgValue& v);
// Appends 'text' or NULL as an SQL literal. Doubling quotes is complete quoting on a PgConn, which pins
// standard_conforming_strings on and client_encoding to UTF8 (no multi-byte character can hide a quote). Untyped
// literals take the column's input function, exactly as COPY's text does.
void sql_literal(std::string& out, const PgValue& v);

// A transaction whose BEGIN travels with its first statement ("BEGIN; SELECT ...", one round trip): rolls back
// unless committed() was called (after a text ending in COMMIT succeeded), also when that first text failed after
// its BEGIN ran.
class OpenTx {
 public:
  explicit OpenTx(PgClient& c) : c_(c) {}
  ~OpenTx() { rollback(); }
  void committed() { done_ = true; }
  void rollback() noexcept {
    if (!done_) c_.rollback();
    done_ = true;
  }
  OpenTx(const OpenTx&) = delete;
  OpenTx& operator=(const OpenTx&) = delete;

 private:
  PgClient& c_;
  bool done_ = false;
};

}  // namespace strata::tiering
