#include "io/stream.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Bytes read_all(ByteSource& s, size_t chunk = 3) {
  Bytes out;
  Bytes buf(chunk);
  while (size_t n = s.read(buf.data(), buf.size())) out.insert(out.end(), buf.begin(), buf.begin() + n);
  return out;
}

TEST(FileSource, ReadsTheWholeFile) {
  testing::TempDir dir;
  std::string path = dir.path() + "/in";
  std::ofstream(path, std::ios::binary) << "hello file";
  auto src = open_file_source(path);
  EXPECT_EQ(src->describe(), path);
  EXPECT_EQ(to_string(read_all(*src)), "hello file");
  src->finish();
}

TEST(FileSource, MissingFileIsASourceFailure) {
  EXPECT_STRATA_ERROR(open_file_source("/nonexistent/strata/input"), ErrorCode::kSourceFailed,
                      "cannot open source file /nonexistent/strata/input");
}

TEST(ReadFull, FillsAcrossShortReads) {
  testing::BufferSource src(testing::bytes_of("abcdefghij"), 3);
  Bytes buf(8);
  EXPECT_EQ(src.read_full(buf.data(), buf.size()), 8u);
  EXPECT_EQ(to_string(buf), "abcdefgh");
  EXPECT_EQ(src.read_full(buf.data(), buf.size()), 2u);
  EXPECT_EQ(src.read_full(buf.data(), buf.size()), 0u);
}

TEST(FileSink, WritesAPartialFileAndRenamesOnlyOnFinish) {
  testing::TempDir dir;
  std::string path = dir.path() + "/out";
  auto sink = open_file_sink(path, false);
  sink->write(testing::bytes_of("restored "));
  sink->write(testing::bytes_of("data"));
  EXPECT_FALSE(std::filesystem::exists(path)) << "nothing at the target before verification";
  EXPECT_TRUE(std::filesystem::exists(path + ".strata-partial"));
  sink->finish();
  EXPECT_EQ(slurp(path), "restored data");
  EXPECT_FALSE(std::filesystem::exists(path + ".strata-partial"));
  sink.reset();
  EXPECT_EQ(slurp(path), "restored data") << "destroying a finished sink keeps the result";
}

TEST(FileSink, AbortLeavesNothing) {
  testing::TempDir dir;
  std::string path = dir.path() + "/out";
  {
    auto sink = open_file_sink(path, false);
    sink->write(testing::bytes_of("half"));
    sink->abort();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  {
    auto sink = open_file_sink(path, false);
    sink->write(testing::bytes_of("dropped"));
  }  // destroyed unfinished: same as abort
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(FileSink, RefusesToOverwriteUnlessAsked) {
  testing::TempDir dir;
  std::string path = dir.path() + "/out";
  std::ofstream(path) << "precious";
  EXPECT_STRATA_ERROR(open_file_sink(path, false), ErrorCode::kAlreadyExists, "already exists; remove it or pass --force");
  EXPECT_EQ(slurp(path), "precious");
  auto sink = open_file_sink(path, true);
  sink->write(testing::bytes_of("new"));
  sink->finish();
  EXPECT_EQ(slurp(path), "new");
}

TEST(CommandSource, ReadsOutputAndChecksTheExitStatus) {
  auto ok = open_command_source("printf 'from a command'");
  EXPECT_EQ(to_string(read_all(*ok)), "from a command");
  EXPECT_NO_THROW(ok->finish());

  auto bad = open_command_source("printf partial; echo 'pg_dump: connection refused' >&2; exit 3");
  EXPECT_EQ(to_string(read_all(*bad)), "partial");
  EXPECT_STRATA_ERROR(bad->finish(), ErrorCode::kSourceFailed,
                      "exited with status 3: pg_dump: connection refused");
}

TEST(CommandSource, AbortStopsTheProducer) {
  auto src = open_command_source("exec sleep 30");
  uint8_t none[1];
  EXPECT_EQ(src->read(none, 0), 0u);  // the command starts on the first read (after the repository lock is held)
  src->abort();  // kills the command instead of waiting 30 s for it
  EXPECT_STRATA_ERROR(src->finish(), ErrorCode::kSourceFailed, "was killed by signal 15");
}

TEST(CommandSource, AbortBeforeTheFirstReadNeverStartsTheCommand) {
  testing::TempDir dir;
  std::string marker = dir.path() + "/started";
  auto src = open_command_source("touch '" + marker + "'");
  src->abort();
  EXPECT_STRATA_ERROR(src->finish(), ErrorCode::kSourceFailed, "was not started");
  EXPECT_FALSE(std::ifstream(marker).good());
}

TEST(CommandSink, FeedsTheCommandAndChecksItsStatus) {
  testing::TempDir dir;
  std::string out = dir.path() + "/got";
  auto sink = open_command_sink("cat > '" + out + "'");
  sink->write(testing::bytes_of("piped "));
  sink->write(testing::bytes_of("restore"));
  sink->finish();
  EXPECT_EQ(slurp(out), "piped restore");

  auto failing = open_command_sink("cat > /dev/null; echo 'pg_restore: bad archive' >&2; exit 1");
  failing->write(testing::bytes_of("x"));
  EXPECT_STRATA_ERROR(failing->finish(), ErrorCode::kGeneric, "exited with status 1: pg_restore: bad archive");
}

}  // namespace
}  // namespace strata
