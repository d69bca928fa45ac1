#pragma once
// One test body, two catalogs: every test of the queue and the outbox runs on a fresh SQLite file and on a fresh
// database of one real PostgreSQL 15 per suite (tests/support/postgres_fixture). The catalog's clock is a
// ManualClock: leases, backoff and windows move when the test moves it, never by sleeping.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/clock.hpp"
#include "platform/catalog/catalog.hpp"
#include "support/cli_harness.hpp"
#include "support/postgres_fixture.hpp"

namespace strata::test {

class CatalogTest : public ::testing::TestWithParam<std::string> {
 protected:
  static constexpr int64_t kStart = 1800000000;  // 2027-01-15T08:00:00Z

  static void SetUpTestSuite() {
    if (!pg::unavailable_reason().empty()) return;
    root_ = new pg::PgRoot();
    server_ = new pg::PostgresServer(*root_, "catalog");
    server_->configure({"fsync = off", "synchronous_commit = off", "max_connections = 60"});
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete root_;
    server_ = nullptr;
    root_ = nullptr;
  }

  void SetUp() override {
    if (GetParam() == "postgres") {
      if (auto r = pg::unavailable_reason(); !r.empty()) GTEST_SKIP() << r;
      static int n = 0;
      std::string db = "catalog" + std::to_string(++n);
      server_->psql("CREATE DATABASE " + db);
      url_ = "postgresql://postgres@127.0.0.1:" + std::to_string(server_->port()) + "/" + db;
    } else {
      url_ = "sqlite://" + dir_.path() + "/catalog.db";
    }
    catalog_ = Catalog::open(url_, &clock_);
  }

  // Another connection to the same catalog (another server, agent or claimer), on the same clock.
  std::unique_ptr<Catalog> connect() { return Catalog::open(url_, &clock_); }
  std::string scalar(const std::string& sql) {
    auto r = catalog_->sql().exec(sql);
    return r.rows.empty() || !r.rows[0][0] ? "" : *r.rows[0][0];
  }

  TempDir dir_;
  ManualClock clock_{kStart};
  std::string url_;
  std::unique_ptr<Catalog> catalog_;
  static inline pg::PgRoot* root_ = nullptr;
  static inline pg::PostgresServer* server_ = nullptr;
};

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& p) { return p.param; }

}  // namespace strata::test
