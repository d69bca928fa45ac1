// Issue 13 items 7, 10 (passphrase files), 11, 12 and 14: empty sources, `show` without a key, JSON logs that
// alerting can rely on, and the progress line.
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/local_repo_fixture.hpp"

namespace strata::test {
namespace {

class OutputE2E : public LocalRepoTest {
 protected:
  static std::vector<nlohmann::json> json_lines(const std::string& err) {
    std::vector<nlohmann::json> out;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) {
      EXPECT_NO_THROW(out.push_back(nlohmann::json::parse(line))) << "not a JSON line: " << line;
    }
    return out;
  }
};

TEST_F(OutputE2E, EmptySourceWarnsAndIsLabelled) {
  init();
  for (const char* cmd : {"true", "false | cat"}) {
    SCOPED_TRACE(cmd);
    auto r = strata({"-q", "backup", "--source", "empty", "--from-command", cmd});
    ASSERT_EQ(r.code, 0) << r.err;
    std::string id = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(r.err, "strata: warning: source empty wrote nothing: backup " + id + " is empty (0 bytes) and labelled "
                     "strata.empty=true; --fail-on-empty refuses such backups\n");
    auto m = nlohmann::json::parse(strata({"show", id, "--json"}).out);
    EXPECT_EQ(m["labels"]["strata.empty"], "true");
  }
  auto refused = strata({"backup", "--source", "empty", "--fail-on-empty", "--from-command", "true"});
  EXPECT_EQ(refused.code, 7);
  EXPECT_EQ(refused.err, "strata: error: source empty wrote nothing (0 bytes); no backup was stored "
                         "(--fail-on-empty; --allow-empty stores an empty one)\n");
  auto l = nlohmann::json::parse(strata({"list", "--json", "--source", "empty"}).out);
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(list_files(repo_ + "/data").size(), 2u) << "the refused backup left no object";
}

TEST_F(OutputE2E, EngineSourcesFailOnEmptyByDefaultInTheConfig) {
  init();
  std::string cfg = tmp_ / "strata.toml";
  write_file(cfg, "[backup]\nfail_on_empty = true\n");
  auto r = strata_env({"backup", "--source", "e", "--from-command", "true"}, {{"STRATA_CONFIG", cfg}});
  EXPECT_EQ(r.code, 7) << r.err;
  auto ok = strata_env({"-q", "backup", "--source", "e", "--allow-empty", "--from-command", "true"}, {{"STRATA_CONFIG", cfg}});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST_F(OutputE2E, ShowWithoutAKeyShowsThePublicPart) {
  init();
  std::string id = backup(make_data(5000, 1), {"--label", "env=prod"}, "orders");
  std::string older = backup(make_data(10, 2), {}, "other");
  auto r = strata_env({"show", id}, {{"STRATA_PASSPHRASE", ""}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("id:           " + id + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("label:        env=prod\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256:       (needs the passphrase)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verified:     no: public part only (give the passphrase to verify)\n"), std::string::npos) << r.out;
  auto withkey = strata({"show", id});
  ASSERT_EQ(withkey.code, 0) << withkey.err;
  EXPECT_NE(withkey.out.find("verified:     yes (sealed part authenticated)\n"), std::string::npos) << withkey.out;
  // A wrong passphrase is still an error, never a quiet downgrade.
  EXPECT_EQ(strata_env({"show", id}, {{"STRATA_PASSPHRASE", "wrong"}}).code, 4);
  auto latest = strata({"show", "latest", "--source", "orders", "--json"});
  ASSERT_EQ(latest.code, 0) << latest.err;
  EXPECT_EQ(nlohmann::json::parse(latest.out)["id"], id);
  auto nosrc = strata({"show", "latest"});
  EXPECT_EQ(nosrc.code, 2);
  EXPECT_EQ(nosrc.err, "strata: error: 'latest' needs --source\n");
  (void)older;
}

TEST_F(OutputE2E, PassphraseFileMissingOrEmptyIsExitFour) {
  init();
  std::string id = backup(make_data(100, 3));
  auto missing = strata_env({"--passphrase-file", tmp_ / "nope", "restore", id, "--to", tmp_ / "o"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(missing.code, 4) << missing.err;
  EXPECT_EQ(missing.err, "strata: error: cannot read passphrase file " + tmp_ / "nope" +
                             " (No such file or directory); check --passphrase-file / STRATA_PASSPHRASE_FILE / passphrase_file\n");
  write_file(tmp_ / "empty", "\n");
  auto empty = strata_env({"--passphrase-file", tmp_ / "empty", "restore", id, "--to", tmp_ / "o"}, {{"STRATA_PASSPHRASE", ""}});
  EXPECT_EQ(empty.code, 4) << empty.err;
  EXPECT_EQ(empty.err, "strata: error: passphrase file " + tmp_ / "empty" + " is empty; write the passphrase into it\n");
  auto nodir = strata({"restore", id, "--to", tmp_ / "nodir/x"});
  EXPECT_EQ(nodir.code, 2) << nodir.err;
  EXPECT_EQ(nodir.err, "strata: error: cannot restore to " + tmp_ / "nodir/x" + ": directory " + tmp_ / "nodir" +
                           " does not exist; create it or choose another --to\n");
}

TEST_F(OutputE2E, JsonLogsCarryEveryFailureAtErrorLevel) {
  init();
  // A failed backup at the default level: exactly one line, at error, with the code and the message.
  auto r = strata({"--log-format", "json", "backup", "--source", "s", "--from-command", "echo boom >&2; exit 3"});
  EXPECT_EQ(r.code, 7);
  auto lines = json_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0]["level"], "error");
  EXPECT_EQ(lines[0]["event"], "command_failed");
  EXPECT_EQ(lines[0]["code"], "source_failed");
  EXPECT_EQ(lines[0]["exit_code"], 7);
  EXPECT_NE(lines[0]["message"].get<std::string>().find("exited with status 3: boom"), std::string::npos) << r.err;
  // Usage errors and config errors too, even before the config is read; the format may come from the environment.
  auto u = strata_env({"bakup"}, {{"STRATA_LOG_FORMAT", "json"}});
  EXPECT_EQ(u.code, 2);
  auto ul = json_lines(u.err);
  ASSERT_EQ(ul.size(), 1u) << u.err;
  EXPECT_EQ(ul[0]["code"], "usage");
  EXPECT_NE(ul[0]["message"].get<std::string>().find("did you mean 'backup'"), std::string::npos);
  // Warnings are JSON lines too; summaries are JSON lines on stderr (restore) or plain text on stdout.
  auto e = strata({"--log-format", "json", "backup", "--source", "e", "--from-command", "true"});
  ASSERT_EQ(e.code, 0) << e.err;
  auto el = json_lines(e.err);
  ASSERT_EQ(el.size(), 1u) << e.err;
  EXPECT_EQ(el[0]["level"], "warn");
  EXPECT_EQ(el[0]["event"], "backup_empty");
  EXPECT_NE(e.out.find("backup "), std::string::npos) << "the backup summary is on stdout: " << e.out;
  std::string id = backup(make_data(1000, 4));
  auto rs = strata({"--log-format", "json", "restore", id, "--to", tmp_ / "out"});
  ASSERT_EQ(rs.code, 0) << rs.err;
  auto rl = json_lines(rs.err);
  ASSERT_EQ(rl.size(), 1u) << rs.err;
  EXPECT_EQ(rl[0]["event"], "restore_summary");
  EXPECT_TRUE(rl[0]["seconds"].is_number_float()) << "durations are decimals: " << rs.err;
  EXPECT_NE(rl[0]["message"].get<std::string>().find("sha256 verified"), std::string::npos);
  // Durations in log events are decimals, not whole seconds.
  auto dbg = strata({"--log-format", "json", "--log-level", "info", "-q", "backup", "--source", "s", "--from-file", tmp_ / "out"});
  ASSERT_EQ(dbg.code, 0) << dbg.err;
  bool seen = false;
  for (const auto& j : json_lines(dbg.err)) {
    if (j["event"] == "backup_done") {
      seen = true;
      EXPECT_TRUE(j["seconds"].is_number_float()) << j.dump();
    }
  }
  EXPECT_TRUE(seen) << dbg.err;
}

TEST_F(OutputE2E, BackupProgressShowsElapsedAndPercent) {
  init();
  write_file(tmp_ / "big", make_data(6 << 20, 6));
  auto r = run_strata_tty({"--limit-upload", "4MiB/s", "backup", "--source", "p", "--compression", "none",
                           "--object-size", "1MiB", "--from-file", tmp_ / "big"}, env_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[0:0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("%  backup "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" of 6.0 MiB"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata::test
