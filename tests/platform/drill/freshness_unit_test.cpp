// Issue 17: what `strata status` concludes from a source's facts at one instant, and the drill record format.
#include <gtest/gtest.h>

#include "common/duration.hpp"
#include "common/error.hpp"
#include "platform/drill/freshness.hpp"
#include "platform/drill/record.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

constexpr int64_t kNow = 1796170000;

SourceFacts fresh(int64_t age) {
  SourceFacts f;
  f.source = "orders";
  f.rpo_s = 26 * 3600;
  f.newest_good_id = "B";
  f.newest_good_end = kNow - age;
  f.backups = 1;
  return f;
}

TEST(Freshness, InsideTheRpoIsOkAndOutsideIsCritical) {
  auto ok = assess(fresh(3600), kNow);
  EXPECT_EQ(ok.state, Freshness::kOk);
  EXPECT_EQ(ok.summary, "newest good backup 1h ago, rpo 1d2h; none verified by a drill");
  auto late = assess(fresh(27 * 3600 + 180), kNow);
  EXPECT_EQ(late.state, Freshness::kCritical);
  EXPECT_EQ(late.summary, "out of rpo: newest good backup 1d3h3m ago, rpo 1d2h; none verified by a drill");
  // Exactly at the rpo is still inside it.
  EXPECT_EQ(assess(fresh(26 * 3600), kNow).state, Freshness::kOk);
}

TEST(Freshness, NoGoodBackupIsCriticalEvenWithoutAnRpo) {
  SourceFacts none;
  none.source = "cache";
  EXPECT_EQ(assess(none, kNow).state, Freshness::kCritical);
  EXPECT_EQ(assess(none, kNow).summary, "no backup");
  none.backups = 2;
  EXPECT_EQ(assess(none, kNow).summary, "no good backup (2 failed their drills)");
  SourceFacts norpo = fresh(90 * 86400);
  norpo.rpo_s = 0;
  EXPECT_EQ(assess(norpo, kNow).state, Freshness::kOk);
}

TEST(Freshness, AStoppedArchiveIsCriticalAndAFailedNewerDrillWarns) {
  SourceFacts f = fresh(3600);
  f.archive = "wal";
  f.archive_end = kNow - 30 * 3600;
  auto s = assess(f, kNow);
  EXPECT_EQ(s.state, Freshness::kCritical);
  EXPECT_NE(s.summary.find("wal archive ends 1d6h ago (out of rpo)"), std::string::npos) << s.summary;
  f.archive_end = kNow - 60;
  f.failed_drill_backup = "C";
  f.failed_drill_error = "restore: object data/C/000000 is missing";
  s = assess(f, kNow);
  EXPECT_EQ(s.state, Freshness::kWarning);
  EXPECT_NE(s.summary.find("newer backup C failed its drill: restore: object data/C/000000 is missing"), std::string::npos);
  f.newest_verified_end = kNow - 7200;
  EXPECT_NE(assess(f, kNow).summary.find("newest verified 2h ago"), std::string::npos);
}

// An encrypted repository in memory; `unlock`: opened with its passphrase.
std::unique_ptr<Repository> memory_repo(std::shared_ptr<MemoryStorage::State>& state, bool unlock) {
  if (!state) {
    state = std::make_shared<MemoryStorage::State>();
    MemoryStorage s(state);
    InitOptions o;
    o.passphrase = "pw";
    o.kdf = KdfParams{1, 8ull << 20};
    Repository::init(s, o);
  }
  auto r = std::make_unique<Repository>(std::make_unique<MemoryStorage>(state));
  if (unlock) r->unlock("pw");
  return r;
}

DrillRecord sample_record() {
  DrillRecord r;
  r.id = "20261202T010000Z-0a0b0c0d";
  r.backup_id = "20261201T010000Z-01020304";
  r.source = "cache";
  r.level = 2;
  r.started_us = 1796173200123456;
  r.rto_seconds = 1.25;
  r.plain_bytes = 12345;
  r.result = "failed";
  r.error = "dbsize: 10 keys, fingerprint at backup time 12";
  r.checks = {{"restore", true, "ok"}, {"dbsize", false, "10 keys, fingerprint at backup time 12"}};
  return r;
}

TEST(DrillRecordFormat, RoundTripsAndRefusesDamage) {
  std::shared_ptr<MemoryStorage::State> state;
  auto repo = memory_repo(state, true);
  DrillRecord r = sample_record();
  DrillRecord back = decode_drill_record(*repo, encode_drill_record(*repo, r), "x");
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.backup_id, r.backup_id);
  EXPECT_EQ(back.started_us, r.started_us);
  EXPECT_EQ(back.result, "failed");
  EXPECT_EQ(back.auth, "authentic");
  EXPECT_FALSE(back.passed());
  ASSERT_EQ(back.checks.size(), 2u);
  EXPECT_EQ(back.checks[1].detail, r.checks[1].detail);
  EXPECT_EQ(drill_record_key(r), "drills/20261201T010000Z-01020304/20261202T010000Z-0a0b0c0d.json");

  EXPECT_THROW(decode_drill_record(*repo, "{\"version\":1,\"id\":\"a\",\"backup\":\"b\",\"result\":\"great\"}", "x"), StrataError);
  EXPECT_THROW(decode_drill_record(*repo, std::string(300000, '['), "x"), StrataError);
  try {
    decode_drill_record(*repo, "{\"version\":1}", "drills/b/a.json");
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("drills/b/a.json is damaged"), std::string::npos) << e.what();
  }
}

// Whoever can write to the storage but has no passphrase cannot turn a failure into a pass: an edited record fails
// its MAC, a record without one (as written before records were authenticated) is unverified, and neither counts.
TEST(DrillRecordFormat, AForgedOrUnsignedPassDoesNotCount) {
  std::shared_ptr<MemoryStorage::State> state;
  auto repo = memory_repo(state, true);
  DrillRecord r = sample_record();
  std::string text = encode_drill_record(*repo, r);
  auto at = text.find("\"failed\"");
  ASSERT_NE(at, std::string::npos);
  std::string forged = text;
  forged.replace(at, 8, "\"passed\"");
  DrillRecord f = decode_drill_record(*repo, forged, "x");
  EXPECT_TRUE(f.passed());
  EXPECT_EQ(f.auth, "forged");
  EXPECT_FALSE(f.counts_as_pass());

  DrillRecord ok = r;
  ok.result = "passed";
  DrillRecord good = decode_drill_record(*repo, encode_drill_record(*repo, ok), "x");
  EXPECT_EQ(good.auth, "authentic");
  EXPECT_TRUE(good.counts_as_pass());
  // Without a MAC (an old record) or without the key to check it: unverified.
  std::string unsigned_text = "{\"version\":1,\"id\":\"a\",\"backup\":\"b\",\"result\":\"passed\"}";
  EXPECT_EQ(decode_drill_record(*repo, unsigned_text, "x").auth, "unverified");
  auto locked = memory_repo(state, false);
  DrillRecord no_key = decode_drill_record(*locked, encode_drill_record(*repo, ok), "x");
  EXPECT_EQ(no_key.auth, "unverified");
  EXPECT_FALSE(no_key.counts_as_pass());
  // Recording one needs the key.
  try {
    encode_drill_record(*locked, ok);
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWrongKey);
  }
}

TEST(Duration, FlagsRefuseABareNumberAndNameTheFlag) {
  EXPECT_EQ(parse_duration("45"), 45);
  EXPECT_EQ(parse_duration("1d12h30m"), 131400);
  for (const char* bad : {"", "-1h", "h", "3 d", "5y", "1.5h", "99999999999999999999d"}) {
    EXPECT_THROW(parse_duration(bad, "--max-age"), StrataError) << bad;
  }
  try {
    parse_duration("14", "--max-age", BareNumber::kRefused);
    ADD_FAILURE();
  } catch (const StrataError& e) {
    EXPECT_STREQ(e.what(), "--max-age '14' is not a duration; write it like \"90s\", \"30m\", \"26h\", \"7d\", \"2w\" or \"1h30m\"");
  }
  EXPECT_EQ(format_duration(250), "4m10s");
  EXPECT_EQ(format_duration(93900), "1d2h5m");
}

}  // namespace
}  // namespace strata
