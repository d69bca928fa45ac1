// The orderings of issue 12 that lost or destroyed data, each pinned at the exact step by a hook inside the freeze
// (FreezeHooks), a fail-point that kills the real strata binary (STRATA_TIER_FAILPOINT), or a second session that
// is observed (pg_stat_activity) to be waiting on a lock. No sleeps.
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

class TierDefects : public TieringTest {
 protected:
  // Runs `sql` on a session of its own in a thread and returns once it has finished or is waiting for a lock.
  struct Writer {
    std::thread thread;
    std::atomic<int> pid{0};
    std::atomic<bool> done{false};
    bool ok = false;
    std::string error;
    void join() {
      if (thread.joinable()) thread.join();
    }
    ~Writer() { join(); }
  };
  void start_writer(Writer& w, const std::string& sql, const std::vector<PgValue>& params) {
    w.thread = std::thread([this, &w, sql, params] {
      try {
        PgConn c(conninfo_);
        w.pid = std::stoi(c.scalar("SELECT pg_backend_pid()"));
        c.exec(sql, params);
        w.ok = true;
      } catch (const StrataError& e) {
        w.error = e.what();
        if (w.pid == 0) w.pid = -1;
      }
      w.done = true;
    });
    PgConn watch(conninfo_);
    for (;;) {
      if (w.done) return;
      int pid = w.pid;
      if (pid > 0 && watch.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int AND wait_event_type = 'Lock'",
                                  {std::to_string(pid)}) == "1") {
        return;
      }
    }
  }

  uint64_t incomplete_tier_writes() { return open_storage(repo_dir_)->list_incomplete("tier/").size(); }
};

// Defect 1: freeze P, thaw P (its entry is released), cool down, freeze P again with the same rows (same pack id),
// reap: the reap must not destroy the archive P now points to.
TEST_F(TierDefects, RefreezeNeverReusesAPackEntryAThawReleased) {
  demo(5);
  make_all_warm();
  auto repo = open_repo();
  Tierer t(entity(1, 500), repo.get());
  std::string p = key_of(2);
  std::string before = digest();
  ASSERT_EQ(t.freeze_keys({p}).frozen, 1u);
  std::string first = scalar("SELECT archive_location FROM players WHERE id = $1::uuid", {p});
  ASSERT_EQ(t.thaw(p), ThawOutcome::kThawed);
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_released"), 1u);
  EXPECT_EQ(t.cooldown().warmed, 1u);
  ASSERT_EQ(t.freeze_keys({p}).frozen, 1u);
  std::string second = scalar("SELECT archive_location FROM players WHERE id = $1::uuid", {p});
  EXPECT_NE(second, first) << "the refreeze referenced the released entry again";
  EXPECT_EQ(t.reap_released(), 1u);
  ASSERT_EQ(t.thaw(p), ThawOutcome::kThawed);
  EXPECT_EQ(digest(), before);
}

// Defect 2: a grandchild row written while the freeze deletes (after equipment_mods, before equipment). Whatever the
// foreign key's ON DELETE action, the write either lands in a kept entity or is refused — never silently dropped.
class GrandchildWrite : public TierDefects, public ::testing::WithParamInterface<const char*> {};

TEST_P(GrandchildWrite, DuringTheFreezesDeletesIsNeverLost) {
  demo(5);
  make_all_warm();
  conn_->exec(std::string("ALTER TABLE equipment_mods DROP CONSTRAINT equipment_mods_equipment_id_fkey, ADD CONSTRAINT "
                          "equipment_mods_equipment_id_fkey FOREIGN KEY (equipment_id) REFERENCES equipment (id) ON DELETE ") +
              GetParam());
  auto repo = open_repo();
  Tierer t(entity(), repo.get());
  std::string p = key_of(3);
  std::string before = digest();
  Writer w;
  FreezeHooks hooks;
  hooks.after_delete = [&](const std::string& table) {
    if (table != "equipment_mods" || w.thread.joinable()) return;
    start_writer(w, "INSERT INTO equipment_mods (equipment_id, mod, power) SELECT id, 'late-mod', 1 FROM equipment "
                    "WHERE player_id = $1::uuid AND slot = 1",
                 {p});
  };
  FreezeStats st;
  ASSERT_NO_THROW(st = t.freeze(SIZE_MAX, hooks));
  w.join();
  ASSERT_TRUE(w.done);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.frozen + st.skipped, 5u);
  EXPECT_EQ(t.thaw_batch(true).failed, 0u);
  // A write that reported success is in the database; one that was refused left nothing behind.
  EXPECT_EQ(count("SELECT count(*) FROM equipment_mods WHERE mod = 'late-mod'"), w.ok ? 1u : 0u) << w.error;
  if (!w.ok) {
    EXPECT_NE(w.error.find("foreign key"), std::string::npos) << w.error;
    EXPECT_EQ(digest(), before);
  }
}

INSTANTIATE_TEST_SUITE_P(OnDelete, GrandchildWrite, ::testing::Values("NO ACTION", "CASCADE"),
                         [](const auto& info) { return std::string(info.param[0] == 'N' ? "NoAction" : "Cascade"); });

// Defect 3: tables outside the entity that reference its child tables. The freeze refuses to start (and says which
// table, constraint and what to change) instead of deleting, nulling or failing on rows nobody archived.
TEST_F(TierDefects, OutsideReferencesToChildTablesAreRefusedBeforeAnythingIsTouched) {
  demo(6);
  make_all_warm();
  auto repo = open_repo();
  std::string p = key_of(1);
  struct Case {
    const char* table;
    const char* ddl;
    const char* fill;
    const char* action;
  };
  const Case cases[] = {
      {"auction_listings", "CREATE TABLE auction_listings (id serial PRIMARY KEY, equipment_id bigint REFERENCES equipment (id) ON DELETE CASCADE)",
       "INSERT INTO auction_listings (equipment_id) SELECT id FROM equipment WHERE player_id = $1::uuid LIMIT 5", "ON DELETE CASCADE"},
      {"trade_log", "CREATE TABLE trade_log (id serial PRIMARY KEY, bank_item_id bigint REFERENCES bank_items (id) ON DELETE SET NULL)",
       "INSERT INTO trade_log (bank_item_id) SELECT id FROM bank_items WHERE player_id = $1::uuid", "ON DELETE SET NULL"},
      {"mod_ratings", "CREATE TABLE mod_ratings (id serial PRIMARY KEY, mod_id bigint REFERENCES equipment_mods (id))",
       "INSERT INTO mod_ratings (mod_id) SELECT m.id FROM equipment_mods m JOIN equipment e ON e.id = m.equipment_id WHERE e.player_id = $1::uuid",
       "ON DELETE NO ACTION"},
  };
  std::string before = digest();
  for (const auto& c : cases) {
    conn_->exec(c.ddl);
    conn_->exec(c.fill, {p});
    std::string outside = scalar(std::string("SELECT count(*) || '/' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM ") + c.table + " t");
    Tierer t(entity(), repo.get());
    try {
      t.freeze();
      FAIL() << c.table << ": freeze ran with an outside reference to a child table";
    } catch (const StrataError& e) {
      std::string msg = e.what();
      EXPECT_EQ(e.code(), ErrorCode::kUsage) << msg;
      EXPECT_NE(msg.find(std::string("table ") + c.table), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string(c.table) + "_"), std::string::npos) << msg;  // the constraint's name
      EXPECT_NE(msg.find(c.action), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("add ") + c.table + " to the entity"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    EXPECT_THROW(t.apply_setup(), StrataError) << c.table;
    EXPECT_EQ(scalar(std::string("SELECT count(*) || '/' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM ") + c.table + " t"), outside);
    EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 0u) << c.table;
    EXPECT_EQ(digest(), before) << c.table;
    EXPECT_GE(t.status().failures_24h, 1u);
    conn_->exec(std::string("DROP TABLE ") + c.table);
  }
  // Without them the same definition freezes.
  EXPECT_EQ(Tierer(entity(), repo.get()).freeze().frozen, 6u);
}

// Defect 4: a reap killed just before its rewritten index replaced the real one leaves a temp copy with live
// wrapped keys. cleanup must leave it (it is tiering's), erase must destroy it with the key, gc must remove such
// leftovers, and nothing in the database may keep the erased key.
TEST_F(TierDefects, EraseIsNotDefeatedByACrashedIndexRewriteAndForgetsTheKey) {
  demo(4);
  make_all_warm();
  auto repo = open_repo();
  Tierer t(entity(), repo.get());
  ASSERT_EQ(t.freeze().frozen, 4u);
  std::vector<std::string> k = {key_of(0), key_of(1), key_of(2), key_of(3)};
  std::string loc_b = scalar("SELECT archive_location FROM players WHERE id = $1::uuid", {k[1]});
  std::string pack = loc_b.substr(0, loc_b.find('/'));
  ASSERT_EQ(t.thaw(k[0]), ThawOutcome::kThawed);
  ASSERT_EQ(t.thaw(k[2]), ThawOutcome::kThawed);
  conn_->exec("INSERT INTO strata_tier_events (entity, key, event, detail) VALUES ('players', $1, 'thaw_failed', $2)",
              {k[1], "entity players/" + k[1] + ": thaw failed: something"});
  // The reap rewrites the index (k0, k2 destroyed; k1, k3 live) and dies before the rename.
  ASSERT_EQ(strata({"tier", "reap"}, "index.before_rename"), 86);
  ASSERT_EQ(incomplete_tier_writes(), 1u);
  std::string err;
  ASSERT_EQ(strata({"cleanup"}, "", &err), 0) << err;
  EXPECT_EQ(incomplete_tier_writes(), 1u) << "strata cleanup removed tiering's files";

  EXPECT_EQ(t.erase(k[1]), 1u);
  // Whatever copy of an index is left anywhere under tier/, put back in place, must not open k1.
  std::string index_dir = repo_dir_ + "/tier/players/index";
  std::string real = index_dir + "/" + pack;
  std::string saved = dir_ + "/saved-index";
  fs::copy_file(real, saved);
  for (const auto& f : fs::directory_iterator(index_dir)) {
    fs::copy_file(f.path(), dir_ + "/candidate", fs::copy_options::overwrite_existing);
    fs::copy_file(dir_ + "/candidate", real, fs::copy_options::overwrite_existing);
    try {
      ArchiveStore(*repo, "players", Compression{}).read(loc_b, k[1]);
      ADD_FAILURE() << f.path() << " still opens the erased entity";
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
    }
  }
  fs::copy_file(saved, real, fs::copy_options::overwrite_existing);
  // The database keeps neither the key nor a release of it; the erasure is recorded under the key's hash.
  std::string kh = digest_hex(ArchiveStore(*repo, "players", Compression{}).key_hash(k[1]));
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE key = '" + k[1] + "' OR strpos(detail, '" + k[1] + "') > 0"), 0u);
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE event = 'erased' AND key = '" + kh + "'"), 1u);
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_released WHERE key = '" + k[1] + "'"), 0u);

  // Another crashed rewrite; gc removes what it left, and the remaining entity still thaws.
  ASSERT_EQ(strata({"tier", "reap"}, "index.before_rename"), 86);
  ASSERT_EQ(incomplete_tier_writes(), 1u);
  ASSERT_EQ(strata({"tier", "gc"}, "", &err), 0) << err;
  EXPECT_EQ(incomplete_tier_writes(), 0u) << "tier gc left a crashed writer's file";
  ASSERT_EQ(strata({"tier", "reap"}, "", &err), 0) << err;
  EXPECT_EQ(t.thaw(k[3]), ThawOutcome::kThawed);
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 24u);
}

// Defect 5: a login that commits after the batch was chosen but before the snapshot bumps the activity and leaves
// the tier 'warm'. The snapshot re-checks the activity: the entity stays.
TEST_F(TierDefects, LoginBetweenBatchSelectionAndSnapshotKeepsTheEntity) {
  demo(10);
  make_all_warm();
  auto repo = open_repo();
  Tierer t(entity(), repo.get());
  std::string p = key_of(4);
  FreezeHooks hooks;
  hooks.before_snapshot = [&](const std::vector<std::string>& keys) {
    ASSERT_NE(std::find(keys.begin(), keys.end(), p), keys.end());
    PgConn(conninfo_).exec("UPDATE players SET last_active = now() WHERE id = $1::uuid", {p});
  };
  auto st = t.freeze(SIZE_MAX, hooks);
  EXPECT_EQ(st.frozen, 9u);
  EXPECT_EQ(st.skipped, 1u);
  EXPECT_EQ(tier_of(p), "warm");
  EXPECT_EQ(count("SELECT count(*) FROM equipment WHERE player_id = '" + p + "'"), 8u);
  // A warm entity's on-demand thaw (a login) makes it hot.
  EXPECT_EQ(t.thaw(p), ThawOutcome::kAlreadyHot);
  EXPECT_EQ(tier_of(p), "hot");
}

// Defect 6: an entity whose rows the database refuses to delete (here a trigger) fails alone, is named with its key,
// recorded and counted; the rest of its batch freezes. A thaw error names the entity and key too.
TEST_F(TierDefects, FreezeAndThawErrorsNameEntityAndKeyAndFailuresAreCounted) {
  demo(10);
  make_all_warm();
  std::string p = key_of(5), q = key_of(6);
  conn_->exec("CREATE FUNCTION no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "IF OLD.player_id = '" + p + "'::uuid THEN RAISE EXCEPTION 'bank rows of this player are on hold'; END IF; RETURN OLD; END $$");
  conn_->exec("CREATE TRIGGER hold BEFORE DELETE ON bank_items FOR EACH ROW EXECUTE FUNCTION no_delete()");
  std::string err;
  EXPECT_EQ(strata({"--log-format", "json", "tier", "freeze"}, "", &err), 13) << err;
  EXPECT_NE(err.find(p), std::string::npos) << err;
  EXPECT_NE(err.find("bank rows of this player are on hold"), std::string::npos) << err;
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 9u);
  EXPECT_EQ(tier_of(p), "warm");
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE event = 'freeze_failed' AND key = '" + p +
                  "' AND strpos(detail, 'players/" + p + "') > 0"),
            1u);
  auto repo = open_repo();
  Tierer t(entity(), repo.get());
  EXPECT_EQ(t.status().failures_24h, 1u);
  // A second run fails the same way and is counted again.
  EXPECT_EQ(t.freeze().failed, 1u);
  EXPECT_EQ(t.status().failures_24h, 2u);

  conn_->exec("CREATE FUNCTION no_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "IF NEW.player_id = '" + q + "'::uuid THEN RAISE EXCEPTION 'bank is read-only'; END IF; RETURN NEW; END $$");
  conn_->exec("CREATE TRIGGER ro BEFORE INSERT ON bank_items FOR EACH ROW EXECUTE FUNCTION no_insert()");
  try {
    t.thaw(q);
    FAIL() << "thaw succeeded through a failing insert";
  } catch (const StrataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("players/" + q), std::string::npos) << msg;
    EXPECT_NE(msg.find("bank is read-only"), std::string::npos) << msg;
  }
  EXPECT_EQ(tier_of(q), "archived");
  EXPECT_EQ(t.status().failures_24h, 3u);
}

}  // namespace
