#pragma once
// What the PostgreSQL end-to-end suites share: a fixture with a repository and a config for source pg1, servers that
// archive through `strata wal push`, exact table checksums at recorded points under pgbench load, and waits for
// the server's archiver. The strata binary is STRATA_BINARY, or $STRATA_TEST_BINARY when set (to run the same
// tests against another build, e.g. to see a new test fail on the code before a fix).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support/postgres_fixture.hpp"

namespace strata::test::pg {

inline std::string strata_binary() {
  const char* over = std::getenv("STRATA_TEST_BINARY");
  return over && *over ? over : STRATA_BINARY;
}

inline constexpr int kExitUsage = 2, kExitCorrupt = 5, kExitNotFound = 9, kExitExists = 12, kExitProblems = 13,
                     kExitTargetNotReached = 14;
// `wal fetch` exits 1 for "not in the archive" and 200 + the strata code for every other failure (fatal for postgres).
inline constexpr int kFetchNotInArchive = 1, kFetchFatalBase = 200;
inline constexpr const char* kPass = "pg test passphrase";

// Row counts plus an order-independent hash of every row of the pgbench tables.
inline constexpr const char* kChecksumSql =
    "SELECT string_agg(t || '=' || c, ' ' ORDER BY t) FROM ("
    " SELECT 'accounts' t, count(*) || '/' || coalesce(sum(hashtext(a::text)::bigint), 0) c FROM pgbench_accounts a"
    " UNION ALL SELECT 'branches', count(*) || '/' || coalesce(sum(hashtext(b::text)::bigint), 0) FROM pgbench_branches b"
    " UNION ALL SELECT 'tellers', count(*) || '/' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM pgbench_tellers t"
    " UNION ALL SELECT 'history', count(*) || '/' || coalesce(sum(hashtext(h::text)::bigint), 0) FROM pgbench_history h"
    ") s";

// Waits for a condition owned by another process (the server, the archiver); fails the test on timeout.
template <typename F>
bool wait_for(F ready, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return wait_until(ready, deadline_in(timeout));
}

class PostgresE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    root_ = std::make_unique<PgRoot>();
    repo_ = *root_ / "repo";
    env_ = {{"STRATA_PASSPHRASE", kPass}, {"HOME", root_->path()}};
    auto reach = run_as_owner({"test", "-x", strata_binary()});
    ASSERT_EQ(reach.code, 0) << strata_binary() << " is not executable by the server's OS user (strata-test): build in a "
                                                 "directory other users can read, not under /root";
    auto r = strata({"--repo", repo_, "repo", "init"});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  ProcResult strata(std::vector<std::string> args, const Env& extra = {}) {
    Env e = env_;
    for (const auto& [k, v] : extra) e[k] = v;
    args.insert(args.begin(), strata_binary());
    return run_as_owner(args, e);
  }
  ProcResult strata_no_pass(std::vector<std::string> args) {
    args.insert(args.begin(), strata_binary());
    return run_as_owner(args, {{"HOME", root_->path()}, {"STRATA_PASSPHRASE", ""}});
  }

  // Config for source pg1 at `port`; extra lines go under [source.pg1].
  void write_config(int port, const std::string& extra = "") {
    config_ = *root_ / "strata.toml";
    root_->write("strata.toml", "repo = \"" + repo_ + "\"\n[backup]\ncompression = \"zstd:3\"\n\n[source.pg1]\nengine = \"postgres\"\n"
                                "host = \"127.0.0.1\"\nport = \"" + std::to_string(port) + "\"\nuser = \"postgres\"\n" + extra);
  }

  // A server archiving into the repository through `strata wal push`.
  std::unique_ptr<PostgresServer> archiving_server(const std::string& name = "primary") {
    auto s = std::make_unique<PostgresServer>(*root_, name);
    write_config(s->port());
    s->configure({"archive_mode = on", "archive_command = '" + std::string(strata_binary()) + " --config " + config_ +
                                           " wal push --source pg1 %p'"});
    s->start(env_);
    return s;
  }

  std::string wal_path(const std::string& file) { return repo_ + "/streams/wal/pg1/pg1." + file; }

  std::unique_ptr<PgRoot> root_;
  std::string repo_, config_;
  Env env_;
};

// Locks the pgbench tables (waiting out in-flight transactions), records their checksum and the clock, and lets
// pgbench continue: every commit before the returned time is in the checksum and none after it.
inline std::pair<std::string, std::string> consistent_point(const PostgresServer& s) {
  std::string out = s.psql({"BEGIN",
                            "LOCK TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history IN EXCLUSIVE MODE",
                            kChecksumSql, "SELECT clock_timestamp()", "COMMIT"});
  auto nl = out.find('\n');
  return {out.substr(0, nl), out.substr(nl + 1)};
}

inline void wait_archived(const PostgresServer& s) {
  std::string seg = s.psql("SELECT pg_walfile_name(pg_switch_wal())");
  ASSERT_TRUE(wait_for([&] { return s.psql("SELECT coalesce(last_archived_wal, '') >= '" + seg + "' FROM pg_stat_archiver") == "t"; }))
      << "segment " << seg << " was not archived; server log in " << s.data_dir() << "/server.log";
}

inline long history_rows(const PostgresServer& s) { return std::stol(s.psql("SELECT count(*) FROM pgbench_history")); }
inline long history_rows_at(int port) { return std::stol(psql_at(port, {"SELECT count(*) FROM pgbench_history"})); }

// pgbench against 127.0.0.1:port: initialise, or run two clients for up to 10 minutes in the background.
inline ProcResult pgbench_init(int port) {
  return run({bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "postgres", "-i", "-s", "1", "-q", "postgres"});
}
inline pid_t pgbench_load(int port, const std::string& log) {
  return spawn({bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "postgres", "-n", "-c", "2", "-j", "1", "-T",
                "600", "postgres"},
               log);
}
// Waits until pgbench has committed `n` more transactions on the server at `port`.
inline bool progress_at(int port, long n = 300) {
  long rows = history_rows_at(port);
  return wait_for([&] { return history_rows_at(port) > rows + n; });
}
// Stops a pgbench started by pgbench_load and waits until its sessions have ended (a COMMIT it sent just before it
// died may still be running).
inline bool stop_load(pid_t load, int port) {
  terminate(load);
  return wait_for([&] { return psql_at(port, {"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'"}) == "0"; });
}
// Switches to a new segment at `port` and waits until the server's archiver has archived the old one.
inline bool switch_and_wait_archived(int port) {
  std::string seg = psql_at(port, {"SELECT pg_walfile_name(pg_switch_wal())"});
  return wait_for([&] { return psql_at(port, {"SELECT coalesce(last_archived_wal, '') >= '" + seg + "' FROM pg_stat_archiver"}) == "t"; });
}
// The clock and checksum of the pgbench tables at one instant, on any server.
inline std::pair<std::string, std::string> consistent_point_at(int port) {
  std::string out = psql_at(port, {"BEGIN",
                                   "LOCK TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history IN EXCLUSIVE MODE",
                                   kChecksumSql, "SELECT clock_timestamp()", "COMMIT"});
  auto nl = out.find('\n');
  return {out.substr(0, nl), out.substr(nl + 1)};
}

// The segment after `name` on the same timeline (16 MiB segments).
inline std::string next_segment(const std::string& name, int ahead = 1) {
  unsigned long long log = std::stoull(name.substr(8, 8), nullptr, 16), seg = std::stoull(name.substr(16, 8), nullptr, 16);
  unsigned long long n = log * 256 + seg + static_cast<unsigned long long>(ahead);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%08llX%08llX", name.substr(0, 8).c_str(), n / 256, n % 256);
  return buf;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace strata::test::pg
