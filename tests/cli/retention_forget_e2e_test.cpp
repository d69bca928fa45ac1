// End-to-end tests of retention through the real binary (docs/RETENTION.md): forget with its reasons, the max-share
// stop, two-phase expiry (hidden, undo, deletion after the grace period), holds, chains, config policies and forged
// tombstones. Backups are made days apart with STRATA_TEST_NOW, the binary's injectable clock.
#include "support/retention_fixture.hpp"

namespace strata::test {
namespace {

class RetentionE2E : public RetentionFixture {};

TEST_F(RetentionE2E, DryRunPrintsEveryReasonAsTableAndJsonAndChangesNothing) {
  std::vector<std::string> ids;
  for (int i = 4; i >= 0; --i) ids.push_back(backup_at(kNoon - i * kDay, "day " + std::to_string(i)));
  auto r = strata({"forget", "--source", "db", "--keep-last", "2", "--keep-daily", "3", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto row = [](const char* action, const std::string& id, const char* day, const std::string& reasons) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-7s %-26s %-21s %-12s %s\n", action, id.c_str(), (std::string(day) + "T12:00:00Z").c_str(),
                  "stream", reasons.c_str());
    return std::string(buf);
  };
  EXPECT_EQ(r.out,
            "source db (keep-last 2, keep-daily 3): keep 3, expire 2\n"
            "  ACTION  ID                         STARTED               TYPE         REASONS\n" +
                row("keep", ids[4], "2026-11-30", "last 2; daily 2026-11-30; newest good backup") +
                row("keep", ids[3], "2026-11-29", "last 2; daily 2026-11-29") +
                row("keep", ids[2], "2026-11-28", "daily 2026-11-28") +
                row("expire", ids[1], "2026-11-27", "no rule keeps it") +
                row("expire", ids[0], "2026-11-26", "no rule keeps it") +
                "  would be expired: " + ids[1] + "\n  would be expired: " + ids[0] + "\n");
  r = strata({"forget", "--source", "db", "--keep-last", "2", "--keep-daily", "3", "--dry-run", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dry_run"], true);
  ASSERT_EQ(j["sources"].size(), 1u);
  const auto& s = j["sources"][0];
  EXPECT_EQ(s["source"], "db");
  EXPECT_EQ(s["kept"], 3);
  EXPECT_EQ(s["expired"], 2);
  EXPECT_EQ(s["backups"][0]["id"], ids[4]);
  EXPECT_EQ(s["backups"][0]["reasons"], nlohmann::json({"last 2", "daily 2026-11-30", "newest good backup"}));
  EXPECT_EQ(s["backups"][4]["decision"], "expire");
  EXPECT_EQ(listed().size(), 5u);
  EXPECT_FALSE(present("expired"));
}

TEST_F(RetentionE2E, MaxShareStopsUntilConfirmedThenExpiryHidesAndGraceDeletes) {
  std::vector<std::string> ids;
  for (int i = 4; i >= 0; --i) ids.push_back(backup_at(kNoon - i * kDay, "payload " + std::to_string(i)));
  auto r = strata({"forget", "--source", "db", "--keep-last", "2"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("strata: error: the policy would expire 3 of 5 backups of source db (60%), more than the max "
                       "share 50%; nothing was expired: check the plan (--dry-run) and run again with --confirm\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(listed().size(), 5u);
  int64_t t1 = kNoon + kDay;
  r = strata({"forget", "--source", "db", "--keep-last", "2", "--confirm"}, t1);
  ASSERT_EQ(r.code, 0) << r.err;
  // One warn line per expired version: the invalidation notice until the outbox exists.
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(r.err.find("warn backup_expired source=db backup=" + ids[i] + " started="), std::string::npos) << r.err;
  }
  EXPECT_EQ(listed(), (std::vector<std::string>{ids[3], ids[4]}));
  EXPECT_EQ(listed(true), ids);
  r = strata({"list", "--all"});
  EXPECT_NE(r.out.find(ids[0] + "  db"), std::string::npos);
  EXPECT_NE(r.out.find("EXPIRED"), std::string::npos);
  // restore latest never picks an expired backup; the expired ones still restore by id within the grace period.
  std::string out = tmp_ / "latest";
  r = strata({"restore", "latest", "--source", "db", "--to", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(out), "payload 0");
  expect_restores(ids[0]);
  r = strata({"expired", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["backup"], ids[0]);
  EXPECT_EQ(j[0]["delete_after"], iso_utc(t1 + kDay));
  EXPECT_EQ(j[0]["policy"], "keep-last 2");
  EXPECT_EQ(j[0]["reasons"], nlohmann::json({"no rule keeps it"}));
  // Inside the grace period a re-run deletes nothing and expires nothing new.
  r = strata({"forget", "--source", "db", "--keep-last", "2"}, t1 + kDay - 1);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("deleted:"), std::string::npos) << r.out;
  EXPECT_TRUE(present("backups/" + ids[0]));
  // After it: the manifests, objects and tombstones of exactly those three go; the kept ones restore.
  r = strata({"forget", "--source", "db", "--keep-last", "2"}, t1 + kDay);
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(r.out.find("  deleted: " + ids[i] + "\n"), std::string::npos) << r.out;
    EXPECT_FALSE(present("backups/" + ids[i]));
    EXPECT_FALSE(present("data/" + ids[i] + "/000000"));
    EXPECT_FALSE(present("expired/" + ids[i]));
  }
  EXPECT_EQ(listed(true), (std::vector<std::string>{ids[3], ids[4]}));
  expect_restores(ids[3]);
  expect_restores(ids[4]);
  r = strata({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST_F(RetentionE2E, ExpiredRestoreUndoesAnExpiry) {
  std::string a = backup_at(kNoon - kDay, "older"), b = backup_at(kNoon, "newer");
  auto r = strata({"forget", "--source", "db", "--keep-last", "1", "--max-share", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(listed(), (std::vector<std::string>{b}));
  r = strata({"expired", "restore", a.substr(0, 20)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "restored expired backup " + a + ": it is listed and restorable again\n");
  EXPECT_EQ(listed(), (std::vector<std::string>{a, b}));
  expect_restores(a);
  r = strata({"expired", "restore", a});
  EXPECT_EQ(r.code, 9);
  EXPECT_EQ(r.err, "strata: error: backup " + a + " is not expired; nothing to restore\n");
}

TEST_F(RetentionE2E, HoldsNeverExpireSurvivePolicyChangesAndEndOnlyByRelease) {
  std::string a = backup_at(kNoon - 2 * kDay, "held"), b = backup_at(kNoon - kDay, "b"), c = backup_at(kNoon, "c");
  auto r = strata({"hold", a.substr(0, 18), "--reason", "case 4711"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "held backup " + a + ": case 4711\n");
  r = strata({"hold", a, "--reason", "case 4712"});
  EXPECT_EQ(r.code, 12);
  EXPECT_EQ(r.err, "strata: error: backup " + a + " is already held: case 4711; release it first ('strata hold --release " + a +
                       "') to change the reason\n");
  for (const char* keep : {"1", "2"}) {  // two different policies: the hold outlives both
    r = strata({"forget", "--source", "db", "--keep-last", keep, "--confirm", "--now"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("held: case 4711"), std::string::npos) << r.out;
    EXPECT_TRUE(present("backups/" + a));
  }
  EXPECT_FALSE(present("backups/" + b));
  r = strata({"hold", "--list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)[0]["reason"], "case 4711");
  r = strata({"hold", "--release", a});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "released the hold on backup " + a + "\n");
  r = strata({"hold", "--release", a});
  EXPECT_EQ(r.code, 9);
  r = strata({"forget", "--source", "db", "--keep-last", "1", "--now", "--max-share", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(present("backups/" + a));
  EXPECT_EQ(listed(true), (std::vector<std::string>{c}));
}

TEST_F(RetentionE2E, IncrementalChainsStayWholeAndGoChildrenFirst) {
  std::string f1 = engine_backup_at(kNoon - 5 * kDay, "full", "", "full one");
  std::string i1 = engine_backup_at(kNoon - 4 * kDay, "incremental", f1, "incr one");
  std::string i2 = engine_backup_at(kNoon - 3 * kDay, "incremental", i1, "incr two");
  std::string f2 = engine_backup_at(kNoon - 2 * kDay, "full", "", "full two");
  std::string i3 = engine_backup_at(kNoon - kDay, "incremental", f2, "incr three");
  auto r = strata({"forget", "--source", "db", "--keep-last", "1", "--dry-run", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = nlohmann::json::parse(r.out)["sources"][0];
  EXPECT_EQ(s["backups"][0]["id"], i3);
  EXPECT_EQ(s["backups"][1]["id"], f2);
  EXPECT_EQ(s["backups"][1]["reasons"], nlohmann::json({"parent of kept incremental " + i3}));
  // A hold in the middle of the old chain keeps its parent, and only its dependant goes.
  ASSERT_EQ(strata({"hold", i1, "--reason", "audit"}).code, 0);
  r = strata({"forget", "--source", "db", "--keep-last", "1", "--now", "--max-share", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("parent of kept incremental " + i1), std::string::npos) << r.out;
  EXPECT_EQ(listed(true), (std::vector<std::string>{f1, i1, f2, i3}));
  EXPECT_FALSE(present("backups/" + i2));
  // Released, the whole old chain goes: the incremental before its full.
  ASSERT_EQ(strata({"hold", "--release", i1}).code, 0);
  r = strata({"forget", "--source", "db", "--keep-last", "1", "--now", "--max-share", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  size_t del_i1 = r.out.find("  deleted: " + i1), del_f1 = r.out.find("  deleted: " + f1);
  ASSERT_NE(del_i1, std::string::npos) << r.out;
  ASSERT_NE(del_f1, std::string::npos) << r.out;
  EXPECT_LT(del_i1, del_f1);
  EXPECT_EQ(listed(true), (std::vector<std::string>{f2, i3}));
  expect_restores(f2);
  expect_restores(i3);
}

TEST_F(RetentionE2E, PolicyFromTheConfigAppliesToEverySourceWithOverrides) {
  for (int i = 3; i >= 0; --i) {
    backup_at(kNoon - i * kDay, "a" + std::to_string(i), "alpha");
    backup_at(kNoon - i * kDay, "b" + std::to_string(i), "beta");
  }
  backup_at(kNoon, "lonely", "gamma");
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "[retention.default]\nkeep_last = 2\nmax_share = 1.0\n\n[source.beta]\nengine = \"command\"\n"
                  "backup_command = \"true\"\n\n[source.beta.retention]\nkeep_last = 3\n");
  auto r = strata({"--config", cfg, "forget", "--policy", "--now"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("source alpha (keep-last 2): keep 2, expire 2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("source beta (keep-last 3): keep 3, expire 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("source gamma (keep-last 2): keep 1, expire 0\n"), std::string::npos) << r.out;
  EXPECT_EQ(listed(true).size(), 6u);
  // A typo in a retention table is refused with the closest key, before anything happens.
  write_file(cfg, "[retention.default]\nkeep_lats = 2\n");
  r = strata({"--config", cfg, "forget", "--policy"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: config file " + cfg + " line 2: unknown key 'keep_lats' in [retention.default]; did you "
                   "mean 'keep_last'? (docs/CONFIG.md lists every key)\n");
}

TEST_F(RetentionE2E, DailyBucketsAreTheSourcesWallClockDays) {
  // 12:00Z and 23:30Z on 30 November: one UTC day, but the second is already 1 December in Berlin.
  std::string noon = backup_at(kNoon, "noon"), late = backup_at(kNoon + 11 * 3600 + 1800, "late");
  auto r = strata({"forget", "--source", "db", "--keep-daily", "5", "--dry-run", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = nlohmann::json::parse(r.out)["sources"][0];
  EXPECT_EQ(s["backups"][0]["reasons"], nlohmann::json({"daily 2026-11-30", "newest good backup"}));
  EXPECT_EQ(s["backups"][1]["decision"], "expire");
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "[source.db]\ntimezone = \"Europe/Berlin\"\n");
  r = strata({"--config", cfg, "forget", "--source", "db", "--keep-daily", "5", "--dry-run", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  s = nlohmann::json::parse(r.out)["sources"][0];
  EXPECT_EQ(s["backups"][0]["id"], late);
  EXPECT_EQ(s["backups"][0]["reasons"], nlohmann::json({"daily 2026-12-01", "newest good backup"}));
  EXPECT_EQ(s["backups"][1]["id"], noon);
  EXPECT_EQ(s["backups"][1]["reasons"], nlohmann::json({"daily 2026-11-30"}));
  // --time-zone overrides the source's zone for one run.
  r = strata({"--config", cfg, "forget", "--source", "db", "--keep-daily", "5", "--time-zone", "UTC", "--dry-run", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["sources"][0]["backups"][1]["decision"], "expire");
}

TEST_F(RetentionE2E, UsageErrors) {
  backup_at(kNoon, "x");
  auto r = strata({"forget", "--source", "db"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: no retention rule given for source db: add --keep-last/--keep-daily/... or "
                   "--recovery-window, or use --policy to apply the config's [retention] tables\n");
  r = strata({"forget", "--source", "db", "--keep-within", "36"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: command line: keep_within '36' is not a duration; write it like \"90s\", \"30m\", "
                   "\"26h\", \"7d\", \"2w\" or \"1h30m\"\n");
  r = strata({"forget", "--source", "db", "--keep-daily", "3", "--time-zone", "Mars/Olympus"});
  EXPECT_EQ(r.code, 2);
  r = strata({"hold", "nosuchbackup", "--reason", "x"});
  EXPECT_EQ(r.code, 9);
}

TEST_F(RetentionE2E, ForgedTombstoneHidesButNeverDeletes) {
  std::string a = backup_at(kNoon - kDay, "keep me"), b = backup_at(kNoon, "newest");
  // Whoever can write to the storage can write a tombstone; without the repository key its MAC cannot be right.
  std::filesystem::create_directories(repo_ + "/expired");
  write_file(repo_ + "/expired/" + a,
             "{\"format\":\"strata-expiry\",\"version\":1,\"backup\":\"" + a + "\",\"source\":\"db\",\"host\":\"x\","
             "\"expired\":\"2026-11-01T00:00:00Z\",\"expired_epoch\":0,\"delete_after_epoch\":0,\"policy\":\"x\","
             "\"reasons\":[],\"mac\":\"00\"}\n");
  EXPECT_EQ(listed(), (std::vector<std::string>{b}));
  auto r = strata({"forget", "--source", "db", "--keep-last", "5", "--now"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("left alone: " + a + " (tombstone does not authenticate with the repository key"), std::string::npos) << r.out;
  EXPECT_TRUE(present("backups/" + a));
  ASSERT_EQ(strata({"expired", "restore", a}).code, 0);
  expect_restores(a);
}

TEST_F(RetentionE2E, WalSegmentsBeforeTheOldestRemainingBaseBackupGoWithIt) {
  // Three PostgreSQL base backups (as the engine records them) and an archive of segments 1..9 of timeline 1 plus a
  // history file, as wal push stores them.
  auto pg = [](const char* lsn) {
    return std::string("{\"engine\":\"postgres\",\"timeline\":1,\"start_lsn\":\"") + lsn + "\",\"wal_segment_size\":16777216}";
  };
  std::string b1 = engine_backup_at(kNoon - 3 * kDay, "full", "", "base one", pg("0/2000028"));
  std::string b2 = engine_backup_at(kNoon - 2 * kDay, "full", "", "base two", pg("0/5000028"));
  std::string b3 = engine_backup_at(kNoon - kDay, "full", "", "base three", pg("0/8000028"));
  std::vector<std::string> names;
  for (int i = 1; i <= 9; ++i) {
    char n[32];
    std::snprintf(n, sizeof n, "0000000100000000000000%02X", i);
    names.push_back(n);
  }
  names.push_back("00000002.history");
  for (const auto& n : names) engine_backup_at(kNoon - 3 * kDay, "wal", "", "wal " + n, "{}", "wal/db", "db." + n);
  auto wal_present = [&](const std::string& n) { return present("streams/wal/db/db." + n); };
  // Phase 1: b1 is expired but still there (it could be brought back), so only what precedes it goes.
  auto r = strata({"forget", "--source", "db", "--keep-last", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  deleted 1 WAL segment before 0/2000028 (" + names[0] + " .. " + names[0] + ")\n"), std::string::npos) << r.out;
  EXPECT_FALSE(wal_present(names[0]));
  EXPECT_TRUE(wal_present(names[1]));
  // Phase 2: b1 is deleted, and with it the segments that end before b2's start (2, 3, 4); 5 holds b2's start.
  r = strata({"forget", "--source", "db", "--keep-last", "2", "--dry-run"}, kNoon + 3 * kDay);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  would be deleted 3 WAL segments before 0/5000028 (" + names[1] + " .. " + names[3] + ")\n"),
            std::string::npos) << r.out;
  EXPECT_TRUE(wal_present(names[1]));
  r = strata({"forget", "--source", "db", "--keep-last", "2", "--json"}, kNoon + 3 * kDay);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out)["sources"][0];
  EXPECT_EQ(j["deleted"], nlohmann::json({b1}));
  EXPECT_EQ(j["wal_needed_from"], "0/5000028");
  EXPECT_EQ(j["wal_deleted"], nlohmann::json({names[1], names[2], names[3]}));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(wal_present(names[i])) << names[i];
  for (int i = 4; i < 10; ++i) EXPECT_TRUE(wal_present(names[i])) << names[i];
  EXPECT_FALSE(present("data/db." + names[1] + "/000000"));
  EXPECT_EQ(listed(true), (std::vector<std::string>{b2, b3}));
  expect_restores(b2);
  r = strata({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace strata::test
