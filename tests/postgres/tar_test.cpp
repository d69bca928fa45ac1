// Hermetic tests of the tar reader shared by the postgres engine's backup (TarObserver) and restore
// (TarExtractSink) paths, and of those two users.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.hpp"
#include "engines/postgres/tar_extract.hpp"
#include "engines/postgres/tar_observer.hpp"
#include "engines/postgres/tar_stream.hpp"

namespace strata::pg {
namespace {

// A minimal ustar member: header (name, mode, size, type, link, prefix) + data + padding.
std::string member(const std::string& name, const std::string& data, char type = '0', const std::string& link = "",
                   const std::string& prefix = "") {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  std::memcpy(&h[345], prefix.data(), std::min<size_t>(prefix.size(), 155));
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

// Writes down what the parser reports, merging adjacent data so that the record does not depend on how the
// stream was cut into pieces.
class Recorder final : public TarVisitor {
 public:
  void member_start(const TarMember& m) override {
    events.push_back("start " + m.name + " type=" + (m.type ? std::string(1, m.type) : "NUL") + " size=" +
                     std::to_string(m.size) + " mode=" + std::to_string(m.mode) + " link=" + m.link);
  }
  void member_data(ByteView data) override {
    EXPECT_FALSE(data.empty());
    if (events.empty() || events.back().rfind("data ", 0) != 0) events.push_back("data ");
    events.back().append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  void member_end() override { events.push_back("end"); }
  std::vector<std::string> events;
};

std::vector<std::string> parse(std::string_view tar, const std::vector<size_t>& cuts) {
  Recorder r;
  TarStreamParser p(r);
  size_t at = 0;
  for (size_t cut : cuts) {
    p.feed(as_bytes(tar.substr(at, cut - at)));
    at = cut;
  }
  p.feed(as_bytes(tar.substr(at)));
  EXPECT_TRUE(p.at_boundary());
  return r.events;
}

// Every shape the parser distinguishes: data needing padding, data filling its blocks exactly, no data, a
// directory, a symlink, a ustar prefix, and a GNU base-256 size.
std::string sample_archive() {
  std::string big_size = member("big", std::string(700, 'b'));
  std::memset(&big_size[124], 0, 12);
  big_size[124] = static_cast<char>(0x80);
  big_size[134] = 700 >> 8;
  big_size[135] = 700 & 0xff;
  return member("a", "hello") + member("exact", std::string(512, 'e')) + member("empty", "") +
         member("dir/", "", '5') + member("pg_tblspc/16384", "", '2', "/srv/ts") +
         member("file", "prefixed", '0', "", "some/long/prefix") + big_size + end_of_archive();
}

TEST(PgTarStream, DecodesEveryMemberShape) {
  std::vector<std::string> want = {
      "start a type=0 size=5 mode=384 link=", "data hello", "end",
      "start exact type=0 size=512 mode=384 link=", "data " + std::string(512, 'e'), "end",
      "start empty type=0 size=0 mode=384 link=", "end",
      "start dir/ type=5 size=0 mode=448 link=", "end",
      "start pg_tblspc/16384 type=2 size=0 mode=384 link=/srv/ts", "end",
      "start some/long/prefix/file type=0 size=8 mode=384 link=", "data prefixed", "end",
      "start big type=0 size=700 mode=384 link=", "data " + std::string(700, 'b'), "end"};
  EXPECT_EQ(parse(sample_archive(), {}), want);
}

TEST(PgTarStream, SameEventsWhereverTheStreamIsCut) {
  std::string tar = sample_archive();
  auto whole = parse(tar, {});
  for (size_t cut = 0; cut <= tar.size(); ++cut) {
    ASSERT_EQ(parse(tar, {cut}), whole) << "cut at byte " << cut;
  }
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < tar.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(parse(tar, every_byte), whole);
}

TEST(PgTarStream, PaddingIsSkippedForEveryDataLength) {
  for (size_t len : {1u, 2u, 511u, 512u, 513u, 1023u, 1024u, 1025u}) {
    std::string data(len, 'x');
    data.back() = 'y';  // a padding byte taken as data would show up after it
    auto got = parse(member("f", data) + member("next", "n") + end_of_archive(), {});
    std::vector<std::string> want = {"start f type=0 size=" + std::to_string(len) + " mode=384 link=", "data " + data,
                                     "end", "start next type=0 size=1 mode=384 link=", "data n", "end"};
    EXPECT_EQ(got, want) << len;
  }
}

TEST(PgTarStream, DirectoriesCarryNoDataWhateverTheirSizeField) {
  std::string dir = member("d/", "", '5');
  std::snprintf(&dir[124], 12, "%011o", 4096);
  auto got = parse(dir + member("f", "z") + end_of_archive(), {});
  std::vector<std::string> want = {"start d/ type=5 size=4096 mode=448 link=", "end",
                                   "start f type=0 size=1 mode=384 link=", "data z", "end"};
  EXPECT_EQ(got, want);
}

TEST(PgTarStream, EndOfArchiveBlocksAreNotMembers) {
  // tar pads the archive to a whole record (20 blocks) after the two end blocks.
  EXPECT_TRUE(parse(end_of_archive() + std::string(18 * 512, '\0'), {}).empty());
  EXPECT_EQ(parse(member("only", "1") + end_of_archive() + std::string(512, '\0'), {333, 1024}).size(), 3u);
}

TEST(PgTarStream, TruncationIsVisibleWhereverItHappens) {
  std::string tar = member("f", std::string(600, 'q'));  // header 512 + data 600 + padding 424
  Recorder r;
  {
    TarStreamParser p(r);
    p.feed(as_bytes(std::string_view(tar).substr(0, 100)));  // inside the header
    EXPECT_TRUE(p.header_pending());
    EXPECT_EQ(p.data_left(), 0u);
    EXPECT_FALSE(p.at_boundary());
  }
  {
    TarStreamParser p(r);
    p.feed(as_bytes(std::string_view(tar).substr(0, 512 + 250)));  // inside the data
    EXPECT_FALSE(p.header_pending());
    EXPECT_EQ(p.data_left(), 350u);
    EXPECT_FALSE(p.at_boundary());
  }
  {
    TarStreamParser p(r);
    p.feed(as_bytes(std::string_view(tar).substr(0, 512 + 600 + 10)));  // inside the padding
    EXPECT_FALSE(p.header_pending());
    EXPECT_EQ(p.data_left(), 0u);
    EXPECT_FALSE(p.at_boundary());
    p.feed(as_bytes(std::string_view(tar).substr(512 + 600 + 10)));
    EXPECT_TRUE(p.at_boundary());
  }
}

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

// Files are written by several threads, a whole file per thread: many small files beside two that span many
// frames must all land byte for byte, whatever the cut of the stream.
TEST_F(PgTarExtract, ManySmallFilesBesideLargeOnesLandIntact) {
  std::vector<std::pair<std::string, std::string>> files;
  uint32_t x = 12345;
  auto bytes = [&](size_t n) {
    std::string d(n, '\0');
    for (auto& c : d) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
    return d;
  };
  std::string tar = member("base/", "", '5') + member("base/1/", "", '5');
  for (int i = 0; i < 300; ++i) {
    if (i == 100) files.emplace_back("base/1/big1", bytes((5u << 20) + 4321));
    if (i == 200) files.emplace_back("base/1/big2", bytes(3u << 20));
    static const size_t sizes[] = {0, 1, 511, 512, 8192, 10000};
    files.emplace_back("base/1/f" + std::to_string(i), bytes(sizes[i % 6]));
  }
  for (const auto& [name, data] : files) tar += member(name, data);
  tar += end_of_archive();

  TarExtractSink sink(dir_);
  for (size_t off = 0; off < tar.size(); off += (1u << 20) + 333) {
    auto piece = std::make_shared<const FrameBuffer>(tar.begin() + static_cast<std::ptrdiff_t>(off),
                                                     tar.begin() + static_cast<std::ptrdiff_t>(std::min(tar.size(), off + (1u << 20) + 333)));
    sink.write_shared(SharedView{piece, ByteView(piece->data(), piece->size())});
  }
  sink.finish();
  EXPECT_EQ(sink.files(), files.size());
  for (const auto& [name, data] : files) {
    std::ifstream f(dir_ + "/" + name, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_EQ(got.size(), data.size()) << name;
    EXPECT_TRUE(got == data) << name << " differs";
  }
}

// A file that cannot be created fails the extraction with its path, however far the stream has moved on.
TEST_F(PgTarExtract, FileThatCannotBeCreatedIsNamed) {
  std::filesystem::create_directories(dir_ + "/base/1/1");  // a directory where the archive has a file
  TarExtractSink sink(dir_);
  try {
    std::string tar = member("base/1/1", std::string(20000, 'q'));
    for (int i = 0; i < 50; ++i) tar += member("base/1/x" + std::to_string(i), "data");
    sink.write(as_bytes(tar + end_of_archive()));
    sink.finish();
    FAIL() << "writing over a directory succeeded";
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create " + dir_ + "/base/1/1"), std::string::npos) << e.what();
  }
}

// ENOSPC from a writer thread reaches the caller as a disk-full error naming the file (/dev/full always says so).
TEST_F(PgTarExtract, DiskFullIsReportedWithTheFile) {
  std::filesystem::create_directories(dir_ + "/base");
  std::filesystem::create_symlink("/dev/full", dir_ + "/base/full");
  TarExtractSink sink(dir_);
  try {
    sink.write(as_bytes(member("base/full", std::string(100000, 'f')) + end_of_archive()));
    sink.finish();
    FAIL() << "a write to /dev/full succeeded";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorage);
    EXPECT_NE(std::string(e.what()).find("cannot write " + dir_ + "/base/full: disk full"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::pg
