// End-to-end: repository contents written by someone hostile (anyone with write access to the storage, a
// write-only host included) or damaged on disk. No command may crash, hang or take the rest of the repository down:
// the damaged object is reported, the rest stays usable (issue 13, items 17-19).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/bytes.hpp"
#include "io/crypto.hpp"
#include "repo/manifest.hpp"
#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

constexpr int kExitCorrupt = 5, kExitProblems = 13;
constexpr const char* kPass = "correct horse battery staple";

// The parts of a manifest file (docs/FORMAT.md "Manifests"), for surgery a forger would do.
struct ManifestParts {
  std::string head;    // magic + version (12 bytes)
  std::string pub;     // public JSON text
  std::string sealed;  // sealed part
  std::string rest;    // anything after the sealed part (a signature block)
};

ManifestParts split_manifest(const std::string& raw) {
  ManifestParts p;
  uint32_t pub_len = get_u32le(reinterpret_cast<const uint8_t*>(raw.data()) + 12);
  p.head = raw.substr(0, 12);
  p.pub = raw.substr(16, pub_len);
  uint32_t sealed_len = get_u32le(reinterpret_cast<const uint8_t*>(raw.data()) + 16 + pub_len);
  p.sealed = raw.substr(20 + pub_len, sealed_len);
  p.rest = raw.substr(20 + pub_len + sealed_len);
  return p;
}

std::string u32(uint32_t v) {
  std::string s(4, '\0');
  put_u32le(reinterpret_cast<uint8_t*>(s.data()), v);
  return s;
}

std::string join_manifest(const ManifestParts& p) {
  return p.head + u32(static_cast<uint32_t>(p.pub.size())) + p.pub + u32(static_cast<uint32_t>(p.sealed.size())) +
         p.sealed + p.rest;
}

class HostileRepoE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = tmp_ / "repo";
    env_["STRATA_REPO"] = repo_;
    env_["STRATA_PASSPHRASE"] = kPass;
    env_["HOME"] = tmp_.path();
  }

  RunResult strata(std::vector<std::string> args, const std::string& input = "") { return run_strata(args, env_, input); }

  void init(const std::string& repo, bool encrypted = true) {
    std::vector<std::string> args = {"--repo", repo, "repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"};
    if (!encrypted) args.push_back("--no-encryption");
    auto r = strata(args);
    ASSERT_EQ(r.code, 0) << r.err;
  }

  std::string backup(const std::string& data, const std::string& source, const std::string& repo = "") {
    std::string path = tmp_ / ("input-" + std::to_string(counter_++));
    write_file(path, data);
    auto r = strata({"--repo", repo.empty() ? repo_ : repo, "-q", "backup", "--source", source, "--from-file", path,
                     "--frame-size", "64KiB", "--object-size", "128KiB"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  std::string manifest_file(const std::string& id, const std::string& repo = "") {
    return (repo.empty() ? repo_ : repo) + "/backups/" + id;
  }

  std::vector<std::string> key_files() {
    std::vector<std::string> out;
    for (const auto& f : list_files(repo_ + "/keys")) out.push_back(repo_ + "/keys/" + f);
    return out;
  }

  TempDir tmp_;
  std::string repo_;
  Env env_;
  int counter_ = 0;
};

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

TEST_F(HostileRepoE2E, DeeplyNestedEngineJsonIsReportedNotACrash) {
  init(repo_);
  std::string a = backup(make_data(100000, 1), "a");
  std::string b = backup(make_data(100000, 2), "b");
  ManifestParts p = split_manifest(read_file(manifest_file(b)));
  size_t at = p.pub.find("\"engine\":{}");
  ASSERT_NE(at, std::string::npos) << p.pub;
  p.pub.replace(at, std::strlen("\"engine\":{}"), "\"engine\":" + std::string(100000, '[') + std::string(100000, ']'));
  write_file(manifest_file(b), join_manifest(p));

  auto r = strata({"list"});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  EXPECT_TRUE(contains(r.out, a)) << r.out;
  EXPECT_FALSE(contains(r.out, b + " ")) << r.out;
  EXPECT_TRUE(contains(r.err, "backups/" + b)) << r.err;
  EXPECT_TRUE(contains(r.err, "nested too deeply")) << r.err;
  EXPECT_LT(r.err.size(), 2000u) << "the message must quote a bounded excerpt, not the damaged JSON";

  for (std::vector<std::string> cmd : {std::vector<std::string>{"show", b}, {"restore", b, "--to", tmp_ / "out"}}) {
    r = strata(cmd);
    EXPECT_EQ(r.code, kExitCorrupt) << cmd[0] << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "nested too deeply")) << r.err;
  }
  r = strata({"check"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   backup " + b)) << r.out;
  r = strata({"delete", b});
  EXPECT_EQ(r.code, 0) << r.err;
  r = strata({"list"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// Rebuilds the manifest of `id` in an unencrypted repository (whose manifest key anyone can derive) after `edit`
// changed its sealed layout: what a forger with write access can do.
void forge_unencrypted_layout(const std::string& path, const std::function<void(Manifest&)>& edit) {
  std::string raw = read_file(path);
  Manifest m = decode_manifest_public(as_bytes(raw), path);
  Key32 mk = derive_key(Key32{}, "strata/manifest/v1");
  decode_manifest_sealed(as_bytes(raw), m, mk, path);
  edit(m);
  Bytes out = encode_manifest(m, Cipher::kNone, mk);
  write_file(path, std::string(out.begin(), out.end()));
}

TEST_F(HostileRepoE2E, LayoutOffsetPastTheObjectIsRefused) {
  init(repo_, false);
  std::string data = make_data(300000, 3);
  std::string id = backup(data, "s");
  forge_unencrypted_layout(manifest_file(id), [](Manifest& m) { m.stream.objects[0].offset = uint64_t{1} << 40; });
  auto r = strata({"check", "--read-data"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   backup " + id)) << r.out;
  EXPECT_TRUE(contains(r.out, "layout")) << r.out;
  r = strata({"restore", id, "--to", tmp_ / "out"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "layout")) << r.err;
  EXPECT_FALSE(file_exists(tmp_ / "out"));

  // A layout that ends past the object, or a frame count the bytes cannot hold, is refused the same way.
  std::string id2 = backup(data, "s");
  forge_unencrypted_layout(manifest_file(id2), [](Manifest& m) { m.stream.objects[0].length += 1; });
  r = strata({"restore", id2, "--to", tmp_ / "out2"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "layout")) << r.err;
}

TEST_F(HostileRepoE2E, KeyFileWithZeroOpslimitIsReportedAsDamaged) {
  init(repo_);
  backup(make_data(1000, 4), "s");
  auto keys = key_files();
  ASSERT_EQ(keys.size(), 1u);
  auto j = nlohmann::json::parse(read_file(keys[0]));
  j["kdf"]["opslimit"] = 0;
  write_file(keys[0], j.dump());
  auto r = strata({"restore", "latest", "--source", "s", "--to", tmp_ / "out"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "out-of-range KDF parameters")) << r.err;
  EXPECT_FALSE(contains(r.err, "ran out of memory")) << r.err;
}

TEST_F(HostileRepoE2E, OneDamagedManifestDoesNotTakeDownListOrRestoreLatest) {
  init(repo_);
  // A repository from before the source index (no index/v1): a listing by source scans every manifest, so it
  // reports every damaged one. The indexed case is IndexE2E.ADamagedManifestIsReportedByItsOwnSource.
  std::filesystem::remove_all(repo_ + "/index");
  std::string d1 = make_data(150000, 5), d2 = make_data(150000, 6), d3 = make_data(1000, 7);
  std::string s1 = backup(d1, "s");
  std::string s2 = backup(d2, "s");
  std::string t1 = backup(d3, "t");
  std::string raw = read_file(manifest_file(s2));
  write_file(manifest_file(s2), raw.substr(0, raw.size() / 2));

  auto r = strata({"list"});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  EXPECT_TRUE(contains(r.out, s1) && contains(r.out, t1)) << r.out;
  EXPECT_TRUE(contains(r.err, "manifest backups/" + s2 + " is truncated")) << r.err;
  r = strata({"list", "--json"});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u) << r.out;
  r = strata({"list", "--source", "t"});
  EXPECT_EQ(r.code, kExitProblems) << "a damaged manifest's source is unknown, so every listing reports it: " << r.err;

  r = strata({"restore", "latest", "--source", "t", "--to", tmp_ / "t.out"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(tmp_ / "t.out"), d3);
  r = strata({"restore", "latest", "--source", "s", "--to", tmp_ / "s.out"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(tmp_ / "s.out"), d1);
  EXPECT_TRUE(contains(r.err, "backups/" + s2)) << "restore latest must say which manifest it skipped: " << r.err;
}

TEST_F(HostileRepoE2E, CheckWithoutKeyReportsATamperedManifest) {
  init(repo_);
  std::string a = backup(make_data(1000, 8), "a");
  std::string b = backup(make_data(1000, 9), "b");
  // The backup id inside no longer matches the file name, and a field has a wrong type.
  ManifestParts p = split_manifest(read_file(manifest_file(b)));
  auto pub = nlohmann::json::parse(p.pub);
  pub["frames"] = "many";
  p.pub = pub.dump();
  write_file(manifest_file(b), join_manifest(p));
  auto r = strata({"check", "--no-key"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   backup " + b + ": manifest backups/" + b + " is damaged")) << r.out;
  EXPECT_TRUE(contains(r.out, "checked 2 backups")) << r.out;
  // Invalid UTF-8 in the damaged part must not break the JSON report either.
  p = split_manifest(read_file(manifest_file(a)));
  p.pub.replace(p.pub.find("\"source\":\"a\""), 12, "\"source\":\"\xff\"");
  write_file(manifest_file(a), join_manifest(p));
  r = strata({"check", "--no-key", "--json"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["errors"].size(), 2u) << r.out;
}

TEST_F(HostileRepoE2E, CheckChecksKeyFiles) {
  init(repo_);
  backup(make_data(1000, 10), "s");
  auto r = strata({"key", "add", "--label", "second"}, "");
  // key add reads the new passphrase from STRATA_NEW_PASSPHRASE.
  Env e = env_;
  e["STRATA_NEW_PASSPHRASE"] = "second passphrase";
  r = run_strata({"key", "add", "--label", "second"}, e);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string second_id = r.out.substr(std::strlen("added key "), 16);
  std::string second = repo_ + "/keys/" + second_id;
  std::string text = read_file(second);
  write_file(second, text.substr(0, text.size() / 2));

  r = strata({"check"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   key keys/" + second_id + " is damaged")) << r.out;
  r = strata({"check", "--no-key"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   key keys/" + second_id + " is damaged")) << r.out;

  // With the damaged key's own passphrase (while another key is intact) the message names the damaged key file.
  e["STRATA_PASSPHRASE"] = "second passphrase";
  r = run_strata({"restore", "latest", "--source", "s", "--to", tmp_ / "out"}, e);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(contains(r.err, "; note: key keys/" + second_id + " is damaged")) << r.err;
}

TEST_F(HostileRepoE2E, EncryptedRepositoryRefusesAManifestWithCipherNone) {
  init(repo_);
  std::string plain_repo = tmp_ / "plain";
  init(plain_repo, false);
  std::string data = make_data(200000, 11);
  std::string id = backup(data, "s", plain_repo);
  // Copy the unencrypted backup in, as anyone with write access to the storage could.
  std::filesystem::create_directories(repo_ + "/backups");
  write_file(manifest_file(id), read_file(manifest_file(id, plain_repo)));
  std::filesystem::create_directories(repo_ + "/data/" + id);
  for (const auto& f : list_files(plain_repo + "/data/" + id)) {
    write_file(repo_ + "/data/" + id + "/" + f, read_file(plain_repo + "/data/" + id + "/" + f));
  }
  auto r = strata({"restore", id, "--to", tmp_ / "out"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.err, "cipher 'none'")) << r.err;
  EXPECT_FALSE(file_exists(tmp_ / "out"));
  r = strata({"check", "--read-data"});
  EXPECT_EQ(r.code, kExitCorrupt) << r.err;
  EXPECT_TRUE(contains(r.out, "ERROR   backup " + id)) << r.out;
  r = strata({"list"});
  EXPECT_EQ(r.code, kExitProblems) << r.err;
  EXPECT_TRUE(contains(r.err, "cipher 'none'")) << r.err;
}

}  // namespace
}  // namespace strata::test
