#include "common/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

// Settings read the process environment: give each test a clean one (and a HOME without a config) and put the
// original back afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  static constexpr const char* kVars[] = {"STRATA_CONFIG", "STRATA_REPO", "STRATA_PASSPHRASE_FILE",
                                          "STRATA_LOG_LEVEL", "STRATA_LOG_FORMAT", "STRATA_COMPRESSION",
                                          "STRATA_PUBLIC_KEY", "STRATA_LIMIT_UPLOAD", "STRATA_LIMIT_DOWNLOAD",
                                          "HOME"};
  void SetUp() override {
    for (const char* v : kVars) {
      const char* old = std::getenv(v);
      if (old) saved_[v] = old;
      ::unsetenv(v);
    }
    ::setenv("HOME", dir_.path().c_str(), 1);
  }
  void TearDown() override {
    for (const char* v : kVars) {
      auto it = saved_.find(v);
      if (it == saved_.end()) ::unsetenv(v);
      else ::setenv(v, it->second.c_str(), 1);
    }
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> saved_;
};

TEST_F(ConfigTest, DefaultsWithoutAFile) {
  Settings s = load_settings("");
  EXPECT_EQ(s.config_path, "");
  EXPECT_EQ(s.compression, "zstd:3");
  EXPECT_EQ(s.frame_size, 1u << 20);
  EXPECT_EQ(s.object_size, 0u) << "0: chosen by repository location (8 MiB on s3://, else 64 MiB)";
  EXPECT_EQ(s.threads, 0u);
  EXPECT_EQ(s.io_threads, 4u);
  EXPECT_EQ(s.log_level, "warn");
  EXPECT_FALSE(s.write_only);
}

TEST_F(ConfigTest, ReadsEveryKeyFromTheFile) {
  std::string path = write("strata.toml", R"(repo = "/backups/main"
passphrase_file = "/etc/strata/pass"
log_level = "info"
log_format = "json"
write_only = true
public_key = "abcd"

[backup]
compression = "lz4"
frame_size = "2MiB"
object_size = 1048576
threads = 3
io_threads = 2

[source.orders]
engine = "postgres"
host = "db1"
port = 5432
checkpoint = "spread"

[s3]
region = "eu-west-1"
if_none_match = true
)");
  Settings s = load_settings(path);
  EXPECT_EQ(s.config_path, path);
  EXPECT_EQ(s.repo, "/backups/main");
  EXPECT_EQ(s.passphrase_file, "/etc/strata/pass");
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.log_format, "json");
  EXPECT_TRUE(s.write_only);
  EXPECT_EQ(s.public_key, "abcd");
  EXPECT_EQ(s.compression, "lz4");
  EXPECT_EQ(s.frame_size, 2u << 20);
  EXPECT_EQ(s.object_size, 1u << 20);
  EXPECT_EQ(s.threads, 3u);
  EXPECT_EQ(s.io_threads, 2u);
  EXPECT_EQ(s.sources.at("orders"), (std::map<std::string, std::string>{{"engine", "postgres"}, {"host", "db1"},
                                                                          {"port", "5432"}, {"checkpoint", "spread"}}));
  EXPECT_EQ(s.s3.at("region"), "eu-west-1");
  EXPECT_EQ(s.s3.at("if_none_match"), "true");
}

TEST_F(ConfigTest, EnvironmentOverridesTheFileAndFindsIt) {
  std::string path = write("c.toml", "repo = \"/from/file\"\n[backup]\ncompression = \"lz4\"\n");
  ::setenv("STRATA_CONFIG", path.c_str(), 1);
  ::setenv("STRATA_REPO", "/from/env", 1);
  Settings s = load_settings("");
  EXPECT_EQ(s.config_path, path);
  EXPECT_EQ(s.repo, "/from/env");
  EXPECT_EQ(s.compression, "lz4");
  ::setenv("STRATA_COMPRESSION", "zstd:9", 1);
  EXPECT_EQ(load_settings("").compression, "zstd:9");
}

TEST_F(ConfigTest, FindsTheFileUnderHome) {
  std::filesystem::create_directories(dir_.path() + "/.config/strata");
  write(".config/strata/strata.toml", "repo = \"/home/repo\"\n");
  EXPECT_EQ(load_settings("").repo, "/home/repo");
}

TEST_F(ConfigTest, RefusesAPassphraseInTheFile) {
  std::string path = write("c.toml", "passphrase = \"hunter2\"\n");
  try {
    load_settings(path);
    FAIL() << "a passphrase in the config file must be refused";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("contains a passphrase"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << "the secret is never echoed";
  }
}

TEST_F(ConfigTest, ErrorsNameTheFileAndLine) {
  EXPECT_STRATA_ERROR(load_settings(dir_.path() + "/absent.toml"), ErrorCode::kUsage, "absent.toml does not exist");
  std::string bad = write("bad.toml", "repo = \"/x\"\nthis is not toml\n");
  EXPECT_STRATA_ERROR(load_settings(bad), ErrorCode::kUsage, "bad.toml line 2");
  std::string size = write("size.toml", "[backup]\nframe_size = \"lots\"\n");
  EXPECT_STRATA_ERROR(load_settings(size), ErrorCode::kUsage, "invalid size");
  std::string type = write("type.toml", "[backup]\nobject_size = true\n");
  EXPECT_STRATA_ERROR(load_settings(type), ErrorCode::kUsage, "config key 'backup.object_size' must be a size");
  std::string threads = write("threads.toml", "[backup]\nthreads = true\n");
  EXPECT_STRATA_ERROR(load_settings(threads), ErrorCode::kUsage, "config key 'backup.threads' must be a whole number");
}

TEST_F(ConfigTest, NegativeNumbersAreRefusedNotWrappedAround) {
  // -1 threads would otherwise become 4294967295 and a negative size an exabyte.
  for (const char* text : {"[backup]\nthreads = -1\n", "[backup]\nio_threads = -2\n", "[backup]\nframe_size = -5\n",
                           "[backup]\nobject_size = -1\n"}) {
    std::string path = write("neg.toml", text);
    EXPECT_STRATA_ERROR(load_settings(path), ErrorCode::kUsage, "must not be negative") << text;
  }
}

// Issue 13 item 8: a typo used to be ignored silently (the backup then ran with the default).
TEST_F(ConfigTest, UnknownKeysNameFileLineKeyAndTheClosestKnownKey) {
  std::string p = write("typo.toml", "repo = \"/r\"\n\n[backup]\nthreads = 2\ncompresion = \"lz4\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage,
                      "config file " + p + " line 5: unknown key 'compresion' in [backup]; did you mean 'compression'?");
  p = write("typo2.toml", "pasphrase_file = \"/etc/strata/pass\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage,
                      "config file " + p + " line 1: unknown key 'pasphrase_file'; did you mean 'passphrase_file'?");
  p = write("typo3.toml", "[s3]\nregoin = \"eu-west-1\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage, "line 2: unknown key 'regoin' in [s3]; did you mean 'region'?");
  // Engine keys are checked against that engine; a key of another engine is not taken.
  p = write("typo4.toml", "[source.db]\nengine = \"redis\"\nport = 6379\nbinlog_dir = \"/x\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage, "line 4: unknown key 'binlog_dir' in [source.db]");
  p = write("typo5.toml", "[source.db]\nengine = \"postgress\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage, "line 2: unknown engine 'postgress' in [source.db]; did you mean 'postgres'?");
  p = write("typo6.toml", "[entity.players]\nroot = \"players\"\n[[entity.players.child]]\nfk = \"t\"\ntabel = \"x\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage, "line 5: unknown key 'tabel' in [entity.players.child]; did you mean 'table'?");
  // Nothing close: no suggestion, still the file and line.
  p = write("typo7.toml", "\nzzzzzz = 1\n");
  try {
    load_settings(p);
    ADD_FAILURE() << "unknown key accepted";
  } catch (const StrataError& e) {
    EXPECT_EQ(std::string(e.what()), "config file " + p + " line 2: unknown key 'zzzzzz' (docs/CONFIG.md lists every key)");
  }
}

TEST_F(ConfigTest, WrongTypesAndSecretsInSourcesAreRefused) {
  std::string p = write("t.toml", "[backup]\ncompression = 3\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage, "config key 'backup.compression' must be a string");
  p = write("t2.toml", "write_only = \"yes\"\n");
  EXPECT_STRATA_ERROR(load_settings(p), ErrorCode::kUsage, "config key 'write_only' must be true or false");
  p = write("t3.toml", "[source.m]\nengine = \"mysql\"\npassword = \"s3cret\"\n");
  try {
    load_settings(p);
    ADD_FAILURE() << "a password in a source was accepted";
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3: source 'm' has a password in the config"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos);
  }
  p = write("t4.toml", "[backup]\nfail_on_empty = true\n");
  EXPECT_EQ(load_settings(p).fail_on_empty, std::optional<bool>(true));
  EXPECT_EQ(load_settings("").fail_on_empty, std::nullopt);
}

TEST(ParseRate, AcceptsPerSecondSuffix) {
  EXPECT_EQ(parse_rate("50MiB/s"), 50u << 20);
  EXPECT_EQ(parse_rate("1k"), 1024u);
  EXPECT_STRATA_ERROR(parse_rate("fast"), ErrorCode::kUsage, "");
}

}  // namespace
}  // namespace strata
