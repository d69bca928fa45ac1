#pragma once
// The tiering suites' fixture: one real PostgreSQL 15 per suite (tests/support/postgres_fixture.*), one database and
// one repository per test, the demo schema, digests of the whole entity data, and a runner for the strata binary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "support/moto_server.hpp"
#include "support/postgres_fixture.hpp"
#include "tiering/archive.hpp"
#include "tiering/support/demo.hpp"
#include "tiering/entity.hpp"
#include "tiering/pg.hpp"
#include "tiering/tiering.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace strata;
using namespace strata::tiering;
namespace tpg = strata::test::pg;

namespace tiering_test {

constexpr const char* kPass = "tier-test-passphrase";

// A storage decorator that records reads, to prove a single thaw reads one byte range of a pack.
class RecordingStorage : public Storage {
 public:
  explicit RecordingStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}
  uint32_t capabilities() const override { return inner_->capabilities(); }
  std::string describe() const override { return inner_->describe(); }
  std::unique_ptr<ObjectWriter> open_write(const std::string& k, PutMode m) override { return inner_->open_write(k, m); }
  // Freeze and batch thaw read from several worker threads at once: the record is guarded.
  Bytes get(const std::string& k, uint64_t off, uint64_t len) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      gets.push_back({k, off, len});
    }
    return inner_->get(k, off, len);
  }
  std::optional<ObjectInfo> stat(const std::string& k) override { return inner_->stat(k); }
  std::vector<ObjectInfo> list(const std::string& p) override { return inner_->list(p); }
  void remove(const std::string& k) override { inner_->remove(k); }
  struct Get {
    std::string key;
    uint64_t offset, length;
  };
  std::vector<Get> gets;  // read only while no operation runs

 private:
  std::mutex mu_;
  std::unique_ptr<Storage> inner_;
};

class TieringTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!tpg::unavailable_reason().empty()) return;
    root_ = new tpg::PgRoot();
    server_ = new tpg::PostgresServer(*root_, "tier");
    server_->configure({"fsync = off", "synchronous_commit = off", "max_connections = 50"});
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete root_;
    server_ = nullptr;
    root_ = nullptr;
  }

  void SetUp() override {
    if (auto r = tpg::unavailable_reason(); !r.empty()) GTEST_SKIP() << r;
    static int n = 0;
    db_ = "tier" + std::to_string(++n);
    server_->psql("CREATE DATABASE " + db_);
    conninfo_ = "host=127.0.0.1 port=" + std::to_string(server_->port()) + " user=postgres dbname=" + db_;
    char tmpl[] = "/tmp/strata-tier-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    repo_dir_ = dir_ + "/repo";
    init_repo();
    conn_ = std::make_unique<PgConn>(conninfo_);
  }

  void init_repo() {
    InitOptions io;
    io.passphrase = kPass;
    io.kdf = KdfParams{1, 8192};
    Repository::init(*open_storage(repo_dir_), io);
  }

  // Points the repository at a bucket on a moto S3 server on loopback instead of the local directory.
  void use_s3() {
    auto& moto = strata::test::MotoServer::shared();
    for (const auto& [k, v] : moto.env()) ::setenv(k.c_str(), v.c_str(), 1);
    moto.create_bucket("strata-tier-tests");
    repo_dir_ = "s3://strata-tier-tests/" + db_;
    init_repo();
  }

  void TearDown() override {
    conn_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static bool have_moto() { return ::system("command -v moto_server >/dev/null 2>&1") == 0; }

  std::unique_ptr<Repository> open_repo(RecordingStorage** rec = nullptr) {
    std::unique_ptr<Storage> s = open_storage(repo_dir_);
    if (rec) {
      auto r = std::make_unique<RecordingStorage>(std::move(s));
      *rec = r.get();
      s = std::move(r);
    }
    auto repo = std::make_unique<Repository>(std::move(s));
    repo->unlock(kPass);
    return repo;
  }

  EntityConfig entity(size_t pack_size = 500, size_t batch = 500, size_t workers = 1) {
    std::string path = dir_ + "/tier.toml";
    if (!fs::exists(path)) std::ofstream(path) << demo_entity_toml(conninfo_);
    EntityConfig e = load_entity(path, "players");
    e.pack_size = pack_size;
    e.workers = workers;
    e.batch = batch;
    return e;
  }

  void demo(size_t players, int inactive_percent = 100) {
    conn_->exec(demo_schema_sql());
    generate_demo(*conn_, 0, players, inactive_percent);
    Tierer(entity(), nullptr).apply_setup();
  }

  std::string scalar(const std::string& sql, const std::vector<PgValue>& params = {}) {
    auto r = conn_->exec(sql, params);
    return r.rows.empty() || !r.rows[0][0] ? "" : *r.rows[0][0];
  }
  uint64_t count(const std::string& sql) { return std::stoull(scalar(sql)); }

  // Whole-database digest of the entity's data: every row of every table, tiering columns left out.
  std::string digest() {
    std::string out;
    const std::map<std::string, std::string> rows = {
        {"players", "(id, name, email, level, gold, created_at, last_active, settings, avatar, tags, session_token)"},
        {"player_stats", "t"}, {"equipment", "t"}, {"equipment_mods", "t"}, {"bank_items", "t"}, {"friends", "t"}};
    for (const auto& [table, expr] : rows) {
      out += table + ":" + scalar("SELECT count(*) || '/' || coalesce(md5(string_agg(" + expr + "::text, E'\\n' ORDER BY " +
                                  expr + "::text)), '-') FROM " + table + " t") + " ";
    }
    return out;
  }

  std::string tier_of(const std::string& key) { return scalar("SELECT tier FROM players WHERE id = $1::uuid", {key}); }
  std::string key_of(int g) { return scalar("SELECT md5('p' || $1)::uuid::text", {std::to_string(g)}); }
  void make_all_warm() { conn_->exec("UPDATE players SET tier = 'warm'"); }

  // The environment of a strata child started by hand (spawn_child): this process's, without any STRATA_* variable
  // (no fail-point, no passphrase of the developer's shell leaks in), plus the test repository's passphrase.
  static std::vector<std::string> child_env() {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, "STRATA_", 7) != 0) env.emplace_back(*e);
    }
    env.push_back(std::string("STRATA_PASSPHRASE=") + kPass);
    return env;
  }

  // Runs the strata binary with the test's config; returns the exit status.
  int strata(const std::vector<std::string>& args, const std::string& failpoint = "", std::string* err = nullptr) {
    std::string cfg = dir_ + "/cli.toml";
    if (!fs::exists(cfg)) {
      std::string toml = demo_entity_toml(conninfo_);
      toml.replace(toml.find("pack_size = 500"), 15, "pack_size = 50");
      std::ofstream(cfg) << toml;
    }
    std::vector<std::string> argv = {STRATA_BINARY, "--config", cfg, "--repo", repo_dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    tpg::Env env = {{"STRATA_PASSPHRASE", kPass}};
    if (!failpoint.empty()) env["STRATA_TIER_FAILPOINT"] = failpoint;
    auto r = tpg::run(argv, env);
    if (err) *err = r.err;
    return r.code;
  }

  static inline tpg::PgRoot* root_ = nullptr;
  static inline tpg::PostgresServer* server_ = nullptr;
  std::string db_, conninfo_, dir_, repo_dir_;
  std::unique_ptr<PgConn> conn_;
};

}  // namespace tiering_test

