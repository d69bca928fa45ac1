// Tiering against a real PostgreSQL 15 (tests/support/postgres_fixture.*) and the local and memory storage drivers:
// round trips of every column type, concurrent activity during freeze, crashes at every step of freeze and thaw,
// schema evolution, coalescing thaws, packing and erase.
#include "common/duration.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

TEST_F(TieringTest, RoundTripOfEveryColumnTypeThroughFreezeAndThaw) {
  demo(300);
  // Values that break naive serializers, beside the generator's NULLs, unicode, bytea, numeric, json and arrays.
  std::string k = key_of(1);
  conn_->exec("UPDATE players SET name = E'tab\\there\\nnew line \\\\ back\\\\slash \\\"q\\\" 🎮', email = '', "
              "settings = '{\"deep\": {\"a\": [1, 2.50, null, \"ü\"]}, \"empty\": {}}', avatar = '\\x', "
              "tags = ARRAY[NULL, '', 'NULL', '{}']::text[], gold = 12345678901234.5678 WHERE id = $1::uuid",
              {k});
  conn_->exec("UPDATE bank_items SET note = E'\\\\N is not null', props = '[]' WHERE player_id = $1::uuid AND qty = 30", {k});
  conn_->exec("UPDATE player_stats SET ratio = '-Infinity', playtime = '-1 day 02:03:04.5', extra = '{\"dup\": 1, \"dup\": 2}' WHERE player_id = $1::uuid", {k});
  // Every control character, DEL, quotes, and UTF-8 of every length (documents are written without a JSON library).
  std::string every;
  for (int c = 1; c < 0x20; ++c) every += static_cast<char>(c);
  every += "\x7f \" \\ / é € 𝄞 \xef\xbf\xbf end";
  conn_->exec("UPDATE bank_items SET note = $2 WHERE player_id = $1::uuid AND qty = 40", {k, every});
  EXPECT_EQ(scalar("SELECT note FROM bank_items WHERE player_id = $1::uuid AND qty = 40", {k}), every);
  std::string before = digest();
  auto repo = open_repo();
  Tierer t(entity(100, 100, 2), repo.get());
  auto cs = t.cooldown();
  EXPECT_EQ(cs.warmed, 300u);
  auto fs1 = t.freeze();
  EXPECT_EQ(fs1.frozen, 300u);
  EXPECT_GE(fs1.packs, 3u);  // two workers split the keys, each packs its own batches of 100
  EXPECT_LE(fs1.packs, 4u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived' AND archive_location IS NOT NULL"), 300u);
  for (const char* child : {"player_stats", "equipment", "equipment_mods", "bank_items", "friends"}) {
    EXPECT_EQ(count(std::string("SELECT count(*) FROM ") + child), 0u) << child;
  }
  EXPECT_EQ(t.thaw(k), ThawOutcome::kThawed);
  EXPECT_EQ(t.thaw(k), ThawOutcome::kAlreadyHot);
  auto ts = t.thaw_batch(true);
  EXPECT_EQ(ts.thawed, 299u);
  EXPECT_EQ(ts.failed, 0u);
  EXPECT_EQ(digest(), before);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'hot' AND archive_location IS NULL"), 300u);
  // keep_after_thaw = false: every thawed entry was destroyed and the emptied packs removed.
  EXPECT_TRUE(repo->storage().list("tier/players/packs/").empty());
}

TEST_F(TieringTest, SessionIsPinnedAndConnectErrorsNameTheServerNotTheConninfo) {
  PgConn c(conninfo_ + " application_name=other options='-c TimeZone=America/New_York -c bytea_output=escape'");
  EXPECT_EQ(c.scalar("SHOW TimeZone"), "UTC");
  EXPECT_EQ(c.scalar("SHOW bytea_output"), "hex");
  EXPECT_EQ(c.scalar("SHOW application_name"), "strata-tier");
  EXPECT_EQ(c.scalar("SELECT NULL"), "");
  std::string port = std::to_string(server_->port());
  try {
    PgConn bad("host=127.0.0.1 port=" + port + " user=strata_no_such_role dbname=" + db_ + " password=hunter2");
    FAIL() << "connected as a role that does not exist";
  } catch (const StrataError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kSourceFailed);
    EXPECT_EQ(msg.find("cannot connect to PostgreSQL at 127.0.0.1:" + port + "/" + db_ + ": "), 0u) << msg;
    EXPECT_NE(msg.find("strata_no_such_role"), std::string::npos) << msg;  // libpq's reason
    EXPECT_NE(msg.find("; check the entity's database setting"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(TieringTest, EntityActiveOrChangedDuringFreezeIsNotLost) {
  demo(60);
  make_all_warm();
  auto repo = open_repo();
  Tierer t(entity(), repo.get());
  std::string a = key_of(3), b = key_of(4), c = key_of(5), d = key_of(6), f = key_of(7), g = key_of(8);
  // A player with equipment mods (the second foreign-key level).
  std::string e = scalar("SELECT e.player_id::text FROM equipment e JOIN equipment_mods m ON m.equipment_id = e.id "
                         "WHERE e.player_id <> ALL($1::uuid[]) ORDER BY 1 LIMIT 1",
                         {text_array({a, b, c, d, f, g})});
  ASSERT_FALSE(e.empty());
  std::string expected;
  FreezeHooks hooks;
  hooks.before_commit = [&](const std::vector<std::string>& keys) {
    // Another session, after the snapshot and the upload, before the deleting transaction.
    PgConn other(conninfo_);
    other.exec("UPDATE players SET last_active = now(), tier = 'hot' WHERE id = $1::uuid", {a});  // a login
    other.exec("INSERT INTO bank_items (player_id, item_code, qty) VALUES ($1::uuid, 'late-deposit', 1)", {b});
    other.exec("UPDATE equipment SET durability = 0.5 WHERE player_id = $1::uuid AND slot = 2", {c});
    other.exec("DELETE FROM friends WHERE player_id = $1::uuid", {d});
    other.exec("UPDATE equipment_mods SET power = coalesce(power, 0) + 1 WHERE equipment_id IN "
               "(SELECT id FROM equipment WHERE player_id = $1::uuid)", {e});
    // Rewritten with the same values: the re-check compares row versions, so this counts as a change (a later
    // run takes the entity), never the other way round.
    other.exec("UPDATE player_stats SET kills = kills WHERE player_id = $1::uuid", {f});
    // A column left out of the archive changed on the root row: also a new row version.
    other.exec("UPDATE players SET session_token = 'rotated' WHERE id = $1::uuid", {g});
    expected = digest();
  };
  auto st = t.freeze(SIZE_MAX, hooks);
  EXPECT_EQ(st.frozen, 53u);
  EXPECT_EQ(st.skipped, 7u);
  EXPECT_EQ(tier_of(a), "hot");
  for (const auto& k : {b, c, d, e, f, g}) EXPECT_EQ(tier_of(k), "warm") << k;
  EXPECT_EQ(count("SELECT count(*) FROM bank_items WHERE item_code = 'late-deposit'"), 1u);
  // The ones left behind freeze on the next run.
  EXPECT_EQ(t.freeze().frozen, 6u);
  t.thaw_batch(true);
  EXPECT_EQ(digest(), expected);
}

TEST_F(TieringTest, ConcurrentWritersDuringFreezeLoseNothing) {
  demo(1000);
  make_all_warm();
  auto repo = open_repo();
  std::atomic<bool> stop{false};
  std::atomic<int> deposits{0};
  std::thread writer([&] {
    PgConn w(conninfo_);
    std::mt19937 rng(42);
    // Deposits go only to entities that are not archived (what a game server does after thawing on login).
    while (!stop.load()) {
      std::string k = key_of(static_cast<int>(rng() % 1000));
      w.exec("BEGIN");
      auto r = w.exec("SELECT tier FROM players WHERE id = $1::uuid FOR SHARE", {k});
      if (*r.rows[0][0] == "warm" || *r.rows[0][0] == "hot") {
        w.exec("UPDATE players SET last_active = now() - interval '30 days' WHERE id = $1::uuid", {k});
        w.exec("INSERT INTO bank_items (player_id, item_code, qty) VALUES ($1::uuid, 'concurrent', 1)", {k});
        deposits++;
      }
      w.exec("COMMIT");
    }
  });
  Tierer t(entity(100, 100, 2), repo.get());
  FreezeStats total;
  for (int round = 0; round < 4; ++round) {
    auto st = t.freeze();
    total.frozen += st.frozen;
  }
  stop = true;
  writer.join();
  Tierer(entity(), repo.get()).thaw_batch(true);
  EXPECT_GT(deposits.load(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM bank_items WHERE item_code = 'concurrent'"), static_cast<uint64_t>(deposits.load()));
  EXPECT_EQ(count("SELECT count(*) FROM bank_items"), 5000u + deposits.load());
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 8000u);
  EXPECT_EQ(count("SELECT count(*) FROM friends"), 4000u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 0u);
}

TEST_F(TieringTest, CrashAtEveryStepOfFreezeAndThawConverges) {
  demo(200);
  std::string before = digest();
  ASSERT_EQ(strata({"tier", "cooldown"}), 0);
  // Each run freezes a little and then dies at one point; a clean run afterwards must converge.
  for (const char* fp : {"freeze.after_snapshot", "freeze.after_data", "freeze.after_index", "freeze.after_store",
                         "freeze.before_commit", "freeze.after_commit"}) {
    EXPECT_EQ(strata({"tier", "freeze", "--limit", "60"}, fp), 86) << fp;
    EXPECT_EQ(count("SELECT count(*) FROM equipment_mods m LEFT JOIN equipment e ON e.id = m.equipment_id WHERE e.id IS NULL"), 0u);
    // No archived entity has rows left, and no warm one lost any.
    EXPECT_EQ(count("SELECT count(*) FROM players p WHERE tier = 'archived' AND EXISTS (SELECT 1 FROM equipment e WHERE e.player_id = p.id)"), 0u) << fp;
    EXPECT_EQ(count("SELECT count(*) FROM players p WHERE tier = 'warm' AND (SELECT count(*) FROM equipment e WHERE e.player_id = p.id) <> 8"), 0u) << fp;
  }
  std::string err;
  ASSERT_EQ(strata({"tier", "freeze"}, "", &err), 0) << err;
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 200u);
  conn_->exec("UPDATE players SET tier = 'restoring' WHERE id IN (SELECT id FROM players ORDER BY id LIMIT 120)");
  for (const char* fp : {"thaw.before_commit", "thaw.after_commit"}) {
    EXPECT_EQ(strata({"tier", "thaw", "--restoring", "--limit", "50"}, fp), 86) << fp;
  }
  ASSERT_EQ(strata({"tier", "thaw", "--restoring"}, "", &err), 0) << err;
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'restoring'"), 0u);
  ASSERT_EQ(strata({"tier", "thaw", "--all-archived"}, "", &err), 0) << err;
  EXPECT_EQ(digest(), before);
  // A pack left behind by the crash after commit, or by entities skipped, is all that may remain.
  std::string out;
  ASSERT_EQ(strata({"tier", "status", "--json"}, "", &out), 0);
}

TEST_F(TieringTest, ArchiveFromBeforeNewColumnsThawsWithDefaultsAndIncompatibleFailsClearly) {
  demo(20);
  make_all_warm();
  auto repo = open_repo();
  {
    Tierer t(entity(), repo.get());
    ASSERT_EQ(t.freeze().frozen, 20u);
  }
  conn_->exec("ALTER TABLE bank_items ADD COLUMN color text NOT NULL DEFAULT 'red'");
  conn_->exec("ALTER TABLE friends DROP COLUMN nickname");
  Tierer t(entity(), repo.get());
  try {
    t.thaw(key_of(1));
    FAIL() << "thaw of an archive with a dropped column succeeded";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupportedVersion);
    EXPECT_NE(std::string(e.what()).find("players/" + key_of(1)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("friends.nickname"), std::string::npos) << e.what();
  }
  EXPECT_EQ(tier_of(key_of(1)), "archived");
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 0u);  // the failed thaw left nothing half-done
  conn_->exec("ALTER TABLE friends ADD COLUMN nickname varchar(64)");
  EXPECT_EQ(t.thaw(key_of(1)), ThawOutcome::kThawed);
  EXPECT_EQ(count("SELECT count(*) FROM bank_items WHERE color = 'red'"), 5u);
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE event = 'thaw_failed'"), 1u);
}

TEST_F(TieringTest, ConcurrentThawsOfOneEntityCoalesce) {
  demo(10);
  make_all_warm();
  auto repo = open_repo();
  ASSERT_EQ(Tierer(entity(), repo.get()).freeze().frozen, 10u);
  std::string k = key_of(7);
  std::atomic<int> thawed{0}, hot{0};
  std::vector<std::thread> ts;
  EntityConfig cfg = entity();
  for (int i = 0; i < 6; ++i) {
    ts.emplace_back([&] {
      auto r = open_repo();
      Tierer t(cfg, r.get());
      (t.thaw(k) == ThawOutcome::kThawed ? thawed : hot)++;
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(thawed.load(), 1);
  EXPECT_EQ(hot.load(), 5);
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 8u);
  EXPECT_EQ(count("SELECT count(*) FROM bank_items"), 5u);
}

TEST_F(TieringTest, PackedSingleThawReadsOneByteRangeOfThePack) {
  demo(100);
  make_all_warm();
  RecordingStorage* rec = nullptr;
  auto repo = open_repo(&rec);
  EntityConfig e = entity(50, 100);
  e.keep_after_thaw = true;
  Tierer t(e, repo.get());
  auto st = t.freeze();
  EXPECT_EQ(st.frozen, 100u);
  EXPECT_EQ(repo->storage().list("tier/players/packs/").size(), 2u);
  std::string k = key_of(42);
  std::string loc = scalar("SELECT archive_location FROM players WHERE id = $1::uuid", {k});
  std::string pack = loc.substr(0, loc.find('/'));
  uint64_t pack_size = repo->storage().stat("tier/players/packs/" + pack)->size;
  rec->gets.clear();
  // A fresh store (no cached keys) reads the pack exactly once, a small range.
  auto repo2 = open_repo(&rec);
  Tierer t2(e, repo2.get());
  rec->gets.clear();
  ASSERT_EQ(t2.thaw(k), ThawOutcome::kThawed);
  int data_reads = 0;
  for (const auto& g : rec->gets) {
    if (g.key == "tier/players/packs/" + pack) {
      ++data_reads;
      EXPECT_LT(g.length, pack_size / 10);
    }
  }
  EXPECT_EQ(data_reads, 1);
  // keep_after_thaw: the archive is still readable.
  EXPECT_NO_THROW(ArchiveStore(*repo2, "players", Compression{}).read(loc, k));
}

TEST_F(TieringTest, EraseCryptoShredsOnePackedEntityAndRecordsIt) {
  demo(10);
  make_all_warm();
  auto repo = open_repo();
  EntityConfig e = entity();
  Tierer t(e, repo.get());
  ASSERT_EQ(t.freeze().frozen, 10u);
  ASSERT_EQ(repo->storage().list("tier/players/packs/").size(), 1u);
  std::string k = key_of(2);
  std::string loc = scalar("SELECT archive_location FROM players WHERE id = $1::uuid", {k});
  // A key without a row may still have old archives: erase searches every pack and records the request anyway.
  EXPECT_EQ(t.erase(key_of(99999)), 0u);
  EXPECT_EQ(t.erase(k), 1u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE id = '" + k + "'"), 0u);
  ArchiveStore store(*repo, "players", Compression{});
  // Recorded under the key's hash; the key itself is nowhere in the events (issue 12, defect 4).
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE event = 'erased' AND key = '" + digest_hex(store.key_hash(k)) + "'"), 1u);
  EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE key = '" + k + "'"), 0u);
  try {
    store.read(loc, k);
    FAIL() << "erased entity still readable";
  } catch (const StrataError& err) {
    EXPECT_EQ(err.code(), ErrorCode::kNotFound);
  }
  EXPECT_EQ(repo->storage().list("tier/players/erased/").size(), 2u);
  // Its neighbours in the same pack are untouched.
  EXPECT_EQ(t.thaw_batch(true).thawed, 9u);
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 72u);
  // A hot entity is refused with the next step named.
  try {
    t.erase(key_of(3));
    FAIL();
  } catch (const StrataError& err) {
    EXPECT_NE(std::string(err.what()).find("is hot"), std::string::npos) << err.what();
  }
}

TEST_F(TieringTest, GcDestroysUnreferencedEntriesButNeverAnInFlightFreeze) {
  demo(30);
  make_all_warm();
  auto repo = open_repo();
  Tierer t(entity(10, 10, 1), repo.get());
  ArchiveStore store(*repo, "players", Compression{});
  std::vector<std::string> k;
  for (int i = 0; i < 30; ++i) k.push_back(key_of(i));
  auto slice = [&](size_t a, size_t b) { return std::vector<std::string>(k.begin() + a, k.begin() + b); };

  // 1. An entity that changes during its freeze: its entry in the stored pack is referenced by nothing.
  std::string expected;
  FreezeHooks change;
  change.before_commit = [&](const std::vector<std::string>&) {
    PgConn other(conninfo_);
    other.exec("UPDATE bank_items SET qty = qty + 1 WHERE player_id = $1::uuid", {k[3]});
    expected = digest();  // nothing deleted yet
  };
  auto s1 = t.freeze_keys(slice(0, 10), change);
  EXPECT_EQ(s1.frozen, 9u);
  EXPECT_EQ(store.find_all(k[3]).size(), 1u);

  // 2. A freeze that dies after storing its pack, and a re-run whose batch differs: the first pack is garbage.
  FreezeHooks die;
  die.before_commit = [](const std::vector<std::string>&) { fail(ErrorCode::kGeneric, "killed after the store"); };
  EXPECT_THROW(t.freeze_keys(slice(10, 20), die), StrataError);
  EXPECT_EQ(t.freeze_keys(slice(10, 19)).frozen, 9u);
  EXPECT_EQ(store.find_all(k[19]).size(), 1u);
  // A data object whose index was never written (a crash between the two writes).
  std::string stray = "tier/players/packs/00000000000000000000000000000000";
  repo->storage().put(stray, as_bytes(std::string("STRTPAK1 half a pack")), PutMode::kCreateOnly);

  // 3. gc starts while a freeze has stored its pack but not committed it: it must wait, not destroy that pack.
  size_t collected = SIZE_MAX;
  std::atomic<bool> gc_done{false};
  std::thread gc;
  FreezeHooks race;
  race.before_commit = [&](const std::vector<std::string>&) {
    gc = std::thread([&] {
      auto r = open_repo();
      collected = Tierer(entity(), r.get()).collect_garbage();
      gc_done = true;
    });
    // Wait (without a timer) until gc is queued behind this freeze's lock.
    PgConn watch(conninfo_);
    for (;;) {
      ASSERT_FALSE(gc_done.load()) << "gc ran while a stored pack was not yet committed";
      if (watch.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").rows[0][0] == PgValue("1")) break;
    }
  };
  EXPECT_EQ(t.freeze_keys(slice(20, 30), race).frozen, 10u);
  gc.join();
  // The changed entity's entry and the dead run's ten (one of them, k[19]'s, never frozen since).
  EXPECT_EQ(collected, 11u);
  EXPECT_FALSE(repo->storage().stat(stray));
  EXPECT_TRUE(store.find_all(k[3]).empty());
  EXPECT_TRUE(store.find_all(k[19]).empty());
  for (size_t i = 20; i < 30; ++i) EXPECT_EQ(store.find_all(k[i]).size(), 1u) << i;
  EXPECT_EQ(t.collect_garbage(), 0u);  // converged

  // Everything referenced still thaws; what gc took was never needed.
  EXPECT_EQ(t.freeze_keys({k[3], k[19]}).frozen, 2u);
  auto ts = t.thaw_batch(true);
  EXPECT_EQ(ts.thawed, 30u);
  EXPECT_EQ(ts.failed, 0u);
  EXPECT_EQ(digest(), expected);

  // keep_after_thaw keeps unreferenced archives on purpose: gc refuses instead of guessing.
  EntityConfig keep = entity();
  keep.keep_after_thaw = true;
  EXPECT_THROW(Tierer(keep, repo.get()).collect_garbage(), StrataError);
}

TEST_F(TieringTest, BatchThawWalksEveryRowOnceIncludingRowsWithoutActivity) {
  demo(30);
  make_all_warm();
  auto repo = open_repo();
  Tierer t(entity(4, 4, 2), repo.get());  // batches of 4: the cursor crosses many pages, two workers share the rows
  std::string expected = digest();
  ASSERT_EQ(t.freeze().frozen, 30u);
  // Rows without an activity timestamp sort last; the cursor must still reach all of them.
  conn_->exec("CREATE TABLE saved AS SELECT id, last_active FROM players");
  conn_->exec("ALTER TABLE players ALTER COLUMN last_active DROP NOT NULL");
  conn_->exec("UPDATE players SET last_active = NULL WHERE id IN (SELECT id FROM players ORDER BY id LIMIT 9)");
  conn_->exec("UPDATE players SET tier = 'restoring' WHERE id IN (SELECT id FROM players ORDER BY id DESC LIMIT 5)");
  auto only_restoring = t.thaw_batch(false);
  EXPECT_EQ(only_restoring.thawed, 5u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 25u);
  auto rest = t.thaw_batch(true);
  EXPECT_EQ(rest.thawed, 25u);
  EXPECT_EQ(rest.failed, 0u);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'hot'"), 30u);
  conn_->exec("UPDATE players p SET last_active = s.last_active FROM saved s WHERE p.id = s.id");
  EXPECT_EQ(digest(), expected);
}

TEST_F(TieringTest, StatusReportsTiersBacklogAndPacks) {
  demo(200, 50);
  auto repo = open_repo();
  Tierer t(entity(), repo.get());
  t.cooldown();
  auto s = t.status();
  std::map<std::string, uint64_t> tiers(s.tiers.begin(), s.tiers.end());
  EXPECT_EQ(tiers["warm"], 100u);
  EXPECT_EQ(tiers["hot"], 100u);
  EXPECT_EQ(s.freeze_backlog, 100u);
  EXPECT_FALSE(s.oldest_warm.empty());
  t.freeze();
  s = t.status();
  EXPECT_EQ(s.freeze_backlog, 0u);
  EXPECT_EQ(s.packs, 1u);
  EXPECT_NE(s.to_json().find("\"archived\":100"), std::string::npos) << s.to_json();
}

TEST_F(TieringTest, OneObjectPerEntityAndRefreezeOfUnchangedEntitiesReusesTheirPack) {
  demo(10);
  make_all_warm();
  auto repo = open_repo();
  EntityConfig e = entity(1, 500);
  Tierer t(e, repo.get());
  EXPECT_EQ(t.freeze().frozen, 10u);
  EXPECT_EQ(repo->storage().list("tier/players/packs/").size(), 10u);
  EXPECT_EQ(t.thaw_batch(true).thawed, 10u);
  EXPECT_TRUE(repo->storage().list("tier/players/packs/").empty());
  // Kept archives: freezing the same rows again lands on the same deterministic key and reuses it after checking it.
  e.pack_size = 10;
  e.keep_after_thaw = true;
  Tierer k(e, repo.get());
  make_all_warm();
  EXPECT_EQ(k.freeze().frozen, 10u);
  auto first = repo->storage().list("tier/players/index/");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(k.thaw_batch(true).thawed, 10u);
  make_all_warm();
  EXPECT_EQ(k.freeze().frozen, 10u);
  auto second = repo->storage().list("tier/players/index/");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].key, first[0].key);
  EXPECT_EQ(k.thaw_batch(true).thawed, 10u);
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 80u);
}

TEST_F(TieringTest, ConfigRejectsPasswordsAndBadDefinitions) {
  std::string path = dir_ + "/bad.toml";
  std::ofstream(path) << "[entity.p]\ndatabase = \"host=127.0.0.1 password=hunter2\"\nroot = \"p\"\nkey = \"id\"\nactivity = \"a\"\n";
  try {
    load_entity(path, "p");
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("PGPASSWORD"), std::string::npos) << e.what();
  }
  std::ofstream(path) << "[entity.p]\ndatabase = \"host=127.0.0.1\"\nroot = \"p\"\nkey = \"id\"\nactivity = \"a\"\n"
                         "[[entity.p.child]]\ntable = \"c\"\nfk = \"p_id\"\nparent = \"nope\"\nparent_key = \"id\"\n";
  EXPECT_THROW(load_entity(path, "p"), StrataError);
  EXPECT_THROW(load_entity(path, "q"), StrataError);
  EXPECT_EQ(parse_duration("3d"), 3 * 86400);
  EXPECT_EQ(parse_duration("90m"), 5400);
  EXPECT_THROW(parse_duration("3 days"), StrataError);
}

TEST_F(TieringTest, FreezeThawAndEraseThroughS3) {
  if (!have_moto()) GTEST_SKIP() << "moto_server is not installed (scripts/install-deps.sh)";
  use_s3();
  demo(120);
  std::string before = digest();
  RecordingStorage* rec = nullptr;
  auto repo = open_repo(&rec);
  Tierer t(entity(50, 100, 2), repo.get());
  t.cooldown();
  auto st = t.freeze();
  EXPECT_EQ(st.frozen, 120u);
  EXPECT_EQ(repo->storage().list("tier/players/packs/").size(), st.packs);
  rec->gets.clear();
  std::string k = key_of(11);
  ASSERT_EQ(t.thaw(k), ThawOutcome::kThawed);
  for (const auto& g : rec->gets) {
    if (g.key.rfind("tier/players/packs/", 0) == 0) {
      EXPECT_LT(g.length, 10000u) << "a single thaw read a whole pack";
    }
  }
  EXPECT_EQ(t.thaw_batch(true).thawed, 119u);
  EXPECT_EQ(digest(), before);
  EXPECT_TRUE(repo->storage().list("tier/players/packs/").empty());
  // Erase on S3: freeze one again, destroy it, and its neighbours still thaw.
  make_all_warm();
  ASSERT_EQ(t.freeze().frozen, 120u);
  EXPECT_EQ(t.erase(k), 1u);
  EXPECT_EQ(t.thaw_batch(true).thawed, 119u);
  EXPECT_EQ(count("SELECT count(*) FROM players"), 119u);
}

}  // namespace
