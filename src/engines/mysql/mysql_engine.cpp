#include "engines/mysql/mysql_engine.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <tuple>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "engines/mysql/binlog_archive.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/tool_util.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct BackupTool {
  std::string path;
  std::string kind;     // "mariadb-backup" or "xtrabackup"
  std::string version;  // "10.11.19"
  std::string extractor;
};

BackupTool detect_backup_tool(const SourceConfig& source, const std::string& kind_hint) {
  std::vector<std::string> names{source.get("backup_tool")};
  if (kind_hint != "xtrabackup") names.insert(names.end(), {"mariadb-backup", "mariabackup"});
  names.push_back("xtrabackup");
  BackupTool t;
  t.path = find_tool(names);
  if (t.path.empty()) {
    fail(ErrorCode::kNotFound, "no mariadb-backup, mariabackup or xtrabackup in PATH for source " + source.name +
                                   ": install mariadb-backup (or percona-xtrabackup) matching the server's version");
  }
  std::string out, err;
  run_capture({t.path, "--version"}, &out, &err);
  std::string text = out + err;
  bool maria = text.find("MariaDB") != std::string::npos || t.path.find("mariabackup") != std::string::npos ||
               t.path.find("mariadb-backup") != std::string::npos;
  t.kind = maria ? "mariadb-backup" : "xtrabackup";
  std::smatch m;
  static const std::regex ver(R"((\d+\.\d+\.\d+))");
  if (std::regex_search(text, m, ver)) t.version = m[1];
  t.extractor = maria ? find_tool({"mbstream", "xbstream"}) : find_tool({"xbstream"});
  if (t.extractor.empty()) {
    fail(ErrorCode::kNotFound, std::string("no ") + (maria ? "mbstream" : "xbstream") +
                                   " in PATH: install the package that ships " + t.kind);
  }
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

// --- servers on restored data -------------------------------------------------------------------------------

struct RunningServer {
  int pid = 0;
  std::string socket;
};

// kill(pid, 0) also succeeds for a zombie that nobody reaped yet (a detached server's parent is init, which may be
// slow to reap in containers): a zombie has stopped.
bool process_alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

int read_pid(const std::string& path) {
  std::ifstream f(path);
  int pid = 0;
  if (f >> pid) return pid;
  return 0;
}

std::string last_error_line(const std::string& log) {
  std::ifstream f(log);
  std::string line, last, last_err;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("[ERROR]") != std::string::npos) last_err = line;
  }
  return last_err.empty() ? last : last_err;
}

RunningServer start_server(const SourceConfig& source, const std::string& datadir, const std::string& socket,
                           int port, const std::string& run_as) {
  std::string server = find_tool({source.get("server"), "mariadbd", "mysqld"});
  if (server.empty()) fail(ErrorCode::kNotFound, "no mariadbd or mysqld found to start: install mariadb-server");
  std::string admin = find_tool({"mariadb-admin", "mysqladmin"});
  std::string pid_file = datadir + "/strata-mariadbd.pid";
  std::string err_log = datadir + "/strata-mariadbd.err";
  std::error_code ec;
  fs::remove(pid_file, ec);
  std::string cmd = shell_quote(server) + " --no-defaults --datadir=" + shell_quote(datadir) + " --user=" +
                    shell_quote(run_as) + " --socket=" + shell_quote(socket) + " --pid-file=" + shell_quote(pid_file) +
                    " --log-error=" + shell_quote(err_log);
  if (port > 0) cmd += " --port=" + std::to_string(port) + " --bind-address=127.0.0.1";
  else cmd += " --skip-networking";
  if (auto extra = source.get("server_options"); !extra.empty()) cmd += " " + extra;
  launch_detached(cmd, err_log);
  int timeout = std::atoi(source.get("start_timeout", "300").c_str());
  bool died = false;
  RunningServer rs;
  rs.socket = socket;
  bool up = poll_until(
      [&] {
        rs.pid = read_pid(pid_file);
        if (rs.pid > 0 && !process_alive(rs.pid)) {
          died = true;
          return true;
        }
        // ping exits 0 as soon as the server answers, even with "access denied": no credentials needed.
        std::string out, err;
        return rs.pid > 0 && run_capture({admin, "--no-defaults", "--socket=" + socket, "--connect-timeout=2", "ping"},
                                         &out, &err) == 0;
      },
      std::chrono::seconds(timeout));
  if (died || !up) {
    if (rs.pid > 0 && !died) ::kill(rs.pid, SIGTERM);
    fail(ErrorCode::kSourceFailed, "the server on restored datadir " + datadir + (died ? " exited" : " did not answer within " + std::to_string(timeout) + "s") +
                                       ": " + last_error_line(err_log) + "; see " + err_log);
  }
  return rs;
}

void stop_server(const RunningServer& s) {
  if (s.pid <= 0) return;
  ::kill(s.pid, SIGTERM);
  if (!poll_until([&] { return !process_alive(s.pid); }, std::chrono::minutes(5))) {
    fail(ErrorCode::kGeneric, "the temporary server (pid " + std::to_string(s.pid) + ") did not stop; stop it by hand");
  }
}

class ServerGuard {
 public:
  explicit ServerGuard(RunningServer s) : s_(std::move(s)) {}
  ~ServerGuard() {
    if (!stopped_) {
      try {
        stop_server(s_);
      } catch (...) {
      }
    }
  }
  void stop() {
    stopped_ = true;
    stop_server(s_);
  }

 private:
  RunningServer s_;
  bool stopped_ = false;
};

void fix_ownership(const std::string& dir, const std::string& user, const std::string& source) {
  // Not root: everything we created is ours and the server will run as us.
  if (::geteuid() != 0) return;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) {
    fail(ErrorCode::kUsage, "OS user '" + user + "' (run_as of source " + source + ") does not exist: create it or set run_as");
  }
  if (::lchown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) fail_errno("cannot chown " + dir, errno);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (::lchown(e.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) fail_errno("cannot chown " + e.path().string(), errno);
  }
}

// --- binlog replay ------------------------------------------------------------------------------------------

struct Reached {
  std::string file;
  uint64_t end_pos = 0;
  std::string gtid;
  std::string time;
  bool any = false;
};

// Finds the last data event in mariadb-binlog's text output. Each input file begins with a format description
// event ("Start: binlog"), which tells which file an event came from.
Reached parse_replay(const std::string& sql_path, const std::vector<ArchivedBinlog>& files) {
  static const std::regex ev(R"(^#(\d{2})(\d{2})(\d{2})\s+(\d{1,2}):(\d{2}):(\d{2}) server id \d+\s+end_log_pos (\d+)(.*)$)");
  static const std::regex gtid_re(R"(GTID (\d+-\d+-\d+))");
  Reached r;
  std::ifstream f(sql_path);
  std::string line, gtid;
  int file_no = 0;
  while (std::getline(f, line)) {
    if (line.size() < 8 || line[0] != '#' || line[1] < '0' || line[1] > '9') continue;
    std::smatch m;
    if (!std::regex_match(line, m, ev)) continue;
    std::string rest = m[8];
    if (rest.find("Start: binlog") != std::string::npos) {
      ++file_no;
      continue;
    }
    std::smatch g;
    if (std::regex_search(rest, g, gtid_re)) gtid = g[1];
    // Transaction ends: InnoDB commits (Xid) and standalone statements (DDL, COMMIT of non-transactional).
    if (rest.find("Xid = ") != std::string::npos || rest.find("Query") != std::string::npos) {
      r.any = true;
      r.end_pos = to_u64(m[7]);
      r.gtid = gtid;
      r.file = file_no >= 1 && file_no <= static_cast<int>(files.size()) ? files[file_no - 1].name : "?";
      char buf[32];
      std::snprintf(buf, sizeof buf, "20%s-%s-%s %02d:%s:%s", m[1].str().c_str(), m[2].str().c_str(),
                    m[3].str().c_str(), std::stoi(m[4]), m[5].str().c_str(), m[6].str().c_str());
      r.time = buf;
    }
  }
  return r;
}

std::string replay_binlogs(Repository& repo, const SourceConfig& source, const Manifest& tip,
                           const std::string& target, const std::string& work, int64_t target_epoch,
                           const EngineRestoreRequest& req, const std::string& run_as) {
  json j = engine_meta(tip);
  std::string file = j.value("binlog_file", "");
  uint64_t pos = j.value("binlog_pos", uint64_t{0});
  if (file.empty()) {
    fail(ErrorCode::kNotFound, "backup " + tip.id + " recorded no binlog position (binary logging was off): "
                               "point-in-time recovery from it is impossible; restore without --target-time");
  }
  uint64_t first = binlog_index(file);
  std::vector<ArchivedBinlog> need;
  uint64_t expect = first;
  for (const auto& a : list_archived_binlogs(repo, source.name)) {
    if (a.index < first) continue;
    // Every event of a file opened after the target time is after it too.
    if (a.created_epoch > target_epoch) break;
    if (a.index != expect) {
      std::string digits = std::to_string(expect);
      size_t width = file.size() - file.rfind('.') - 1;
      if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
      std::string missing = file.substr(0, file.rfind('.') + 1) + digits;
      fail(ErrorCode::kNotFound, "binlog " + missing + " of source " + source.name +
                                     " is missing from the archive (next archived: " + a.name +
                                     "): point-in-time recovery cannot pass it; choose an earlier --target-time or "
                                     "restore without it. Nothing was written to " + target);
    }
    need.push_back(a);
    ++expect;
  }
  if (need.empty()) {
    return "no archived binlogs from " + file + ":" + std::to_string(pos) +
           " on: data is as of the backup (run 'strata binlog archive --source " + source.name + "')";
  }
  std::string bdir = work + "/binlogs";
  fs::create_directories(bdir);
  std::string files;
  for (const auto& a : need) {
    Manifest bm = repo.load(a.name, true, binlog_catalog(source.name));
    auto sink = open_file_sink(bdir + "/" + a.name, false);
    repo.restore(bm, *sink, req.pipeline, {});
    files += " " + shell_quote(bdir + "/" + a.name);
  }
  std::string tool = find_tool({"mariadb-binlog", "mysqlbinlog"});
  if (tool.empty()) fail(ErrorCode::kNotFound, "no mariadb-binlog or mysqlbinlog in PATH: install mariadb-client");
  std::string sql = work + "/replay.sql";
  // mariadb-binlog reads --stop-datetime in the local zone; pin it to UTC to match what we format.
  run_checked("TZ=UTC " + shell_quote(tool) + " --no-defaults --start-position=" + std::to_string(pos) +
                  " --stop-datetime=" + shell_quote(sql_utc(target_epoch)) + files + " > " + shell_quote(sql),
              "decoding the archived binlogs of source " + source.name, "check that the archive is intact ('strata check')");
  Reached reached = parse_replay(sql, need);

  // A private socket and no TCP: nothing else can reach the server while it is half-way.
  PrivateDir sock_dir("strata-mysql-replay");
  std::string socket = sock_dir.path() + "/mysqld.sock";
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam(run_as.c_str());
    if (pw && ::chown(sock_dir.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) fail_errno("cannot chown " + sock_dir.path(), errno);
  }
  ServerGuard guard(start_server(source, target, socket, 0, run_as));
  MysqlConn conn(source, MysqlEndpoint{socket, "", 0});
  run_checked(shell_quote(conn.client()) + " " + conn.defaults_arg() + " --binary-mode < " + shell_quote(sql),
              "replaying binlogs into the restored server",
              "the source's user must connect over the local socket with privilege to replay binlogs");
  guard.stop();
  std::string upto = "up to " + sql_utc(target_epoch) + " UTC";
  if (!reached.any) return "replayed binlogs " + upto + ": no transaction after the backup's position " + file + ":" + std::to_string(pos);
  return "replayed binlogs " + upto + ": reached " + reached.file + ":" + std::to_string(reached.end_pos) +
         (reached.gtid.empty() ? "" : " (GTID " + reached.gtid + ")") + ", last transaction at " + reached.time + " UTC";
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

std::string restore_physical(Repository& repo, const SourceConfig& source, const Manifest& chosen,
                             const EngineRestoreRequest& req) {
  if (req.target_dir.empty()) {
    fail(ErrorCode::kUsage, "restoring physical backup " + chosen.id + " needs --target-dir DIR (a new or empty datadir)");
  }
  std::string target = fs::absolute(req.target_dir).lexically_normal().string();
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (!dir_is_empty_or_missing(target) && !req.force) {
    fail(ErrorCode::kAlreadyExists, "--target-dir " + target + " is not empty: give a new or empty directory, or --force to replace it");
  }
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
      auto st = repo.storage().stat(obj.key);
      if (!st || st->size != obj.size) {
        fail(ErrorCode::kCorrupt, "backup chain of " + chosen.id + " is broken: " + m.type + " backup " + m.id +
                                      " lacks data object " + obj.key + " (" + (st ? "wrong size" : "missing") + ")" +
                                      nothing + "; run 'strata check'" + next);
      }
    }
  }

  BackupTool tool = detect_backup_tool(source, engine_meta(chosen).value("tool", ""));
  std::string run_as = source.get("run_as", "mysql");
  fs::path parent = fs::path(target).parent_path();
  fs::create_directories(parent);
  // Next to the target: the final move is a rename on the same filesystem, not a second copy.
  PrivateDir work(".strata-restore", parent.string());
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
  // xtrabackup must not roll back uncommitted work until the last incremental is applied; mariadb-backup handles
  // this itself.
  bool log_only = tool.kind == "xtrabackup";
  run_checked(base + (log_only && dirs.size() > 1 ? " --apply-log-only" : ""), "preparing full backup " + chain[0].id,
              "the backup tool must match the version that took the backup");
  for (size_t i = 1; i < dirs.size(); ++i) {
    run_checked(base + " --incremental-dir=" + shell_quote(dirs[i]) + (log_only && i + 1 < dirs.size() ? " --apply-log-only" : ""),
                "applying incremental " + chain[i].id, "the backup tool must match the version that took the backup");
  }
  if (!dir_is_empty_or_missing(target)) {
    for (const auto& e : fs::directory_iterator(target)) fs::remove_all(e.path());
  }
  fs::create_directories(target);
  run_checked(shell_quote(tool.path) + " --no-defaults --move-back --target-dir=" + shell_quote(dirs[0]) +
                  " --datadir=" + shell_quote(target),
              "moving the prepared backup into " + target, "check free space and permissions of " + target);
  fix_ownership(target, run_as, source.name);

  std::string ids;
  for (const auto& m : chain) ids += (ids.empty() ? "" : " + ") + m.id;
  std::string summary = "restored " + chosen.type + " backup " + chosen.id + " of " + source.name + " (chain " + ids +
                        ") into " + target;
  if (!req.target_time.empty()) {
    summary += "; " + replay_binlogs(repo, source, chosen, target, work.path(), parse_target_time(req.target_time), req, run_as);
  } else if (auto j = engine_meta(chosen); j.contains("binlog_file")) {
    summary += "; binlog position " + j.value("binlog_file", "") + ":" + std::to_string(j.value("binlog_pos", uint64_t{0})) +
               (j.value("gtid", "").empty() ? "" : " (GTID " + j.value("gtid", "") + ")");
  }
  if (req.start) {
    if (req.port <= 0) fail(ErrorCode::kUsage, "--start needs --port P (the server listens on 127.0.0.1:P)");
    summary += "; " + check_started(source, target, req.port, run_as);
  }
  return summary;
}

std::string restore_logical(Repository& repo, const SourceConfig& source, const Manifest& chosen,
                            const EngineRestoreRequest& req) {
  Manifest m = repo.load(chosen.id, true);
  std::vector<std::string> dbs = engine_meta(m).value("databases", std::vector<std::string>{});
  std::unique_ptr<MysqlConn> conn;
  if (req.port > 0) conn = std::make_unique<MysqlConn>(source, MysqlEndpoint{"", "127.0.0.1", req.port});
  else conn = std::make_unique<MysqlConn>(source);
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
  return "restored dump " + m.id + " of " + source.name + " into " + into;
}

}  // namespace

std::vector<Manifest> MysqlEngine::backup(Repository& repo, const SourceConfig& source, const EngineBackupRequest& req,
                                          const ProgressFn& progress) {
  std::string type = req.type.empty() ? source.get("default_type", "full") : req.type;
  if (type == "dump" || type == "logical") return {backup_logical(repo, source, req, progress)};
  if (type != "full" && type != "incremental") {
    fail(ErrorCode::kUsage, "unknown --type '" + type + "' for mysql source " + source.name + ": use full, incremental or dump");
  }
  MysqlConn conn(source);
  std::string server_version = conn.query_value("SELECT VERSION()");
  BackupTool tool = detect_backup_tool(source, "");
  bool maria_server = server_version.find("MariaDB") != std::string::npos;
  if (tool.kind == "mariadb-backup" && !maria_server) {
    fail(ErrorCode::kUsage, "source " + source.name + " runs MySQL " + server_version +
                                ": mariadb-backup cannot back it up; install percona-xtrabackup and set backup_tool");
  }
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
  o.engine_json_after = [&] { return physical_meta(lsndir, tool, server_version).dump(); };
  Manifest m = repo.backup(*src, o, progress);
  log::info("mysql_backup_done", {{"backup", m.id}, {"type", m.type}, {"parent", m.parent}});
  return {m};
}

std::string MysqlEngine::restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
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
