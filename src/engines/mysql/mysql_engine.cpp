#include "engines/mysql/mysql_engine.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <tuple>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/logger.hpp"
#include "common/process.hpp"
#include "engines/mysql/binlog_archive.hpp"
#include "engines/mysql/binlog_replay.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/mysql/mysql_fingerprint.hpp"
#include "engines/mysql/mysql_server.hpp"
#include "engines/tool_util.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct BackupTool {
  std::string path;
  std::string kind = "mariadb-backup";
  std::string version;  // "10.11.19"
  std::string extractor;
};

// mariadb-backup only: Percona XtraBackup (MySQL 8) is not supported yet (docs/MYSQL_REDIS.md, "MySQL 8").
BackupTool detect_backup_tool(const SourceConfig& source) {
  BackupTool t;
  t.path = find_tool({source.get("backup_tool"), "mariadb-backup", "mariabackup"});
  if (t.path.empty()) {
    fail(ErrorCode::kNotFound, "no mariadb-backup or mariabackup in PATH for source " + source.name +
                                   ": install mariadb-backup matching the server's version (or set backup_tool)");
  }
  std::string out, err;
  run_capture({t.path, "--version"}, &out, &err);
  std::string text = out + err;
  if (text.find("MariaDB") == std::string::npos) {
    fail(ErrorCode::kUsage, "backup tool " + t.path + " of source " + source.name + " is not mariadb-backup (" +
                                trim(text.substr(0, text.find('\n'))) + "): Percona XtraBackup and MySQL 8 are not "
                                "supported yet; set backup_tool to mariadb-backup");
  }
  std::smatch m;
  static const std::regex ver(R"((\d+\.\d+\.\d+))");
  if (std::regex_search(text, m, ver)) t.version = m[1];
  t.extractor = find_tool({"mbstream"});
  if (t.extractor.empty()) fail(ErrorCode::kNotFound, "no mbstream in PATH: install mariadb-backup, which ships it");
  return t;
}

std::map<std::string, std::string> parse_kv(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

uint64_t to_u64(const std::string& s) {
  try {
    return s.empty() ? 0 : std::stoull(s);
  } catch (...) {
    return 0;
  }
}

json engine_meta(const Manifest& m) {
  auto j = json::parse(m.engine_json, nullptr, false);
  return j.is_object() ? j : json::object();
}

bool is_physical(const Manifest& m) {
  auto j = engine_meta(m);
  return j.value("engine", "") == "mysql" && j.value("method", "") == "physical";
}

bool is_mysql(const Manifest& m) { return engine_meta(m).value("engine", "") == "mysql"; }

// Oldest first. Ids only order by second; backups taken within one second are ordered by the server's LSN and
// then by their place in the chain.
void sort_by_age(std::vector<Manifest>& all) {
  std::map<std::string, const Manifest*> by_id;
  for (const auto& m : all) by_id[m.id] = &m;
  auto depth = [&](const Manifest& m) {
    int d = 0;
    for (const Manifest* p = &m; p && !p->parent.empty() && d < 10000; ++d) {
      auto it = by_id.find(p->parent);
      p = it == by_id.end() ? nullptr : it->second;
    }
    return d;
  };
  std::vector<std::tuple<int64_t, uint64_t, int, size_t>> keys;
  for (size_t i = 0; i < all.size(); ++i) {
    keys.emplace_back(all[i].finished_epoch, engine_meta(all[i]).value("last_lsn", uint64_t{0}), depth(all[i]), i);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<Manifest> out;
  for (const auto& k : keys) out.push_back(all[std::get<3>(k)]);
  all = std::move(out);
}

// What the tool wrote into --extra-lsndir: LSNs, binlog coordinates at the consistent point, versions.
json physical_meta(const std::string& lsndir, const BackupTool& tool, const std::string& server_version) {
  auto cp = parse_kv(read_text_file(lsndir + "/xtrabackup_checkpoints"));
  std::map<std::string, std::string> info;
  if (fs::exists(lsndir + "/xtrabackup_info")) info = parse_kv(read_text_file(lsndir + "/xtrabackup_info"));
  json j = {{"engine", "mysql"},
            {"method", "physical"},
            {"tool", tool.kind},
            {"tool_version", tool.version},
            {"server_version", server_version},
            {"backup_type", cp["backup_type"]},
            {"from_lsn", to_u64(cp["from_lsn"])},
            {"to_lsn", to_u64(cp["to_lsn"])},
            {"last_lsn", to_u64(cp["last_lsn"])},
            {"end_epoch", now_epoch()}};
  static const std::regex pos_re(R"(filename '([^']*)', position '(\d+)'(, GTID of the last change '([^']*)')?)");
  std::smatch m;
  std::string bp = info["binlog_pos"];
  if (std::regex_search(bp, m, pos_re)) {
    j["binlog_file"] = m[1].str();
    j["binlog_pos"] = to_u64(m[2]);
    j["gtid"] = m[4].str();
  }
  return j;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (ss >> w) {
    if (w.back() == ',') w.pop_back();
    if (!w.empty()) out.push_back(w);
  }
  return out;
}

Manifest backup_logical(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                        const ProgressFn& progress) {
  MysqlConn conn(source);
  std::string server_version = conn.query_value("SELECT VERSION()");
  require_supported_server("source " + source.name, server_version);
  bool log_bin = conn.query_value("SELECT @@log_bin") == "1";
  std::string dump = find_tool({source.get("dump_tool"), "mariadb-dump", "mysqldump"});
  if (dump.empty()) fail(ErrorCode::kNotFound, "no mariadb-dump or mysqldump in PATH: install mariadb-client");
  auto dbs = split_words(source.get("databases"));
  std::string cmd = dump + " " + conn.defaults_arg() +
                    " --single-transaction --routines --events --triggers --hex-blob --default-character-set=utf8mb4";
  if (log_bin) {
    // The binlog coordinates in the dump let a restored copy become a replica or be rolled forward.
    cmd += " --master-data=2";
    if (dump.find("mariadb-dump") != std::string::npos) cmd += " --gtid";
  }
  // One database without --databases: the dump has no CREATE DATABASE/USE and restores into any --database.
  if (dbs.size() == 1) cmd += " " + shell_quote(dbs[0]);
  else if (dbs.size() > 1) {
    cmd += " --databases";
    for (const auto& d : dbs) cmd += " " + shell_quote(d);
  } else {
    cmd += " --all-databases";
  }
  auto src = open_quiet_command_source(cmd, "mariadb-dump of source " + source.name,
                                       "check the server is up and the source's user may read every table");
  BackupOptions o;
  o.source = source.name;
  o.labels = req.labels;
  o.pipeline = req.pipeline;
  o.type = "dump";
  json j = {{"engine", "mysql"}, {"method", "logical"}, {"server_version", server_version}, {"databases", dbs}};
  o.engine_json = j.dump();
  return repo.backup(*src, o, progress);
}


std::string check_started(const SourceConfig& source, const std::string& target, int port, const std::string& run_as) {
  std::string socket = target + "/mysqld.sock";
  // Unix socket paths are limited to 107 bytes.
  if (socket.size() > 100) socket = "/tmp/strata-mysqld-" + std::to_string(port) + ".sock";
  RunningServer rs = start_server(source, target, socket, port, run_as);
  MysqlConn conn(source, MysqlEndpoint{"", "127.0.0.1", port});
  std::string version;
  try {
    version = conn.query_value("SELECT VERSION()");
  } catch (const StrataError&) {
    return "server started on 127.0.0.1:" + std::to_string(port) + " (pid " + std::to_string(rs.pid) +
           ") and answers pings, but refused the source's credentials over TCP";
  }
  return "server " + version + " started on 127.0.0.1:" + std::to_string(port) + " (pid " + std::to_string(rs.pid) +
         ", socket " + socket + ") and answers queries";
}

EngineRestoreResult restore_physical(Repository& repo, const SourceConfig& source, const Manifest& chosen,
                             const EngineRestoreRequest& req) {
  if (req.target_dir.empty()) {
    fail(ErrorCode::kUsage, "restoring physical backup " + chosen.id + " needs --target-dir DIR (a new or empty datadir)");
  }
  std::string target = fs::absolute(req.target_dir).lexically_normal().string();
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (!dir_is_empty_or_missing(target) && !req.force) {
    fail(ErrorCode::kAlreadyExists, "--target-dir " + target + " is not empty: give a new or empty directory, or --force to replace it");
  }
  if (req.start && req.port <= 0) fail(ErrorCode::kUsage, "--start needs --port P (the server listens on 127.0.0.1:P)");
  std::string nothing = "; nothing was written to " + target;
  std::string next = ". Restore an older chain or take a new full backup";

  // The whole chain is loaded and checked before any byte is fetched.
  std::vector<Manifest> chain;
  std::string id = chosen.id;
  std::string child;
  for (;;) {
    if (!repo.exists(id)) {
      fail(ErrorCode::kNotFound, "backup chain of " + chosen.id + " is broken: " + child + " needs backup " + id +
                                     ", which is missing from the repository" + nothing + next);
    }
    Manifest m;
    try {
      m = repo.load(id, true);
    } catch (const StrataError& e) {
      fail(ErrorCode::kCorrupt, "backup chain of " + chosen.id + " is broken: backup " + id + " is damaged (" + e.what() + ")" + nothing + next);
    }
    if (!chain.empty()) {
      uint64_t need = engine_meta(chain.back()).value("from_lsn", uint64_t{0});
      uint64_t have = engine_meta(m).value("to_lsn", uint64_t{0});
      if (need != have) {
        fail(ErrorCode::kCorrupt, "backup chain of " + chosen.id + " is broken: incremental " + chain.back().id +
                                      " starts at LSN " + std::to_string(need) + " but its parent " + m.id + " ends at " +
                                      std::to_string(have) + nothing + next);
      }
    }
    chain.push_back(m);
    if (m.parent.empty()) break;
    child = m.type + " backup " + m.id;
    id = m.parent;
  }
  std::reverse(chain.begin(), chain.end());
  if (chain.front().type != "full") {
    fail(ErrorCode::kCorrupt, "backup chain of " + chosen.id + " does not start with a full backup (" + chain.front().id + ")" + nothing + next);
  }
  for (const auto& m : chain) {
    for (const auto& obj : m.stream.objects) {
      if (std::string why = repo.object_problem(obj); !why.empty()) {
        fail(ErrorCode::kCorrupt, "backup chain of " + chosen.id + " is broken: " + m.type + " backup " + m.id +
                                      " lacks data object " + obj.key + " (" + why + ")" +
                                      nothing + "; run 'strata check'" + next);
      }
    }
  }

  for (const auto& m : chain) {
    if (auto v = engine_meta(m).value("server_version", ""); !v.empty()) require_supported_server("backup " + m.id, v);
  }
  BackupTool tool = detect_backup_tool(source);
  std::string run_as = source.get("run_as", "mysql");
  fs::path parent = fs::path(target).parent_path();
  fs::create_directories(parent);
  // Next to the target: the final move is a rename on the same filesystem, not a second copy.
  PrivateDir work(".strata-restore", parent.string());

  // Point in time: everything about the binlogs that can fail is done before the target is touched — the range
  // and whether it reaches the target (from the manifests), the restore user's privileges (on the source, when
  // reachable), fetching and verifying every file and decoding them.
  std::optional<PreparedReplay> replay;
  if (!req.target_time.empty()) {
    ReplayPlan plan = plan_replay(repo, source, chosen, parse_target_time(req.target_time));
    require_target_reachable(plan, req.allow_partial, nothing);
    if (!plan.files.empty()) {
      if (find_tool({source.get("server"), "mariadbd", "mysqld"}).empty()) {
        fail(ErrorCode::kNotFound, "no mariadbd or mysqld to replay binlogs with: install mariadb-server" + nothing);
      }
      check_restore_user_on_source(source, nothing);
    }
    try {
      replay = prepare_replay(repo, source, std::move(plan), work.path(), req.pipeline);
    } catch (const StrataError& e) {
      fail(e.code(), e.what() + nothing);
    }
    require_target_reachable(replay->plan, req.allow_partial, nothing);
  }

  std::vector<std::string> dirs;
  for (size_t i = 0; i < chain.size(); ++i) {
    std::string dir = work.path() + "/" + std::to_string(i) + "-" + chain[i].type;
    fs::create_directories(dir);
    auto sink = open_command_sink(shell_quote(tool.extractor) + " -x -C " + shell_quote(dir));
    try {
      repo.restore(chain[i], *sink, req.pipeline, {});
    } catch (const StrataError& e) {
      fail(e.code(), "backup chain of " + chosen.id + " is broken: " + chain[i].type + " backup " + chain[i].id +
                         " could not be read (" + e.what() + ")" + nothing + next);
    }
    dirs.push_back(dir);
  }
  std::string base = shell_quote(tool.path) + " --no-defaults --prepare --target-dir=" + shell_quote(dirs[0]);
  try {
    run_checked(base, "preparing full backup " + chain[0].id, "the backup tool must match the version that took the backup");
    for (size_t i = 1; i < dirs.size(); ++i) {
      run_checked(base + " --incremental-dir=" + shell_quote(dirs[i]), "applying incremental " + chain[i].id,
                  "the backup tool must match the version that took the backup");
    }
  } catch (const StrataError& e) {
    fail(e.code(), e.what() + nothing);
  }

  // From here on the target is written. A failure removes what was written, so a refused restore never leaves a
  // datadir that looks usable.
  const bool target_existed = fs::exists(target);
  std::string ids;
  for (const auto& m : chain) ids += (ids.empty() ? "" : " + ") + m.id;
  std::string summary = "restored " + chosen.type + " backup " + chosen.id + " of " + source.name + " (chain " + ids +
                        ") into " + target;
  std::string point;  // where the restored server will stand: the replay's end, or the backup's binlog position
  try {
    if (!dir_is_empty_or_missing(target)) {
      for (const auto& e : fs::directory_iterator(target)) fs::remove_all(e.path());
    }
    fs::create_directories(target);
    run_checked(shell_quote(tool.path) + " --no-defaults --move-back --target-dir=" + shell_quote(dirs[0]) +
                    " --datadir=" + shell_quote(target),
                "moving the prepared backup into " + target, "check free space and permissions of " + target);
    chown_tree_to(target, run_as, "run_as of source " + source.name);
    if (replay) {
      point = apply_replay(source, *replay, target, run_as);
      summary += "; " + point;
    }
  } catch (const std::exception& e) {
    std::error_code ec;
    if (target_existed) {
      for (const auto& entry : fs::directory_iterator(target, ec)) fs::remove_all(entry.path(), ec);
    } else {
      fs::remove_all(target, ec);
    }
    bool clean = !ec && dir_is_empty_or_missing(target);
    std::string left = clean ? "; the partly restored files were removed from " + target
                             : "; " + target + " still holds a partly restored datadir (" + ec.message() + "): remove it by hand";
    auto* se = dynamic_cast<const StrataError*>(&e);
    fail(se ? se->code() : ErrorCode::kGeneric, e.what() + left);
  }
  if (!replay) {
    if (auto j = engine_meta(chosen); j.contains("binlog_file")) {
      point = j.value("binlog_file", "") + ":" + std::to_string(j.value("binlog_pos", uint64_t{0}));
      summary += "; binlog position " + point + (j.value("gtid", "").empty() ? "" : " (GTID " + j.value("gtid", "") + ")");
    }
  }
  if (req.start) {
    try {
      summary += "; " + check_started(source, target, req.port, run_as);
    } catch (const StrataError& e) {
      fail(e.code(), summary + ", but --start failed: " + e.what());
    }
  }
  EngineRestoreResult result{summary, chosen.id, {}, point};
  if (chain.size() > 1) {
    for (const auto& m : chain) result.chain.push_back(m.id);
  }
  return result;
}

EngineRestoreResult restore_logical(Repository& repo, const SourceConfig& source, const Manifest& chosen,
                            const EngineRestoreRequest& req) {
  Manifest m = repo.load(chosen.id, true);
  std::vector<std::string> dbs = engine_meta(m).value("databases", std::vector<std::string>{});
  std::unique_ptr<MysqlConn> conn;
  if (req.port > 0) conn = std::make_unique<MysqlConn>(source, MysqlEndpoint{"", "127.0.0.1", req.port});
  else conn = std::make_unique<MysqlConn>(source);
  require_supported_server("the server at " + conn->describe(), conn->query_value("SELECT VERSION()"));
  std::string cmd = shell_quote(conn->client()) + " " + conn->defaults_arg() + " --binary-mode";
  std::string into = conn->describe();
  if (dbs.size() == 1) {
    std::string db = req.database.empty() ? dbs[0] : req.database;
    std::string quoted = "`" + std::regex_replace(db, std::regex("`"), "``") + "`";
    conn->query("CREATE DATABASE IF NOT EXISTS " + quoted);
    cmd += " " + shell_quote(db);
    into += " database " + db;
  } else if (!req.database.empty()) {
    fail(ErrorCode::kUsage, "backup " + m.id + " is a dump of several databases; --database needs a dump of one "
                            "(set databases = \"NAME\" under [source." + source.name + "])");
  }
  auto sink = open_command_sink(cmd);
  repo.restore(m, *sink, req.pipeline, {});
  return {"restored dump " + m.id + " of " + source.name + " into " + into, m.id, {}, ""};
}

}  // namespace

std::vector<Manifest> MysqlEngine::backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                                          const ProgressFn& progress) {
  const Logger& logger = logger_or_default(req.pipeline.log);
  std::string type = req.type.empty() ? source.get("default_type", "full") : req.type;
  if (type == "dump" || type == "logical") return {backup_logical(repo, source, req, progress)};
  if (type != "full" && type != "incremental") {
    fail(ErrorCode::kUsage, "unknown --type '" + type + "' for mysql source " + source.name + ": use full, incremental or dump");
  }
  MysqlConn conn(source);
  std::string server_version = conn.query_value("SELECT VERSION()");
  require_supported_server("source " + source.name, server_version);
  BackupTool tool = detect_backup_tool(source);
  if (major_minor(tool.version) != major_minor(server_version)) {
    fail(ErrorCode::kUsage, tool.kind + " " + tool.version + " does not match server " + server_version + " of source " +
                                source.name + ": install the " + tool.kind + " of the server's version (or set backup_tool)");
  }

  BackupOptions o;
  o.source = source.name;
  o.labels = req.labels;
  o.pipeline = req.pipeline;
  o.type = type;
  PrivateDir scratch("strata-mysql-backup");
  std::string cmd = shell_quote(tool.path) + " " + conn.defaults_arg() + " --backup --stream=xbstream --target-dir=" +
                    shell_quote(scratch.path()) + " --extra-lsndir=" + shell_quote(scratch.path());
  if (auto d = source.get("datadir"); !d.empty()) cmd += " --datadir=" + shell_quote(d);
  if (auto p = source.get("parallel"); !p.empty()) cmd += " --parallel=" + std::to_string(std::atoi(p.c_str()));
  if (type == "incremental") {
    const Manifest* parent = nullptr;
    auto all = repo.list(source.name);
    sort_by_age(all);
    for (const auto& m : all) {
      if (is_physical(m)) parent = &m;
    }
    if (!parent) {
      fail(ErrorCode::kNotFound, "no full backup of source " + source.name + " to base an incremental on: run "
                                 "'strata backup --source " + source.name + " --type full' first");
    }
    uint64_t lsn = engine_meta(*parent).value("to_lsn", uint64_t{0});
    if (lsn == 0) fail(ErrorCode::kCorrupt, "backup " + parent->id + " recorded no to_lsn: take a new full backup");
    o.parent = parent->id;
    cmd += " --incremental-lsn=" + std::to_string(lsn);
  }
  if (auto extra = source.get("backup_options"); !extra.empty()) cmd += " " + extra;
  auto src = open_quiet_command_source(cmd, tool.kind + " of source " + source.name,
                                       "check the server is up, datadir/socket of the source, and that the user has "
                                       "RELOAD, PROCESS and BACKUP privileges");
  std::string lsndir = scratch.path();
  // The fingerprint a restore drill compares the restored copy with (docs/DRILLS.md): row counts just before and
  // just after the backup.
  std::string fp_mode = source.get("fingerprint", "on");
  if (fp_mode != "on" && fp_mode != "off") {
    fail(ErrorCode::kUsage, "source '" + source.name + "': fingerprint = \"" + fp_mode + "\"; use \"on\" or \"off\"");
  }
  long long fp_max = std::atoll(source.get("fingerprint_max_rows", "20000000").c_str());
  json fp_start;
  if (fp_mode == "on") {
    // A user that may run mariadb-backup need not read every table: without a fingerprint the backup is as good,
    // only a drill cannot compare it.
    try {
      fp_start = mysql::take_fingerprint(conn, fp_max, 500);
    } catch (const StrataError& e) {
      logger.warn("mysql_fingerprint_failed", {{"source", source.name}, {"error", e.what()},
                                               {"hint", "grant SELECT to the backup user, or set fingerprint = \"off\""}});
      fp_mode = "off";
    }
  }
  o.engine_json_after = [&] {
    json j = physical_meta(lsndir, tool, server_version);
    if (fp_mode == "on") {
      try {
        j["fingerprint"] = {{"start", fp_start}, {"end", mysql::take_fingerprint(conn, fp_max, 500)}};
      } catch (const StrataError& e) {
        logger.warn("mysql_fingerprint_failed", {{"source", source.name}, {"error", e.what()}});
      }
    }
    return j.dump();
  };
  Manifest m = repo.backup(*src, o, progress);
  logger.info("mysql_backup_done", {{"backup", m.id}, {"type", m.type}, {"parent", m.parent}});
  return {m};
}

EngineRestoreResult MysqlEngine::restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                                 const ProgressFn& progress) {
  std::vector<Manifest> all;
  for (auto& m : repo.list(source.name)) {
    if (is_mysql(m)) all.push_back(std::move(m));
  }
  sort_by_age(all);
  Manifest chosen;
  if (!req.id.empty()) {
    std::string id = repo.resolve_id(req.id);
    chosen = repo.load(id, false);
    if (chosen.source != source.name) {
      fail(ErrorCode::kUsage, "backup " + id + " belongs to source " + chosen.source + ", not " + source.name);
    }
  } else if (!req.target_time.empty()) {
    int64_t t = parse_target_time(req.target_time);
    const Manifest* best = nullptr;
    for (const auto& m : all) {
      auto j = engine_meta(m);
      if (j.value("method", "") == "physical" && j.value("end_epoch", m.finished_epoch) <= t) best = &m;
    }
    if (!best) {
      fail(ErrorCode::kNotFound, "no physical backup of " + source.name + " finished before " + sql_utc(t) +
                                     " UTC: choose a later --target-time");
    }
    chosen = *best;
  } else {
    if (all.empty()) fail(ErrorCode::kNotFound, "no backups of source " + source.name + " in " + repo.location());
    chosen = all.back();
  }
  if (engine_meta(chosen).value("method", "") == "logical") {
    if (!req.target_time.empty()) fail(ErrorCode::kUsage, "--target-time needs a physical backup; " + chosen.id + " is a dump");
    return restore_logical(repo, source, chosen, req);
  }
  return restore_physical(repo, source, chosen, req);
}

}  // namespace strata
