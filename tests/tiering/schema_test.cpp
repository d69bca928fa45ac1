// The schema contract (src/tiering/schema.*): the entity definition is checked against pg_constraint at setup and at
// the start of every freeze, and the child tables can be derived from the foreign keys.
#include "tiering/schema.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

class TierSchema : public TieringTest {
 protected:
  // check_schema_contract's message, or "" when the definition passes.
  std::string problem(const EntityConfig& e) {
    try {
      check_schema_contract(*conn_, e);
      return "";
    } catch (const StrataError& err) {
      EXPECT_EQ(err.code(), ErrorCode::kUsage);
      return err.what();
    }
  }
};

TEST_F(TierSchema, DerivesTheDemoEntityToAnyDepthFromItsForeignKeys) {
  demo(1);
  EntityConfig e = entity();
  std::map<std::string, std::string> got;
  for (const auto& c : derive_children(*conn_, e)) got[c.table] = c.fk + "<-" + c.parent + "." + c.parent_key;
  std::map<std::string, std::string> want;
  for (const auto& c : e.children) want[c.table] = c.fk + "<-" + c.parent + "." + c.parent_key;
  EXPECT_EQ(got, want);
  EXPECT_EQ(problem(e), "");
}

TEST_F(TierSchema, RefusesMissingEdgesAndOutsideReferencesAcceptsSecondPathsAndCompositeKeys) {
  demo(3);
  make_all_warm();
  auto repo = open_repo();
  EntityConfig e = entity();
  // An edge the database does not enforce: the parent's row lock would not keep new child rows out.
  conn_->exec("ALTER TABLE bank_items DROP CONSTRAINT bank_items_player_id_fkey");
  std::string msg = problem(e);
  EXPECT_NE(msg.find("child table bank_items: column player_id has no foreign key to players (id)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ALTER TABLE bank_items ADD FOREIGN KEY (player_id) REFERENCES players (id)"), std::string::npos) << msg;
  EXPECT_THROW(Tierer(e, repo.get()).freeze(), StrataError);
  EXPECT_EQ(count("SELECT count(*) FROM players WHERE tier = 'archived'"), 0u);
  conn_->exec("ALTER TABLE bank_items ADD FOREIGN KEY (player_id) REFERENCES players (id)");
  EXPECT_EQ(problem(e), "");

  // A second path into a child table (a mod that also points at a bank item) is supported: a freeze keeps entities
  // whose links cross to another entity (tests/tiering/multipath_test.cpp).
  conn_->exec("ALTER TABLE equipment_mods ADD COLUMN bank_item_id bigint CONSTRAINT mods_bank_fk REFERENCES bank_items (id)");
  EXPECT_EQ(problem(e), "");
  auto seconds = second_paths(*conn_, e);
  ASSERT_EQ(seconds.size(), 1u);
  EXPECT_EQ(seconds[0].name, "mods_bank_fk");
  conn_->exec("ALTER TABLE equipment_mods DROP COLUMN bank_item_id");
  // A second foreign key to the root is harmless: the root row never leaves the database.
  conn_->exec("ALTER TABLE friends ADD CONSTRAINT friends_friend_fk FOREIGN KEY (friend_id) REFERENCES players (id) NOT VALID");
  EXPECT_EQ(problem(e), "");

  // A composite foreign key as the configured edge is supported.
  conn_->exec("ALTER TABLE equipment ADD CONSTRAINT equipment_id_player UNIQUE (id, player_id)");
  conn_->exec("CREATE TABLE gems (id serial PRIMARY KEY, equipment_id bigint, player_id uuid, "
              "CONSTRAINT gems_equipment_fk FOREIGN KEY (equipment_id, player_id) REFERENCES equipment (id, player_id))");
  EntityConfig with_gems = e;
  with_gems.children.push_back({"gems", "equipment_id", "equipment", "id", {}});
  msg = problem(with_gems);  // the edge must name every column of the constraint
  EXPECT_NE(msg.find("child table gems: column equipment_id has no foreign key to equipment (id)"), std::string::npos) << msg;
  with_gems.children.back() = {"gems", "equipment_id,player_id", "equipment", "id,player_id", {}};
  EXPECT_EQ(problem(with_gems), "");
  // Left out of the entity, the same table is an outside reference to a child table.
  msg = problem(e);
  EXPECT_NE(msg.find("table gems (not part of the entity) references its child table equipment through constraint gems_equipment_fk"),
            std::string::npos)
      << msg;
  conn_->exec("DROP TABLE gems");
  EXPECT_EQ(problem(e), "");
  EXPECT_EQ(Tierer(e, repo.get()).freeze().frozen, 3u);
}

}  // namespace
