// Hermetic tests of the postgres engine's pure parts: LSN and segment names, archive gap arithmetic, and the tar
// reader/extractor that sit between pg_basebackup and the pipeline.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "engines/postgres/tar_extract.hpp"
#include "engines/postgres/tar_observer.hpp"
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

// A minimal ustar member: header (name, mode, size, type) + data + padding.
std::string member(const std::string& name, const std::string& data, char type = '0', const std::string& link = "") {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(&h[100], 8, "%07o", type == '5' ? 0700 : 0600);
  std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(data.size()));
  h[156] = type;
  std::memcpy(&h[157], link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(&h[257], "ustar", 5);
  std::string out = h + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}
std::string end_of_archive() { return std::string(1024, '\0'); }

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  size_t read(uint8_t* buf, size_t n) override {
    n = std::min<size_t>({n, s_.size() - pos_, 333});  // odd chunk sizes cross header boundaries
    std::memcpy(buf, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  std::string describe() const override { return "test"; }

 private:
  std::string s_;
  size_t pos_ = 0;
};

TEST(PgTar, ObserverKeepsNamedMembersAndTails) {
  std::string big(5000, 'x');
  big += "\"End-LSN\": \"0/5000138\"";
  std::string tar = member("base/1/1234", std::string(3000, 'd')) + member("backup_label", "START WAL LOCATION: 0/5000028\n") +
                    member("pg_wal/", "", '5') + member("backup_manifest", big) + end_of_archive();
  StringSource src(tar);
  TarObserver obs(src, {{"backup_label", 1024}, {"backup_manifest", 64}});
  std::vector<uint8_t> buf(4096);
  std::string passed;
  for (size_t n; (n = obs.read(buf.data(), buf.size())) > 0;) passed.append(reinterpret_cast<char*>(buf.data()), n);
  EXPECT_EQ(passed, tar);  // observing never alters the stream
  EXPECT_EQ(obs.members().at("backup_label"), "START WAL LOCATION: 0/5000028\n");
  EXPECT_EQ(obs.members().at("backup_manifest"), big.substr(big.size() - 64));
  EXPECT_EQ(obs.member_count(), 4u);
}

class PgTarExtract : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata-tar-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(PgTarExtract, WritesFilesDirsAndLinks) {
  TarExtractSink sink(dir_);
  std::string tar = member("global/", "", '5') + member("global/pg_control", std::string(8192, 'c')) +
                    member("./pg_wal/archive_status/", "", '5') + member("PG_VERSION", "15\n") +
                    member("pg_tblspc/x", "", '2', "/elsewhere") + end_of_archive();
  for (size_t i = 0; i < tar.size(); i += 777) sink.write(as_bytes(std::string_view(tar).substr(i, 777)));
  sink.finish();
  std::ifstream f(dir_ + "/PG_VERSION");
  std::string v((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(v, "15\n");
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/global/pg_control"), 8192u);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/pg_wal/archive_status"));
  EXPECT_EQ(std::filesystem::read_symlink(dir_ + "/pg_tblspc/x"), "/elsewhere");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/PG_VERSION").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(sink.files(), 2u);
}

TEST_F(PgTarExtract, RefusesPathsLeavingTheTarget) {
  for (const char* evil : {"../escape", "base/../../escape", "/etc/escape"}) {
    TarExtractSink sink(dir_);
    std::string tar = member(evil, "boom");
    try {
      sink.write(as_bytes(tar));
      FAIL() << evil << " was extracted";
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    }
  }
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_).parent_path() / "escape"));
}

TEST_F(PgTarExtract, TruncatedStreamFailsAtFinish) {
  TarExtractSink sink(dir_);
  std::string tar = member("base/1/1", std::string(2000, 'z'));
  sink.write(as_bytes(std::string_view(tar).substr(0, 1200)));
  try {
    sink.finish();
    FAIL() << "a stream ending inside a member was accepted";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("base/1/1"), std::string::npos);
  }
}

}  // namespace
}  // namespace strata::pg
