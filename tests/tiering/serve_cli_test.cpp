// The CLI around the thaw service and the schema contract: `strata tier serve` comes up on its socket, answers, and
// stops cleanly on SIGTERM (socket removed, exit 0); `strata tier setup` prints the child tables the foreign keys
// reach and refuses an unsafe definition with exit 2.
#include <csignal>
#include <cstring>

#include "support/child_process.hpp"
#include "support/net_util.hpp"
#include "tiering/serve.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

class TierServeCli : public TieringTest {};

TEST_F(TierServeCli, ServeAnswersOnItsSocketAndStopsCleanlyOnSigterm) {
  demo(6);
  make_all_warm();
  std::string err;
  ASSERT_EQ(strata({"tier", "freeze"}, "", &err), 0) << err;
  std::string sock = dir_ + "/thaw.sock";
  std::vector<std::string> argv = {STRATA_BINARY, "--config", dir_ + "/cli.toml", "--repo", repo_dir_, "tier", "serve", "--socket", sock,
                                   "--workers", "2"};
  strata::test::ChildOptions o;
  o.env = child_env();
  o.stdout_path = dir_ + "/serve.out";
  pid_t pid = strata::test::spawn_child(argv, o);
  // Polls for the socket (returns as soon as it is there), like the fixtures wait for a port.
  ASSERT_TRUE(strata::test::wait_until([&] { return fs::exists(sock) || !strata::test::child_running(pid); },
                                       strata::test::deadline_in(std::chrono::seconds(30))));
  ASSERT_TRUE(fs::exists(sock)) << strata::test::log_tail(dir_ + "/serve.out");
  {
    ThawClient c(sock);
    EXPECT_EQ(c.request("PING"), "OK pong");
    EXPECT_EQ(c.request("THAW " + key_of(2)).rfind("OK thawed ", 0), 0u);
    EXPECT_EQ(c.request("THAW " + key_of(2)).rfind("OK hot ", 0), 0u);
  }
  EXPECT_EQ(tier_of(key_of(2)), "hot");
  EXPECT_EQ(count("SELECT count(*) FROM equipment"), 8u);
  EXPECT_EQ(strata::test::stop_child(pid, SIGTERM, std::chrono::seconds(20), false), 0);
  EXPECT_FALSE(fs::exists(sock));
  EXPECT_NE(strata::test::log_tail(dir_ + "/serve.out").find("thaw service listening on " + sock), std::string::npos);
}

TEST_F(TierServeCli, SetupPrintsTheDerivedChildTablesAndRefusesAnUnsafeDefinition) {
  demo(2);
  std::vector<std::string> argv = {STRATA_BINARY, "--config", dir_ + "/tier.toml", "tier", "setup"};
  entity();  // writes tier.toml
  auto r = tpg::run(argv);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ALTER TABLE \"players\" ADD COLUMN IF NOT EXISTS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--   [[entity.players.child]] table = \"equipment_mods\", fk = \"equipment_id\", parent = \"equipment\", "
                       "parent_key = \"id\""),
            std::string::npos)
      << r.out;
  conn_->exec("CREATE TABLE auction_listings (id serial PRIMARY KEY, equipment_id bigint REFERENCES equipment (id) ON DELETE CASCADE)");
  r = tpg::run(argv);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.err.find("strata: error: entity players: table auction_listings (not part of the entity) references its child table "
                       "equipment through constraint auction_listings_equipment_id_fkey (ON DELETE CASCADE)"),
            std::string::npos)
      << r.err;
}

}  // namespace
