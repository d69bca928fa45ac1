// WAL archive_command / restore_command through app:: (issue 14 part 1), on the in-memory driver and a temp dir:
// an absent file is answered without the key, a pushed file comes back byte for byte, the same name with other
// content is refused, and the spool rules hold. (The full PostgreSQL behaviour is tests/postgres/*_e2e_test.cpp.)
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../common/test_helpers.hpp"
#include "app/wal.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Archive {
  Archive() {
    auto mem = std::make_unique<MemoryStorage>(state);
    InitOptions init;
    init.passphrase = "correct horse";
    init.kdf = KdfParams{1, 8ull << 20};
    Repository::init(*mem, init);
    repo = std::make_unique<Repository>(std::move(mem));
    services.repo = repo.get();
    source = SourceConfig{"pg1", {{"engine", "postgres"}}};
  }
  app::WalPushRequest push(const std::string& path) {
    app::WalPushRequest req;
    req.source = source;
    req.path = path;
    return req;
  }
  std::shared_ptr<MemoryStorage::State> state = std::make_shared<MemoryStorage::State>();
  std::unique_ptr<Repository> repo;
  app::Services services;  // no passphrase until a test gives one
  SourceConfig source;
  testing::TempDir dir;
};

TEST(AppWal, AbsentFileIsNotInTheArchiveAndNeedsNoKey) {
  Archive a;
  app::WalFetchRequest req{a.source, "000000010000000000000007", a.dir.path() + "/RECOVERYXLOG", {}};
  EXPECT_EQ(app::wal_fetch(a.services, req), app::WalFetchOutcome::kNotInArchive);
  EXPECT_FALSE(a.repo->unlocked()) << "no key was derived for an absent file";
}

TEST(AppWal, PushedFileComesBackAndOtherContentUnderItsNameIsRefused) {
  Archive a;
  const std::string wal = a.dir.path() + "/00000002.history";
  write(wal, "1\t0/3000000\tno recovery target specified\n");
  app::WalPushResult pushed = app::wal_push(a.services, a.push(wal));
  EXPECT_EQ(pushed.kind, app::WalPushResult::Kind::kStored);
  EXPECT_GT(pushed.stored_bytes, 0u);
  EXPECT_FALSE(a.repo->unlocked()) << "a first push needs only the public key";

  // The same name again must be compared, which needs the key: without a passphrase that is a wrong-key failure,
  // never a silent success.
  EXPECT_STRATA_ERROR(app::wal_push(a.services, a.push(wal)), ErrorCode::kWrongKey, "");
  a.services.passphrase = [] { return std::string("correct horse"); };
  EXPECT_EQ(app::wal_push(a.services, a.push(wal)).kind, app::WalPushResult::Kind::kAlreadyArchived);
  write(wal, "1\t0/4000000\tanother history\n");
  EXPECT_STRATA_ERROR(app::wal_push(a.services, a.push(wal)), ErrorCode::kAlreadyExists, "");

  const std::string dest = a.dir.path() + "/RECOVERYHISTORY";
  app::WalFetchRequest req{a.source, "00000002.history", dest, {}};
  EXPECT_EQ(app::wal_fetch(a.services, req), app::WalFetchOutcome::kFetched);
  EXPECT_EQ(read(dest), "1\t0/3000000\tno recovery target specified\n") << "the archived content, not the refused one";
}

TEST(AppWal, SpoolRules) {
  Archive a;
  const std::string wal = a.dir.path() + "/000000010000000000000003";
  write(wal, "segment bytes");
  app::WalPushRequest async = a.push(wal);
  async.async = true;
  EXPECT_STRATA_ERROR(app::wal_push(a.services, async), ErrorCode::kUsage, "needs spool_dir under [source.pg1]");
  app::WalPushRequest none = a.push("");
  EXPECT_STRATA_ERROR(app::wal_push(a.services, none), ErrorCode::kUsage, "give the WAL file to push");

  // A file still in the spool is the newest copy: fetch answers from there without touching the repository.
  const std::string spool = a.dir.path() + "/spool";
  std::filesystem::create_directories(spool);
  write(spool + "/000000010000000000000009", "spooled segment");
  a.source.values["spool_dir"] = spool;
  int drainers = 0;
  async = a.push(wal);
  async.source = a.source;
  async.async = true;
  async.start_drainer = [&](const std::string& dir) {
    EXPECT_EQ(dir, spool);
    ++drainers;
  };
  EXPECT_EQ(app::wal_push(a.services, async).kind, app::WalPushResult::Kind::kSpooled);
  EXPECT_EQ(drainers, 1);
  const std::string dest = a.dir.path() + "/RECOVERYXLOG";
  app::WalFetchRequest req{a.source, "000000010000000000000009", dest, {}};
  EXPECT_EQ(app::wal_fetch(a.services, req), app::WalFetchOutcome::kFromSpool);
  EXPECT_EQ(read(dest), "spooled segment");
}

}  // namespace
}  // namespace strata
