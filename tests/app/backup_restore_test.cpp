// The use-case layer without the CLI (issue 14 part 1): a backup and a restore through app:: on the in-memory driver
// with a ManualClock and a cancel token of its own, and a cancel that fires mid-stream.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/test_helpers.hpp"
#include "app/backup.hpp"
#include "app/restore.hpp"
#include "common/cancel.hpp"
#include "common/clock.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

// Records what an observer is told, in order.
class RecordingObserver final : public app::Observer {
 public:
  void begin(std::string_view phase, uint64_t total) override { events.push_back("begin " + std::string(phase)); }
  void progress(const app::Progress& p) override {
    ++samples;
  }
  void end(std::string_view phase, bool ok, const app::PhaseTotals& t) override {
    events.push_back("end " + std::string(phase) + (ok ? " ok" : " failed"));
    totals = t;
  }
  std::vector<std::string> events;
  int samples = 0;
  app::PhaseTotals totals;
};

// Cancels `token` once `after` bytes were read: the cancel arrives while the pipeline is mid-stream.
class CancellingSource final : public ByteSource {
 public:
  CancellingSource(CancelToken& token, size_t after) : token_(token), after_(after) {}
  size_t read(uint8_t* buf, size_t n) override {
    if (pos_ >= after_ && !token_.cancelled()) token_.cancel("test cancel");
    size_t take = std::min<size_t>(n, 4096);
    std::fill_n(buf, take, uint8_t{'x'});
    pos_ += take;
    return take;  // endless: only the cancel ends this stream
  }
  void abort() noexcept override { ++aborted; }
  std::string describe() const override { return "endless test source"; }
  int aborted = 0;

 private:
  CancelToken& token_;
  size_t after_;
  size_t pos_ = 0;
};

struct Fixture {
  Fixture() {
    auto mem = std::make_unique<MemoryStorage>(state);
    storage = mem.get();
    InitOptions init;
    init.passphrase = "correct horse";
    init.kdf = KdfParams{1, 8ull << 20};
    Repository::init(*storage, init);
    repo = std::make_unique<Repository>(std::move(mem));
    services.repo = repo.get();
    services.clock = &clock;
    services.cancel = &token;
    services.observer = &observer;
    services.passphrase = [] { return std::string("correct horse"); };
  }
  app::BackupRequest stream_request(ByteSource& src) {
    app::BackupRequest req;
    req.source = "orders";
    req.labels["env"] = "test";
    req.stream = &src;
    req.pipeline.frame_size = 64 << 10;
    req.pipeline.frames_per_object = 4;
    req.pipeline.threads = 2;
    return req;
  }
  std::shared_ptr<MemoryStorage::State> state = std::make_shared<MemoryStorage::State>();
  MemoryStorage* storage = nullptr;
  std::unique_ptr<Repository> repo;
  ManualClock clock{1'800'000'000};
  CancelToken token;
  RecordingObserver observer;
  app::Services services;
};

TEST(AppBackupRestore, StreamRoundTripThroughApp) {
  Fixture f;
  Bytes data = testing::compressible(1 << 20);
  testing::BufferSource src(data, 65536);
  app::BackupResult b = app::backup(f.services, f.stream_request(src));
  ASSERT_EQ(b.manifests.size(), 1u);
  EXPECT_FALSE(b.engine);
  EXPECT_EQ(b.started, 1'800'000'000) << "the start comes from the injected clock";
  EXPECT_EQ(b.plain_bytes, data.size());
  EXPECT_GT(b.stored_bytes, 0u);
  EXPECT_EQ(b.frames, 16u);
  EXPECT_EQ(b.objects, 4u);
  EXPECT_EQ(b.manifests[0].labels.at("env"), "test");
  EXPECT_EQ(f.observer.events, (std::vector<std::string>{"begin backup", "end backup ok"}));
  EXPECT_EQ(f.observer.totals.frames, 16u);
  EXPECT_GT(f.observer.samples, 0);
  EXPECT_EQ(f.repo->list("orders").size(), 1u);

  // A fresh handle on the same objects, still locked: restore asks the services' passphrase and picks the newest
  // backup of the source.
  Repository reopened(std::make_unique<MemoryStorage>(f.state));
  ASSERT_FALSE(reopened.unlocked());
  f.services.repo = &reopened;
  f.clock.advance(60);
  testing::VectorSink sink;
  app::RestoreRequest r;
  r.id = "latest";
  r.source = "orders";
  r.sink = &sink;
  app::RestoreResult rr = app::restore(f.services, r);
  EXPECT_EQ(rr.id, b.manifests[0].id);
  EXPECT_EQ(rr.started, 1'800'000'060);
  EXPECT_EQ(rr.plain_bytes, data.size());
  EXPECT_EQ(rr.target, "test sink");
  EXPECT_EQ(sink.data(), data);
  EXPECT_EQ(sink.finished, 1);
  EXPECT_TRUE(reopened.unlocked());
  EXPECT_TRUE(RepoLock::list(*f.storage).empty());
}

TEST(AppBackupRestore, RestoreRefusesWhatItCannotTarget) {
  Fixture f;
  app::RestoreRequest r;
  EXPECT_STRATA_ERROR(app::restore(f.services, r), ErrorCode::kUsage, "give a backup ID");
  r.latest = true;
  EXPECT_STRATA_ERROR(app::restore(f.services, r), ErrorCode::kUsage, "'latest' needs --source");
  r.source = "orders";
  EXPECT_STRATA_ERROR(app::restore(f.services, r), ErrorCode::kUsage, "give --to FILE");
}

TEST(AppBackupRestore, BackupWithoutStreamOrEngineIsAUsageError) {
  Fixture f;
  app::BackupRequest req;
  req.source = "nothing";
  EXPECT_STRATA_ERROR(app::backup(f.services, req), ErrorCode::kUsage, "[source.nothing]");
}

TEST(AppBackupRestore, CancelMidStreamCommitsNothingAndReleasesTheLock) {
  Fixture f;
  CancellingSource src(f.token, 3 << 20);
  EXPECT_STRATA_ERROR(app::backup(f.services, f.stream_request(src)), ErrorCode::kInterrupted, "test cancel");
  EXPECT_GE(src.aborted, 1) << "the source was stopped";
  EXPECT_TRUE(f.repo->list().empty()) << "nothing listed";
  EXPECT_TRUE(RepoLock::list(*f.storage).empty()) << "the lock was released";
  EXPECT_EQ(f.observer.events, (std::vector<std::string>{"begin backup", "end backup failed"}));
  // The token belongs to this job: the process token was never touched.
  EXPECT_FALSE(CancelToken::process().cancelled());
}

}  // namespace
}  // namespace strata
