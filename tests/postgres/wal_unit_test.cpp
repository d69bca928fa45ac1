// Hermetic tests of the postgres engine's pure parts: LSN and segment names and archive gap arithmetic (the tar
// reader and extractor are tested in tar_test.cpp).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "engines/postgres/wal.hpp"

namespace strata::pg {
namespace {

TEST(PgWal, LsnRoundTripsAndRejectsGarbage) {
  EXPECT_EQ(parse_lsn("0/3000028"), 0x3000028u);
  EXPECT_EQ(parse_lsn("1A/FF000000"), (0x1Aull << 32) | 0xFF000000u);
  EXPECT_EQ(format_lsn(0x1AFF000000ull), "1A/FF000000");
  for (const char* bad : {"", "3000028", "0/", "/1", "0/xyz", "123456789/0"}) {
    EXPECT_THROW(parse_lsn(bad), StrataError) << bad;
  }
}

TEST(PgWal, SegmentNamesFollowPostgresLayout) {
  constexpr uint64_t k16 = 16u << 20;
  // 256 segments of 16 MiB per 4 GiB "log id".
  EXPECT_EQ(segment_name(1, 0x1FF, k16), "0000000100000001000000FF");
  auto s = parse_segment_name("0000000200000003000000A0", k16);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->timeline, 2u);
  EXPECT_EQ(s->segno, 3u * 256 + 0xA0);
  EXPECT_EQ(segment_name(s->timeline, s->segno, k16), "0000000200000003000000A0");
  // 64 MiB segments: 64 per log id.
  auto big = parse_segment_name("000000010000000200000010", 64u << 20);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->segno, 2u * 64 + 16);
  EXPECT_FALSE(parse_segment_name("00000002.history", k16));
  EXPECT_FALSE(parse_segment_name("000000010000000000000003.00000028.backup", k16));
  EXPECT_FALSE(parse_segment_name("000000010000000000000003.partial", k16));
}

TEST(PgWal, InventoryFindsGapsPerTimeline) {
  WalInventory inv;
  inv.segments[1] = {3, 4, 5, 8, 9, 12};
  inv.segments[2] = {12, 13};
  auto gaps = inv.gaps();
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0].timeline, 1u);
  EXPECT_EQ(gaps[0].first, 6u);
  EXPECT_EQ(gaps[0].last, 7u);
  EXPECT_EQ(gaps[1].first, 10u);
  EXPECT_EQ(gaps[1].last, 11u);
  EXPECT_EQ(inv.contiguous_end(1, 3), 5u);
  EXPECT_EQ(inv.contiguous_end(1, 6), 5u);  // the starting segment itself is missing
  EXPECT_EQ(inv.contiguous_end(2, 12), 13u);
  EXPECT_EQ(inv.count(), 8u);
}

}  // namespace
}  // namespace strata::pg
