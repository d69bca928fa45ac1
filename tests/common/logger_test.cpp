#include "common/logger.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../common/test_helpers.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

struct Lines {
  std::mutex mu;
  std::vector<std::string> lines;
  Logger::Sink sink() {
    return [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu);
      lines.emplace_back(line);
    };
  }
};

class LoggerTest : public ::testing::Test {
 protected:
  void SetUp() override { log::configure(log::Level::kInfo, log::Format::kJson); }
  void TearDown() override { log::configure(log::Level::kWarn, log::Format::kText); }
};

// Issue 14 part 2: two jobs in one process log through their own loggers; each line says whose it is.
TEST_F(LoggerTest, TwoLoggersWriteTheirOwnFields) {
  Lines out;
  Logger base(out.sink());
  Logger a = base.with("job", "job-a").with("source", "pg1");
  Logger b = base.with("job", "job-b").with("source", "redis1");
  std::thread ta([&] {
    for (int i = 0; i < 50; ++i) a.info("backup_done", {{"n", i}});
  });
  std::thread tb([&] {
    for (int i = 0; i < 50; ++i) b.warn("backup_slow", {{"n", i}});
  });
  ta.join();
  tb.join();
  ASSERT_EQ(out.lines.size(), 100u);
  int seen_a = 0, seen_b = 0;
  for (const auto& line : out.lines) {
    ASSERT_EQ(line.find('\n'), line.size() - 1) << line;
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "backup_done") {
      ++seen_a;
      EXPECT_EQ(j["job"], "job-a") << line;
      EXPECT_EQ(j["source"], "pg1") << line;
      EXPECT_EQ(j["level"], "info");
    } else {
      ++seen_b;
      EXPECT_EQ(j["event"], "backup_slow");
      EXPECT_EQ(j["job"], "job-b") << line;
      EXPECT_EQ(j["source"], "redis1") << line;
      EXPECT_EQ(j["level"], "warn");
    }
    EXPECT_TRUE(j["n"].is_number());
  }
  EXPECT_EQ(seen_a, 50);
  EXPECT_EQ(seen_b, 50);
  EXPECT_TRUE(base.fields().empty()) << "with() leaves the original alone";
}

TEST_F(LoggerTest, ACallsFieldWinsAndKeysAreNeverRepeated) {
  Lines out;
  Logger l = Logger(out.sink()).with("source", "first").with("source", "pg1").with("job", "j1");
  l.info("wal_pushed", {{"source", "pg2"}, {"file", "000000010000000000000001"}});
  l.debug("below_the_level");
  ASSERT_EQ(out.lines.size(), 1u);
  const std::string& line = out.lines[0];
  EXPECT_EQ(line.find("\"source\""), line.rfind("\"source\"")) << line;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["source"], "pg2");
  EXPECT_EQ(j["job"], "j1");
  EXPECT_EQ(j["file"], "000000010000000000000001");
}

TEST_F(LoggerTest, WithoutFieldsItWritesWhatTheProcessLogWrites) {
  log::configure(log::Level::kInfo, log::Format::kText);
  ::testing::internal::CaptureStderr();
  Logger().info("restore_done", {{"backup", "b 1"}});
  std::string got = ::testing::internal::GetCapturedStderr();
  ::testing::internal::CaptureStderr();
  log::info("restore_done", {{"backup", "b 1"}});
  std::string want = ::testing::internal::GetCapturedStderr();
  // Same line but for the timestamp (the first word).
  EXPECT_EQ(got.substr(got.find(' ')), want.substr(want.find(' ')));
  EXPECT_NE(got.find(" info restore_done backup=\"b 1\"\n"), std::string::npos) << got;
  Lines out;
  Logger(out.sink()).with("job", "j 2").info("restore_done");
  ASSERT_EQ(out.lines.size(), 1u);
  EXPECT_NE(out.lines[0].find(" info restore_done job=\"j 2\"\n"), std::string::npos) << out.lines[0];
}

// The repository logs a backup and a restore through the logger its caller passed (PipelineSettings::log): the
// lines carry the job's fields; without one they go to the process's logger.
TEST_F(LoggerTest, RepositoryWritesThroughTheJobsLogger) {
  auto state = std::make_shared<MemoryStorage::State>();
  {
    MemoryStorage s(state);
    InitOptions o;
    o.encrypted = false;
    Repository::init(s, o);
  }
  Repository repo(std::make_unique<MemoryStorage>(state));
  Lines out;
  Logger job = Logger(out.sink()).with("job", "job-42");
  BackupOptions o;
  o.source = "db";
  o.pipeline.log = &job;
  Bytes data(1000, 7);
  testing::BufferSource src(data);
  Manifest m = repo.backup(src, o, nullptr);
  testing::VectorSink sink;
  repo.restore(repo.load(m.id, true), sink, o.pipeline, nullptr);
  EXPECT_EQ(sink.data(), data);
  std::vector<std::string> events;
  for (const auto& line : out.lines) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["job"], "job-42") << line;
    events.push_back(j["event"]);
  }
  for (const char* e : {"backup_start", "backup_done", "restore_start", "restore_done"}) {
    EXPECT_NE(std::find(events.begin(), events.end(), e), events.end()) << e;
  }
}

}  // namespace
}  // namespace strata
