// The embedded catalog: one SQLite file in WAL mode (readers never block the writer), every write transaction
// BEGIN IMMEDIATE so the single writer lock is taken before anything is read — a claim's read-then-update can never
// interleave with another's — and a busy timeout instead of an immediate SQLITE_BUSY.
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>
#include <map>

#include "common/error.hpp"
#include "platform/catalog/sql_connection.hpp"

namespace strata {
namespace {

// An integer written as text binds as an integer, so comparisons with INTEGER columns are numeric whatever the
// column's affinity rules would do with a text operand.
bool canonical_int(const std::string& s) {
  size_t i = s.size() > 1 && s[0] == '-' ? 1 : 0;
  if (i == s.size() || s.size() - i > 18) return false;
  if (s[i] == '0' && s.size() - i > 1) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  }
  return true;
}

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(const std::string& path) : path_(path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      fail(ErrorCode::kGeneric, "catalog sqlite " + path + " cannot be opened: " + why +
                                    "; check the path in `catalog` and that its directory is writable");
    }
    sqlite3_busy_timeout(db_, kBusyMs);
    enter_wal();
    exec("PRAGMA synchronous=NORMAL", {});  // WAL + NORMAL: a commit survives a process crash; a power loss may lose the last
    exec("PRAGMA foreign_keys=ON", {});
  }
  ~SqliteConnection() override {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    sqlite3_close(db_);
  }

  SqlDialect dialect() const override { return SqlDialect::kSqlite; }
  std::string describe() const override { return "sqlite " + path_; }

  SqlResult exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* st = prepare(sql);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    int n = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= n; ++i) {
      const char* name = sqlite3_bind_parameter_name(st, i);
      if (!name || name[0] != '$') error(sql, "parameters are written $1, $2, ...");
      size_t k = std::stoul(name + 1);
      if (k == 0 || k > params.size()) error(sql, "parameter " + std::string(name) + " has no value");
      const SqlValue& v = params[k - 1];
      if (!v) sqlite3_bind_null(st, i);
      else if (canonical_int(*v)) sqlite3_bind_int64(st, i, std::stoll(*v));
      else sqlite3_bind_text(st, i, v->data(), static_cast<int>(v->size()), SQLITE_TRANSIENT);
    }
    SqlResult out;
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        std::string why = sqlite3_errmsg(db_);
        sqlite3_reset(st);
        error(sql, why);
      }
      int cols = sqlite3_column_count(st);
      SqlRow row;
      row.reserve(cols);
      for (int c = 0; c < cols; ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_NULL) {
          row.emplace_back(std::nullopt);
        } else {
          const unsigned char* t = sqlite3_column_text(st, c);
          row.emplace_back(std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st, c)));
        }
      }
      out.rows.push_back(std::move(row));
    }
    out.affected = static_cast<uint64_t>(sqlite3_changes(db_));
    sqlite3_reset(st);
    return out;
  }

  void begin() override { exec("BEGIN IMMEDIATE", {}); }
  void commit() override { exec("COMMIT", {}); }
  void rollback() noexcept override {
    if (sqlite3_get_autocommit(db_)) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  static constexpr int kBusyMs = 10000;

  // Switching a file to WAL takes the exclusive lock. Two connections switching a new file at once (a server and a
  // `strata jobs run` starting together) each hold a shared lock and want the exclusive one: SQLite answers that
  // deadlock with SQLITE_BUSY at once, without its busy handler, so the switch is retried here within the same
  // budget the busy timeout gives every other statement.
  void enter_wal() {
    for (int waited_ms = 0, step = 1;; waited_ms += step, step = std::min(step * 2, 50)) {
      char* msg = nullptr;
      int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &msg);
      std::string why = msg ? msg : sqlite3_errstr(rc);
      sqlite3_free(msg);
      if (rc == SQLITE_OK) return;
      if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= kBusyMs) error("PRAGMA journal_mode=WAL", why);
      std::this_thread::sleep_for(std::chrono::milliseconds(step));
    }
  }

  sqlite3_stmt* prepare(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    // Several statements in one text (migrations) run through sqlite3_exec instead.
    if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr) != SQLITE_OK) {
      error(sql, sqlite3_errmsg(db_));
    }
    cache_.emplace(sql, st);
    return st;
  }

  [[noreturn]] void error(const std::string& sql, const std::string& why) const {
    std::string head = sql.substr(0, sql.find_first_of("\n("));
    fail(ErrorCode::kGeneric, "catalog sqlite " + path_ + ": " + why + " (in: " + head.substr(0, 60) +
                                  "); check that the disk is not full and no other program holds the file");
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

std::unique_ptr<SqlConnection> open_sqlite_connection(const std::string& path) {
  return std::make_unique<SqliteConnection>(path);
}

int64_t sql_int(const SqlValue& v, int64_t def) {
  if (!v || v->empty()) return def;
  return std::stoll(*v);
}

}  // namespace strata
