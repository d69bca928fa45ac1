// Level 2 drill of a MariaDB physical backup (docs/DRILLS.md). The copy is production-safe: no networking at all
// (--skip-networking), a socket in the drill's own 0700 directory, its temporary tables in the scratch directory
// (--tmpdir: concurrent servers collide in a shared /tmp), no replica threads, no event scheduler, no binary log.
// Its grant tables are skipped: the drill has no credentials for the copy, and nobody else can reach its socket.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "engines/engine.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/mysql/mysql_fingerprint.hpp"
#include "engines/mysql/mysql_server.hpp"
#include "engines/tool_util.hpp"
#include "platform/drill/engine_drills.hpp"
#include "platform/drill/scratch.hpp"
#include "repo/bounded_json.hpp"

namespace strata {

namespace fs = std::filesystem;
using namespace drill;

namespace {

nlohmann::json meta_of(const Manifest& m) {
  nlohmann::json j;
  if (!try_parse_bounded_json(m.engine_json, kMaxEngineJsonBytes, j).empty() || !j.is_object()) return nlohmann::json::object();
  return j;
}

}  // namespace

std::string mysql_drill_refusal(const Manifest& m) {
  if (meta_of(m).value("method", "") != "physical") {
    return "backup " + m.id + " is a logical dump: level 2 drills restore physical (mariadb-backup) backups only";
  }
  return "";
}

void drill_mysql(Repository& repo, const Manifest& m, const DrillRequest& req, DrillScratch& scratch,
                 const ProgressFn& progress, const Deadline& deadline, DrillRecord& rec) {
  nlohmann::json meta = meta_of(m);
  const SourceConfig& src = req.source;
  std::string run_as = src.get("run_as", "mysql");
  std::string data = scratch.path() + "/datadir";
  std::string sock = scratch.path() + "/mysqld.sock";
  std::string tmp = scratch.path() + "/tmp";
  if (sock.size() > 107) {
    fail(ErrorCode::kUsage, "the drill's socket " + sock + " is too long for a Unix socket (107 bytes); set a shorter "
                            "[drill] scratch_dir");
  }
  scratch.add_server_pid_file(data + "/strata-mariadbd.pid");

  EngineRestoreRequest er;
  er.id = m.id;
  er.target_dir = data;
  er.pipeline = req.pipeline;
  auto t0 = SteadyClock::now();
  // restore_seconds includes mariadb-backup --prepare: the restore is not usable before it.
  std::string summary = make_engine("mysql")->restore(repo, src, er, progress).summary;
  deadline.check("the restore");
  fs::create_directories(tmp);
  ::chmod(tmp.c_str(), 0700);
  if (::geteuid() == 0) {
    chown_tree_to(tmp, run_as, "run_as of source " + src.name);
    chown_tree_to(scratch.path(), run_as, "run_as of source " + src.name);
  }
  auto t_restored = SteadyClock::now();
  SourceConfig safe = src;
  safe.values["server_options"] = src.get("server_options") +
                                  " --skip-grant-tables --skip-slave-start --event-scheduler=DISABLED";
  RunningServer rs = start_server(safe, data, sock, 0, run_as, tmp);
  ServerGuard guard(rs);
  rec.rto_seconds = seconds_since(t0);
  rec.restore_seconds = std::chrono::duration<double>(t_restored - t0).count();
  rec.start_seconds = rec.rto_seconds - rec.restore_seconds;
  std::string gtid = meta.value("gtid", "");
  rec.recovery_point = meta.contains("binlog_file") ? "binlog " + meta.value("binlog_file", "") + ":" +
                                                          std::to_string(meta.value("binlog_pos", uint64_t{0})) +
                                                          (gtid.empty() ? "" : " (GTID " + gtid + ")")
                                                    : "LSN " + std::to_string(meta.value("to_lsn", uint64_t{0}));
  add_check(rec, "restore", true, summary + "; server started on a private socket");
  deadline.check("the start of the restored server");

  auto t1 = SteadyClock::now();
  std::string check = find_tool({"mariadb-check", "mysqlcheck"});
  if (check.empty()) {
    add_check(rec, "mariadb-check", false, "mariadb-check is not installed (mariadb-client)");
  } else {
    CommandOutcome c = run_with_tail(shell_quote(check) + " --no-defaults --socket=" + shell_quote(sock) +
                                         " -u root --all-databases --check 2>&1", deadline);
    if (c.timed_out) deadline.check("mariadb-check");
    // mariadb-check prints "db.table  OK" per table; anything else names a problem (it exits 0 for some of them).
    std::string bad;
    size_t start = 0;
    // The tail keeps the last KiB only: judge by exit status and by the lines kept.
    for (size_t nl; start < c.tail.size(); start = nl + 1) {
      nl = c.tail.find('\n', start);
      if (nl == std::string::npos) nl = c.tail.size();
      std::string line = c.tail.substr(start, nl - start);
      if (line.find("error") != std::string::npos || line.find("Error") != std::string::npos ||
          line.find("corrupt") != std::string::npos) {
        bad += (bad.empty() ? "" : "; ") + line;
      }
    }
    bool ok = c.status == 0 && bad.empty();
    add_check(rec, "mariadb-check", ok, ok ? "every table of every database checked (CHECK TABLE)"
                                           : "exit " + std::to_string(c.status) + ": " + (bad.empty() ? c.tail : bad));
  }
  nlohmann::json fp = meta.value("fingerprint", nlohmann::json::object());
  if (!fp.contains("start") || !fp.contains("end")) {
    add_check(rec, "fingerprint", true, "the backup has no fingerprint to compare with (fingerprint = \"off\" or taken before it existed)");
  } else {
    MysqlConn conn(src, MysqlEndpoint{sock, "", 0});
    mysql::FingerprintCheck f = mysql::check_fingerprint(conn, fp["start"], fp["end"]);
    std::string detail;
    for (const auto& mm : f.mismatches) detail += (detail.empty() ? "" : "; ") + mm;
    add_check(rec, "fingerprint", f.mismatches.empty(),
              f.mismatches.empty() ? (f.tables == 1 ? std::string("1 table matches") : std::to_string(f.tables) + " tables match") +
                                         " the row counts at backup time (" +
                                         std::to_string(f.written) + " written during the backup, compared with a range)"
                                   : std::to_string(f.mismatches.size()) + " of " + std::to_string(f.tables) +
                                         " tables differ from the fingerprint: " + detail);
  }
  deadline.check("the checks");
  guard.stop();
  add_check(rec, "stop", true, "clean shutdown");
  rec.checks_seconds = seconds_since(t1);
}

}  // namespace strata
