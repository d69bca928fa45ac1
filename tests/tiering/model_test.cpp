// Randomized model test: the strata binary runs freeze, thaw, cooldown, reap, gc and erase in random order, killed at
// random points (a fail-point's _exit, or SIGKILL after a random delay), while two writer threads follow the login
// protocol of docs/TIERING.md (thaw, then guard the write with the tier) and write at both child levels. At the end
// every player's rows are checked against a model of what committed: 0 lost, 0 duplicated, 0 rows outside the entity
// touched, erased players unrecoverable from anything in the repository or the database.
//
// STRATA_TIER_MODEL_SEED=<n> replays one run; STRATA_TIER_MODEL_STEPS sets its length (default 150, ~20 s).
#include <csignal>
#include <cstring>
#include <mutex>
#include <set>

#include "support/child_process.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

class TierModel : public TieringTest {
 protected:
  struct Player {
    std::multiset<std::string> bank, mods;  // writer rows (item_code 'w-*', mod 'wm-*') that committed
    int64_t kills = 0;                      // committed increments of player_stats.kills
    bool erase_started = false, erased = false;
  };

  // Every player's rows apart from what the writers change (their own rows, kills, last_active).
  std::map<std::string, std::string> base_digests() {
    auto r = conn_->exec(R"SQL(
SELECT p.id::text, md5(concat_ws('|',
  (p.id, p.name, p.email, p.level, p.gold, p.created_at, p.settings, p.avatar, p.tags)::text,
  (SELECT (s.player_id, s.deaths, s.playtime, s.ratio, s.extra)::text FROM player_stats s WHERE s.player_id = p.id),
  (SELECT string_agg(e::text, ',' ORDER BY e::text) FROM equipment e WHERE e.player_id = p.id),
  (SELECT string_agg(m::text, ',' ORDER BY m::text) FROM equipment_mods m JOIN equipment e ON e.id = m.equipment_id
    WHERE e.player_id = p.id AND m.mod NOT LIKE 'wm-%'),
  (SELECT string_agg(b::text, ',' ORDER BY b::text) FROM bank_items b WHERE b.player_id = p.id AND b.item_code NOT LIKE 'w-%'),
  (SELECT string_agg(f::text, ',' ORDER BY f::text) FROM friends f WHERE f.player_id = p.id)))
FROM players p)SQL");
    std::map<std::string, std::string> out;
    for (auto& row : r.rows) out[*row[0]] = *row[1];
    return out;
  }

  // Rows outside the entity: guild_members by player (the application deletes an erased player's row itself, as
  // docs/TIERING.md says it must), and the whole of an unrelated table.
  std::map<std::string, std::string> outside_rows() {
    std::map<std::string, std::string> out;
    for (auto& row : conn_->exec("SELECT player_id::text, string_agg(g::text, ',' ORDER BY g::text) FROM guild_members g GROUP BY 1").rows) {
      out[*row[0]] = *row[1];
    }
    out["audit_log"] = scalar("SELECT count(*) || md5(string_agg(a::text, ',' ORDER BY a::text)) FROM audit_log a");
    return out;
  }

  // Runs strata; with `kill_after_ms` >= 0 it is SIGKILLed after that long (or has exited by then).
  int run_strata(const std::vector<std::string>& args, const std::string& failpoint, int kill_after_ms, std::string* err) {
    if (kill_after_ms < 0) return strata(args, failpoint, err);
    std::vector<std::string> argv = {STRATA_BINARY, "--config", dir_ + "/cli.toml", "--repo", repo_dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    strata::test::ChildOptions o;
    o.env = child_env();
    o.stderr_path = dir_ + "/killed.log";
    pid_t pid = strata::test::spawn_child(argv, o);
    // Not a synchronisation: the delay only chooses where the kill lands; the checks hold for any point.
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    return strata::test::stop_child(pid, SIGKILL, std::chrono::milliseconds(0));
  }
};

TEST_F(TierModel, RandomOperationsKillsAndWritersMatchTheModel) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("STRATA_TIER_MODEL_SEED")) seed = static_cast<unsigned>(std::stoul(s));
  int steps = 150;
  if (const char* s = std::getenv("STRATA_TIER_MODEL_STEPS")) steps = std::stoi(s);
  RecordProperty("seed", std::to_string(seed));
  std::printf("model seed %u (STRATA_TIER_MODEL_SEED=%u replays it)\n", seed, seed);
  std::mt19937 rng(seed);
  constexpr int kPlayers = 48;
  demo(kPlayers);
  // Outside the entity: a table referencing the root (allowed: the root row never leaves) and an unrelated one.
  conn_->exec("CREATE TABLE guild_members (player_id uuid REFERENCES players (id), guild text)");
  conn_->exec("INSERT INTO guild_members SELECT id, 'guild-' || left(id::text, 2) FROM players");
  conn_->exec("CREATE TABLE audit_log (id serial PRIMARY KEY, what text)");
  conn_->exec("INSERT INTO audit_log (what) SELECT 'row ' || g FROM generate_series(1, 50) g");
  Tierer(entity(), nullptr).apply_setup();
  {
    std::string toml = demo_entity_toml(conninfo_);
    toml.replace(toml.find("batch = 500"), 11, "batch = 8");
    toml.replace(toml.find("pack_size = 500"), 15, "pack_size = 4");
    std::ofstream(dir_ + "/cli.toml") << toml;
  }
  const auto base = base_digests();
  auto outside = outside_rows();
  std::vector<std::string> keys;
  std::map<std::string, int64_t> kills0;
  for (auto& row : conn_->exec("SELECT id::text, (SELECT kills FROM player_stats s WHERE s.player_id = p.id) FROM players p ORDER BY 1").rows) {
    keys.push_back(*row[0]);
    kills0[*row[0]] = std::stoll(*row[1]);
  }
  std::mutex mu;
  std::map<std::string, Player> model;
  std::vector<std::string> unexpected;  // errors the protocol says cannot happen
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};

  auto writer = [&](unsigned wseed) {
    std::mt19937 wr(wseed);
    auto repo = open_repo();
    Tierer t(entity(), repo.get());
    PgConn c(conninfo_);
    int n = 0;
    while (!stop) {
      const std::string& p = keys[wr() % keys.size()];
      bool pending;
      {
        std::lock_guard<std::mutex> g(mu);
        pending = model[p].erase_started;
      }
      if (pending) continue;  // the application no longer serves a player it is erasing
      try {
        t.thaw(p);  // the login
      } catch (const StrataError& e) {
        // Only a player whose erasure began (meanwhile) may fail to log in.
        std::lock_guard<std::mutex> g(mu);
        if (!model[p].erase_started) unexpected.push_back(std::string("login thaw: ") + e.what());
        continue;
      }
      int op = static_cast<int>(wr() % 3);
      std::string token = (op == 1 ? "wm-" : "w-") + std::to_string(wseed) + "-" + std::to_string(++n);
      try {
        c.exec("BEGIN");
        auto r = c.exec("SELECT tier FROM players WHERE id = $1::uuid FOR SHARE", {p});
        if (r.rows.empty() || (r.rows[0][0] != PgValue("hot") && r.rows[0][0] != PgValue("warm"))) {
          c.exec("ROLLBACK");
          continue;
        }
        uint64_t affected = 0;
        if (op == 0) {
          affected = c.exec("INSERT INTO bank_items (player_id, item_code, qty) VALUES ($1::uuid, $2, 1)", {p, token}).affected;
        } else if (op == 1) {
          affected = c.exec("INSERT INTO equipment_mods (equipment_id, mod) SELECT id, $2 FROM equipment WHERE player_id = $1::uuid "
                            "ORDER BY id LIMIT 1",
                            {p, token})
                         .affected;
        } else {
          affected = c.exec("UPDATE player_stats SET kills = kills + 1 WHERE player_id = $1::uuid", {p}).affected;
        }
        // Most sessions end long ago as far as tiering is concerned, so the player becomes freezable again.
        c.exec(std::string("UPDATE players SET last_active = now() - interval '") + (wr() % 5 ? "30 days" : "1 second") +
                   "' WHERE id = $1::uuid",
               {p});
        c.exec("COMMIT");
        std::lock_guard<std::mutex> g(mu);
        if (affected != 1) {
          unexpected.push_back("write to " + p + " affected " + std::to_string(affected) + " rows");
          continue;
        }
        if (op == 0) model[p].bank.insert(token);
        if (op == 1) model[p].mods.insert(token);
        if (op == 2) ++model[p].kills;
        ++writes;
      } catch (const StrataError& e) {
        c.rollback();  // not committed: the model does not change
      }
    }
  };
  std::thread w1(writer, seed * 2 + 1), w2(writer, seed * 2 + 2);

  auto pick = [&](std::initializer_list<const char*> fps) -> std::string {
    if (rng() % 10 < 4) return *(fps.begin() + rng() % fps.size());
    return "";
  };
  for (int step = 0; step < steps; ++step) {
    std::vector<std::string> args;
    std::string fp;
    std::string erase_key;
    bool thawing = false;
    switch (rng() % 8) {
      case 0: args = {"tier", "cooldown"}; break;
      case 1:
      case 2:
        args = {"tier", "freeze"};
        if (rng() % 2) args.insert(args.end(), {"--limit", std::to_string(4 + rng() % 20)});
        fp = pick({"freeze.after_snapshot", "freeze.after_data", "freeze.after_index", "freeze.after_store",
                   "freeze.before_commit", "freeze.after_commit", "index.before_rename"});
        break;
      case 3:
        // The application marks a few archived players as wanted back (the outer tier condition matters: a row a
        // login thawed meanwhile is re-checked against it, never against the subquery's old snapshot).
        conn_->exec("UPDATE players SET tier = 'restoring' WHERE tier = 'archived' AND id IN (SELECT id FROM players WHERE tier = 'archived' "
                    "ORDER BY md5(id::text || $1) LIMIT 3)",
                    {std::to_string(step)});
        args = {"tier", "thaw", rng() % 2 ? "--restoring" : "--all-archived", "--limit", std::to_string(2 + rng() % 10)};
        fp = pick({"thaw.before_commit", "thaw.after_commit", "index.before_rename"});
        thawing = true;
        break;
      case 4: args = {"tier", "reap"}; fp = pick({"index.before_rename"}); break;
      case 5: args = {"tier", "gc"}; fp = pick({"index.before_rename"}); break;
      case 6: {
        std::lock_guard<std::mutex> g(mu);
        size_t started = 0;
        for (auto& [k, pl] : model) started += pl.erase_started;
        if (started >= 4) continue;
        erase_key = scalar("SELECT id::text FROM players WHERE tier = 'archived' ORDER BY md5(id::text || $1) LIMIT 1",
                           {std::to_string(step)});
        if (erase_key.empty()) continue;
        model[erase_key].erase_started = true;
        conn_->exec("DELETE FROM guild_members WHERE player_id = $1::uuid", {erase_key});  // the application's part
        outside.erase(erase_key);
        args = {"tier", "erase", erase_key};
        fp = pick({"erase.after_shred", "index.before_rename"});
        break;
      }
      default: args = {"tier", "freeze"}; break;
    }
    int kill_ms = fp.empty() && rng() % 5 == 0 ? static_cast<int>(rng() % 250) : -1;
    std::string err;
    int code = run_strata(args, fp, kill_ms, &err);
    bool pending_erase = false;
    {
      std::lock_guard<std::mutex> g(mu);
      for (auto& [k, pl] : model) pending_erase |= pl.erase_started && !pl.erased;
    }
    if (!erase_key.empty() && code == 2 && (tier_of(erase_key) == "hot" || tier_of(erase_key) == "warm")) {
      // A login that began before the application stopped serving the player won the race: erase refused before
      // destroying anything, and the player is simply not erased.
      std::lock_guard<std::mutex> g(mu);
      model[erase_key].erase_started = false;
      continue;
    }
    bool ok = code == 0 || code == 86 || code == 137 ||
              (code == 6 && args[1] == "freeze") ||                      // a killed run's lock not yet released
              (code == 13 && thawing && pending_erase);                   // the entry of an interrupted erase
    EXPECT_TRUE(ok) << "step " << step << " seed " << seed << ": " << args[1] << " (fp " << fp << ", kill " << kill_ms << ") exited "
                    << code << ": " << err;
    if (!erase_key.empty() && code == 0) {
      std::lock_guard<std::mutex> g(mu);
      model[erase_key].erased = true;
    }
  }
  stop = true;
  w1.join();
  w2.join();
  EXPECT_GT(writes.load(), 0);
  for (const auto& u : unexpected) ADD_FAILURE() << "seed " << seed << ": " << u;

  // Converge: finish interrupted erasures, thaw everything, reap, collect.
  std::string err;
  for (auto& [k, pl] : model) {
    if (pl.erase_started && !pl.erased) {
      std::string tier = tier_of(k);
      if (tier == "hot" || tier == "warm") {
        // Killed before it destroyed the current archive, and a batch thaw brought the player back whole: not erased.
        pl.erase_started = false;
        continue;
      }
      ASSERT_EQ(strata({"tier", "erase", k}, "", &err), 0) << err;
      pl.erased = true;
    }
  }
  ASSERT_EQ(strata({"tier", "thaw", "--all-archived"}, "", &err), 0) << err;
  ASSERT_EQ(strata({"tier", "reap"}, "", &err), 0) << err;
  ASSERT_EQ(strata({"tier", "gc"}, "", &err), 0) << err;

  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier NOT IN ('hot', 'warm')"), 0u);
  EXPECT_EQ(outside_rows(), outside) << "rows outside the entity changed";
  auto now = base_digests();
  std::map<std::string, std::multiset<std::string>> bank, mods;
  for (auto& row : conn_->exec("SELECT player_id::text, item_code FROM bank_items WHERE item_code LIKE 'w-%'").rows) bank[*row[0]].insert(*row[1]);
  for (auto& row : conn_->exec("SELECT e.player_id::text, m.mod FROM equipment_mods m JOIN equipment e ON e.id = m.equipment_id "
                               "WHERE m.mod LIKE 'wm-%'").rows) {
    mods[*row[0]].insert(*row[1]);
  }
  std::map<std::string, int64_t> kills;
  for (auto& row : conn_->exec("SELECT player_id::text, kills FROM player_stats").rows) kills[*row[0]] = std::stoll(*row[1]);
  auto repo = open_repo();
  ArchiveStore store(*repo, "players", Compression{});
  size_t erased = 0;
  for (const auto& k : keys) {
    Player& pl = model[k];
    if (pl.erased) {
      ++erased;
      EXPECT_FALSE(now.count(k)) << k << " was erased but has a row";
      EXPECT_FALSE(bank.count(k) || mods.count(k) || kills.count(k)) << k << " was erased but has child rows";
      EXPECT_TRUE(store.find_all(k).empty()) << k << " was erased but an archive of it is live";
      EXPECT_EQ(count("SELECT count(*) FROM strata_tier_events WHERE key = '" + k + "' OR strpos(detail, '" + k + "') > 0"), 0u) << k;
      continue;
    }
    ASSERT_TRUE(now.count(k)) << k << " lost its root row";
    EXPECT_EQ(now[k], base.at(k)) << k << ": rows lost, duplicated or changed (seed " << seed << ")";
    EXPECT_EQ(bank[k], pl.bank) << k << ": committed bank deposits lost or duplicated (seed " << seed << ")";
    EXPECT_EQ(mods[k], pl.mods) << k << ": committed equipment mods lost or duplicated (seed " << seed << ")";
    EXPECT_EQ(kills[k], kills0.at(k) + pl.kills) << k << ": committed kills lost (seed " << seed << ")";
  }
  EXPECT_EQ(now.size(), keys.size() - erased);
  // Nothing is left in the repository's tier area but erasure records: every archive was thawed and reaped or
  // collected, and no crashed writer's copy of an index survives.
  EXPECT_TRUE(repo->storage().list("tier/players/packs/").empty());
  EXPECT_TRUE(repo->storage().list("tier/players/index/").empty());
  EXPECT_TRUE(repo->storage().list_incomplete("tier/").empty());
}

}  // namespace
