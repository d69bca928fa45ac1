// Hermetic parts of the mysql engine: which servers it accepts, and following binlog event headers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.hpp"
#include "engines/mysql/binlog_file.hpp"
#include "engines/mysql/mysql_conn.hpp"

namespace strata {
namespace {

TEST(MysqlServerVersion, MariaDbAndMysqlAreToldApart) {
  struct Case {
    std::string text;
    bool mariadb;
    int major, minor, patch;
  };
  for (const auto& c : std::vector<Case>{{"10.11.19-MariaDB-0+deb12u1-log", true, 10, 11, 19},
                                         {"11.4.2-MariaDB", true, 11, 4, 2},
                                         {"5.5.5-10.11.6-MariaDB-log", true, 10, 11, 6},
                                         {"10.6.16-MariaDB-ubu2204", true, 10, 6, 16},
                                         {"8.0.36", false, 8, 0, 36},
                                         {"8.0.36-28", false, 8, 0, 36},  // Percona Server
                                         {"8.4.3-log", false, 8, 4, 3},
                                         {"5.7.44-log", false, 5, 7, 44}}) {
    ServerVersion v = parse_server_version(c.text);
    EXPECT_TRUE(v.parsed) << c.text;
    EXPECT_EQ(v.mariadb, c.mariadb) << c.text;
    EXPECT_EQ(v.major, c.major) << c.text;
    EXPECT_EQ(v.minor, c.minor) << c.text;
    EXPECT_EQ(v.patch, c.patch) << c.text;
  }
  EXPECT_FALSE(parse_server_version("").parsed);
  EXPECT_FALSE(parse_server_version("garbage").parsed);
}

TEST(MysqlServerVersion, OnlyMariaDbIsAccepted) {
  EXPECT_NO_THROW(require_supported_server("source db", "10.11.19-MariaDB-0+deb12u1-log"));
  try {
    require_supported_server("source db", "8.0.36-28");
    FAIL() << "MySQL 8 accepted";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("source db runs MySQL 8.0.36, which strata does not support yet"), std::string::npos)
        << e.what();
  }
  try {
    require_supported_server("source db", "");
    FAIL() << "an unreadable version accepted";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kSourceFailed);
  }
}

// A minimal binlog: magic, then events of the given (timestamp, type, size).
std::string make_binlog(const std::vector<std::tuple<uint32_t, uint8_t, uint32_t>>& events) {
  std::string out = "\xfe" "bin";
  uint32_t pos = 4;
  for (auto [ts, type, size] : events) {
    std::string ev(size, '\x77');
    auto put32 = [&](size_t at, uint32_t v) {
      for (int i = 0; i < 4; ++i) ev[at + i] = static_cast<char>(v >> (8 * i));
    };
    put32(0, ts);
    ev[4] = static_cast<char>(type);
    put32(5, 1);
    put32(9, size);
    pos += size;
    put32(13, pos);
    ev[17] = ev[18] = 0;
    out += ev;
  }
  return out;
}

BinlogEventScanner scan_in_chunks(const std::string& bytes, size_t chunk) {
  BinlogEventScanner s;
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    s.feed(reinterpret_cast<const uint8_t*>(bytes.data()) + i, std::min(chunk, bytes.size() - i));
  }
  return s;
}

TEST(BinlogEventScanner, FollowsHeadersInAnyChunking) {
  std::string file = make_binlog({{1000, 15, 256}, {1001, 162, 42}, {1002, 2, 90}, {1005, kBinlogRotateEvent, 44}});
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{19}, size_t{20}, size_t{1} << 20}) {
    BinlogEventScanner s = scan_in_chunks(file, chunk);
    EXPECT_EQ(s.events(), 4u) << chunk;
    EXPECT_EQ(s.first_timestamp(), 1000) << chunk;
    EXPECT_EQ(s.last_timestamp(), 1005) << chunk;
    EXPECT_EQ(s.last_type(), kBinlogRotateEvent) << chunk;
    EXPECT_EQ(s.problem_as_closed_file(), "") << chunk;
  }
}

TEST(BinlogEventScanner, RejectsWhatTheServerDidNotClose) {
  std::string file = make_binlog({{1000, 15, 256}, {1001, 2, 90}, {1005, kBinlogRotateEvent, 44}});
  // Cut inside the last event.
  EXPECT_NE(scan_in_chunks(file.substr(0, file.size() - 5), 7).problem_as_closed_file().find("ends inside an event"),
            std::string::npos);
  // Cut after a whole event that is not the rotate: the server was still writing.
  EXPECT_NE(scan_in_chunks(file.substr(0, 4 + 256 + 90), 7).problem_as_closed_file().find("not a rotate or stop"),
            std::string::npos);
  std::string bad = file;
  bad[0] = 'x';
  EXPECT_NE(scan_in_chunks(bad, 64).problem_as_closed_file().find("magic"), std::string::npos);
  std::string tiny = file;
  tiny[4 + 9] = 3;  // event_size 3 < header size
  tiny[4 + 10] = tiny[4 + 11] = tiny[4 + 12] = 0;
  EXPECT_NE(scan_in_chunks(tiny, 64).problem_as_closed_file().find("damaged"), std::string::npos);
}

}  // namespace
}  // namespace strata
