#include "engines/mysql/binlog_replay.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engines/mysql/binlog_file.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/mysql/mysql_server.hpp"
#include "engines/tool_util.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {

namespace fs = std::filesystem;

namespace {

std::string utc(int64_t epoch) { return sql_utc(epoch) + " UTC"; }

// Finds the last data event in mariadb-binlog's text output. Each input file begins with a format description
// event ("Start: binlog"), which tells which file an event came from.
ReplayPoint parse_replay(const std::string& sql_path, const std::vector<ArchivedBinlog>& files) {
  static const std::regex ev(R"(^#(\d{2})(\d{2})(\d{2})\s+(\d{1,2}):(\d{2}):(\d{2}) server id \d+\s+end_log_pos (\d+)(.*)$)");
  static const std::regex gtid_re(R"(GTID (\d+-\d+-\d+))");
  ReplayPoint r;
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
      r.end_pos = std::strtoull(m[7].str().c_str(), nullptr, 10);
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

// What replaying arbitrary binlogs can execute: every DML and DDL statement, plus BINLOG (row events) and the
// session variables mariadb-binlog sets (server_id, gtid_domain_id, gtid_seq_no, pseudo_thread_id), which need
// BINLOG REPLAY (or SUPER).
const std::vector<std::string> kReplayPrivileges = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "REFERENCES",
    "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE",
    "ALTER ROUTINE", "EVENT", "TRIGGER"};

std::string restore_user_hint(const SourceConfig& source) {
  return "give the restore user these privileges (GRANT ALL PRIVILEGES ON *.* TO ... WITH GRANT OPTION is what "
         "docs/MYSQL_REDIS.md recommends), or set restore_user and restore_password_file under [source." +
         source.name + "] to a user that has them";
}

}  // namespace

ReplayPlan plan_replay(Repository& repo, const SourceConfig& source, const Manifest& tip, int64_t target_epoch) {
  auto j = nlohmann::json::parse(tip.engine_json, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  ReplayPlan p;
  p.source = source.name;
  p.start_file = j.value("binlog_file", "");
  p.start_pos = j.value("binlog_pos", uint64_t{0});
  p.backup_end = j.value("end_epoch", tip.finished_epoch);
  p.target_epoch = target_epoch;
  p.covered_until = p.backup_end;
  if (p.start_file.empty()) {
    fail(ErrorCode::kNotFound, "backup " + tip.id + " recorded no binlog position (binary logging was off): "
                               "point-in-time recovery from it is impossible; restore without --target-time");
  }
  uint64_t expect = binlog_index(p.start_file);
  for (const auto& a : list_archived_binlogs(repo, source.name)) {
    if (a.index < expect && p.files.empty()) continue;
    if (a.index != expect) {
      p.missing = binlog_with_index(p.start_file, expect);
      break;
    }
    // A file opened after the target holds the stopping event: everything before the target lies in earlier files.
    if (a.created_epoch > target_epoch) {
      p.reaches_target = true;
      break;
    }
    p.files.push_back(a);
    ++expect;
  }
  if (!p.reaches_target && !p.files.empty()) {
    const ArchivedBinlog& last = p.files.back();
    if (last.closed_epoch == 0) {
      p.coverage_known = false;  // prepare_replay() reads it from the file
    } else {
      p.covered_until = last.closed_epoch;
      p.reaches_target = last.closed_epoch >= target_epoch;
    }
  }
  // A gap right after the files is harmless when they already reach the target.
  if (p.reaches_target) p.missing.clear();
  return p;
}

void require_target_reachable(const ReplayPlan& p, bool allow_partial, const std::string& nothing) {
  if (p.reaches_target || !p.coverage_known || allow_partial) return;
  std::string target = "--target-time " + utc(p.target_epoch);
  if (!p.missing.empty()) {
    std::string next = p.files.empty() ? p.start_file + " (the backup's binlog position)" : p.files.back().name;
    fail(ErrorCode::kNotFound, "binlog " + p.missing + " of source " + p.source + " is missing from the archive (the archive has " +
                                   (p.files.empty() ? std::string("nothing from ") + p.start_file + " on" : "up to " + next) +
                                   "): point-in-time recovery cannot pass it; choose an earlier --target-time, restore "
                                   "without it, or pass --allow-partial to stop at the gap" + nothing);
  }
  if (p.files.empty()) {
    fail(ErrorCode::kTargetNotReached,
         "no binlogs of source " + p.source + " are archived from " + p.start_file + " (the backup's binlog position) on, so the "
         "restore would end at the backup, " + utc(p.backup_end) + ", before " + target + "; run 'strata binlog archive "
         "--source " + p.source + "' and restore again, or pass --allow-partial to restore the backup alone" + nothing);
  }
  fail(ErrorCode::kTargetNotReached,
       "the binlog archive of source " + p.source + " ends before " + target + ": its last file " + p.files.back().name +
           " was closed at " + utc(p.covered_until) + " and later transactions are not archived; run 'strata binlog "
           "archive --source " + p.source + "' and restore again, choose an earlier --target-time, or pass "
           "--allow-partial to restore up to the end of the archive" + nothing);
}

PreparedReplay prepare_replay(Repository& repo, const SourceConfig& source, ReplayPlan plan, const std::string& work,
                              const PipelineSettings& pipeline) {
  PreparedReplay r;
  if (plan.files.empty()) {
    r.plan = std::move(plan);
    return r;
  }
  std::string bdir = work + "/binlogs";
  fs::create_directories(bdir);
  std::string files;
  for (const auto& a : plan.files) {
    std::string path = bdir + "/" + a.name;
    try {
      Manifest bm = repo.load(a.id, true, binlog_catalog(source.name));
      auto sink = open_file_sink(path, false);
      repo.restore(bm, *sink, pipeline, {});
    } catch (const StrataError& e) {
      fail(e.code(), "archived binlog " + a.name + " of source " + source.name + " could not be read: " + e.what());
    }
    files += " " + shell_quote(path);
  }
  if (!plan.coverage_known) {
    ArchivedBinlog& last = plan.files.back();
    BinlogEventScanner scan = scan_binlog_file(bdir + "/" + last.name);
    std::string problem = scan.problem_as_closed_file();
    if (!problem.empty()) fail(ErrorCode::kCorrupt, "archived binlog " + last.name + " of source " + source.name + " is not whole: " + problem);
    last.closed_epoch = scan.last_timestamp();
    plan.covered_until = last.closed_epoch;
    plan.reaches_target = last.closed_epoch >= plan.target_epoch;
    plan.coverage_known = true;
  }
  std::string tool = find_tool({"mariadb-binlog", "mysqlbinlog"});
  if (tool.empty()) fail(ErrorCode::kNotFound, "no mariadb-binlog or mysqlbinlog in PATH: install mariadb-client");
  r.sql_path = work + "/replay.sql";
  // mariadb-binlog reads --stop-datetime in the local zone; pin it to UTC to match what we format.
  run_checked("TZ=UTC " + shell_quote(tool) + " --no-defaults --start-position=" + std::to_string(plan.start_pos) +
                  " --stop-datetime=" + shell_quote(sql_utc(plan.target_epoch)) + files + " > " + shell_quote(r.sql_path),
              "decoding the archived binlogs of source " + source.name, "check that the archive is intact ('strata check')");
  r.reached = parse_replay(r.sql_path, plan.files);
  r.plan = std::move(plan);
  return r;
}

std::vector<std::string> missing_replay_privileges(const MysqlConn& conn) {
  // Granted to the user itself on *.*; CURRENT_USER() is the account the server matched ('u'@'localhost').
  auto rows = conn.query(
      "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = CONCAT('''', "
      "SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')");
  std::set<std::string> have;
  for (const auto& r : rows) {
    if (!r.empty()) have.insert(r[0]);
  }
  std::vector<std::string> missing;
  if (!have.count("BINLOG REPLAY") && !have.count("SUPER")) missing.push_back("BINLOG REPLAY");
  for (const auto& p : kReplayPrivileges) {
    if (!have.count(p)) missing.push_back(p);
  }
  return missing;
}

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}
}  // namespace

void check_restore_user_on_source(const SourceConfig& source, const std::string& nothing) {
  std::vector<std::string> missing;
  std::string user;
  try {
    MysqlConn conn(source, MysqlRole::kRestore);
    user = conn.query_value("SELECT CURRENT_USER()");
    missing = missing_replay_privileges(conn);
  } catch (const StrataError& e) {
    std::string what = e.what();
    if (what.find("Access denied") != std::string::npos) {
      fail(ErrorCode::kUsage, "the restore user of source " + source.name + " cannot log in to the source server (" + what +
                                  "); " + restore_user_hint(source) + nothing);
    }
    // Restoring away from the source (it may be the server that was lost): the restored copy is checked instead.
    log::info("restore_user_not_checked", {{"source", source.name}, {"reason", what}});
    return;
  }
  if (!missing.empty()) {
    fail(ErrorCode::kUsage, "the restore user " + user + " of source " + source.name + " lacks privileges that replaying "
                            "binlogs needs: " + join(missing) + "; " + restore_user_hint(source) + nothing);
  }
}

std::string apply_replay(const SourceConfig& source, const PreparedReplay& replay, const std::string& target,
                         const std::string& run_as) {
  const ReplayPlan& plan = replay.plan;
  std::string upto = "up to " + utc(plan.target_epoch);
  std::string partial;
  if (!plan.reaches_target) {
    partial = "; target NOT reached (--allow-partial): the archive " +
              (plan.files.empty() ? "has no binlogs from the backup's position on, data is as of the backup " + utc(plan.backup_end)
                                  : "ends at " + utc(plan.covered_until) + " (" + plan.files.back().name + ")") +
              (plan.missing.empty() ? "" : ", " + plan.missing + " is missing");
  }
  if (replay.sql_path.empty()) {
    return "no binlogs replayed: data is as of the backup's position " + plan.start_file + ":" + std::to_string(plan.start_pos) + partial;
  }
  // A private socket and no TCP: nothing else can reach the server while it is half-way. Its temp tables go to the
  // same private dir.
  PrivateDir sock_dir("strata-mysql-replay");
  std::string socket = sock_dir.path() + "/mysqld.sock";
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam(run_as.c_str());
    if (pw && ::chown(sock_dir.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) fail_errno("cannot chown " + sock_dir.path(), errno);
  }
  ServerGuard guard(start_server(source, target, socket, 0, run_as, sock_dir.path()));
  MysqlConn conn(source, MysqlEndpoint{socket, "", 0}, MysqlRole::kRestore);
  // The restored copy's grant tables are the backup's: this is the check that decides.
  auto missing = missing_replay_privileges(conn);
  if (!missing.empty()) {
    fail(ErrorCode::kUsage, "the restore user " + conn.user() + " lacks privileges on the restored copy (its grant tables are "
                            "the backup's) that replaying binlogs needs: " + join(missing) + "; " + restore_user_hint(source));
  }
  run_checked(shell_quote(conn.client()) + " " + conn.defaults_arg() + " --binary-mode < " + shell_quote(replay.sql_path),
              "replaying binlogs into the restored server",
              "the restore user (restore_user, default the source's user) must connect over the local socket; see "
              "docs/MYSQL_REDIS.md, \"Restore user\"");
  guard.stop();
  const ReplayPoint& r = replay.reached;
  if (!r.any) {
    return "replayed binlogs " + upto + ": no transaction after the backup's position " + plan.start_file + ":" +
           std::to_string(plan.start_pos) + partial;
  }
  return "replayed binlogs " + upto + ": reached " + r.file + ":" + std::to_string(r.end_pos) +
         (r.gtid.empty() ? "" : " (GTID " + r.gtid + ")") + ", last transaction at " + r.time + " UTC" + partial;
}

}  // namespace strata
