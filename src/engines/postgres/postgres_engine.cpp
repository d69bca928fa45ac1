#include "engines/postgres/postgres_engine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
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
#include "common/pg_client.hpp"
#include "common/process.hpp"
#include "engines/tool_util.hpp"
#include "engines/postgres/tar_extract.hpp"
#include "engines/postgres/tar_observer.hpp"
#include "engines/postgres/wal.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

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

PgTarget conn_target(const SourceConfig& src) {
  PgTarget t;
  t.host = src.get("host");
  t.port = src.get("port");
  t.user = src.get("user");
  t.dbname = src.get("dbname", "postgres");
  t.hint = "check host/port/user in the source config and the password (PGPASSWORD, .pgpass or password_file)";
  return t;
}

// -h/-p/-U for the client tools; -w so a missing password fails instead of prompting.
std::string conn_args(const SourceConfig& src) {
  std::string a;
  if (!src.get("host").empty()) a += " -h " + sh_quote(src.get("host"));
  if (!src.get("port").empty()) a += " -p " + sh_quote(src.get("port"));
  if (!src.get("user").empty()) a += " -U " + sh_quote(src.get("user"));
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
    log::warn("pg_archiving_off", {{"source", src.name},
                                   {"hint", "point-in-time restore needs archive_command = 'strata wal push %p'"}});
  }

  std::string cmd = sh_quote(pg_tool(src, "pg_basebackup", version_num / 10000)) + conn_args(src) +
                    " -D - -Ft -X " + wal_method + " --checkpoint=" + (src.get("checkpoint", "fast") == "spread" ? "spread" : "fast") +
                    " -l " + sh_quote("strata base backup");
  if (src.get("max_rate") != "") cmd += " --max-rate=" + sh_quote(src.get("max_rate"));
  auto tool = open_command_source(cmd);
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
    int64_t stop_epoch = now_epoch();
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
              {"files", tar.member_count()},
              {"backup_label", label}};
    log::info("pg_backup_done", {{"source", src.name}, {"start_lsn", start_lsn}, {"stop_lsn", stop_lsn}});
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
  for (const auto& db : dump_databases(src, conn)) {
    std::string cmd = sh_quote(pg_tool(src, "pg_dump", version_num / 10000)) + conn_args(src) + " -Fc --dbname=" + sh_quote(db);
    auto tool = open_command_source(cmd);
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

Manifest choose_backup(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req, bool physical,
                       int64_t target_epoch) {
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
  if (physical && target_epoch) {
    for (auto it = usable.rbegin(); it != usable.rend(); ++it) {
      if (engine_meta(*it).value("stop_epoch", int64_t{0}) <= target_epoch) return repo.load(it->id, true);
    }
    fail(ErrorCode::kUsage, "--target-time " + sql_utc(target_epoch) + "+00" + " is before the end of every base backup of " +
                                src.name + " (the oldest ends at " + engine_meta(usable.front()).value("stop_time", "?") +
                                "); pick a later time");
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

// Checks the archive covers what the restore will replay. Returns a note for the summary.
std::string check_wal_for_restore(Repository& repo, const SourceConfig& src, const Manifest& m,
                                  const EngineRestoreRequest& req) {
  json meta = engine_meta(m);
  uint64_t seg_size = meta.value("wal_segment_size", pg::kDefaultSegmentSize);
  uint32_t tli = meta.value("stop_timeline", 1u);
  auto start = pg::parse_segment_name(meta.value("wal_start", ""), seg_size);
  auto stop = pg::parse_segment_name(meta.value("wal_stop", ""), seg_size);
  if (!start || !stop) fail(ErrorCode::kCorrupt, "backup " + m.id + " has no WAL range in its manifest; it was not made by the postgres engine");
  auto inv = pg::wal_inventory(repo, src.name, seg_size);
  bool included = meta.value("wal_included", false);
  if (!included) {
    for (uint64_t s = start->segno; s <= stop->segno; ++s) {
      if (!inv.has(tli, s)) {
        fail(ErrorCode::kNotFound, "backup " + m.id + " is not restorable: WAL segment " + pg::segment_name(tli, s, seg_size) +
                                       " it needs for consistency is missing from the archive of " + src.name +
                                       "; run 'strata wal check --source " + src.name + "'");
      }
    }
  }
  uint64_t reach = inv.contiguous_end(tli, stop->segno + 1);
  uint64_t newest = reach;
  if (auto it = inv.segments.find(tli); it != inv.segments.end() && !it->second.empty()) newest = std::max(newest, *it->second.rbegin());
  bool has_target = !req.target_time.empty() || !req.target_xid.empty() || !req.target_lsn.empty();
  if (!req.target_lsn.empty()) {
    uint64_t need = pg::parse_lsn(req.target_lsn) / seg_size;
    if (need > reach) {
      fail(ErrorCode::kNotFound, "WAL segment " + pg::segment_name(tli, reach + 1, seg_size) + " is missing from the archive of " +
                                     src.name + ": recovery cannot reach --target-lsn " + req.target_lsn +
                                     "; run 'strata wal check --source " + src.name + "'");
    }
  } else if (!has_target && newest > reach) {
    fail(ErrorCode::kNotFound, "WAL segment " + pg::segment_name(tli, reach + 1, seg_size) + " is missing from the archive of " +
                                   src.name + " although later WAL exists (up to " + pg::segment_name(tli, newest, seg_size) +
                                   "): a restore to the latest point would silently stop at the gap. Run 'strata wal check --source " +
                                   src.name + "', or restore with --target-lsn before " + pg::format_lsn((reach + 1) * seg_size));
  }
  return "WAL archived up to " + pg::segment_name(tli, reach, seg_size);
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

std::string log_tail(const std::string& path, size_t lines_wanted) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  // The most useful line is the last FATAL/PANIC one; otherwise the last few lines.
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->find("FATAL:") != std::string::npos || it->find("PANIC:") != std::string::npos) return trim(*it);
  }
  std::string out;
  for (size_t i = lines.size() > lines_wanted ? lines.size() - lines_wanted : 0; i < lines.size(); ++i) {
    out += (out.empty() ? "" : " | ") + trim(lines[i]);
  }
  return out;
}

std::string start_and_wait(const SourceConfig& src, const Manifest& m, const std::string& dir, int port) {
  json meta = engine_meta(m);
  int major = meta.value("server_version_num", 0) / 10000;
  std::string log_path = dir + "/strata-restore.log";
  std::vector<std::string> argv = {pg_tool(src, "pg_ctl", major), "-D", dir, "-l", log_path, "-w", "-t", "86400", "start"};
  if (port) {
    argv.push_back("-o");
    argv.push_back("-p " + std::to_string(port));
  }
  std::string out, err;
  // The server must not inherit the source's password: its archive/restore commands and extensions would see it.
  std::string saved_pw = std::getenv("PGPASSWORD") ? std::getenv("PGPASSWORD") : "";
  ::unsetenv("PGPASSWORD");
  int rc = run_capture(argv, &out, &err);
  if (!saved_pw.empty()) ::setenv("PGPASSWORD", saved_pw.c_str(), 1);
  if (rc != 0) {
    fail(ErrorCode::kSourceFailed, "the restored server in " + dir + " did not start: " + log_tail(log_path, 3) +
                                       " (full log: " + log_path + ")");
  }
  ServerInfo where = read_postmaster_pid(dir, port);
  PgTarget cp = conn_target(src);
  cp.host = where.host;
  cp.port = where.port;
  // pg_ctl -w returns once the server accepts connections, which during archive recovery is already the consistent
  // point; promotion comes later, so follow pg_is_in_recovery() until it turns false.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(24);
  for (;;) {
    std::string in_recovery;
    try {
      PgClient c(cp);
      in_recovery = c.scalar("SELECT pg_is_in_recovery()");
      if (in_recovery == "f") {
        // Segments `wal fetch` fetched ahead past the recovery target are of no further use.
        std::error_code ec;
        fs::remove_all(dir + "/pg_wal/.strata-prefetch", ec);
        auto row = c.query(
            "SELECT coalesce(pg_last_wal_replay_lsn()::text, pg_current_wal_lsn()::text), "
            "coalesce(pg_last_xact_replay_timestamp()::text, 'none'), "
            "(SELECT timeline_id FROM pg_control_checkpoint())::text");
        return "recovery finished at LSN " + std::string(row.get(0, 0)) + " (last replayed transaction committed at " +
               std::string(row.get(0, 1)) + "), new timeline " + std::string(row.get(0, 2)) + "; server running on port " +
               where.port;
      }
    } catch (const StrataError&) {
      // The server shuts itself down when the recovery target cannot be reached.
      if (::access((dir + "/postmaster.pid").c_str(), F_OK) != 0) {
        fail(ErrorCode::kSourceFailed, "recovery of " + dir + " failed: " + log_tail(log_path, 3) + " (full log: " + log_path + ")");
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fail(ErrorCode::kSourceFailed, "recovery of " + dir + " has not finished after 24 hours; see " + log_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string restore_physical(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req,
                             const ProgressFn& progress) {
  if (req.target_dir.empty()) fail(ErrorCode::kUsage, "give --target-dir: the empty directory to restore the data directory into");
  if (req.start && ::geteuid() == 0) {
    fail(ErrorCode::kUsage, "postgres refuses to run as root, so --start cannot start the restored server: run the restore "
                            "as the database's OS user (e.g. sudo -u postgres strata restore ...), or leave out --start");
  }
  int n_targets = !req.target_time.empty() + !req.target_lsn.empty() + !req.target_xid.empty();
  if (n_targets > 1) fail(ErrorCode::kUsage, "give at most one of --target-time, --target-lsn, --target-xid");
  int64_t target_epoch = req.target_time.empty() ? 0 : parse_target_time(req.target_time, true);
  Manifest m = choose_backup(repo, src, req, true, target_epoch);
  json meta = engine_meta(m);
  if (target_epoch && target_epoch < meta.value("stop_epoch", int64_t{0})) {
    fail(ErrorCode::kUsage, "--target-time " + req.target_time + " is before the end of backup " + m.id + " (" +
                                meta.value("stop_time", "?") + "): the data is only consistent after that; pick a later "
                                "time or an older backup");
  }
  if (!req.target_lsn.empty() && pg::parse_lsn(req.target_lsn) < pg::parse_lsn(meta.value("stop_lsn", "0/0"))) {
    fail(ErrorCode::kUsage, "--target-lsn " + req.target_lsn + " is before the end of backup " + m.id + " (" +
                                meta.value("stop_lsn", "?") + "); pick a later LSN or an older backup");
  }
  std::string wal_note = check_wal_for_restore(repo, src, m, req);
  prepare_target_dir(req.target_dir, req.force);
  std::string dir = fs::absolute(req.target_dir).lexically_normal().string();
  if (!dir.empty() && dir.back() == '/') dir.pop_back();

  pg::TarExtractSink sink(dir);
  try {
    repo.restore(m, sink, req.pipeline, progress);
  } catch (...) {
    // Half a data directory must not look like a restore.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
    throw;
  }

  std::string fetch = sh_quote(self_exe());
  if (!req.config_path.empty()) fetch += " --config " + sh_quote(fs::absolute(req.config_path).string());
  fetch += " --repo " + sh_quote(repo.location());
  if (!req.passphrase_file.empty()) fetch += " --passphrase-file " + sh_quote(fs::absolute(req.passphrase_file).string());
  fetch += " wal fetch --source " + sh_quote(src.name) + " %f %p";
  std::string conf = "\n# Added by strata restore of backup " + m.id + " (source " + src.name + ").\n";
  conf += "restore_command = " + conf_quote(fetch) + "\n";
  if (!req.target_time.empty()) conf += "recovery_target_time = " + conf_quote(req.target_time) + "\n";
  if (!req.target_lsn.empty()) conf += "recovery_target_lsn = " + conf_quote(req.target_lsn) + "\n";
  if (!req.target_xid.empty()) conf += "recovery_target_xid = " + conf_quote(req.target_xid) + "\n";
  conf += "recovery_target_action = 'promote'\n";
  if (src.get("restore_archive_mode", "off") == "off") {
    // A restored copy must not archive its new timeline into the source's archive, where it would shadow the
    // original's WAL for later restores. Turn it back on deliberately once this copy becomes the primary.
    conf += "archive_mode = 'off'\n";
  }
  if (req.port) conf += "port = " + std::to_string(req.port) + "\n";
  {
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
                                                 : "the end of the archive";
  std::string summary = "restored base backup " + m.id + " of " + src.name + " (" + meta.value("start_lsn", "?") + " .. " +
                        meta.value("stop_lsn", "?") + ") into " + dir + "; recovery target " + target + "; " + wal_note;
  if (!req.start) return summary + "; start it with: pg_ctl -D " + dir + " start";
  return summary + "\n" + start_and_wait(src, m, dir, req.port);
}

std::string restore_dump(Repository& repo, const SourceConfig& src, const EngineRestoreRequest& req,
                         const ProgressFn& progress) {
  if (req.database.empty()) fail(ErrorCode::kUsage, "give --database: the database to pg_restore the dump into");
  Manifest m = choose_backup(repo, src, req, false, 0);
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
  std::string cmd = sh_quote(pg_tool(src, "pg_restore", major)) + conn_args(target) + " --exit-on-error --no-owner --dbname=" +
                    sh_quote(req.database);
  auto sink = open_command_sink(cmd);
  repo.restore(m, *sink, req.pipeline, progress);
  return "restored dump " + m.id + " of database " + meta.value("database", "?") + " (source " + src.name + ") into database " +
         req.database;
}

}  // namespace

std::vector<Manifest> PostgresEngine::backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                                             const ProgressFn& progress) {
  pg::apply_password_env(source);
  std::string method = method_of(source);
  if (!req.type.empty() && req.type != "full" && req.type != method) {
    fail(ErrorCode::kUsage, "source '" + source.name + "' (method " + method + ") cannot take a '" + req.type +
                                "' backup; use --type full or leave --type out");
  }
  return method == "dump" ? backup_dump(repo, source, req, progress) : backup_physical(repo, source, req, progress);
}

std::string PostgresEngine::restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                                    const ProgressFn& progress) {
  pg::apply_password_env(source);
  return method_of(source) == "dump" ? restore_dump(repo, source, req, progress) : restore_physical(repo, source, req, progress);
}

namespace pg {

void apply_password_env(const SourceConfig& source) {
  if (auto f = source.get("password_file"); !f.empty()) {
    std::string pw = read_text(f);
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
    ::setenv("PGPASSWORD", pw.c_str(), 1);
  }
  if (auto f = source.get("passfile"); !f.empty()) ::setenv("PGPASSFILE", f.c_str(), 1);
  if (!source.get("password").empty()) {
    fail(ErrorCode::kUsage, "source '" + source.name + "' has a password in the config; use password_file, a .pgpass "
                            "file (passfile) or PGPASSWORD instead");
  }
}

std::string wal_check_report(Repository& repo, const SourceConfig& source, bool* ok) {
  *ok = true;
  std::vector<Manifest> backups;
  for (auto& m : repo.list(source.name)) {
    if (is_base_backup(m)) backups.push_back(std::move(m));
  }
  uint64_t seg_size = backups.empty() ? kDefaultSegmentSize : engine_meta(backups.back()).value("wal_segment_size", kDefaultSegmentSize);
  auto inv = wal_inventory(repo, source.name, seg_size);
  std::string out;
  out += "WAL archive of " + source.name + ": " + std::to_string(inv.count()) + " segments";
  for (const auto& [tli, segs] : inv.segments) {
    out += "; timeline " + std::to_string(tli) + ": " + segment_name(tli, *segs.begin(), seg_size) + " .. " +
           segment_name(tli, *segs.rbegin(), seg_size);
  }
  if (!inv.other_files.empty()) out += "; " + std::to_string(inv.other_files.size()) + " other files (.history, .backup, .partial)";
  out += "\n";
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
  }
  if (backups.empty()) out += "no base backups of " + source.name + " yet\n";
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
