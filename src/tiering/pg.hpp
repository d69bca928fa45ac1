#pragma once
// A thin libpq wrapper for tiering: parameterized statements with NULL-aware text results, COPY FROM STDIN, and a
// session pinned to settings that make every value's text form stable (UTC, ISO dates, hex bytea, exact floats),
// so a value read out and written back through COPY is byte-for-byte the same value. libpq stays in the .cpp.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::tiering {

using PgValue = std::optional<std::string>;
using PgRow = std::vector<PgValue>;

struct PgResult {
  std::vector<std::string> columns;
  std::vector<PgRow> rows;
  uint64_t affected = 0;
};

// A result read in place from libpq's memory, without a copy per value: for statements returning many rows.
class PgRows {
 public:
  size_t size() const { return rows_; }
  int width() const { return cols_; }
  bool null(size_t row, int col) const;
  std::string_view get(size_t row, int col) const;  // "" for NULL

 private:
  friend class PgConn;
  struct Deleter {
    void operator()(void* r) const;
  };
  std::unique_ptr<void, Deleter> res_;
  size_t rows_ = 0;
  int cols_ = 0;
};

class PgConn {
 public:
  // conninfo as libpq takes it ("host=127.0.0.1 port=5432 dbname=game user=app"). Passwords belong in PGPASSWORD or
  // ~/.pgpass; the conninfo is never logged or put in messages. Throws StrataError(kSourceFailed).
  explicit PgConn(const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  PgResult exec(const std::string& sql, const std::vector<PgValue>& params = {});
  PgRows query(const std::string& sql, const std::vector<PgValue>& params = {});
  // COPY ... FROM STDIN with `data` in COPY text format.
  void copy_in(const std::string& copy_sql, const std::string& data);
  // Best effort; used on error paths.
  void rollback() noexcept;
  std::string describe() const { return where_; }

 private:
  struct Deleter {
    void operator()(void* c) const;
  };
  std::unique_ptr<void, Deleter> conn_;
  std::string where_;
};

// RAII transaction: rolls back unless commit() was called.
class PgTx {
 public:
  PgTx(PgConn& c, const char* begin_sql = "BEGIN") : c_(c) { c_.exec(begin_sql); }
  ~PgTx() {
    if (!done_) c_.rollback();
  }
  void commit() {
    c_.exec("COMMIT");
    done_ = true;
  }
  void rollback() noexcept {
    if (!done_) c_.rollback();
    done_ = true;
  }

 private:
  PgConn& c_;
  bool done_ = false;
};

// Quotes an identifier ("my table" -> "\"my table\"").
std::string quote_ident(const std::string& name);
// A PostgreSQL array literal of text values, for `= ANY($1::type[])`.
std::string text_array(const std::vector<std::string>& values);
// Appends one value in COPY text format (\N for NULL; backslash, tab, newline, CR escaped).
void copy_escape(std::string& out, const PgValue& v);

}  // namespace strata::tiering
