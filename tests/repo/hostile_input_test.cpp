// Repository contents written by someone hostile: bounded parsing of manifests and key files, isolation of a damaged
// manifest, the cipher rule, and writer signatures (issue 13, items 17-19; docs/FORMAT.md "Limits").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../common/test_helpers.hpp"
#include "repo/bounded_json.hpp"
#include "repo/keys.hpp"
#include "repo/manifest.hpp"
#include "repo/repository.hpp"
#include "repo/writer.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::BufferSource;
using testing::VectorSink;

const KdfParams kFastKdf{1, 8ull << 20};

// One object of one frame, consistent in every field.
Manifest small_manifest() {
  Manifest m;
  m.id = "20261121T053300Z-0a1b2c3d";
  m.source = "s";
  m.cipher = "none";
  m.frame_size = 65536;
  m.frames_per_object = 4;
  m.stream.frames = 1;
  m.stream.plain_bytes = 10;
  m.stream.stored_bytes = 42;
  ObjectRecord o;
  o.name = m.id + "/000000";
  o.key = "data/" + o.name;
  o.size = 58;
  o.offset = 16;
  o.length = 42;
  o.frame_count = 1;
  o.plain_bytes = 10;
  m.stream.objects.push_back(o);
  return m;
}

Bytes replace_public(const Bytes& enc, const std::string& pub) {
  uint32_t pub_len = get_u32le(enc.data() + 12);
  Bytes out(enc.begin(), enc.begin() + 16);
  put_u32le(out.data() + 12, static_cast<uint32_t>(pub.size()));
  out.insert(out.end(), pub.begin(), pub.end());
  out.insert(out.end(), enc.begin() + 16 + pub_len, enc.end());
  return out;
}

std::string public_text(const Bytes& enc) {
  return std::string(enc.begin() + 16, enc.begin() + 16 + get_u32le(enc.data() + 12));
}

TEST(HostileManifest, DeeplyNestedEngineJsonIsCorruptNotACrash) {
  Bytes enc = encode_manifest(small_manifest(), Cipher::kNone, Key32{});
  std::string pub = public_text(enc);
  size_t at = pub.find("\"engine\":{}");
  ASSERT_NE(at, std::string::npos);
  pub.replace(at, 11, "\"engine\":" + std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_STRATA_ERROR(decode_manifest_public(replace_public(enc, pub), "backups/x"), ErrorCode::kCorrupt,
                      "manifest backups/x is damaged (JSON nested too deeply");
  // Nesting inside strings does not count.
  pub = public_text(enc);
  pub.replace(pub.find("\"source\":\"s\""), 12, "\"source\":\"" + std::string(500, '[') + "\"");
  EXPECT_EQ(decode_manifest_public(replace_public(enc, pub), "b").source, std::string(500, '['));
}

TEST(HostileManifest, OversizedFieldsAndImpossibleCountsAreCorrupt) {
  Manifest m = small_manifest();
  m.host = std::string(5000, 'h');
  EXPECT_STRATA_ERROR(decode_manifest_public(encode_manifest(m, Cipher::kNone, Key32{}), "b"), ErrorCode::kCorrupt,
                      "field 'host' is 5000 bytes long");
  m = small_manifest();
  m.frame_size = 0;
  EXPECT_STRATA_ERROR(decode_manifest_public(encode_manifest(m, Cipher::kNone, Key32{}), "b"), ErrorCode::kCorrupt,
                      "frame_size 0 is out of range");
  m = small_manifest();
  m.stream.frames = 1000;  // would need 250 objects
  EXPECT_STRATA_ERROR(decode_manifest_public(encode_manifest(m, Cipher::kNone, Key32{}), "b"), ErrorCode::kCorrupt,
                      "1000 frames need 250 objects, it lists 1");
  m = small_manifest();
  m.stream.objects[0].key = "data/20261120T000000Z-00000000/000000";  // another backup's object
  EXPECT_STRATA_ERROR(decode_manifest_public(encode_manifest(m, Cipher::kNone, Key32{}), "b"), ErrorCode::kCorrupt,
                      "object 0 has key");
}

TEST(HostileManifest, LayoutOutsideTheObjectIsRefused) {
  for (auto edit : std::vector<std::function<void(ObjectRecord&)>>{
           [](ObjectRecord& o) { o.offset = uint64_t{1} << 40; },
           [](ObjectRecord& o) { o.length += 1; },
           [](ObjectRecord& o) { o.frame_count = 5; },
           [](ObjectRecord& o) { o.first_frame = 7; },
           [](ObjectRecord& o) { o.plain_bytes = 11; },
           [](ObjectRecord& o) { o.name = "elsewhere/000000"; }}) {
    Manifest m = small_manifest();
    edit(m.stream.objects[0]);
    Bytes enc = encode_manifest(m, Cipher::kNone, Key32{});
    Manifest back = decode_manifest_public(enc, "b");
    EXPECT_STRATA_ERROR(decode_manifest_sealed(enc, back, Key32{}, "b"), ErrorCode::kCorrupt, "impossible layout");
    EXPECT_FALSE(back.sealed_loaded);
  }
}

TEST(HostileManifest, ErrorsNeverEchoTheDamagedBytes) {
  Bytes enc = encode_manifest(small_manifest(), Cipher::kNone, Key32{});
  std::string pub = public_text(enc);
  pub.insert(pub.find("\"source\""), "\x01\xff secret-looking-bytes ");
  try {
    decode_manifest_public(replace_public(enc, pub), "b");
    FAIL() << "damaged JSON was accepted";
  } catch (const StrataError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find("secret-looking-bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("invalid JSON at byte"), std::string::npos) << msg;
  }
  EXPECT_EQ(excerpt(std::string(1000, 'a') + "\n"), std::string(64, 'a') + "...");
}

TEST(HostileManifest, CipherMustMatchTheRepository) {
  Manifest m = small_manifest();
  EXPECT_STRATA_ERROR(check_manifest_cipher(m, true, "backups/x"), ErrorCode::kCorrupt,
                      "records cipher 'none' without a sealed data key, but the repository is encrypted");
  check_manifest_cipher(m, false, "backups/x");
  m.cipher = "aes-256-gcm";
  m.wrapped_data_key = Bytes(80, 1);
  check_manifest_cipher(m, true, "backups/x");
  EXPECT_STRATA_ERROR(check_manifest_cipher(m, false, "backups/x"), ErrorCode::kCorrupt, "is not encrypted");
}

TEST(HostileKeyFile, KdfParametersAreBounded) {
  SecretKey sk = SecretKey::generate();
  WrappedKey w = wrap_secret_key(sk, "pw", "repo", kFastKdf);
  for (auto [ops, mem] : std::vector<std::pair<uint64_t, uint64_t>>{
           {50000, 8ull << 20}, {1, 1ull << 31}, {0, 8ull << 20}, {3, 100}, {64, 1ull << 30}}) {
    SCOPED_TRACE(std::to_string(ops) + " " + std::to_string(mem));
    auto j = nlohmann::json::parse(wrapped_key_to_json(w));
    j["kdf"]["opslimit"] = ops;
    j["kdf"]["memlimit"] = mem;
    EXPECT_STRATA_ERROR(wrapped_key_from_json(j.dump(), "keys/abc"), ErrorCode::kCorrupt,
                        "keys/abc has out-of-range KDF parameters");
    WrappedKey bad = w;
    bad.kdf = {ops, mem};
    EXPECT_STRATA_ERROR(unwrap_secret_key(bad, "pw", "repo"), ErrorCode::kCorrupt, "out-of-range KDF parameters");
    EXPECT_STRATA_ERROR(wrap_secret_key(sk, "pw", "repo", bad.kdf), ErrorCode::kUsage, "out of range");
  }
  EXPECT_STRATA_ERROR(wrapped_key_from_json(std::string(100, '[') + std::string(100, ']'), "keys/abc"),
                      ErrorCode::kCorrupt, "nested too deeply");
}

class HostileRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    MemoryStorage s(state_);
    InitOptions o;
    o.passphrase = "pw";
    o.kdf = kFastKdf;
    Repository::init(s, o);
  }
  std::unique_ptr<Repository> open(bool unlock = true) {
    auto r = std::make_unique<Repository>(std::make_unique<MemoryStorage>(state_));
    if (unlock) r->unlock("pw");
    return r;
  }
  Manifest backup(Repository& r, const std::string& source, size_t n = 300) {
    BackupOptions o;
    o.source = source;
    o.pipeline.frame_size = 64;
    o.pipeline.frames_per_object = 4;
    o.pipeline.threads = 1;
    Bytes data = testing::pseudo_random(n, n);
    BufferSource src(data);
    return r.backup(src, o, nullptr);
  }
  Bytes& object(const std::string& key) { return state_->objects.at(key); }
  std::shared_ptr<MemoryStorage::State> state_ = std::make_shared<MemoryStorage::State>();
};

TEST_F(HostileRepo, OneDamagedManifestIsListedApart) {
  auto r = open();
  Manifest a = backup(*r, "a"), b = backup(*r, "b");
  Bytes& raw = object("backups/" + b.id);
  raw.resize(raw.size() / 2);
  std::vector<DamagedManifest> damaged;
  auto all = r->list("", "", &damaged);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, a.id);
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_EQ(damaged[0].key, "backups/" + b.id);
  EXPECT_NE(damaged[0].error.find("is truncated"), std::string::npos) << damaged[0].error;
  EXPECT_EQ(r->latest_id("a"), a.id);
}

TEST_F(HostileRepo, DamagedKeyFileIsCheckedAndNamed) {
  auto r = open();
  backup(*r, "a");
  std::string id = r->add_key("second", "", kFastKdf);
  Bytes& k = object("keys/" + id);
  k.resize(k.size() / 2);
  CheckReport rep = open()->check({});
  ASSERT_EQ(rep.errors.size(), 1u);
  EXPECT_EQ(rep.errors[0].rfind("key keys/" + id + " is damaged: keys/" + id + " is not a valid key file", 0), 0u)
      << rep.errors[0];
  auto r2 = std::make_unique<Repository>(std::make_unique<MemoryStorage>(state_));
  // The damaged key's passphrase cannot be told from a wrong one while an intact key exists: the error names both.
  EXPECT_STRATA_ERROR(r2->unlock("second"), ErrorCode::kWrongKey, "; note: key keys/" + id + " is damaged");
  // With every key file damaged no passphrase can work: that is damage.
  for (const auto& [key, value] : state_->objects) {
    if (key.rfind("keys/", 0) == 0) state_->objects[key].resize(10);
  }
  EXPECT_STRATA_ERROR(r2->unlock("pw"), ErrorCode::kCorrupt, "has no intact key: key keys/");
}

TEST_F(HostileRepo, SignedBackupsVerifyAndForgeriesDoNot) {
  testing::TempDir dir;
  WriterKey wk = generate_writer_key("db-1");
  std::string path = dir.path() + "/w.key";
  save_writer_key_file(path, wk);
  auto r = open();
  r->set_writer_key_file(path);
  EXPECT_STRATA_ERROR(backup(*r, "a"), ErrorCode::kUsage, "is not registered");
  EXPECT_EQ(r->add_writer("db-1", wk.public_key), wk.id);
  Manifest m = backup(*r, "a");
  EXPECT_EQ(m.writer_id, wk.id);
  Manifest back = open()->load(m.id, true);
  EXPECT_EQ(back.writer_status, "verified");
  EXPECT_EQ(back.writer_name, "db-1");
  EXPECT_EQ(open(false)->load(m.id, false).writer_status, writer_status_name(WriterStatus::kUnverifiedRegistry));

  // A changed signature byte no longer verifies.
  Bytes good = object("backups/" + m.id);
  Bytes& raw = object("backups/" + m.id);
  raw[raw.size() - 5] ^= 0x40;
  EXPECT_STRATA_ERROR(open()->load(m.id, true), ErrorCode::kCorrupt, "signature that does not verify");
  raw = good;

  // A record without the repository's MAC is an unknown writer for anyone holding the key.
  WriterKey evil = generate_writer_key("db-1");
  WriterRecord forged = make_writer_record("db-1", evil.public_key, "another-repo", Key32{});
  state_->objects["writers/" + evil.id] = testing::bytes_of(writer_record_to_json(forged));
  std::string evil_path = dir.path() + "/evil.key";
  save_writer_key_file(evil_path, evil);
  auto w = open();
  w->set_writer_key_file(evil_path);
  Manifest f = backup(*w, "a");
  EXPECT_STRATA_ERROR(open()->load(f.id, true), ErrorCode::kCorrupt, "which is not registered in this repository");

  // Unsigned backups: accepted by default, refused on request.
  auto plain = open();
  Manifest u = backup(*plain, "a");
  EXPECT_EQ(open()->load(u.id, true).writer_status, "unsigned");
  auto strict = open();
  strict->set_refuse_unsigned(true);
  EXPECT_STRATA_ERROR(strict->load(u.id, true), ErrorCode::kCorrupt, "is not signed by a registered writer");
}

TEST(WriterKeyFile, RoundTripsAndRefusesMismatchedHalves) {
  WriterKey k = generate_writer_key("host-1");
  WriterKey back = writer_key_from_text(writer_key_to_text(k), "f");
  EXPECT_EQ(back.id, k.id);
  EXPECT_EQ(back.public_key, k.public_key);
  auto j = nlohmann::json::parse(writer_key_to_text(k));
  j["public_key"] = std::string(64, '0');
  EXPECT_STRATA_ERROR(writer_key_from_text(j.dump(), "f"), ErrorCode::kUsage, "does not match its secret key");
  Bytes msg = testing::bytes_of("hello");
  auto sig = sign_message(k, msg);
  EXPECT_TRUE(verify_message(k.public_key, msg, ByteView(sig.data(), sig.size())));
  msg[0] ^= 1;
  EXPECT_FALSE(verify_message(k.public_key, msg, ByteView(sig.data(), sig.size())));
}

}  // namespace
}  // namespace strata
