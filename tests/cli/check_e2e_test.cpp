// Issue 13 item 6 (and issue 11 item 11): `check --read-data=P%` reads at least one object, `--read-data-subset=n/t`
// is deterministic and covers everything over t runs, the output says exactly what was verified, leftovers make
// `check` exit 13, and `check --read-data` shows progress on a terminal (item 14).
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class CheckE2E : public LocalRepoTest {
 protected:
  nlohmann::json check_json(const std::vector<std::string>& extra, int expect = 0) {
    std::vector<std::string> args = {"check", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = strata(args);
    EXPECT_EQ(r.code, expect) << r.out << r.err;
    return nlohmann::json::parse(r.out);
  }
  std::vector<std::string> objects() {
    std::vector<std::string> out;
    for (const auto& f : list_files(repo_)) {
      if (f.rfind("data/", 0) == 0) out.push_back(f);
    }
    return out;
  }
};

TEST_F(CheckE2E, AShareReadsAtLeastOneObjectEveryTime) {
  init();
  backup(make_data(4 * 65536, 1), {"--frame-size", "64KiB", "--object-size", "64KiB"});
  ASSERT_EQ(objects().size(), 4u);
  for (int run = 0; run < 5; ++run) {
    auto j = check_json({"--read-data=10%"});
    EXPECT_EQ(j["objects"], 4);
    EXPECT_EQ(j["objects_read"], 1) << "10% of 4 objects is one object, run " << run;
    EXPECT_EQ(j["verified"]["frames_authenticated"], true);
  }
  EXPECT_EQ(check_json({"--read-data=50%"})["objects_read"], 2);
  EXPECT_EQ(check_json({"--read-data"})["objects_read"], 4);
}

TEST_F(CheckE2E, PlainCheckDoesNotClaimItAuthenticatedFrames) {
  init();
  backup(make_data(100000, 2));
  auto plain = strata({"check"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("frames authenticated"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find("frame authenticated"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("checked 1 backups, 1 objects (0 read, 0 B): no errors\n"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("verified: manifests (authenticated with the key), objects present with their recorded sizes; "
                           "no data read (--read-data reads and verifies it)\n"),
            std::string::npos) << plain.out;
  auto full = strata({"check", "--read-data"});
  ASSERT_EQ(full.code, 0) << full.err;
  EXPECT_NE(full.out.find("; 1 of 1 object read: stored digests match and every frame authenticated, SHA-256 of 1 whole "
                          "backup recomputed\n"), std::string::npos) << full.out;
  auto nokey = strata_env({"check", "--read-data", "--no-key"}, {{"STRATA_PASSPHRASE", ""}});
  ASSERT_EQ(nokey.code, 0) << nokey.err;
  EXPECT_NE(nokey.out.find("verified: manifests (public part only, no key)"), std::string::npos) << nokey.out;
  EXPECT_NE(nokey.out.find("stored digests match (frames not authenticated without the key)"), std::string::npos) << nokey.out;
  EXPECT_EQ(nokey.out.find("every frame authenticated"), std::string::npos) << nokey.out;
}

TEST_F(CheckE2E, SubsetsAreDeterministicAndFindDamageInExactlyOneGroup) {
  init();
  backup(make_data(12 * 65536, 3), {"--frame-size", "64KiB", "--object-size", "64KiB"});
  auto objs = objects();
  ASSERT_EQ(objs.size(), 12u);
  std::string victim = repo_ + "/" + objs[5];
  std::string bytes = read_file(victim);
  bytes[bytes.size() / 2] ^= 0x10;
  write_file(victim, bytes);
  int total = 0, damaged_in = 0;
  for (int n = 1; n <= 4; ++n) {
    std::string subset = "--read-data-subset=" + std::to_string(n) + "/4";
    auto r = strata({"check", "--json", subset});
    auto j = nlohmann::json::parse(r.out);
    auto again = nlohmann::json::parse(strata({"check", "--json", subset}).out);
    EXPECT_EQ(j["objects_read"], again["objects_read"]) << "the same group every run";
    total += j["objects_read"].get<int>();
    if (!j["errors"].empty()) {
      ++damaged_in;
      EXPECT_EQ(r.code, 5);
      EXPECT_NE(j["errors"][0].get<std::string>().find(objs[5]), std::string::npos) << j.dump();
    }
  }
  EXPECT_EQ(total, 12) << "1/4 .. 4/4 read every object once";
  EXPECT_EQ(damaged_in, 1);
  auto bad = strata({"check", "--read-data-subset=5/4"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("n must be between 1 and t"), std::string::npos) << bad.err;
}

TEST_F(CheckE2E, LeftoversMakeCheckExitThirteen) {
  init();
  backup(make_data(1000, 4));
  std::filesystem::create_directories(repo_ + "/data/20260101T000000Z-0badf00d");
  write_file(repo_ + "/data/20260101T000000Z-0badf00d/000000", "left behind by a killed backup");
  auto r = strata({"check"});
  EXPECT_EQ(r.code, 13) << r.out << r.err;
  EXPECT_NE(r.out.find("LEFTOVER data/20260101T000000Z-0badf00d/000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": 1 leftover\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "strata: error: check found 1 leftover in " + repo_ +
                       " (objects of backups that never committed); 'strata cleanup' removes them\n");
  EXPECT_EQ(strata({"cleanup"}).code, 0);
  EXPECT_EQ(strata({"check"}).code, 0);
}

TEST_F(CheckE2E, ReadDataShowsProgressOnATerminal) {
  init();
  backup(make_data(8 << 20, 5), {"--compression", "none"});
  // 8 MiB at 4 MiB/s: about two seconds of reading, so the line is redrawn while it runs.
  auto r = run_strata_tty({"--limit-download", "4MiB/s", "check", "--read-data"}, env_);
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.err.find("%  check "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" of 8.0 MiB"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[0:0"), std::string::npos) << "elapsed time: " << r.err;
  EXPECT_NE(r.out.find("1 of 1 object read"), std::string::npos) << r.out;
  // Piped stderr: nothing is drawn.
  auto piped = strata({"--limit-download", "4MiB/s", "check", "--read-data"});
  EXPECT_EQ(piped.err, "");
}

}  // namespace
}  // namespace strata::test
