#pragma once
// A thin RAII wrapper over libpq for the few metadata queries the engine needs. libpq's header stays in the .cpp so
// the rest of the build does not see it. Passwords reach libpq through PGPASSWORD / PGPASSFILE, never a conninfo.
#include <memory>
#include <string>
#include <vector>

namespace strata::pg {

struct ConnParams {
  std::string host, port, user, dbname;
};

using Row = std::vector<std::string>;

class Connection {
 public:
  // Throws StrataError(kSourceFailed) naming host:port and libpq's reason.
  explicit Connection(const ConnParams& params);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement; returns its rows as text (NULL becomes ""). Throws StrataError(kSourceFailed).
  std::vector<Row> query(const std::string& sql);
  // The first column of the first row, or "" when there is none.
  std::string scalar(const std::string& sql);
  std::string describe() const { return where_; }

 private:
  struct Deleter {
    void operator()(void* c) const;
  };
  std::unique_ptr<void, Deleter> conn_;
  std::string where_;
};

}  // namespace strata::pg
