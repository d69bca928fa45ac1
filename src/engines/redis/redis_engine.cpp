#include "engines/redis/redis_engine.hpp"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.hpp"
#include "common/process.hpp"
#include "engines/tool_util.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {

namespace fs = std::filesystem;

namespace {

// redis-cli takes the password from REDISCLI_AUTH, so it never appears on a command line; only the children of this
// backup get it.
ChildEnv auth_env(const SourceConfig& source) {
  ChildEnv env;
  if (std::string pw = source_password(source); !pw.empty()) env.set("REDISCLI_AUTH", pw);
  return env;
}

std::string cli_path() {
  std::string cli = find_tool({"redis-cli"});
  if (cli.empty()) fail(ErrorCode::kNotFound, "no redis-cli in PATH: install redis-tools");
  return cli;
}

std::string endpoint_args(const SourceConfig& source) {
  std::string args;
  if (auto sock = source.get("socket"); !sock.empty()) {
    args = " -s " + shell_quote(sock);
  } else {
    args = " -h " + shell_quote(source.get("host", "127.0.0.1")) + " -p " + std::to_string(std::atoi(source.get("port", "6379").c_str()));
  }
  if (auto user = source.get("user"); !user.empty()) args += " --user " + shell_quote(user);
  return args;
}

std::string info_field(const std::string& info, const std::string& key) {
  std::stringstream ss(info);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind(key + ":", 0) == 0) return trim(line.substr(key.size() + 1));
  }
  return "";
}

}  // namespace

std::vector<Manifest> RedisEngine::backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                                          const ProgressFn& progress) {
  if (!req.type.empty() && req.type != "rdb" && req.type != "full") {
    fail(ErrorCode::kUsage, "unknown --type '" + req.type + "' for redis source " + source.name + ": use rdb (the default)");
  }
  const ChildEnv auth = auth_env(source);
  std::string cli = cli_path() + endpoint_args(source);
  std::string hint = "check host/port of [source." + source.name + "] and that the server answers";
  std::string info =
      run_checked(cli + " --no-auth-warning INFO server", "redis-cli INFO on source " + source.name, hint, auth);
  std::string version = info_field(info, "redis_version");
  if (version.empty()) fail(ErrorCode::kSourceFailed, "source " + source.name + " did not answer INFO: " + trim(info));
  std::string keys =
      trim(run_checked(cli + " --no-auth-warning DBSIZE", "redis-cli DBSIZE on source " + source.name, hint, auth));
  auto src = open_quiet_command_source(cli + " --no-auth-warning --rdb -", "redis-cli --rdb of source " + source.name,
                                       hint + "; the user needs the SYNC/PSYNC permission", auth);
  BackupOptions o;
  o.source = source.name;
  o.labels = req.labels;
  o.pipeline = req.pipeline;
  o.type = "rdb";
  nlohmann::json j = {{"engine", "redis"}, {"method", "rdb"}, {"server_version", version}, {"keys_at_start", keys}};
  o.engine_json = j.dump();
  // The fingerprint a drill compares with (docs/DRILLS.md): DBSIZE before and after the snapshot bound the keys the
  // RDB can hold (exactly, when nothing wrote meanwhile).
  o.engine_json_after = [j, cli, hint, auth, &source]() mutable {
    j["keys_at_end"] =
        trim(run_checked(cli + " --no-auth-warning DBSIZE", "redis-cli DBSIZE on source " + source.name, hint, auth));
    return j.dump();
  };
  return {repo.backup(*src, o, progress)};
}

EngineRestoreResult RedisEngine::restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                                 const ProgressFn& progress) {
  std::string id = req.id.empty() ? repo.latest_id(source.name) : req.id;
  Manifest m = repo.load(repo.resolve_id(id), true);
  if (m.source != source.name) fail(ErrorCode::kUsage, "backup " + m.id + " belongs to source " + m.source + ", not " + source.name);
  if (req.target_dir.empty()) fail(ErrorCode::kUsage, "restoring redis backup " + m.id + " needs --target-dir DIR (dump.rdb goes there)");
  std::string dir = fs::absolute(req.target_dir).lexically_normal().string();
  fs::create_directories(dir);
  std::string rdb = dir + "/dump.rdb";
  {
    // Written as dump.rdb.strata-partial and renamed only after every byte verified.
    auto sink = open_file_sink(rdb, req.force);
    repo.restore(m, *sink, req.pipeline, progress);
  }
  std::string summary = "restored rdb " + m.id + " of " + source.name + " to " + rdb;
  if (!req.start) return {summary, m.id, {}, ""};
  if (req.port <= 0) fail(ErrorCode::kUsage, "--start needs --port P (redis-server listens on 127.0.0.1:P)");
  std::string server = find_tool({source.get("server"), "redis-server"});
  if (server.empty()) fail(ErrorCode::kNotFound, "no redis-server in PATH: install redis-server");
  std::string pid_file = dir + "/redis.pid", log_file = dir + "/redis.log";
  std::string port = std::to_string(req.port);
  // No saving and no AOF: the restored copy must not rewrite the file it was started from behind our back.
  run_checked(shell_quote(server) + " --port " + port + " --bind 127.0.0.1 --dir " + shell_quote(dir) +
                  " --dbfilename dump.rdb --daemonize yes --pidfile " + shell_quote(pid_file) + " --logfile " +
                  shell_quote(log_file) + " --save '' --appendonly no",
              "starting redis-server on " + rdb, "see " + log_file);
  std::string cli = cli_path() + " -h 127.0.0.1 -p " + port;
  std::string last;
  bool up = poll_until(
      [&] {
        std::string out, err;
        if (run_capture({"/bin/sh", "-c", cli + " INFO persistence"}, &out, &err) != 0) return false;
        last = out;
        return info_field(out, "loading") == "0";
      },
      std::chrono::seconds(std::atoi(source.get("start_timeout", "300").c_str())));
  if (!up) {
    fail(ErrorCode::kSourceFailed, "redis-server on " + rdb + " did not finish loading on port " + port + "; see " + log_file);
  }
  std::string keys = trim(run_checked(cli + " DBSIZE", "redis-cli DBSIZE on the restored server", "see " + log_file));
  std::ifstream pf(pid_file);
  std::string pid;
  pf >> pid;
  return {summary + "; redis-server started on 127.0.0.1:" + port + " (pid " + pid + ") with " + keys + " keys", m.id, {}, ""};
}

}  // namespace strata
