#include "repo/repository.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../common/test_helpers.hpp"
#include "storage/fault/fault_storage.hpp"
#include "storage/local/local_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::BufferSource;
using testing::VectorSink;

const KdfParams kFastKdf{1, 8ull << 20};
constexpr uint32_t kFrame = 64, kPerObject = 4;

struct Backend {
  std::string name;
  bool local;
};

class RepositoryTest : public ::testing::TestWithParam<Backend> {
 protected:
  // A new handle on the same repository each call, as a second process would get.
  std::unique_ptr<Storage> open_storage_handle() {
    if (GetParam().local) return std::make_unique<LocalStorage>(dir_.path() + "/repo");
    return std::make_unique<MemoryStorage>(state_);
  }

  void init(bool encrypted = true) {
    auto s = open_storage_handle();
    InitOptions o;
    o.encrypted = encrypted;
    o.passphrase = encrypted ? "pw-one" : "";
    o.kdf = kFastKdf;
    Repository::init(*s, o);
  }

  std::unique_ptr<Repository> open(const std::string& passphrase = "pw-one") {
    auto r = std::make_unique<Repository>(open_storage_handle());
    if (!passphrase.empty()) r->unlock(passphrase);
    return r;
  }

  static BackupOptions options(const std::string& source, const std::string& catalog = "") {
    BackupOptions o;
    o.source = source;
    o.catalog = catalog;
    o.pipeline.frame_size = kFrame;
    o.pipeline.frames_per_object = kPerObject;
    o.pipeline.compression = Compression{Codec::kZstd, 1};
    o.pipeline.threads = 2;
    o.pipeline.io_threads = 2;
    return o;
  }

  Manifest backup(Repository& r, const Bytes& data, const std::string& source = "db",
                  const std::string& catalog = "") {
    BufferSource src(data);
    return r.backup(src, options(source, catalog), nullptr);
  }

  Bytes restore(Repository& r, const std::string& id, const std::string& catalog = "") {
    Manifest m = r.load(id, true, catalog);
    VectorSink sink;
    r.restore(m, sink, options("x").pipeline, nullptr);
    EXPECT_EQ(sink.finished, 1);
    return sink.data();
  }

  std::vector<std::string> keys(const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& o : open_storage_handle()->list(prefix)) out.push_back(o.key);
    return out;
  }

  bool has_error_containing(const CheckReport& rep, const std::string& fragment) {
    for (const auto& e : rep.errors) {
      if (e.find(fragment) != std::string::npos) return true;
    }
    return false;
  }

  testing::TempDir dir_;
  std::shared_ptr<MemoryStorage::State> state_ = std::make_shared<MemoryStorage::State>();
};

TEST_P(RepositoryTest, InitTwiceIsAlreadyExists) {
  init();
  auto s = open_storage_handle();
  InitOptions o;
  o.passphrase = "other";
  o.kdf = kFastKdf;
  EXPECT_STRATA_ERROR(Repository::init(*s, o), ErrorCode::kAlreadyExists, "a strata repository already exists at");
  EXPECT_EQ(keys("keys/").size(), 1u) << "the refused init wrote no key";
  EXPECT_NO_THROW(open());
}

TEST_P(RepositoryTest, InitRefusesAnEmptyPassphrase) {
  auto s = open_storage_handle();
  InitOptions o;
  o.kdf = kFastKdf;
  EXPECT_STRATA_ERROR(Repository::init(*s, o), ErrorCode::kUsage, "empty passphrase");
  EXPECT_TRUE(s->list("").empty());
}

TEST_P(RepositoryTest, EmptyStorageIsNotARepository) {
  EXPECT_STRATA_ERROR(Repository probe{open_storage_handle()}, ErrorCode::kNotARepository,
                      "is not a strata repository (no config object)");
  open_storage_handle()->put("config", testing::bytes_of("{\"format\": \"something-else\"}"));
  EXPECT_STRATA_ERROR(Repository probe{open_storage_handle()}, ErrorCode::kNotARepository, "not a strata repository");
  open_storage_handle()->put("config", testing::bytes_of("\x01\x02garbage"));
  EXPECT_STRATA_ERROR(Repository probe{open_storage_handle()}, ErrorCode::kNotARepository, "config unreadable");
}

TEST_P(RepositoryTest, NewerConfigVersionIsUnsupported) {
  init();
  auto s = open_storage_handle();
  auto j = nlohmann::json::parse(to_string(s->get("config", 0, Storage::kToEnd)));
  EXPECT_EQ(j["version"], kRepoVersion);
  j["version"] = kRepoVersion + 1;
  s->put("config", testing::bytes_of(j.dump()));
  EXPECT_STRATA_ERROR(Repository probe{open_storage_handle()}, ErrorCode::kUnsupportedVersion,
                      "has format version 2 but this strata");
}

TEST_P(RepositoryTest, WrongPassphraseIsWrongKey) {
  init();
  auto r = open("");
  EXPECT_FALSE(r->unlocked());
  EXPECT_STRATA_ERROR(r->unlock("pw-two"), ErrorCode::kWrongKey, "wrong passphrase: none of the 1 keys");
  EXPECT_FALSE(r->unlocked());
  r->unlock("pw-one");
  EXPECT_TRUE(r->unlocked());
}

TEST_P(RepositoryTest, BackupRestoreRoundTrip) {
  init();
  auto r = open();
  Bytes data = testing::pseudo_random(kFrame * kPerObject * 5 + 17, 1);
  BufferSource src(data);
  BackupOptions o = options("orders-db");
  o.labels = {{"env", "prod"}};
  uint64_t progress = 0;
  Manifest m = r->backup(src, o, [&](uint64_t p, uint64_t) { progress = p; });
  EXPECT_EQ(progress, data.size());
  EXPECT_EQ(m.source, "orders-db");
  EXPECT_EQ(m.writer, "passphrase");
  EXPECT_EQ(m.cipher, cipher_name(preferred_cipher()));
  EXPECT_EQ(m.stream.plain_bytes, data.size());
  EXPECT_EQ(m.stream.objects.size(), 6u);
  EXPECT_EQ(m.stream.plain_sha256, Sha256::of(data));
  EXPECT_EQ(keys("backups/"), (std::vector<std::string>{"backups/" + m.id}));
  EXPECT_EQ(keys("data/").size(), 6u);
  for (const auto& k : keys("data/")) EXPECT_EQ(k.rfind("data/" + m.id + "/", 0), 0u) << k;
  EXPECT_TRUE(keys("locks/").empty()) << "the backup released its lock";

  // A fresh handle, as another process would open it, lists and restores from what the repository holds.
  auto r2 = open();
  auto listed = r2->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, m.id);
  EXPECT_EQ(listed[0].labels.at("env"), "prod");
  EXPECT_EQ(r2->list("orders-db").size(), 1u);
  EXPECT_TRUE(r2->list("other").empty());
  EXPECT_EQ(r2->resolve_id(m.id.substr(0, 12)), m.id);
  EXPECT_STRATA_ERROR(r2->resolve_id("19990101"), ErrorCode::kNotFound, "backup 19990101 not found");
  EXPECT_EQ(restore(*r2, m.id), data);
}

TEST_P(RepositoryTest, EmptyStreamRoundTrips) {
  init();
  auto r = open();
  Manifest m = backup(*r, {});
  EXPECT_EQ(m.stream.frames, 1u);
  EXPECT_TRUE(restore(*r, m.id).empty());
}

TEST_P(RepositoryTest, UnencryptedRepositoryRoundTrips) {
  init(false);
  auto r = open("");
  EXPECT_TRUE(r->unlocked());
  EXPECT_FALSE(r->config().encrypted);
  Bytes data = testing::compressible(5000);
  Manifest m = backup(*r, data);
  EXPECT_EQ(m.cipher, "none");
  EXPECT_EQ(m.writer, "unencrypted");
  EXPECT_TRUE(m.wrapped_data_key.empty());
  EXPECT_EQ(restore(*r, m.id), data);
  EXPECT_TRUE(r->keys().empty());
}

TEST_P(RepositoryTest, LockedRepositoryRefusesToBackUp) {
  init();
  auto r = open("");
  BufferSource src(Bytes(10));
  EXPECT_STRATA_ERROR(r->backup(src, options("db"), nullptr), ErrorCode::kWrongKey, "give the passphrase");
  EXPECT_TRUE(keys("data/").empty());
}

TEST_P(RepositoryTest, BackgroundUnlockBacksUpAsThePassphraseHolder) {
  init();
  auto r = open("");
  r->unlock_async("pw-one");
  Bytes data = testing::pseudo_random(kFrame * kPerObject * 3 + 5, 6);
  Manifest m = backup(*r, data);
  EXPECT_EQ(m.writer, "passphrase");
  EXPECT_TRUE(r->unlocked());
  EXPECT_EQ(restore(*r, m.id), data) << "the same handle holds the key afterwards";
}

TEST_P(RepositoryTest, BackgroundUnlockWithAWrongPassphraseStoresNothing) {
  init();
  auto r = open("");
  r->unlock_async("pw-two");
  BufferSource src(testing::pseudo_random(kFrame * kPerObject * 3 + 5, 7));
  EXPECT_STRATA_ERROR(r->backup(src, options("db"), nullptr), ErrorCode::kWrongKey, "wrong passphrase");
  EXPECT_TRUE(keys("data/").empty());
  EXPECT_TRUE(keys("backups/").empty());
  EXPECT_TRUE(keys("locks/").empty());
  EXPECT_FALSE(r->unlocked());
}

TEST_P(RepositoryTest, InvalidSourceNameOrIdIsAUsageError) {
  init();
  auto r = open();
  BufferSource src(Bytes(10));
  EXPECT_STRATA_ERROR(r->backup(src, options("../etc"), nullptr), ErrorCode::kUsage, "invalid source name '../etc'");
  BackupOptions o = options("db");
  o.id = "a/b";
  EXPECT_STRATA_ERROR(r->backup(src, o, nullptr), ErrorCode::kUsage, "invalid backup id 'a/b'");
}

TEST_P(RepositoryTest, WriteOnlyHostCanBackUpButReadNothing) {
  init();
  auto writer = open("");
  writer->use_public_key_only("");
  Bytes data = testing::pseudo_random(1000, 2);
  Manifest m = backup(*writer, data);
  EXPECT_EQ(m.writer, "public-key");
  EXPECT_STRATA_ERROR(writer->load(m.id, true), ErrorCode::kWrongKey, "has no key for it (write-only mode)");
  Manifest pub = writer->load(m.id, false);
  EXPECT_FALSE(pub.sealed_loaded);
  VectorSink sink;
  EXPECT_STRATA_ERROR(writer->restore(pub, sink, options("x").pipeline, nullptr), ErrorCode::kWrongKey,
                      "cannot be restored without the repository key");
  EXPECT_TRUE(sink.data().empty());
  // The holder of the passphrase restores it.
  EXPECT_EQ(restore(*open(), m.id), data);
}

TEST_P(RepositoryTest, PinnedPublicKeyMustMatch) {
  init();
  auto r = open("");
  const PublicKey pk = r->config().public_key;
  Bytes wrong(pk.begin(), pk.end());
  wrong[0] ^= 1;
  EXPECT_STRATA_ERROR(r->use_public_key_only(hex_encode(wrong)), ErrorCode::kWrongKey, "differs from the pinned key");
  EXPECT_STRATA_ERROR(r->use_public_key_only("abcd"), ErrorCode::kWrongKey, "differs from the pinned key");
  BufferSource src(Bytes(10));
  EXPECT_STRATA_ERROR(r->backup(src, options("db"), nullptr), ErrorCode::kWrongKey, "") << "pin refused: still locked";
  r->use_public_key_only(hex_encode(ByteView(pk.data(), pk.size())));
  EXPECT_NO_THROW(backup(*r, Bytes(10)));
}

TEST_P(RepositoryTest, KeyAddAndRemoveRules) {
  init();
  auto r1 = open("pw-one");
  std::string k2 = r1->add_key("pw-two", "laptop", kFastKdf);
  auto listed = r1->keys();
  ASSERT_EQ(listed.size(), 2u);
  std::string k1;
  for (const auto& k : listed) {
    if (k.id != k2) k1 = k.id;
    EXPECT_EQ(k.current, k.id != k2) << "current is the key r1 was unlocked with";
    if (k.id == k2) {
      EXPECT_EQ(k.label, "laptop");
    }
  }
  ASSERT_FALSE(k1.empty());
  EXPECT_STRATA_ERROR(r1->add_key("", "x", kFastKdf), ErrorCode::kUsage, "empty passphrase");

  // Either passphrase opens the same repository key, and so the same backups.
  Bytes data = testing::pseudo_random(300, 3);
  Manifest m = backup(*r1, data);
  auto r2 = open("pw-two");
  EXPECT_EQ(restore(*r2, m.id), data);

  EXPECT_STRATA_ERROR(r1->remove_key(k1), ErrorCode::kUsage, "is the one you unlocked with");
  EXPECT_STRATA_ERROR(r1->remove_key("0000000000000000"), ErrorCode::kNotFound, "key 0000000000000000 not found");
  r2->remove_key(k1);
  EXPECT_EQ(keys("keys/"), (std::vector<std::string>{"keys/" + k2}));
  EXPECT_STRATA_ERROR(open("pw-one"), ErrorCode::kWrongKey, "wrong passphrase");
  EXPECT_STRATA_ERROR(r2->remove_key(k2), ErrorCode::kUsage, "is the last key");
  EXPECT_EQ(restore(*open("pw-two"), m.id), data);
  EXPECT_TRUE(keys("locks/").empty());

  auto locked = open("");
  EXPECT_STRATA_ERROR(locked->add_key("pw-3", "", kFastKdf), ErrorCode::kWrongKey, "unlocked");
  EXPECT_STRATA_ERROR(locked->remove_key(k2), ErrorCode::kWrongKey, "unlocked");
}

TEST_P(RepositoryTest, CheckOfAHealthyRepository) {
  init();
  auto r = open();
  Manifest a = backup(*r, testing::pseudo_random(kFrame * kPerObject * 2 + 1, 4), "a");
  Manifest b = backup(*r, testing::compressible(3000), "b");
  const size_t objects = a.stream.objects.size() + b.stream.objects.size();
  CheckReport meta = r->check(CheckOptions{});
  EXPECT_TRUE(meta.errors.empty()) << meta.errors[0];
  EXPECT_EQ(meta.backups, 2u);
  EXPECT_EQ(meta.objects, objects);
  EXPECT_EQ(meta.objects_read, 0u);
  EXPECT_TRUE(meta.keys_used);
  CheckReport full = r->check(CheckOptions{1.0, 1});
  EXPECT_TRUE(full.errors.empty()) << full.errors[0];
  EXPECT_EQ(full.objects_read, objects);
  EXPECT_GT(full.bytes_read, 0u);
  EXPECT_TRUE(full.leftovers.empty());
}

TEST_P(RepositoryTest, CheckFindsMissingTruncatedAndFlippedObjects) {
  init();
  auto r = open();
  Manifest a = backup(*r, testing::pseudo_random(kFrame * kPerObject * 3, 5), "a");
  Manifest b = backup(*r, testing::pseudo_random(kFrame * kPerObject * 3, 6), "b");
  ASSERT_EQ(a.stream.objects.size(), 3u);
  auto s = open_storage_handle();
  const auto& missing = a.stream.objects[1];
  const auto& truncated = b.stream.objects[0];
  const auto& flipped = b.stream.objects[2];
  s->remove(missing.key);
  Bytes t = s->get(truncated.key, 0, Storage::kToEnd);
  t.resize(t.size() - 5);
  s->put(truncated.key, t);
  Bytes f = s->get(flipped.key, 0, Storage::kToEnd);
  f[f.size() / 2] ^= 0x01;
  s->put(flipped.key, f);

  CheckReport meta = r->check(CheckOptions{});
  EXPECT_EQ(meta.errors.size(), 2u) << "without reading data the flipped byte is invisible";
  EXPECT_TRUE(has_error_containing(meta, "backup " + a.id + ": object " + missing.key + " is missing"));
  EXPECT_TRUE(has_error_containing(meta, "object " + truncated.key + " has " + std::to_string(truncated.size - 5) +
                                             " bytes, the manifest records " + std::to_string(truncated.size)));

  CheckReport full = r->check(CheckOptions{1.0, 1});
  ASSERT_EQ(full.errors.size(), 3u);
  EXPECT_TRUE(has_error_containing(full, "object " + flipped.key + ": frame ")) << full.errors[2];
  EXPECT_TRUE(has_error_containing(full, "failed authentication"));

  // Without keys the stored digests still find the flipped byte.
  auto keyless = open("");
  CheckReport nokeys = keyless->check(CheckOptions{1.0, 1});
  EXPECT_FALSE(nokeys.keys_used);
  ASSERT_EQ(nokeys.errors.size(), 3u);
  EXPECT_TRUE(has_error_containing(nokeys, "object " + flipped.key + " does not match its recorded digest"));

  // And restore refuses the damaged backups before writing anything.
  VectorSink sink;
  EXPECT_STRATA_ERROR(r->restore(r->load(a.id, true), sink, options("x").pipeline, nullptr), ErrorCode::kCorrupt,
                      "object " + missing.key + " is missing");
  EXPECT_TRUE(sink.data().empty());
  EXPECT_STRATA_ERROR(r->restore(r->load(b.id, true), sink, options("x").pipeline, nullptr), ErrorCode::kCorrupt,
                      "object " + truncated.key + " has");
}

TEST_P(RepositoryTest, CheckReportsTamperedManifest) {
  init();
  auto r = open();
  Manifest m = backup(*r, testing::pseudo_random(500, 7));
  auto s = open_storage_handle();
  Bytes raw = s->get("backups/" + m.id, 0, Storage::kToEnd);
  std::string text = to_string(raw);
  raw[text.find("\"source\":\"db\"") + 10] ^= 0x01;  // "db" -> "eb": still valid JSON
  s->put("backups/" + m.id, raw);
  EXPECT_STRATA_ERROR(r->load(m.id, true), ErrorCode::kCorrupt, "failed authentication");
  CheckReport rep = r->check(CheckOptions{});
  ASSERT_EQ(rep.errors.size(), 1u);
  EXPECT_NE(rep.errors[0].find("backup " + m.id + ": manifest backups/" + m.id + " failed authentication"),
            std::string::npos)
      << rep.errors[0];
}

TEST_P(RepositoryTest, CheckReportsLeftoversAndCleanupRemovesThem) {
  init();
  auto r = open();
  Manifest kept = backup(*r, testing::pseudo_random(300, 8));
  auto s = open_storage_handle();
  const std::string orphan1 = "data/20990101T000000Z-deadbeef/000000";
  const std::string orphan2 = "data/20990101T000000Z-deadbeef/000001";
  s->put(orphan1, testing::bytes_of("x"));
  s->put(orphan2, testing::bytes_of("y"));
  CheckReport rep = r->check(CheckOptions{});
  EXPECT_TRUE(rep.errors.empty());
  EXPECT_EQ(rep.leftovers, (std::vector<std::string>{orphan1, orphan2}));

  EXPECT_EQ(r->cleanup(true, 0), (std::vector<std::string>{orphan1, orphan2}));
  EXPECT_TRUE(s->stat(orphan1)) << "dry run removes nothing";
  EXPECT_EQ(r->cleanup(false, 0), (std::vector<std::string>{orphan1, orphan2}));
  EXPECT_FALSE(s->stat(orphan1));
  EXPECT_FALSE(s->stat(orphan2));
  EXPECT_TRUE(r->check(CheckOptions{}).leftovers.empty());
  EXPECT_EQ(keys("data/").size(), kept.stream.objects.size()) << "committed objects survive cleanup";
  EXPECT_TRUE(keys("locks/").empty());
}

TEST_P(RepositoryTest, ObjectsOfABackupStillRunningAreNotLeftovers) {
  init();
  auto r = open();
  auto s = open_storage_handle();
  nlohmann::json lock = {{"kind", "shared"}, {"host", "other-host.example"}, {"pid", 1}, {"command", "backup db"},
                         {"backup_id", "20990101T000000Z-running"}, {"started", "2099-01-01T00:00:00Z"}};
  s->put("locks/20990101T000000Z-0000000000000000", testing::bytes_of(lock.dump()));
  s->put("data/20990101T000000Z-running/000000", testing::bytes_of("in progress"));
  CheckReport rep = r->check(CheckOptions{});
  EXPECT_TRUE(rep.leftovers.empty());
  bool noted = false;
  for (const auto& n : rep.notes) noted |= n.find("which is still being written") != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_STRATA_ERROR(r->cleanup(false), ErrorCode::kLocked, "backup db");
}

TEST_P(RepositoryTest, RemoveBackupRemovesManifestAndObjects) {
  init();
  auto r = open();
  Manifest a = backup(*r, testing::pseudo_random(kFrame * kPerObject * 2 + 3, 9), "a");
  Manifest b = backup(*r, testing::pseudo_random(100, 10), "b");
  // A leftover object under a's id (an aborted earlier attempt) goes with it.
  open_storage_handle()->put("data/" + a.id + "/000099", testing::bytes_of("stray"));
  r->remove_backup(a.id);
  EXPECT_FALSE(r->exists(a.id));
  EXPECT_TRUE(r->exists(b.id));
  for (const auto& k : keys("data/")) EXPECT_EQ(k.rfind("data/" + b.id + "/", 0), 0u) << k;
  EXPECT_EQ(keys("data/").size(), b.stream.objects.size());
  ASSERT_EQ(r->list().size(), 1u);
  EXPECT_EQ(r->list()[0].id, b.id);
  EXPECT_STRATA_ERROR(r->load(a.id, true), ErrorCode::kNotFound, "backup " + a.id + " not found");
  EXPECT_TRUE(r->check(CheckOptions{1.0, 1}).errors.empty());
  EXPECT_TRUE(keys("locks/").empty());
}

TEST_P(RepositoryTest, DamagedManifestCanStillBeDeleted) {
  // The error for a damaged manifest tells the user to delete the backup: that must work.
  init();
  auto r = open();
  Manifest m = backup(*r, testing::pseudo_random(kFrame * kPerObject * 2, 17));
  Manifest other = backup(*r, testing::pseudo_random(100, 18));
  auto s = open_storage_handle();
  Bytes raw = s->get("backups/" + m.id, 0, Storage::kToEnd);
  raw[0] ^= 0x01;
  s->put("backups/" + m.id, raw);
  EXPECT_STRATA_ERROR(r->load(m.id, true), ErrorCode::kCorrupt, "delete the backup");
  r->remove_backup(m.id);
  EXPECT_FALSE(r->exists(m.id));
  for (const auto& k : keys("data/")) EXPECT_EQ(k.rfind("data/" + other.id + "/", 0), 0u) << k;
  CheckReport rep = r->check(CheckOptions{1.0, 1});
  EXPECT_TRUE(rep.errors.empty());
  EXPECT_TRUE(rep.leftovers.empty());
  EXPECT_STRATA_ERROR(r->remove_backup("20990101T000000Z-00000000"), ErrorCode::kNotFound, "");
}

TEST_P(RepositoryTest, DamagedKeyFileDoesNotLockOutTheOtherKeys) {
  init();
  auto r = open();
  Bytes data = testing::pseudo_random(200, 19);
  Manifest m = backup(*r, data);
  // Sorts before every real key id, so unlock meets it first.
  open_storage_handle()->put("keys/0000000000000000", testing::bytes_of("{ truncated"));
  auto r2 = open("pw-one");
  EXPECT_EQ(restore(*r2, m.id), data);
  EXPECT_STRATA_ERROR(open("pw-two"), ErrorCode::kWrongKey, "wrong passphrase: none of the 2 keys");
}

TEST_P(RepositoryTest, CatalogStreamsStayOutOfListButAreChecked) {
  init();
  auto r = open();
  Manifest user = backup(*r, testing::pseudo_random(200, 11), "pg1");
  Bytes wal = testing::pseudo_random(kFrame * kPerObject + 1, 12);
  Manifest side = backup(*r, wal, "pg1", "wal/pg1");
  EXPECT_EQ(keys("streams/wal/pg1/"), (std::vector<std::string>{"streams/wal/pg1/" + side.id}));
  ASSERT_EQ(r->list().size(), 1u);
  EXPECT_EQ(r->list()[0].id, user.id);
  EXPECT_EQ(r->list_ids(), (std::vector<std::string>{user.id}));
  ASSERT_EQ(r->list("", "wal/pg1").size(), 1u);
  EXPECT_EQ(r->list_ids("wal/pg1"), (std::vector<std::string>{side.id}));
  EXPECT_TRUE(r->exists(side.id, "wal/pg1"));
  EXPECT_FALSE(r->exists(side.id));
  EXPECT_EQ(restore(*r, side.id, "wal/pg1"), wal);

  CheckReport ok = r->check(CheckOptions{1.0, 1});
  EXPECT_EQ(ok.backups, 2u);
  EXPECT_TRUE(ok.errors.empty());
  EXPECT_TRUE(ok.leftovers.empty()) << "catalog objects are committed, not leftovers";
  EXPECT_TRUE(r->cleanup(false, 0).empty());
  EXPECT_EQ(restore(*r, side.id, "wal/pg1"), wal);

  open_storage_handle()->remove(side.stream.objects[1].key);
  CheckReport bad = r->check(CheckOptions{});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_NE(bad.errors[0].find(side.stream.objects[1].key + " is missing"), std::string::npos) << bad.errors[0];
}

TEST_P(RepositoryTest, FailingSourceLeavesNoManifestAndNoObjects) {
  init();
  auto r = open();
  BufferSource src(testing::pseudo_random(kFrame * kPerObject * 6, 13));
  src.fail_after(kFrame * kPerObject * 3 + 5);  // well past the first committed objects
  EXPECT_STRATA_ERROR(r->backup(src, options("db"), nullptr), ErrorCode::kSourceFailed, "test source failed");
  EXPECT_TRUE(keys("backups/").empty());
  EXPECT_TRUE(keys("data/").empty());
  EXPECT_TRUE(keys("locks/").empty());
  EXPECT_TRUE(r->list().empty());
  CheckReport rep = r->check(CheckOptions{});
  EXPECT_TRUE(rep.leftovers.empty());
  EXPECT_TRUE(rep.errors.empty());
}

TEST_P(RepositoryTest, FailedManifestWriteRemovesTheObjects) {
  init();
  FaultPlan plan;
  plan.key_prefix = "backups/";
  plan.ops = {StorageOp::kCommit};
  plan.fail_nth = 1;
  plan.error_text = "disk full";
  Repository r(std::make_unique<FaultStorage>(open_storage_handle(), plan));
  r.unlock("pw-one");
  BufferSource src(testing::pseudo_random(kFrame * kPerObject * 3, 14));
  EXPECT_STRATA_ERROR(r.backup(src, options("db"), nullptr), ErrorCode::kStorage, "disk full on backups/");
  EXPECT_TRUE(keys("backups/").empty());
  EXPECT_TRUE(keys("data/").empty());
  EXPECT_TRUE(keys("locks/").empty());
}

TEST_P(RepositoryTest, BackupWaitsForNoOneButDeleteRespectsRunningBackups) {
  init();
  auto r = open();
  Manifest m = backup(*r, testing::pseudo_random(100, 15));
  auto s = open_storage_handle();
  nlohmann::json lock = {{"kind", "shared"}, {"host", "other-host.example"}, {"pid", 1}, {"command", "backup other"},
                         {"backup_id", "x"}, {"started", "2099-01-01T00:00:00Z"}};
  s->put("locks/20990101T000000Z-0000000000000001", testing::bytes_of(lock.dump()));
  EXPECT_NO_THROW(backup(*r, testing::pseudo_random(100, 16))) << "shared locks coexist";
  EXPECT_STRATA_ERROR(r->remove_backup(m.id), ErrorCode::kLocked, "'backup other'");
  EXPECT_TRUE(r->exists(m.id));
  EXPECT_EQ(r->unlock_all(true), 0u) << "a lock of another host is never stale";
  EXPECT_EQ(r->unlock_all(false), 1u);
  r->remove_backup(m.id);
  EXPECT_FALSE(r->exists(m.id));
}

INSTANTIATE_TEST_SUITE_P(Backends, RepositoryTest,
                         ::testing::Values(Backend{"memory", false}, Backend{"local", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace strata
