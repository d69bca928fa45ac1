// Issue 13 item 8: a typo in the config file is an error naming file, line, key and the closest known key —
// before anything runs — instead of a backup made with the defaults.
#include <nlohmann/json.hpp>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class ConfigE2E : public LocalRepoTest {};

TEST_F(ConfigE2E, TypoInBackupTableStopsTheBackup) {
  init();
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "[backup]\ncompresion = \"lz4\"\n");
  write_file(tmp_ / "in", make_data(100000, 1, true));
  auto r = strata_env({"backup", "--source", "s", "--from-file", tmp_ / "in"}, {{"STRATA_CONFIG", cfg}});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err, "strata: error: config file " + cfg + " line 2: unknown key 'compresion' in [backup]; did you mean "
                   "'compression'? (docs/CONFIG.md lists every key)\n");
  auto l = strata({"list", "--json"});
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_EQ(l.out, "[]\n") << "nothing may be backed up with the default compression";
}

TEST_F(ConfigE2E, TypoInPassphraseFileKey) {
  init();
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "repo = \"" + repo_ + "\"\npasphrase_file = \"/etc/strata/pass\"\n");
  auto r = strata_env({"list"}, {{"STRATA_CONFIG", cfg}});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(cfg + " line 2: unknown key 'pasphrase_file'; did you mean 'passphrase_file'?"), std::string::npos) << r.err;
  // --config works the same way as STRATA_CONFIG.
  auto f = strata({"--config", cfg, "list"});
  EXPECT_EQ(f.code, 2);
  EXPECT_EQ(lines(f.err), 1u) << f.err;
}

TEST_F(ConfigE2E, EveryKeyOfTheDocumentedExampleIsAccepted) {
  // The example of docs/CONFIG.md, with paths of this test: a key the docs name must never be "unknown".
  init();
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "repo = \"" + repo_ + "\"\nlog_level = \"warn\"\nlog_format = \"text\"\nwrite_only = false\n"
                  "limit_upload = \"1GiB/s\"\nlimit_download = \"1GiB/s\"\nmax_requests = 16\n"
                  "[backup]\ncompression = \"lz4\"\nframe_size = \"256KiB\"\nobject_size = \"8MiB\"\nthreads = 2\n"
                  "io_threads = 2\nfail_on_empty = true\n"
                  "[s3]\nregion = \"eu-west-1\"\nmax_attempts = 3\n"
                  "[source.orders]\nengine = \"command\"\nbackup_command = \"printf abc\"\nrestore_command = \"cat\"\n");
  auto b = strata_env({"-q", "backup", "--source", "orders"}, {{"STRATA_CONFIG", cfg}});
  ASSERT_EQ(b.code, 0) << b.err;
  std::string id = b.out.substr(0, b.out.find('\n'));
  auto m = nlohmann::json::parse(strata_env({"show", id, "--json"}, {{"STRATA_CONFIG", cfg}}).out);
  EXPECT_EQ(m["compression"], "lz4");
  EXPECT_EQ(m["frame_size"], 256 * 1024);
}

}  // namespace
}  // namespace strata::test
