// The embedded catalog opened by several connections at the same moment, as a server and `strata jobs run` do when
// they start together on a new file: every one of them opens it. Before the WAL switch was retried, about one round
// in five lost a connection to "database is locked (in: PRAGMA journal_mode=WAL)".
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "platform/catalog/catalog.hpp"
#include "platform/catalog/sql_connection.hpp"
#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

TEST(SqliteConnection, ConnectionsOpeningANewFileAtOnceAllGetIt) {
  TempDir dir;
  constexpr int kRounds = 40;
  constexpr int kConnections = 6;
  int failures = 0;
  std::string first_error;
  for (int round = 0; round < kRounds; ++round) {
    std::string path = dir.path() + "/catalog" + std::to_string(round) + ".db";
    std::atomic<int> ready{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    std::vector<std::string> errors(kConnections);
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kConnections) std::this_thread::yield();  // start together: a spin barrier, no sleep
        try {
          auto c = Catalog::open("sqlite://" + path, nullptr);
          EXPECT_GE(c->schema_version(), 1);
        } catch (const std::exception& e) {
          errors[i] = e.what();
          failed.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    failures += failed.load();
    for (auto& e : errors) {
      if (first_error.empty()) first_error = e;
    }
  }
  EXPECT_EQ(failures, 0) << first_error;
}

TEST(SqliteConnection, TheCatalogIsInWalMode) {
  TempDir dir;
  auto c = open_sqlite_connection(dir.path() + "/catalog.db");
  auto r = c->exec("PRAGMA journal_mode", {});
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0][0].value_or(""), "wal");
}

}  // namespace
}  // namespace strata::test
