// Hermetic checks of the parsing the mysql engine relies on: target times, binlog names and gaps, shell quoting.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "engines/mysql/binlog_archive.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/tool_util.hpp"

namespace strata {
namespace {

TEST(EngineHelpers, TargetTimeZonesAndEpochs) {
  EXPECT_EQ(parse_target_time("2026-11-21 06:00:00"), 1795240800);
  EXPECT_EQ(parse_target_time("2026-11-21T06:00:00Z"), 1795240800);
  EXPECT_EQ(parse_target_time("2026-11-21 08:00:00+02:00"), 1795240800);
  EXPECT_EQ(parse_target_time("2026-11-21 01:30:00-0430"), 1795240800);
  EXPECT_EQ(parse_target_time("@1795240800"), 1795240800);
  EXPECT_EQ(sql_utc(1795240800), "2026-11-21 06:00:00");
  try {
    parse_target_time("yesterday");
    FAIL() << "accepted a bad time";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("YYYY-MM-DD"), std::string::npos);
  }
}

TEST(EngineHelpers, TargetTimeWithRequiredZoneRefusesZonelessTimesAndEpochs) {
  EXPECT_EQ(parse_target_time(" 2026-11-21 08:00:00.25 +02 ", true), 1795240800);
  EXPECT_EQ(parse_target_time("2026-11-21 06:00:00 UTC", true), 1795240800);
  for (const char* bad : {"2026-11-21 06:00:00", "@1795240800"}) {
    try {
      parse_target_time(bad, true);
      FAIL() << "accepted " << bad;
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUsage);
      EXPECT_NE(std::string(e.what()).find("HH:MM:SS+TZ"), std::string::npos) << e.what();
    }
  }
}

TEST(EngineHelpers, BinlogIndexAndGaps) {
  EXPECT_EQ(binlog_index("binlog.000042"), 42u);
  EXPECT_EQ(binlog_index("mysql-bin.1000000"), 1000000u);
  EXPECT_THROW(binlog_index("binlog"), StrataError);
  EXPECT_THROW(binlog_index("binlog.00a1"), StrataError);
  std::vector<ArchivedBinlog> a = {{"binlog.000001", 1, 0, 0}, {"binlog.000002", 2, 0, 0},
                                   {"binlog.000005", 5, 0, 0}, {"binlog.000007", 7, 0, 0}};
  auto gaps = find_binlog_gaps(a);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0], "binlog.000003 to binlog.000004 missing from the archive");
  EXPECT_EQ(gaps[1], "binlog.000006 missing from the archive");
  EXPECT_TRUE(find_binlog_gaps({}).empty());
}

TEST(EngineHelpers, ShellQuotingSurvivesTheShell) {
  for (std::string s : {"plain", "with space", "it's", "a'b\"c$d`e\\f", ""}) {
    std::string out;
    ASSERT_EQ(run_capture({"/bin/sh", "-c", "printf %s " + shell_quote(s)}, &out), 0);
    EXPECT_EQ(out, s);
  }
  EXPECT_EQ(major_minor("10.11.19-MariaDB-0+deb12u1-log"), "10.11");
  EXPECT_EQ(major_minor("8.0.36"), "8.0");
}

TEST(EngineHelpers, PrivateDirIsPrivateAndRemoved) {
  std::string path, file;
  {
    PrivateDir d("strata-helper-test");
    path = d.path();
    file = d.write_file("secret.cnf", "password=x\n");
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_TRUE(dir_is_empty_or_missing(path));
}

}  // namespace
}  // namespace strata
