#include "engines/postgres/postgres_engine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/logger.hpp"
#include "common/pg_client.hpp"
#include "common/process.hpp"
#include "common/secret_file.hpp"
#include "engines/tool_util.hpp"
#include "engines/postgres/fingerprint.hpp"
#include "engines/postgres/tar_extract.hpp"
#include "engines/postgres/recovery.hpp"
#include "engines/postgres/tar_observer.hpp"
#include "engines/postgres/timeline.hpp"
#include "engines/postgres/wal.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A value inside single quotes in postgresql.conf.
std::string conf_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail(ErrorCode::kUsage, "cannot read " + path + ": check the path and its permissions");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// The source's password settings: password_file (its content without the line end) and passfile (a .pgpass).
// libpq in this process gets them as connection parameters (conn_target), each PostgreSQL tool we start as
// PGPASSWORD / PGPASSFILE in its own environment (tool_env): never our environment, which another job shares, and
// never a command line.
struct Credentials {
  std::string password, passfile;
};

Credentials credentials(const SourceConfig& src) {
  if (!src.get("password").empty()) {
    fail(ErrorCode::kUsage, "source '" + src.name + "' has a password in the config; use password_file, a .pgpass "
                            "file (passfile) or PGPASSWORD instead");
  }
  Credentials c;
  if (auto f = src.get("password_file"); !f.empty()) {
    SecretFile file = read_secret_file(f);
    if (!file.read) fail(ErrorCode::kUsage, "cannot read " + f + ": check the path and its permissions");
    c.password = file.value;
  }
  c.passfile = src.get("passfile");
  return c;
}

ChildEnv tool_env(const SourceConfig& src) {
  Credentials c = credentials(src);
  ChildEnv env;
  if (!c.password.empty()) env.set("PGPASSWORD", c.password);
  if (!c.passfile.empty()) env.set("PGPASSFILE", c.passfile);
  return env;
}

PgTarget conn_target(const SourceConfig& src) {
  Credentials c = credentials(src);
  PgTarget t;
  t.host = src.get("host");
  t.port = src.get("port");
  t.user = src.get("user");
  t.dbname = src.get("dbname", "postgres");
  t.password = c.password;
  t.passfile = c.passfile;
  t.hint = "check host/port/user in the source config and the password (PGPASSWORD, .pgpass or password_file)";
  return t;
}

// -h/-p/-U for the client tools; -w so a missing password fails instead of prompting.
std::string conn_args(const SourceConfig& src) {
  std::string a;
  if (!src.get("host").empty()) a += " -h " + shell_quote(src.get("host"));
  if (!src.get("port").empty()) a += " -p " + shell_quote(src.get("port"));
  if (!src.get("user").empty()) a += " -U " + shell_quote(src.get("user"));
  return a + " -w";
}

// bin_dir from the config; else Debian's versioned directory for the server's major version; else the newest
// installed one; else PATH.
std::string pg_tool(const SourceConfig& src, const std::string& tool, int major = 0) {
  if (auto dir = src.get("bin_dir"); !dir.empty()) return dir + "/" + tool;
  if (major > 0) {
    std::string p = "/usr/lib/postgresql/" + std::to_string(major) + "/bin/" + tool;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  int best = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int v = std::atoi(e.path().filename().c_str());
    if (v > best && ::access((e.path().string() + "/bin/" + tool).c_str(), X_OK) == 0) best = v;
  }
  if (best) return "/usr/lib/postgresql/" + std::to_string(best) + "/bin/" + tool;
  return tool;
}

std::string method_of(const SourceConfig& src) {
  std::string m = src.get("method", "physical");
  if (m != "physical" && m != "dump") {
    fail(ErrorCode::kUsage, "source '" + src.name + "': method = \"" + m + "\" is unknown; use \"physical\" or \"dump\"");
  }
  return m;
}

std::string match1(const std::string& text, const std::string& pattern) {
  std::smatch m;
  std::regex re(pattern);
  if (std::regex_search(text, m, re)) return m[1];
  return "";
}

// The last match: backup_manifest lists WAL ranges at its end.
std::string match_last(const std::string& text, const std::string& pattern) {
  std::regex re(pattern);
  std::string last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) last = (*it)[1];
  return last;
}

json engine_meta(const Manifest& m) {
  try {
    return json::parse(m.engine_json);
  } catch (const std::exception&) {
    return json::object();
  }
}

bool is_base_backup(const Manifest& m) { return m.type == "full" && engine_meta(m).value("method", "") == "physical"; }
bool is_dump(const Manifest& m) { return m.type == "dump" && engine_meta(m).value("method", "") == "dump"; }

// ---------------------------------------------------------------------------------------------------------------
// Backup

std::vector<Manifest> backup_physical(Repository& repo, const SourceConfig& src, const EngineBackupRequest& req,
                                      const ProgressFn& progress) {
  const Logger& logger = logger_or_default(req.pipeline.log);
  std::string wal_method = src.get("wal_method", "fetch");
  if (wal_method != "fetch" && wal_method != "none") {
    fail(ErrorCode::kUsage, "source '" + src.name + "': wal_method = \"" + wal_method + "\" is unknown; use \"fetch\" or \"none\"");
  }
  PgClient conn(conn_target(src));
  int version_num = std::atoi(conn.scalar("SHOW server_version_num").c_str());
  if (version_num < 130000) {
    fail(ErrorCode::kSourceFailed, "PostgreSQL at " + conn.describe() + " is version " + std::to_string(version_num) +
                                       "; physical backups need 13 or newer (backup manifests); use method = \"dump\"");
  }
  std::string server_version = conn.scalar("SHOW server_version");
  std::string sysid = conn.scalar("SELECT system_identifier::text FROM pg_control_system()");
  uint64_t seg_size = std::stoull(conn.scalar(
      "SELECT setting::bigint * CASE unit WHEN '8kB' THEN 8192 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576 ELSE 1 END "
      "FROM pg_settings WHERE name = 'wal_segment_size'"));
  auto spcs = conn.query("SELECT spcname FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1");
  if (spcs.size() > 0) {
    std::string names;
    for (size_t i = 0; i < spcs.size(); ++i) names += (names.empty() ? "" : ", ") + std::string(spcs.get(i, 0));
    fail(ErrorCode::kSourceFailed, "source '" + src.name + "' has tablespaces outside the data directory (" + names +
                                       "); physical backups stream one tar and do not support them yet: move them to "
                                       "pg_default or use method = \"dump\"");
  }
  bool from_standby = conn.scalar("SELECT pg_is_in_recovery()") == "t";
  std::string archive_mode = conn.scalar("SHOW archive_mode");
  if (wal_method == "none" && archive_mode == "off") {
    fail(ErrorCode::kSourceFailed, "source '" + src.name + "' has wal_method = \"none\" but archive_mode is off: the backup "
                                       "would not be restorable; set archive_command to 'strata wal push --source " +
                                       src.name + " %p' or use wal_method = \"fetch\"");
  }
  if (archive_mode == "off") {
    logger.warn("pg_archiving_off", {{"source", src.name},
                                     {"hint", "point-in-time restore needs archive_command = 'strata wal push %p'"}});
  }

  // The fingerprint a restore drill compares the restored copy with (docs/DRILLS.md): row counts just before and
  // just after the base backup.
  std::string fp_mode = src.get("fingerprint", "on");
  if (fp_mode != "on" && fp_mode != "off") {
    fail(ErrorCode::kUsage, "source '" + src.name + "': fingerprint = \"" + fp_mode + "\"; use \"on\" or \"off\"");
  }
  pg::FingerprintLimits fp_limits;
  if (auto v = src.get("fingerprint_max_rows"); !v.empty()) {
    try {
      fp_limits.max_rows = std::stoll(v);
    } catch (const std::exception&) {
      fail(ErrorCode::kUsage, "source '" + src.name + "': fingerprint_max_rows = \"" + v + "\" is not a number");
    }
  }
  json fp_start;
  if (fp_mode == "on") {
    // A user that may take base backups need not read every table (REPLICATION suffices): without a fingerprint
    // the backup is as good, only a drill cannot compare it.
    try {
      fp_start = pg::take_fingerprint(conn_target(src), fp_limits);
    } catch (const StrataError& e) {
      logger.warn("pg_fingerprint_failed", {{"source", src.name}, {"error", e.what()},
                                            {"hint", "grant pg_read_all_data to the backup user, or set fingerprint = \"off\""}});
      fp_mode = "off";
    }
  }

  std::string cmd = shell_quote(pg_tool(src, "pg_basebackup", version_num / 10000)) + conn_args(src) +
                    " -D - -Ft -X " + wal_method + " --checkpoint=" + (src.get("checkpoint", "fast") == "spread" ? "spread" : "fast") +
                    " -l " + shell_quote("strata base backup");
  if (src.get("max_rate") != "") cmd += " --max-rate=" + shell_quote(src.get("max_rate"));
  auto tool = open_command_source(cmd, tool_env(src));
  pg::TarObserver tar(*tool, {{"backup_label", 64u << 10}, {"backup_manifest", 64u << 10}, {"tablespace_map", 64u << 10}});

  BackupOptions o;
  o.source = src.name;
  o.labels = req.labels;
  o.pipeline = req.pipeline;
  o.type = "full";
  o.engine_json_after = [&]() {
    const auto& members = tar.members();
    auto label_it = members.find("backup_label");
    auto manifest_it = members.find("backup_manifest");
    if (label_it == members.end() || manifest_it == members.end()) {
      fail(ErrorCode::kSourceFailed, "pg_basebackup's stream for source '" + src.name + "' has no backup_label/backup_manifest: "
                                         "it is not a complete base backup; nothing was kept");
    }
    if (auto ts = members.find("tablespace_map"); ts != members.end() && !trim(ts->second).empty()) {
      fail(ErrorCode::kSourceFailed, "source '" + src.name + "' gained a tablespace during the backup; nothing was kept");
    }
    const std::string& label = label_it->second;
    const std::string& manifest = manifest_it->second;
    std::string start_lsn = match1(label, R"(START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+))");
    std::string start_file = match1(label, R"(\(file ([0-9A-F]{24})\))");
    std::string checkpoint_lsn = match1(label, R"(CHECKPOINT LOCATION: ([0-9A-F]+/[0-9A-F]+))");
    std::string timeline = match1(label, R"(START TIMELINE: (\d+))");
    std::string stop_lsn = match_last(manifest, R"re("End-LSN": "([0-9A-F]+/[0-9A-F]+)")re");
    std::string stop_tli = match_last(manifest, R"re("Timeline": (\d+))re");
    if (start_lsn.empty() || stop_lsn.empty() || timeline.empty()) {
      fail(ErrorCode::kSourceFailed, "cannot read the start/stop WAL positions from the backup_label/backup_manifest of "
                                         "source '" + src.name + "'; nothing was kept");
    }
    uint32_t tli = static_cast<uint32_t>(std::stoul(timeline));
    uint32_t end_tli = stop_tli.empty() ? tli : static_cast<uint32_t>(std::stoul(stop_tli));
    uint64_t stop = pg::parse_lsn(stop_lsn);
    // The stop LSN is the first byte after the backup's WAL: the segment holding stop-1 is the last one needed.
    std::string stop_file = pg::segment_name(end_tli, (stop - 1) / seg_size, seg_size);
    // The server's clock, not ours: recovery_target_time is compared with commit times the server stamped, and
    // to the microsecond, so a target a fraction of a second before the backup's end is refused precisely.
    int64_t stop_us = std::stoll(conn.scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"));
    int64_t stop_epoch = stop_us / 1000000;
    json j = {{"engine", "postgres"},
              {"method", "physical"},
              {"server_version", server_version},
              {"server_version_num", version_num},
              {"system_identifier", sysid},
              {"timeline", tli},
              {"stop_timeline", end_tli},
              {"start_lsn", start_lsn},
              {"stop_lsn", stop_lsn},
              {"checkpoint_lsn", checkpoint_lsn},
              {"wal_start", start_file},
              {"wal_stop", stop_file},
              {"wal_segment_size", seg_size},
              {"wal_included", wal_method == "fetch"},
              {"backup_from", from_standby ? "standby" : "primary"},
              {"stop_time", sql_utc(stop_epoch) + "+00"},
              {"stop_epoch", stop_epoch},
              {"stop_time_us", stop_us},
              {"files", tar.member_count()},
              {"backup_label", label}};
    if (fp_mode == "on") {
      try {
        j["fingerprint"] = {{"start", fp_start}, {"end", pg::take_fingerprint(conn_target(src), fp_limits)}};
      } catch (const StrataError& e) {
        // The backup itself is complete: keep it, without what a drill would compare it with.
        logger.warn("pg_fingerprint_failed", {{"source", src.name}, {"error", e.what()}});
      }
    }
    logger.info("pg_backup_done", {{"source", src.name}, {"start_lsn", start_lsn}, {"stop_lsn", stop_lsn}});
    return j.dump();
  };
  return {repo.backup(tar, o, progress)};
}

std::vector<std::string> dump_databases(const SourceConfig& src, PgClient& conn) {
  std::vector<std::string> dbs;
  if (auto list = src.get("databases"); !list.empty()) {
    std::stringstream ss(list);
    std::string d;
    while (std::getline(ss, d, ',')) {
      if (!trim(d).empty()) dbs.push_back(trim(d));
    }
    return dbs;
  }
  if (!src.get("dbname").empty()) return {src.get("dbname")};
  auto names = conn.query("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1");
  for (size_t i = 0; i < names.size(); ++i) dbs.emplace_back(names.get(i, 0));
  return dbs;
}

std::vector<Manifest> backup_dump(Repository& repo, const SourceConfig& src, const EngineBackupRequest& req,
                                  const ProgressFn& progress) {
  PgClient conn(conn_target(src));
  int version_num = std::atoi(conn.scalar("SHOW server_version_num").c_str());
  std::string server_version = conn.scalar("SHOW server_version");
  std::vector<Manifest> out;
  const ChildEnv env = tool_env(src);
  for (const auto& db : dump_databases(src, conn)) {
    std::string cmd = shell_quote(pg_tool(src, "pg_dump", version_num / 10000)) + conn_args(src) + " -Fc --dbname=" + shell_quote(db);
    auto tool = open_command_source(cmd, env);
    BackupOptions o;
    o.source = src.name;
    o.labels = req.labels;
    o.labels["database"] = db;
    o.pipeline = req.pipeline;
    o.type = "dump";
    o.engine_json = json{{"engine", "postgres"},
                         {"method", "dump"},
                         {"database", db},
                         {"server_version", server_version},
                         {"server_version_num", version_num},
                         {"format", "custom"}}
                        .dump();
    out.push_back(repo.backup(*tool, o, progress));
  }
  if (out.empty()) fail(ErrorCode::kSourceFailed, "source '" + src.name + "' has no database to dump; set databases = \"a,b\"");
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Restore

// The ID given, else the newest backup of the kind (physical restores without an ID use choose_physical, which also
// weighs the target time and the timeline path).
Manifest choose_backup(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req, bool physical) {
  if (!req.id.empty()) {
    Manifest m = repo.load(repo.resolve_id(req.id), true);
    if (m.source != src.name) {
      fail(ErrorCode::kUsage, "backup " + m.id + " belongs to source " + m.source + ", not " + src.name);
    }
    if (physical ? !is_base_backup(m) : !is_dump(m)) {
      fail(ErrorCode::kUsage, "backup " + m.id + " is not a " + (physical ? "physical base backup" : "pg_dump backup") +
                                  " of " + src.name + " (type " + m.type + ")");
    }
    return m;
  }
  auto all = repo.list(src.name);
  std::vector<Manifest> usable;
  for (auto& m : all) {
    if (physical ? is_base_backup(m) : is_dump(m)) usable.push_back(std::move(m));
  }
  if (usable.empty()) {
    fail(ErrorCode::kNotFound, std::string("no ") + (physical ? "base backups" : "dumps") + " of source " + src.name +
                                   " in " + repo.location() + "; run 'strata backup --source " + src.name + "' first");
  }
  if (!physical && !req.database.empty()) {
    // Several databases per run: prefer the newest dump of the database with the target's name.
    for (auto it = usable.rbegin(); it != usable.rend(); ++it) {
      if (engine_meta(*it).value("database", "") == req.database) return repo.load(it->id, true);
    }
    std::set<std::string> dbs;
    for (const auto& m : usable) dbs.insert(engine_meta(m).value("database", ""));
    if (dbs.size() > 1) {
      fail(ErrorCode::kUsage, "source " + src.name + " has dumps of several databases and none named " + req.database +
                                  "; give the backup ID to restore");
    }
  }
  return repo.load(usable.back().id, true);
}

void prepare_target_dir(const std::string& dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) fail(ErrorCode::kUsage, "--target-dir " + dir + " exists and is not a directory");
    if (!fs::is_empty(dir, ec)) {
      if (!force) {
        fail(ErrorCode::kUsage, "--target-dir " + dir + " is not empty; choose an empty directory or pass --force to "
                                "replace its contents");
      }
      if (fs::exists(fs::path(dir) / "postmaster.pid")) {
        fail(ErrorCode::kUsage, "--target-dir " + dir + " holds a running (or crashed) server (postmaster.pid); stop it "
                                "first: pg_ctl -D " + dir + " stop");
      }
      for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
    }
  } else {
    fs::create_directories(dir, ec);
    if (ec) fail(ErrorCode::kUsage, "cannot create --target-dir " + dir + ": " + ec.message());
  }
  // postgres refuses a data directory readable by others.
  if (::chmod(dir.c_str(), 0700) != 0) fail_errno("cannot chmod " + dir, errno);
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "strata";
  return std::string(buf, static_cast<size_t>(n));
}

// The end of a base backup to the microsecond. Backups made before strata recorded stop_time_us have whole seconds
// only, and the end may lie anywhere in that second: the second after it is the first instant known to be later.
int64_t backup_stop_us(const json& meta) {
  if (meta.contains("stop_time_us")) return meta["stop_time_us"].get<int64_t>();
  return (meta.value("stop_epoch", int64_t{0}) + 1) * 1000000;
}

std::string format_us(int64_t us) {
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us % 1000000));
  return sql_utc(us / 1000000) + frac + "+00";
}

// The archive as recovery will see it: the inventory plus the timeline history files, read once each.
class ArchiveView {
 public:
  ArchiveView(Repository& repo, const SourceConfig& src, const PipelineSettings& ps, uint64_t seg_size)
      : repo_(repo), src_(src), ps_(ps), inv_(pg::wal_inventory(repo, src.name, seg_size)) {}
  const pg::WalInventory& inventory() const { return inv_; }
  bool has_history(uint32_t tli) const {
    std::string name = pg::history_file_name(tli);
    return std::find(inv_.other_files.begin(), inv_.other_files.end(), name) != inv_.other_files.end();
  }
  std::string read_history(uint32_t tli) {
    auto it = histories_.find(tli);
    if (it != histories_.end()) return it->second;
    auto text = pg::wal_read_small(repo_, src_.name, pg::history_file_name(tli), ps_);
    if (!text) fail(ErrorCode::kNotFound, "timeline history " + pg::history_file_name(tli) + " vanished from the archive of " + src_.name);
    return histories_[tli] = *text;
  }
  pg::TimelinePath path_for(uint32_t backup_tli, const pg::TimelineTarget& target) {
    return pg::resolve_timeline_path(
        backup_tli, target, [this](uint32_t t) { return has_history(t); }, [this](uint32_t t) { return read_history(t); });
  }

 private:
  Repository& repo_;
  const SourceConfig& src_;
  PipelineSettings ps_;
  pg::WalInventory inv_;
  std::map<uint32_t, std::string> histories_;
};

bool backup_on_path(const json& meta, const pg::TimelinePath& path) {
  uint32_t tli = meta.value("timeline", 1u), stop_tli = meta.value("stop_timeline", tli);
  return pg::backup_on_path(path, tli, pg::parse_lsn(meta.value("start_lsn", "0/0")), stop_tli,
                            pg::parse_lsn(meta.value("stop_lsn", "0/0")));
}

std::string not_on_path_message(const Manifest& m, const json& meta, const pg::TimelinePath& path) {
  return "backup " + m.id + " (timeline " + std::to_string(meta.value("timeline", 1u)) + ", " + meta.value("start_lsn", "?") +
         " .. " + meta.value("stop_lsn", "?") + ") is not in the history of timeline " + std::to_string(path.back().tli) +
         " that recovery would follow (" + pg::describe_path(path) + "): that timeline left the backup's timeline before "
         "the backup ended. Restore a backup taken before the fork, or pass --target-timeline current";
}

// The backup to restore: the ID given, else the newest that ended before the target time and lies on the timeline
// path recovery will follow.
Manifest choose_physical(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req, int64_t target_us,
                         const pg::TimelineTarget& target_tl, ArchiveView& archive, pg::TimelinePath* path_out) {
  if (!req.id.empty()) {
    Manifest m = choose_backup(repo, src, req, true);
    json meta = engine_meta(m);
    *path_out = archive.path_for(meta.value("timeline", 1u), target_tl);
    if (!backup_on_path(meta, *path_out)) fail(ErrorCode::kTargetNotReached, not_on_path_message(m, meta, *path_out));
    return m;
  }
  std::vector<Manifest> usable;
  for (auto& m : repo.list(src.name)) {
    if (is_base_backup(m)) usable.push_back(std::move(m));
  }
  if (usable.empty()) {
    fail(ErrorCode::kNotFound, "no base backups of source " + src.name + " in " + repo.location() +
                                   "; run 'strata backup --source " + src.name + "' first");
  }
  std::optional<std::string> off_path;
  bool any_before_target = false;
  for (auto it = usable.rbegin(); it != usable.rend(); ++it) {
    json meta = engine_meta(*it);
    if (target_us && backup_stop_us(meta) > target_us) continue;
    any_before_target = true;
    pg::TimelinePath path = archive.path_for(meta.value("timeline", 1u), target_tl);
    if (!backup_on_path(meta, path)) {
      if (!off_path) off_path = not_on_path_message(*it, meta, path);
      continue;
    }
    *path_out = path;
    return repo.load(it->id, true);
  }
  if (!any_before_target) {
    fail(ErrorCode::kUsage, "--target-time " + req.target_time + " is before the end of every base backup of " + src.name +
                                " (the oldest ends at " + format_us(backup_stop_us(engine_meta(usable.front()))) +
                                "); pick a later time");
  }
  fail(ErrorCode::kTargetNotReached, *off_path);
}

// What the archive must hold for this restore, checked before anything is written, and the point recovery must
// get past for a restore to the end of the archive.
struct WalCheck {
  std::string note;
  uint64_t min_reached_lsn = 0;  // 0: PostgreSQL itself refuses to end before the recovery target
  std::string end_what;
};

WalCheck check_wal_for_restore(const SourceConfig& src, const Manifest& m, const EngineRestoreRequest& req,
                               const pg::WalInventory& inv, const pg::TimelinePath& path) {
  json meta = engine_meta(m);
  uint64_t seg_size = inv.segment_size;
  auto start = pg::parse_segment_name(meta.value("wal_start", ""), seg_size);
  auto stop = pg::parse_segment_name(meta.value("wal_stop", ""), seg_size);
  if (!start || !stop) fail(ErrorCode::kCorrupt, "backup " + m.id + " has no WAL range in its manifest; it was not made by the postgres engine");
  auto name = [&](uint64_t segno) { return pg::segment_name(pg::timeline_for_segment(path, segno, seg_size), segno, seg_size); };
  if (!meta.value("wal_included", false)) {
    for (uint64_t s = start->segno; s <= stop->segno; ++s) {
      if (!inv.has(pg::timeline_for_segment(path, s, seg_size), s)) {
        fail(ErrorCode::kNotFound, "backup " + m.id + " is not restorable: WAL segment " + name(s) +
                                       " it needs for consistency is missing from the archive of " + src.name +
                                       "; run 'strata wal check --source " + src.name + "'");
      }
    }
  }
  pg::WalPlan plan = pg::plan_wal(inv, path, stop->segno + 1);
  std::string timelines = path.size() > 1 ? " on the timeline path " + pg::describe_path(path) : "";
  bool has_target = !req.target_time.empty() || !req.target_xid.empty() || !req.target_lsn.empty() || req.target_immediate;
  if (!req.target_lsn.empty()) {
    uint64_t need = pg::parse_lsn(req.target_lsn) / seg_size;
    if (need > plan.reach) {
      fail(ErrorCode::kNotFound, "WAL segment " + name(plan.reach + 1) + " is missing from the archive of " + src.name +
                                     timelines + ": recovery cannot reach --target-lsn " + req.target_lsn +
                                     "; run 'strata wal check --source " + src.name + "'");
    }
  } else if (!has_target && plan.missing) {
    fail(ErrorCode::kNotFound, "WAL segment " + name(*plan.missing) + " is missing from the archive of " + src.name +
                                   " although later WAL exists" + timelines + " (up to " + name(*plan.last) +
                                   "): a restore to the latest point would silently stop at the gap. Run 'strata wal check "
                                   "--source " + src.name + "', or restore with --target-lsn before " +
                                   pg::format_lsn(*plan.missing * seg_size));
  }
  WalCheck out;
  out.note = plan.reach > stop->segno ? "WAL archived up to " + name(plan.reach) + timelines : "no archived WAL after the backup";
  if (!has_target) {
    // Recovery to the end must replay into the last archived segment; stopping before it means a file was skipped.
    if (plan.last) {
      out.min_reached_lsn = *plan.last * seg_size + 1;
      out.end_what = "the end of the archived WAL (into " + name(*plan.last) + ", past LSN " +
                     pg::format_lsn(*plan.last * seg_size) + ")";
    } else {
      out.min_reached_lsn = pg::parse_lsn(meta.value("stop_lsn", "0/0"));
      out.end_what = "the end of backup " + m.id + " (LSN " + meta.value("stop_lsn", "?") + ")";
    }
  } else if (req.target_immediate) {
    out.min_reached_lsn = pg::parse_lsn(meta.value("stop_lsn", "0/0"));
    out.end_what = "the consistent point of backup " + m.id + " (LSN " + meta.value("stop_lsn", "?") + ")";
  } else if (!req.target_lsn.empty()) {
    out.min_reached_lsn = pg::parse_lsn(req.target_lsn);
    out.end_what = "--target-lsn " + req.target_lsn;
  } else {
    out.end_what = !req.target_time.empty() ? "--target-time " + req.target_time : "--target-xid " + req.target_xid;
  }
  return out;
}

struct ServerInfo {
  std::string host, port;
};

// Where the restored server listens, from postmaster.pid (line 4 port, 5 socket directory, 6 first address).
ServerInfo read_postmaster_pid(const std::string& dir, int port) {
  std::ifstream f(dir + "/postmaster.pid");
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  ServerInfo s;
  s.port = lines.size() > 3 ? trim(lines[3]) : std::to_string(port);
  std::string sock = lines.size() > 4 ? trim(lines[4]) : "";
  std::string addr = lines.size() > 5 ? trim(lines[5]) : "";
  if (!sock.empty()) s.host = sock;
  else if (!addr.empty() && addr != "*") s.host = addr;
  else s.host = "127.0.0.1";
  return s;
}

// With --archive-mode on and --start, the copy's archiving is held back (every archive_command fails, so PostgreSQL
// keeps the .ready files) until the point reached is verified: a copy that promoted too early must not put its
// timeline's history into the source's archive, where every later restore to "latest" would follow it.
constexpr const char* kHoldArchivingLine =
    "archive_command = 'echo \"strata restore: archiving waits until the restore is verified\" >&2; exit 1'"
    "  # strata: removed once the restore is verified\n";

// Rewrites postgresql.auto.conf without the hold line (atomically), so the server's own archive_command applies.
void release_archiving(const std::string& dir) {
  std::string path = dir + "/postgresql.auto.conf", tmp = path + ".strata-tmp";
  std::string text = read_text(path);
  auto at = text.find(kHoldArchivingLine);
  if (at == std::string::npos) return;
  text.erase(at, std::string(kHoldArchivingLine).size());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    f.flush();
    if (!f) fail(ErrorCode::kStorage, "cannot write " + tmp);
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  ::chmod(tmp.c_str(), 0600);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("cannot replace " + path, errno);
}

struct StartRequest {
  std::string dir, log_path;
  int port = 0;
  std::string run_as;  // when we are root: pg_ctl (and so the server) runs as this user
  WalCheck expect;
  bool hold_archiving = false;
  // With --archive-mode on: whether the new timeline's history file has reached the archive.
  std::function<bool(const std::string& history)> archived;
  std::string reached_lsn;  // set by start_and_wait: where recovery ended
};

// The server stopped by itself. When its log says recovery could not go on (a fetch failed fatally, the target is
// past the archive, the timeline does not contain the backup), that is "target not reached", not a start failure.
[[noreturn]] void fail_recovery(const StartRequest& r, const std::string& what) {
  std::string log = pg::recovery_log_summary(r.log_path, 3) + " (full log: " + r.log_path + ")";
  if (pg::log_says_target_not_reached(r.log_path)) {
    fail(ErrorCode::kTargetNotReached, "recovery of " + r.dir + " stopped before " + r.expect.end_what +
                                           " and the server shut down; the data directory is NOT the state asked for: " + log);
  }
  fail(ErrorCode::kSourceFailed, what + ": " + log);
}

std::string start_and_wait(const SourceConfig& src, const Manifest& m, StartRequest& r) {
  json meta = engine_meta(m);
  int major = meta.value("server_version_num", 0) / 10000;
  const std::string& dir = r.dir;
  std::string pg_ctl = pg_tool(src, "pg_ctl", major);
  // As root, through runuser: postgres refuses to run as root (runuser keeps the environment, so restore_command
  // still finds what it needs).
  std::vector<std::string> as_user;
  if (!r.run_as.empty() && ::geteuid() == 0) as_user = {"runuser", "-u", r.run_as, "--"};
  std::vector<std::string> argv = as_user;
  for (const char* a : {"-D", "", "-l", "", "-w", "-t", "86400", "start"}) argv.push_back(a);
  argv.insert(argv.begin() + static_cast<long>(as_user.size()), pg_ctl);
  argv[as_user.size() + 2] = dir;
  argv[as_user.size() + 4] = r.log_path;
  if (r.port) {
    argv.push_back("-o");
    argv.push_back("-p " + std::to_string(r.port));
  }
  std::string out, err;
  // Its restore_command ('strata wal fetch') reads the repository passphrase from STRATA_PASSPHRASE when no
  // --passphrase-file was given: the one child that keeps it (docs/CLI.md, "Child processes"). The server must not
  // inherit a database password: its archive/restore commands and extensions would see it.
  int rc = run_capture(argv, &out, &err, ChildEnv().keep("STRATA_PASSPHRASE").unset("PGPASSWORD"));
  if (rc != 0) fail_recovery(r, "the restored server in " + dir + " did not start");
  ServerInfo where = read_postmaster_pid(dir, r.port);
  PgTarget cp = conn_target(src);
  cp.host = where.host;
  cp.port = where.port;
  // pg_ctl -w returns once the server accepts connections, which during archive recovery is already the consistent
  // point; promotion comes later, so follow pg_is_in_recovery() until it turns false.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(24);
  for (;;) {
    try {
      PgClient c(cp);
      if (c.scalar("SELECT pg_is_in_recovery()") == "f") {
        // Segments `wal fetch` fetched ahead past the recovery target are of no further use.
        std::error_code ec;
        fs::remove_all(dir + "/pg_wal/.strata-prefetch", ec);
        auto row = c.query(
            "SELECT coalesce(pg_last_wal_replay_lsn()::text, pg_current_wal_lsn()::text), "
            "coalesce(pg_last_xact_replay_timestamp()::text, 'none'), "
            "(SELECT timeline_id FROM pg_control_checkpoint())::text");
        std::string lsn(row.get(0, 0)), last_xact(row.get(0, 1)), tli(row.get(0, 2));
        if (r.expect.min_reached_lsn && pg::parse_lsn(lsn) < r.expect.min_reached_lsn) {
          // PostgreSQL promoted before the point asked for: the copy must not pass for the restore that was asked.
          std::string o2, e2;
          std::vector<std::string> stop = as_user;
          for (const std::string& a : {pg_ctl, std::string("-D"), dir, std::string("-m"), std::string("fast"), std::string("-w"), std::string("stop")}) stop.push_back(a);
          run_capture(stop, &o2, &e2);
          fail(ErrorCode::kTargetNotReached,
               "recovery of " + dir + " ended at LSN " + lsn + ", before " + r.expect.end_what +
                   ", and PostgreSQL promoted it anyway; the server was stopped and its data is NOT the state asked for. "
                   "Check 'strata wal check --source " + src.name + " --read-data' and the server log " + r.log_path);
        }
        r.reached_lsn = lsn;
        std::string summary = "recovery finished at LSN " + lsn + " (last replayed transaction committed at " + last_xact +
                              "), new timeline " + tli + "; server running on port " + where.port;
        if (r.hold_archiving) {
          release_archiving(dir);
          c.scalar("SELECT pg_reload_conf()::text");
        }
        if (r.archived) {
          std::string history = pg::history_file_name(static_cast<uint32_t>(std::stoul(tli)));
          // The archiver copies the new history file right after promotion; it reserves the timeline number, so a
          // restore is only reported once it is in the archive (or says that it is not).
          bool done = poll_until(
              [&] {
                try {
                  return r.archived(history);
                } catch (const StrataError&) {
                  return false;
                }
              },
              std::chrono::seconds(60));
          summary += done ? "; archiving into " + src.name + " (" + history + " archived)"
                          : "; WARNING: " + history + " is not in the archive of " + src.name +
                                " after 60 s: check archive_command in the server log " + r.log_path;
        }
        return summary;
      }
    } catch (const StrataError& e) {
      if (e.code() == ErrorCode::kTargetNotReached) throw;
      // The server shuts itself down when the recovery target cannot be reached.
      if (::access((dir + "/postmaster.pid").c_str(), F_OK) != 0) fail_recovery(r, "recovery of " + dir + " failed");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fail(ErrorCode::kSourceFailed, "recovery of " + dir + " has not finished after 24 hours; see " + r.log_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The server log's file, created here so an unwritable place fails before the data is restored.
void create_log_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    fail(ErrorCode::kUsage, "cannot create the restored server's log " + path + " beside --target-dir: " + std::strerror(err) +
                                "; restore into a directory whose parent this user can write (the log stays outside the "
                                "data directory so later base backups do not carry it)");
  }
  ::close(fd);
}

EngineRestoreResult restore_physical(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req,
                             const ProgressFn& progress) {
  if (req.target_dir.empty()) fail(ErrorCode::kUsage, "give --target-dir: the empty directory to restore the data directory into");
  const std::string run_as = !req.run_as.empty() ? req.run_as : src.get("run_as");
  if (req.start && ::geteuid() == 0 && run_as.empty()) {
    fail(ErrorCode::kUsage, "postgres refuses to run as root, so --start cannot start the restored server: set run_as = "
                            "\"postgres\" under [source." + src.name + "], run the restore as the database's OS user (e.g. "
                            "sudo -u postgres strata restore ...), or leave out --start");
  }
  int n_targets = !req.target_time.empty() + !req.target_lsn.empty() + !req.target_xid.empty();
  if (n_targets > 1) fail(ErrorCode::kUsage, "give at most one of --target-time, --target-lsn, --target-xid");
  std::string archive_mode = !req.archive_mode.empty() ? req.archive_mode : src.get("restore_archive_mode", "off");
  if (archive_mode != "on" && archive_mode != "off") {
    fail(ErrorCode::kUsage, "source '" + src.name + "': restore_archive_mode = \"" + archive_mode + "\"; use \"off\" or \"on\"");
  }
  pg::TimelineTarget target_tl = pg::parse_timeline_target(req.target_timeline);
  int64_t target_us = req.target_time.empty() ? 0 : pg::parse_target_time_us(req.target_time);
  if (!req.target_lsn.empty()) pg::parse_lsn(req.target_lsn);

  uint64_t seg_size = pg::kDefaultSegmentSize;
  {
    auto all = repo.list(src.name);
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (is_base_backup(*it)) {
        seg_size = engine_meta(*it).value("wal_segment_size", pg::kDefaultSegmentSize);
        break;
      }
    }
  }
  ArchiveView archive(repo, src, req.pipeline, seg_size);
  pg::TimelinePath path;
  Manifest m = choose_physical(repo, src, req, target_us, target_tl, archive, &path);
  json meta = engine_meta(m);
  if (target_us && target_us < backup_stop_us(meta)) {
    fail(ErrorCode::kUsage, "--target-time " + req.target_time + " is before the end of backup " + m.id + " (" +
                                format_us(backup_stop_us(meta)) + "): the data is only consistent after that; pick a later "
                                "time or an older backup");
  }
  if (!req.target_lsn.empty() && pg::parse_lsn(req.target_lsn) < pg::parse_lsn(meta.value("stop_lsn", "0/0"))) {
    fail(ErrorCode::kUsage, "--target-lsn " + req.target_lsn + " is before the end of backup " + m.id + " (" +
                                meta.value("stop_lsn", "?") + "); pick a later LSN or an older backup");
  }
  WalCheck wal = check_wal_for_restore(src, m, req, archive.inventory(), path);
  std::string dir = fs::absolute(req.target_dir).lexically_normal().string();
  if (!dir.empty() && dir.back() == '/') dir.pop_back();
  std::string log_path = pg::restore_log_path(dir);
  if (req.start) {
    // Before anything is written or removed: the log's place must be writable.
    std::error_code ec;
    fs::create_directories(fs::path(dir).parent_path(), ec);
    create_log_file(log_path);
  }
  prepare_target_dir(req.target_dir, req.force);

  pg::TarExtractSink sink(dir);
  try {
    repo.restore(m, sink, req.pipeline, progress);
  } catch (...) {
    // Half a data directory must not look like a restore.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
    throw;
  }

  std::string fetch = shell_quote(self_exe());
  if (!req.config_path.empty()) fetch += " --config " + shell_quote(fs::absolute(req.config_path).string());
  fetch += " --repo " + shell_quote(repo.location());
  if (!req.passphrase_file.empty()) fetch += " --passphrase-file " + shell_quote(fs::absolute(req.passphrase_file).string());
  fetch += " wal fetch --source " + shell_quote(src.name) + " %f %p";
  std::string conf = "\n# Added by strata restore of backup " + m.id + " (source " + src.name + ").\n";
  // Without the archive (a drill of a backup that carries its WAL): every fetch says "not archived", so recovery
  // reads pg_wal only and the copy never needs the repository.
  conf += "restore_command = " + conf_quote(req.no_archive_fetch ? std::string("exit 1") : fetch) + "\n";
  if (!req.target_time.empty()) conf += "recovery_target_time = " + conf_quote(req.target_time) + "\n";
  if (!req.target_lsn.empty()) conf += "recovery_target_lsn = " + conf_quote(req.target_lsn) + "\n";
  if (!req.target_xid.empty()) conf += "recovery_target_xid = " + conf_quote(req.target_xid) + "\n";
  if (req.target_immediate) conf += "recovery_target = 'immediate'\n";
  conf += "recovery_target_timeline = " + conf_quote(target_tl.conf_value()) + "\n";
  conf += "recovery_target_action = 'promote'\n";
  if (archive_mode == "off") {
    // A restored copy must not archive its new timeline into the source's archive: its history file would make
    // every later restore to "latest" follow this copy instead of the source. --archive-mode on is for the copy
    // that becomes the primary.
    conf += "archive_mode = 'off'\n";
  } else if (req.start) {
    conf += kHoldArchivingLine;
  }
  if (req.port) conf += "port = " + std::to_string(req.port) + "\n";
  for (const auto& line : req.server_settings) conf += line + "\n";
  {
    // A cluster whose configuration lives outside its data directory (Debian's /etc/postgresql) has no
    // postgresql.conf in the backup: the copy runs on the defaults plus the lines above.
    if (!fs::exists(dir + "/postgresql.conf")) std::ofstream(dir + "/postgresql.conf").flush();
    std::ofstream f(dir + "/postgresql.auto.conf", std::ios::app);
    f << conf;
    std::ofstream(dir + "/recovery.signal").flush();
    if (!f) fail(ErrorCode::kStorage, "cannot write recovery settings into " + dir + "/postgresql.auto.conf");
  }
  for (const char* name : {"/postgresql.auto.conf", "/recovery.signal", ""}) {
    int fd = ::open((dir + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }

  std::string target = !req.target_time.empty() ? "time " + req.target_time
                       : !req.target_lsn.empty() ? "LSN " + req.target_lsn
                       : !req.target_xid.empty() ? "xid " + req.target_xid
                       : req.target_immediate    ? "the consistent point (end of the backup)"
                                                 : "the end of the archive";
  std::string summary = "restored base backup " + m.id + " of " + src.name + " (" + meta.value("start_lsn", "?") + " .. " +
                        meta.value("stop_lsn", "?") + ") into " + dir + "; recovery target " + target + ", timeline " +
                        target_tl.conf_value() + (path.size() > 1 ? " (" + pg::describe_path(path) + ")" : "") + "; " +
                        wal.note + "; archive_mode " + archive_mode;
  if (!req.start) {
    return {summary + (archive_mode == "on" ? " (it archives into " + src.name + " from its first start, unchecked)" : "") +
                "; start it with: pg_ctl -D " + dir + " -l " + log_path + " start",
            m.id, {}, ""};
  }
  StartRequest start;
  start.dir = dir;
  start.log_path = log_path;
  start.port = req.port;
  if (::geteuid() == 0) {
    chown_tree_to(dir, run_as, "run_as of source " + src.name);
    chown_tree_to(log_path, run_as, "run_as of source " + src.name);
    start.run_as = run_as;
  }
  start.expect = wal;
  if (archive_mode == "on") {
    start.hold_archiving = true;
    start.archived = [&repo, &src](const std::string& history) {
      return repo.exists(pg::wal_id(src.name, history), pg::wal_catalog(src.name));
    };
  }
  std::string started = start_and_wait(src, m, start);
  return {summary + "\n" + started, m.id, {}, "LSN " + start.reached_lsn};
}

EngineRestoreResult restore_dump(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req,
                         const ProgressFn& progress) {
  if (req.database.empty()) fail(ErrorCode::kUsage, "give --database: the database to pg_restore the dump into");
  Manifest m = choose_backup(repo, src, req, false);
  json meta = engine_meta(m);
  SourceConfig target = src;
  if (req.port) target.values["port"] = std::to_string(req.port);
  int major = meta.value("server_version_num", 0) / 10000;
  {
    PgClient conn(conn_target(target));
    if (conn.exec("SELECT 1 FROM pg_database WHERE datname = $1", {req.database}).rows.empty()) {
      conn.exec("CREATE DATABASE " + quote_ident(req.database));
    }
  }
  std::string cmd = shell_quote(pg_tool(src, "pg_restore", major)) + conn_args(target) + " --exit-on-error --no-owner --dbname=" +
                    shell_quote(req.database);
  auto sink = open_command_sink(cmd, tool_env(target));
  repo.restore(m, *sink, req.pipeline, progress);
  return {"restored dump " + m.id + " of database " + meta.value("database", "?") + " (source " + src.name + ") into database " +
              req.database,
          m.id, {}, ""};
}

}  // namespace

std::vector<Manifest> PostgresEngine::backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                                             const ProgressFn& progress) {
  credentials(source);  // a password in the config is refused before anything connects
  std::string method = method_of(source);
  if (!req.type.empty() && req.type != "full" && req.type != method) {
    fail(ErrorCode::kUsage, "source '" + source.name + "' (method " + method + ") cannot take a '" + req.type +
                                "' backup; use --type full or leave --type out");
  }
  return method == "dump" ? backup_dump(repo, source, req, progress) : backup_physical(repo, source, req, progress);
}

EngineRestoreResult PostgresEngine::restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                                    const ProgressFn& progress) {
  credentials(source);
  return method_of(source) == "dump" ? restore_dump(repo, source, req, progress) : restore_physical(repo, source, req, progress);
}

namespace pg {

std::string wal_check_report(Repository& repo, const SourceConfig& source, const WalCheckOptions& options, bool* ok) {
  *ok = true;
  std::vector<Manifest> backups;
  for (auto& m : repo.list(source.name)) {
    if (is_base_backup(m)) backups.push_back(std::move(m));
  }
  uint64_t seg_size = backups.empty() ? kDefaultSegmentSize : engine_meta(backups.back()).value("wal_segment_size", kDefaultSegmentSize);
  ArchiveView archive(repo, source, options.pipeline, seg_size);
  const WalInventory& inv = archive.inventory();
  bool later_timelines = false;
  for (const auto& f : inv.other_files) later_timelines |= f.size() == 16 && f.compare(8, 8, ".history") == 0;
  std::string out;
  out += "WAL archive of " + source.name + ": " + std::to_string(inv.count()) + " segments";
  for (const auto& [tli, segs] : inv.segments) {
    out += "; timeline " + std::to_string(tli) + ": " + segment_name(tli, *segs.begin(), seg_size) + " .. " +
           segment_name(tli, *segs.rbegin(), seg_size);
  }
  if (!inv.other_files.empty()) out += "; " + std::to_string(inv.other_files.size()) + " other files (.history, .backup, .partial)";
  out += "\n";
  if (options.read_data) {
    // Every archived file, oldest first: a damaged segment ends recovery there, so it must be found before a restore.
    size_t read = 0, damaged = 0;
    std::string prefix = source.name + ".";
    for (const auto& id : repo.list_ids(wal_catalog(source.name))) {
      if (id.rfind(prefix, 0) != 0) continue;
      std::string name = id.substr(prefix.size());
      try {
        wal_verify(repo, source.name, name, options.pipeline);
        ++read;
      } catch (const StrataError& e) {
        *ok = false;
        ++damaged;
        out += "DAMAGED: " + name + ": " + e.what() + "\n";
      }
    }
    out += "read and verified " + std::to_string(read) + " archived file(s)" +
           (damaged ? ", " + std::to_string(damaged) + " DAMAGED: recovery stops at the first one" : "") + "\n";
  }
  for (const auto& g : inv.gaps()) {
    *ok = false;
    out += "MISSING: " + segment_name(g.timeline, g.first, seg_size) +
           (g.last > g.first ? " .. " + segment_name(g.timeline, g.last, seg_size) : "") + " (" +
           std::to_string(g.last - g.first + 1) + " segment" + (g.last > g.first ? "s" : "") + " on timeline " +
           std::to_string(g.timeline) + "): point-in-time restore cannot pass this gap\n";
  }
  for (const auto& m : backups) {
    json meta = engine_meta(m);
    uint32_t tli = meta.value("stop_timeline", 1u);
    auto start = parse_segment_name(meta.value("wal_start", ""), seg_size);
    auto stop = parse_segment_name(meta.value("wal_stop", ""), seg_size);
    if (!start || !stop) continue;
    std::string missing;
    if (!meta.value("wal_included", false)) {
      for (uint64_t s = start->segno; s <= stop->segno && missing.empty(); ++s) {
        if (!inv.has(tli, s)) missing = segment_name(tli, s, seg_size);
      }
    }
    if (!missing.empty()) {
      *ok = false;
      out += "backup " + m.id + ": NOT RESTORABLE: needs " + meta.value("wal_start", "") + " .. " + meta.value("wal_stop", "") +
             ", and " + missing + " is missing from the archive\n";
      continue;
    }
    uint64_t reach = inv.contiguous_end(tli, stop->segno + 1);
    out += "backup " + m.id + ": restorable (" + meta.value("start_lsn", "") + " .. " + meta.value("stop_lsn", "") + ", WAL " +
           (meta.value("wal_included", false) ? "included" : "archived") + "); point-in-time up to the end of " +
           segment_name(tli, reach, seg_size) + "\n";
    if (!later_timelines || !repo.unlocked()) continue;
    // With the key, follow the timeline a restore to "latest" would follow (history files are encrypted).
    try {
      TimelinePath path = archive.path_for(meta.value("timeline", 1u), TimelineTarget{});
      if (path.size() < 2) continue;
      if (!::strata::backup_on_path(meta, path)) {
        out += "  the latest timeline " + std::to_string(path.back().tli) + " (" + describe_path(path) + ") does not contain "
               "this backup: restore it with --target-timeline current\n";
        continue;
      }
      WalPlan plan = plan_wal(inv, path, stop->segno + 1);
      auto name = [&](uint64_t segno) { return segment_name(timeline_for_segment(path, segno, seg_size), segno, seg_size); };
      if (plan.missing) {
        *ok = false;
        out += "  MISSING on the timeline path " + describe_path(path) + ": " + name(*plan.missing) +
               " (later WAL exists up to " + name(*plan.last) + "): a restore to the latest point is refused\n";
      } else {
        out += "  along the timeline path " + describe_path(path) + ": point-in-time up to the end of " + name(plan.reach) + "\n";
      }
    } catch (const StrataError& e) {
      *ok = false;
      out += "  timeline history unreadable: " + std::string(e.what()) + "\n";
    }
  }
  if (backups.empty()) out += "no base backups of " + source.name + " yet\n";
  if (later_timelines && !repo.unlocked()) {
    out += "later timelines have history files: run with --read-data (needs the passphrase) to check restores along them\n";
  }
  if (auto spool = source.get("spool_dir"); !spool.empty()) {
    auto pending = spool_pending(spool);
    auto errors = spool_errors(spool);
    out += "spool " + spool + ": " + std::to_string(pending.size()) + " file(s) waiting\n";
    for (const auto& e : errors) {
      *ok = false;
      out += "SPOOL ERROR: " + e + "\n";
    }
  }
  return out;
}

}  // namespace pg
}  // namespace strata
