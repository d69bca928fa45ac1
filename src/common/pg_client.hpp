#pragma once
// The one libpq wrapper, in common because the postgres engine and tiering both use it and neither depends on the other.
// libpq's header stays in the .cpp so the rest of the build does not see it. Passwords reach libpq as the password /
// passfile parameters of a PgTarget (a source's password_file) or through the user's own PGPASSWORD, PGPASSFILE or
// ~/.pgpass — never a conninfo we build, never our environment — and no conninfo or password is ever put in a message.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

using PgValue = std::optional<std::string>;  // nullopt is SQL NULL
using PgRow = std::vector<PgValue>;

// Where to connect. Empty fields are left out, so libpq's defaults and PG* variables apply.
struct PgTarget {
  std::string conninfo;                  // a libpq conninfo or URI, as a user wrote it (e.g. an entity's `database`)
  std::string host, port, user, dbname;  // given one by one (e.g. a source's config); these override the conninfo
  std::string password, passfile;        // for this connection only (a source's password_file, passfile)
  std::string application_name = "strata";
  std::string hint;  // the next step a failed connection names ("check host/port/user in the source config ...")
};

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
  friend class PgClient;
  struct Deleter {
    void operator()(void* r) const;
  };
  std::unique_ptr<void, Deleter> res_;
  size_t rows_ = 0;
  int cols_ = 0;
};

class PgClient {
 public:
  // Throws StrataError(kSourceFailed) naming host:port, libpq's reason and `target.hint`.
  explicit PgClient(const PgTarget& target);
  ~PgClient();
  PgClient(const PgClient&) = delete;
  PgClient& operator=(const PgClient&) = delete;

  // Every statement throws StrataError(kSourceFailed) naming the server and PostgreSQL's reason when it fails.
  PgResult exec(const std::string& sql, const std::vector<PgValue>& params = {});
  PgRows query(const std::string& sql, const std::vector<PgValue>& params = {});
  // The first column of the first row as text; "" when there is none or it is NULL.
  std::string scalar(const std::string& sql, const std::vector<PgValue>& params = {});
  // COPY ... FROM STDIN with `data` in COPY text format.
  void copy_in(const std::string& copy_sql, const std::string& data);
  // Best effort; used on error paths.
  void rollback() noexcept;
  // "host:port" (plus "/dbname" for a conninfo target), for messages.
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
  PgTx(PgClient& c, const char* begin_sql = "BEGIN") : c_(c) { c_.exec(begin_sql); }
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
  PgClient& c_;
  bool done_ = false;
};

// Quotes an identifier ("my table" -> "\"my table\"").
std::string quote_ident(const std::string& name);
// A PostgreSQL array literal of text values, for `= ANY($1::type[])`.
std::string text_array(const std::vector<std::string>& values);

}  // namespace strata
