// Retention on a real PostgreSQL 15 with WAL archiving under pgbench load (issue 16, the end-to-end test): `forget`
// expires the old base backup and every archived WAL segment that ends before the kept backup's start LSN — no
// more, no less — and the kept backup still restores exactly to the oldest point the policy promises (right after
// its end) and to the end of the archive; `wal check` still finds a complete range.
#include <cstdio>
#include <set>

#include "postgres/pg_e2e_support.hpp"

namespace strata::test::pg {
namespace {

namespace fs = std::filesystem;
constexpr unsigned long long kSegment = 16ull << 20;

// Plain segment names (no .history/.backup/.partial) archived for pg1, sorted.
std::set<std::string> archived_segments(const std::string& repo) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(repo + "/streams/wal/pg1")) {
    std::string name = e.path().filename().string();
    if (name.rfind("pg1.", 0) != 0) continue;
    name = name.substr(4);
    if (name.size() == 24 && name.find_first_not_of("0123456789ABCDEF") == std::string::npos) out.insert(name);
  }
  return out;
}

unsigned long long segno_of(const std::string& name) {
  return std::stoull(name.substr(8, 8), nullptr, 16) * 256 + std::stoull(name.substr(16, 8), nullptr, 16);
}

unsigned long long parse_lsn(const std::string& lsn) {
  auto slash = lsn.find('/');
  return (std::stoull(lsn.substr(0, slash), nullptr, 16) << 32) | std::stoull(lsn.substr(slash + 1), nullptr, 16);
}

class PgRetentionE2E : public PostgresE2E {};

TEST_F(PgRetentionE2E, ForgetDeletesExactlyTheWalNoKeptBackupNeedsAndKeepsEveryPromisedPoint) {
  auto server = archiving_server();
  ASSERT_EQ(pgbench_init(server->port()).code, 0);
  pid_t load = pgbench_load(server->port(), *root_ / "pgbench.log");
  auto a = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(a.code, 0) << a.err;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(progress_at(server->port())) << "pgbench made no progress";
    ASSERT_TRUE(switch_and_wait_archived(server->port()));
  }
  auto b = strata({"--config", config_, "backup", "--source", "pg1"});
  ASSERT_EQ(b.code, 0) << b.err;
  auto listed = nlohmann::json::parse(strata({"--config", config_, "list", "--source", "pg1", "--json"}).out);
  ASSERT_EQ(listed.size(), 2u);
  const std::string id_a = listed[0]["id"], id_b = listed[1]["id"];
  const unsigned long long start_b = parse_lsn(listed[1]["engine"]["start_lsn"].get<std::string>());

  // T1 just after B (the oldest point keep-last 1 promises), then more work up to the end of the archive.
  ASSERT_TRUE(progress_at(server->port())) << "pgbench made no progress";
  auto [state1, time1] = consistent_point(*server);
  ASSERT_TRUE(progress_at(server->port())) << "pgbench made no progress";
  ASSERT_TRUE(switch_and_wait_archived(server->port()));
  ASSERT_TRUE(stop_load(load, server->port()));
  std::string latest = server->psql(kChecksumSql);
  ASSERT_NE(state1, latest);
  ASSERT_TRUE(switch_and_wait_archived(server->port()));

  const auto before = archived_segments(repo_);
  std::vector<std::string> needed, not_needed;
  for (const auto& s : before) ((segno_of(s) + 1) * kSegment <= start_b ? not_needed : needed).push_back(s);
  ASSERT_GE(not_needed.size(), 3u) << "A's segments must precede B's start";

  auto forget = strata({"--config", config_, "forget", "--source", "pg1", "--keep-last", "1", "--now", "--json"});
  ASSERT_EQ(forget.code, 0) << forget.err;
  auto j = nlohmann::json::parse(forget.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j["sources"].size() == 1) << forget.out;
  const auto& r = j["sources"][0];
  EXPECT_EQ(r["deleted"], nlohmann::json::array({id_a})) << forget.out;
  EXPECT_EQ(r["wal_needed_from"], listed[1]["engine"]["start_lsn"]) << forget.out;
  EXPECT_EQ(r["wal_deleted"].get<std::vector<std::string>>(), not_needed) << forget.out;
  const auto after = archived_segments(repo_);
  EXPECT_EQ(std::vector<std::string>(after.begin(), after.end()), needed);
  EXPECT_FALSE(fs::exists(repo_ + "/data/" + id_a)) << "the expired base backup's objects are gone";

  auto check = strata({"--config", config_, "wal", "check", "--source", "pg1"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  auto again = strata({"--config", config_, "forget", "--source", "pg1", "--keep-last", "1", "--now", "--json"});
  ASSERT_EQ(again.code, 0) << again.err;
  auto j2 = nlohmann::json::parse(again.out, nullptr, false);
  EXPECT_TRUE(j2["sources"][0]["wal_deleted"].empty() && j2["sources"][0]["deleted"].empty()) << again.out;

  int port1 = free_loopback_port();
  std::string dir1 = *root_ / "restore-t1";
  root_->track(dir1);
  auto r1 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-time", time1, "--target-dir", dir1,
                    "--start", "--port", std::to_string(port1)});
  ASSERT_EQ(r1.code, 0) << r1.err;
  EXPECT_EQ(psql_at(port1, {kChecksumSql}), state1);
  stop_cluster(dir1);

  int port2 = free_loopback_port();
  std::string dir2 = *root_ / "restore-latest";
  root_->track(dir2);
  auto r2 = strata({"--config", config_, "restore", "--source", "pg1", "--latest", "--target-dir", dir2, "--start", "--port",
                    std::to_string(port2)});
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(psql_at(port2, {kChecksumSql}), latest);
  stop_cluster(dir2);
  server->stop();
}

}  // namespace
}  // namespace strata::test::pg
