// Composite foreign keys between an entity's tables and child tables reached through more than one path
// (docs/TIERING.md "Schema contract"): frozen and thawed byte for byte, and an entity linked to another entity's rows
// through a second path stays in the database, recorded, instead of being half archived.
#include "tiering/schema.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

class TierMultiPath : public TieringTest {
 protected:
  // digest() plus the tables these tests add.
  std::string all_digest(const std::vector<std::string>& extra) {
    std::string out = digest();
    for (const auto& t : extra) {
      out += t + ":" + scalar("SELECT count(*) || '/' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') FROM " + t + " t") + " ";
    }
    return out;
  }
};

TEST_F(TierMultiPath, CompositeForeignKeyEdgeFreezesAndThawsByteForByte) {
  demo(4);
  conn_->exec("ALTER TABLE equipment ADD CONSTRAINT equipment_id_player UNIQUE (id, player_id)");
  conn_->exec("CREATE TABLE gems (id serial PRIMARY KEY, equipment_id bigint NOT NULL, player_id uuid NOT NULL, cut text, "
              "CONSTRAINT gems_equipment_fk FOREIGN KEY (player_id, equipment_id) REFERENCES equipment (player_id, id))");
  conn_->exec("INSERT INTO gems (equipment_id, player_id, cut) SELECT id, player_id, 'cut ' || id || E'\\t\\\\' FROM equipment");
  conn_->exec("INSERT INTO gems (equipment_id, player_id, cut) SELECT id, player_id, NULL FROM equipment");
  EntityConfig e = entity();
  e.children.push_back({"gems", "equipment_id, player_id", "equipment", "id,player_id", {}});
  e.validate();
  Tierer(e, nullptr).apply_setup();  // refused before composite edges were supported
  EXPECT_EQ(count("SELECT count(*) FROM pg_indexes WHERE tablename = 'gems' AND indexdef LIKE '%(equipment_id, player_id)%'"), 1u);
  make_all_warm();
  uint64_t gems = count("SELECT count(*) FROM gems");
  ASSERT_GT(gems, 4u);
  std::string before = all_digest({"gems"});
  auto repo = open_repo();
  Tierer t(e, repo.get());
  EXPECT_EQ(t.freeze().frozen, 4u);
  EXPECT_EQ(count("SELECT count(*) FROM gems"), 0u);
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 0u);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(t.thaw(key_of(g)), ThawOutcome::kThawed);
  EXPECT_EQ(count("SELECT count(*) FROM gems"), gems);
  EXPECT_EQ(all_digest({"gems"}), before);

  // The configured columns must pair with the constraint's: a wrong pairing is refused, naming what to add.
  EntityConfig wrong = entity();
  wrong.children.push_back({"gems", "equipment_id", "equipment", "id", {}});
  try {
    check_schema_contract(*conn_, wrong);
    ADD_FAILURE() << "accepted an edge without a foreign key on exactly those columns";
  } catch (const StrataError& err) {
    EXPECT_NE(std::string(err.what()).find("ALTER TABLE gems ADD FOREIGN KEY (equipment_id) REFERENCES equipment (id)"), std::string::npos)
        << err.what();
  }
}

TEST_F(TierMultiPath, ChildTableReachedThroughTwoPathsRoundTripsAndForeignLinksKeepTheEntity) {
  demo(4);
  // trades hangs off the root and also off bank_items (the item traded): two paths to the root.
  conn_->exec("CREATE TABLE trades (id serial PRIMARY KEY, player_id uuid NOT NULL REFERENCES players (id), "
              "item_id bigint CONSTRAINT trades_item_fk REFERENCES bank_items (id) ON DELETE CASCADE, note text)");
  conn_->exec("INSERT INTO trades (player_id, item_id, note) SELECT player_id, id, 'sold ' || id FROM bank_items");
  conn_->exec("INSERT INTO trades (player_id, item_id, note) SELECT id, NULL, 'no item' FROM players");
  EntityConfig e = entity();
  e.children.push_back({"trades", "player_id", "", "", {}});
  Tierer(e, nullptr).apply_setup();  // refused before second paths were supported
  EXPECT_EQ(count("SELECT count(*) FROM pg_indexes WHERE tablename = 'trades' AND indexdef LIKE '%(item_id)%'"), 1u);
  ASSERT_EQ(second_paths(*conn_, e).size(), 1u);

  // Player 1 holds a trade of one of player 0's items: neither is self-contained.
  std::string p0 = key_of(0), p1 = key_of(1);
  conn_->exec("INSERT INTO trades (player_id, item_id, note) SELECT $1::uuid, min(id), 'cross' FROM bank_items WHERE player_id = $2::uuid",
              {p1, p0});
  make_all_warm();
  std::string before = all_digest({"trades"});
  uint64_t trades = count("SELECT count(*) FROM trades");
  auto repo = open_repo();
  Tierer t(e, repo.get());
  auto st = t.freeze();
  EXPECT_EQ(st.frozen, 2u);
  EXPECT_EQ(st.failed, 2u);
  EXPECT_EQ(tier_of(p0), "warm");
  EXPECT_EQ(tier_of(p1), "warm");
  // Nothing of theirs was touched (ON DELETE CASCADE would have taken player 1's cross trade with player 0's item).
  EXPECT_EQ(count("SELECT count(*) FROM trades WHERE player_id IN ($$" + p0 + "$$, $$" + p1 + "$$)"),
            count("SELECT count(*) FROM bank_items WHERE player_id IN ($$" + p0 + "$$, $$" + p1 + "$$)") + 3);
  std::string why = scalar("SELECT detail FROM strata_tier_events WHERE event = 'freeze_failed' AND key = $1", {p0});
  EXPECT_NE(why.find("entity players/" + p0 + ": freeze refused: a trades row of another entity (or of none) references one of its "
                     "bank_items rows (trades -> bank_items through constraint trades_item_fk)"),
            std::string::npos)
      << why;
  why = scalar("SELECT detail FROM strata_tier_events WHERE event = 'freeze_failed' AND key = $1", {p1});
  EXPECT_NE(why.find("a row of trades references a bank_items row of another entity"), std::string::npos) << why;
  for (int g = 2; g < 4; ++g) EXPECT_EQ(t.thaw(key_of(g)), ThawOutcome::kThawed);
  EXPECT_EQ(all_digest({"trades"}), before);
  EXPECT_EQ(count("SELECT count(*) FROM trades"), trades);

  // With the link cleared, every player freezes; thawed, every row is back exactly once.
  conn_->exec("UPDATE trades SET item_id = NULL WHERE note = 'cross'");
  before = all_digest({"trades"});
  make_all_warm();
  st = t.freeze();
  EXPECT_EQ(st.frozen, 4u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(count("SELECT count(*) FROM trades"), 0u);
  EXPECT_EQ(count("SELECT count(*) FROM bank_items"), 0u);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(t.thaw(key_of(g)), ThawOutcome::kThawed);
  EXPECT_EQ(all_digest({"trades"}), before);
  EXPECT_EQ(count("SELECT count(*) FROM trades"), trades);
}

TEST_F(TierMultiPath, SelfReferenceAndCyclesAreRefusedWithWhatToChange) {
  demo(1);
  EntityConfig e = entity();
  conn_->exec("ALTER TABLE bank_items ADD COLUMN stack_of bigint CONSTRAINT bank_stack_fk REFERENCES bank_items (id)");
  try {
    check_schema_contract(*conn_, e);
    ADD_FAILURE() << "accepted a self-reference";
  } catch (const StrataError& err) {
    EXPECT_NE(std::string(err.what()).find("child table bank_items references itself through constraint bank_stack_fk"), std::string::npos)
        << err.what();
  }
  conn_->exec("ALTER TABLE bank_items DROP COLUMN stack_of");
  conn_->exec("ALTER TABLE equipment ADD COLUMN mod_id bigint CONSTRAINT equipment_mod_fk REFERENCES equipment_mods (id)");
  try {
    check_schema_contract(*conn_, e);
    ADD_FAILURE() << "accepted a cycle";
  } catch (const StrataError& err) {
    EXPECT_NE(std::string(err.what()).find("the foreign keys between its child tables form a cycle"), std::string::npos) << err.what();
  }
}

}  // namespace

namespace {

// A link to another entity's row that appears after the snapshot, through a second path two levels down (the owner
// of a mod is found through equipment): the freeze, which locks every referenced row before it checks, keeps both
// entities, and with ON DELETE CASCADE the other player's row is not taken along.
TEST_F(TierMultiPath, CrossLinkWrittenDuringTheFreezeKeepsBothEntitiesAndLosesNothing) {
  demo(3);
  conn_->exec("ALTER TABLE equipment_mods ADD COLUMN bank_item_id bigint CONSTRAINT mods_bank_fk REFERENCES bank_items (id) ON DELETE CASCADE");
  // Each mod points at one of its own player's bank items: self-contained.
  conn_->exec("UPDATE equipment_mods m SET bank_item_id = (SELECT min(b.id) FROM bank_items b, equipment e "
              "WHERE e.id = m.equipment_id AND b.player_id = e.player_id)");
  EntityConfig e = entity();
  Tierer(e, nullptr).apply_setup();
  make_all_warm();
  std::string p0 = key_of(0), p1 = key_of(1);
  auto repo = open_repo();
  Tierer t(e, repo.get());
  std::string linked;
  FreezeHooks hooks;
  hooks.before_commit = [&](const std::vector<std::string>&) {
    PgConn other(conninfo_);
    // A mod of player 1 now points at a bank item of player 0.
    other.exec("UPDATE equipment_mods SET bank_item_id = (SELECT min(id) FROM bank_items WHERE player_id = $1::uuid) "
               "WHERE id = (SELECT min(m.id) FROM equipment_mods m JOIN equipment q ON q.id = m.equipment_id WHERE q.player_id = $2::uuid)",
               {p0, p1});
    linked = digest();
  };
  auto st = t.freeze_keys({p0, p1, key_of(2)}, hooks);
  EXPECT_EQ(st.frozen, 1u);
  EXPECT_EQ(st.failed, 2u);
  EXPECT_EQ(tier_of(p0), "warm");
  EXPECT_EQ(tier_of(p1), "warm");
  EXPECT_EQ(tier_of(key_of(2)), "archived");
  EXPECT_EQ(t.thaw(key_of(2)), ThawOutcome::kThawed);
  EXPECT_EQ(digest(), linked);  // every row of all three, the cross link included, as the writer left it
}

}  // namespace

namespace {

TEST_F(TierMultiPath, MultiColumnEntityKeyIsRefusedSayingWhatToChange) {
  for (const char* key : {"key = [\"realm\", \"id\"]", "key = \"realm, id\""}) {
    std::string path = dir_ + "/multi.toml";
    std::ofstream(path) << "[entity.players]\ndatabase = \"host=127.0.0.1\"\nroot = \"players\"\n" << key << "\nactivity = \"last_active\"\n";
    try {
      load_entity(path, "players");
      ADD_FAILURE() << "accepted " << key;
    } catch (const StrataError& err) {
      EXPECT_EQ(err.code(), ErrorCode::kUsage);
      EXPECT_NE(std::string(err.what()).find("key names more than one column; a multi-column entity key is not supported: add a "
                                             "single-column unique key to the root table"),
                std::string::npos)
          << err.what();
    }
  }
}

}  // namespace
