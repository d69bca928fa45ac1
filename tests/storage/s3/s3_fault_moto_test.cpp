// Backups and restores with the strata binary through a fault-injecting proxy in front of moto: they complete
// through 503 SlowDown, connection resets, stalled requests and lost answers to PUTs that did land, and fail cleanly (non-zero exit, nothing listed)
// when the faults outlast the retry budget — the multipart uploads it could not abort are then reported by
// 'strata check' and aborted by 'strata cleanup'.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "common/process.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto_server.hpp"

namespace strata {
namespace {

using test::FaultProxy;
using test::FaultSchedule;
using test::MotoServer;

struct CliRun {
  int code;
  std::string out, err;
};

CliRun strata_cli(std::vector<std::string> args) {
  args.insert(args.begin(), STRATA_BINARY);
  CliRun r;
  // strata itself is the child here: it needs the passphrase and S3 keys that run_capture keeps from children.
  r.code = run_capture(args, &r.out, &r.err,
                       {"STRATA_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"});
  return r;
}

std::string temp_dir() {
  std::string t = ::testing::TempDir() + "/strata-s3-fault-XXXXXX";
  if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
  return t;
}

std::string write_random_file(const std::string& path, size_t n, uint64_t seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  for (auto& c : s) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << s;
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class S3FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MotoServer& moto = MotoServer::shared();
    moto.create_bucket("strata-s3-faults");
    proxy_ = std::make_unique<FaultProxy>(moto.port());
    for (const auto& [k, v] : moto.env()) ::setenv(k.c_str(), v.c_str(), 1);
    ::setenv("AWS_ENDPOINT_URL_S3", ("http://127.0.0.1:" + std::to_string(proxy_->port())).c_str(), 1);
    ::setenv("STRATA_PASSPHRASE", "fault-test-passphrase", 1);
    ::unsetenv("STRATA_REPO");
    ::unsetenv("STRATA_CONFIG");
    dir_ = temp_dir();
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // Small parts and objects so a modest file makes many requests; short backoff and timeouts keep the test quick.
  std::string repo(const std::string& name, unsigned attempts) {
    return "s3://strata-s3-faults/" + name + "?part_size=5MiB&max_attempts=" + std::to_string(attempts) +
           "&retry_base_ms=20&retry_max_ms=200&request_timeout_ms=3000&stall_timeout_ms=1000";
  }

  std::unique_ptr<FaultProxy> proxy_;
  std::string dir_;
};

TEST_F(S3FaultTest, BackupAndRestoreCompleteThroughFaults) {
  std::string r = repo("through", 12);
  ASSERT_EQ(strata_cli({"repo", "init", "--repo", r}).code, 0);
  FaultSchedule f;
  f.error_503_every = 5;
  f.reset_every = 7;
  f.stall_every = 11;
  f.stall_ms = 5000;
  f.lose_put_answer_every = 4;
  proxy_->set_schedule(f);
  std::string data = write_random_file(dir_ + "/in.bin", (26u << 20) + 777, 7);
  CliRun b = strata_cli({"--log-level", "debug", "backup", "--repo", r, "--source", "db", "--from-file", dir_ + "/in.bin",
                         "--object-size", "12MiB", "-q"});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.err.find("s3_retry"), std::string::npos) << "retries are logged";
  EXPECT_EQ(b.err.find(MotoServer::shared().env().at("AWS_SECRET_ACCESS_KEY")), std::string::npos) << "secret key leaked into logs";
  CliRun x = strata_cli({"restore", "--repo", r, "latest", "--source", "db", "--to", dir_ + "/out.bin", "-q"});
  ASSERT_EQ(x.code, 0) << x.err;
  EXPECT_TRUE(slurp(dir_ + "/out.bin") == data) << "restored bytes differ";
  CliRun c = strata_cli({"check", "--repo", r, "--read-data"});
  EXPECT_EQ(c.code, 0) << c.out << c.err;
  EXPECT_GT(proxy_->injected_503(), 0u);
  EXPECT_GT(proxy_->injected_resets(), 0u);
  EXPECT_GT(proxy_->injected_stalls(), 0u);
  EXPECT_GT(proxy_->lost_answers(), 0u);
  proxy_->set_schedule({});
  EXPECT_EQ(strata_cli({"check", "--repo", r}).out.find("LEFTOVER"), std::string::npos) << "no upload may be left behind";
}

// The global bandwidth flags reach the storage: 6 MiB of incompressible data at 3 MiB/s cannot move in under
// ~1.75 s (2 s minus the limiter's 0.25 s burst), either way.
TEST_F(S3FaultTest, BandwidthLimitsApplyToBackupAndRestore) {
  std::string r = repo("limits", 3);
  ASSERT_EQ(strata_cli({"repo", "init", "--repo", r}).code, 0);
  std::string data = write_random_file(dir_ + "/in.bin", 6u << 20, 11);
  auto timed = [](std::vector<std::string> args, CliRun* out) {
    auto t0 = std::chrono::steady_clock::now();
    *out = strata_cli(std::move(args));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  CliRun b, x;
  double up = timed({"--limit-upload", "3MiB/s", "backup", "--repo", r, "--source", "db", "--compression", "lz4", "--from-file",
                     dir_ + "/in.bin", "-q"}, &b);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_GE(up, 1.6);
  double down = timed({"--limit-download", "3MiB/s", "restore", "--repo", r, "latest", "--source", "db", "--to", dir_ + "/out.bin", "-q"}, &x);
  ASSERT_EQ(x.code, 0) << x.err;
  EXPECT_GE(down, 1.6);
  EXPECT_TRUE(slurp(dir_ + "/out.bin") == data);
  CliRun bad = strata_cli({"--limit-upload", "fast", "list", "--repo", r});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("fast"), std::string::npos) << bad.err;
}

TEST_F(S3FaultTest, FaultsOutlastingTheRetryBudgetFailCleanly) {
  std::string r = repo("outlast", 3);
  ASSERT_EQ(strata_cli({"repo", "init", "--repo", r}).code, 0);
  write_random_file(dir_ + "/in.bin", 20u << 20, 8);
  // The backup gets going (config, key, lock, the first upload), then the server is gone for good.
  FaultSchedule f;
  f.fail_after = proxy_->requests() + 12;
  proxy_->set_schedule(f);
  CliRun b = strata_cli({"backup", "--repo", r, "--source", "db", "--from-file", dir_ + "/in.bin", "--object-size", "8MiB", "-q"});
  EXPECT_EQ(b.code, 8) << b.err;  // ErrorCode::kStorage
  std::string last_line = b.err.substr(b.err.rfind("strata: error:"));
  EXPECT_NE(last_line.find("failed: HTTP 503 SlowDown: Please reduce your request rate.; gave up after 3 attempts: check the network and 127.0.0.1:" +
                           std::to_string(proxy_->port()) + ", or raise the s3 max_attempts option"),
            std::string::npos)
      << last_line;
  proxy_->set_schedule({});
  CliRun l = strata_cli({"list", "--repo", r, "--json"});
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_EQ(l.out, "[]\n");
  // The abort of the multipart upload failed too, so it is still open: check reports it, cleanup aborts it.
  CliRun c = strata_cli({"check", "--repo", r});
  EXPECT_EQ(c.code, 13) << "leftovers are problems found (kProblemsFound): " << c.err;
  EXPECT_NE(c.out.find("LEFTOVER data/"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("?uploadId="), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("checked 0 backups"), std::string::npos) << c.out;
  // --min-age 0: the failed backup started seconds ago, younger than cleanup's default safety age.
  CliRun u = strata_cli({"cleanup", "--repo", r, "--min-age", "0"});
  EXPECT_EQ(u.code, 0) << u.err;
  EXPECT_NE(u.out.find("(incomplete write)"), std::string::npos) << u.out;
  CliRun c2 = strata_cli({"check", "--repo", r});
  EXPECT_EQ(c2.out.find("LEFTOVER"), std::string::npos) << c2.out;
}

// Issue 13 item 21: the answer to CreateMultipartUpload is lost after the server created the upload; the retry
// creates a second one. The backup succeeds and must not leave the first behind (check used to list it).
TEST_F(S3FaultTest, UploadWhoseCreateAnswerWasLostIsAborted) {
  std::string r = repo("lost-create", 6);
  ASSERT_EQ(strata_cli({"repo", "init", "--repo", r}).code, 0);
  FaultSchedule f;
  f.lose_create_upload_answers = 1;
  proxy_->set_schedule(f);
  std::string data = write_random_file(dir_ + "/in.bin", (12u << 20) + 99, 9);
  CliRun b = strata_cli({"backup", "--repo", r, "--source", "db", "--from-file", dir_ + "/in.bin", "--object-size", "12MiB", "-q"});
  proxy_->set_schedule({});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_GT(proxy_->lost_answers(), 0u);
  CliRun c = strata_cli({"check", "--repo", r});
  EXPECT_EQ(c.code, 0) << c.out << c.err;
  EXPECT_EQ(c.out.find("LEFTOVER"), std::string::npos) << "orphaned multipart upload left behind:\n" << c.out;
  CliRun x = strata_cli({"restore", "--repo", r, "latest", "--source", "db", "--to", dir_ + "/out.bin", "-q"});
  ASSERT_EQ(x.code, 0) << x.err;
  EXPECT_TRUE(slurp(dir_ + "/out.bin") == data);
}

}  // namespace
}  // namespace strata
