// Level 2 drill of a PostgreSQL base backup (docs/DRILLS.md). The copy is production-safe: it listens on no TCP
// address, only on a socket in the drill's own 0700 directory with its own pg_hba.conf (local trust, no
// replication entry), never archives, never fetches from the archive unless the backup lacks its WAL, and runs no
// logical replication workers (a restored subscription would otherwise connect to its publisher).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/pg_client.hpp"
#include "engines/engine.hpp"
#include "engines/postgres/fingerprint.hpp"
#include "engines/postgres/wal.hpp"
#include "io/crypto.hpp"
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

// bin_dir, else Debian's directory of the backup's major version, else PATH.
std::string pg_bin(const SourceConfig& src, int major, const std::string& tool) {
  if (auto dir = src.get("bin_dir"); !dir.empty()) return dir + "/" + tool;
  std::string p = "/usr/lib/postgresql/" + std::to_string(major) + "/bin/" + tool;
  if (::access(p.c_str(), X_OK) == 0) return p;
  return tool;
}

void write_private(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.flush();
  if (!f) fail(ErrorCode::kStorage, "cannot write " + path);
  ::chmod(path.c_str(), 0600);
}

// Level 3: a random LSN between the backup's end and the start of the last segment archived after it without a
// gap — every such point has a WAL record at or after it in the archive, so recovery can stop there (a target past
// the archive's last record would make PostgreSQL refuse to finish, which says nothing about the backup).
uint64_t random_pitr_lsn(Repository& repo, const Manifest& m, const nlohmann::json& meta) {
  uint64_t seg_size = meta.value("wal_segment_size", pg::kDefaultSegmentSize);
  uint64_t stop = pg::parse_lsn(meta.value("stop_lsn", "0/0"));
  uint32_t tli = meta.value("stop_timeline", meta.value("timeline", 1u));
  pg::WalInventory inv = pg::wal_inventory(repo, m.source, seg_size);
  uint64_t stop_seg = (stop - 1) / seg_size;
  uint64_t reach = inv.contiguous_end(tli, stop_seg + 1);
  if (reach <= stop_seg || reach * seg_size <= stop) {
    fail(ErrorCode::kUsage, "level 3 needs archived WAL after backup " + m.id + " (it ends at " + meta.value("stop_lsn", "?") +
                                " and the archive of " + m.source + " has nothing after it on timeline " + std::to_string(tli) +
                                "); archive with 'strata wal push', or run --level 2");
  }
  uint64_t r = 0;
  random_bytes(reinterpret_cast<uint8_t*>(&r), sizeof r);
  return stop + r % (reach * seg_size - stop);
}

}  // namespace

std::string postgres_drill_refusal(const Manifest& m) {
  nlohmann::json meta = meta_of(m);
  if (meta.value("method", "") != "physical" || m.type != "full") {
    return "backup " + m.id + " is a " + m.type + " backup (pg_dump): level 2 drills restore physical base backups only";
  }
  return "";
}

void drill_postgres(Repository& repo, const Manifest& m, const DrillRequest& req, DrillScratch& scratch,
                    const ProgressFn& progress, const Deadline& deadline, DrillRecord& rec) {
  nlohmann::json meta = meta_of(m);
  int major = meta.value("server_version_num", 0) / 10000;
  const SourceConfig& src = req.source;
  bool root = ::geteuid() == 0;
  std::string run_as = root ? src.get("run_as", "postgres") : "";
  std::string data = scratch.path() + "/pgdata";
  std::string sock = scratch.path() + "/sock";
  int port = free_loopback_port();
  if (sock.size() + std::string("/.s.PGSQL.65535").size() > 107) {
    fail(ErrorCode::kUsage, "the drill's socket directory " + sock + " is too long for a Unix socket (107 bytes); set a "
                            "shorter [drill] scratch_dir");
  }
  fs::create_directory(sock);
  ::chmod(sock.c_str(), 0700);
  std::string hba = scratch.path() + "/pg_hba.conf";
  write_private(hba, "# strata drill: the private socket only, no replication\nlocal all all trust\n");
  if (root) chown_tree_to(scratch.path(), run_as, "run_as of source " + src.name);
  scratch.add_server_pid_file(data + "/postmaster.pid");

  EngineRestoreRequest er;
  er.id = m.id;
  er.target_dir = data;
  er.start = true;
  er.port = port;
  uint64_t pitr = req.level == 3 ? random_pitr_lsn(repo, m, meta) : 0;
  if (pitr) {
    er.target_lsn = pg::format_lsn(pitr);  // the engine checks that recovery got there before it reports success
  } else {
    er.target_immediate = true;
    er.no_archive_fetch = meta.value("wal_included", false);
  }
  er.archive_mode = "off";
  er.run_as = run_as;
  er.config_path = req.config_path;
  er.passphrase_file = req.passphrase_file;
  er.pipeline = req.pipeline;
  er.server_settings = {"# strata drill: production-safe settings",
                        "listen_addresses = ''",
                        "unix_socket_directories = '" + sock + "'",
                        "hba_file = '" + hba + "'",
                        "primary_conninfo = ''",
                        "max_logical_replication_workers = 0",
                        "archive_command = ''"};
  auto t0 = SteadyClock::now();
  SteadyClock::time_point last_byte = t0;
  ProgressFn timed = [&](uint64_t plain, uint64_t stored) {
    last_byte = SteadyClock::now();
    if (progress) progress(plain, stored);
  };
  EngineRestoreResult restored = make_engine("postgres")->restore(repo, src, er, timed);
  rec.rto_seconds = seconds_since(t0);
  rec.restore_seconds = std::chrono::duration<double>(last_byte - t0).count();
  rec.start_seconds = rec.rto_seconds - rec.restore_seconds;
  // "LSN X/Y" once the copy was started and promoted.
  const std::string reached = restored.point_reached.empty() ? "" : restored.point_reached.substr(4);
  rec.recovery_point = restored.point_reached;
  if (pitr) {
    add_check(rec, "point-in-time", true, "recovered through the archive to the random target LSN " + er.target_lsn +
                                             " (backup end " + meta.value("stop_lsn", "?") + "), reached LSN " + reached);
    rec.recovery_point = "LSN " + reached + " (target " + er.target_lsn + ")";
  } else {
    add_check(rec, "restore", true, "base backup restored and recovered to its consistent point (backup end " +
                                        meta.value("stop_lsn", "?") + ")" + (reached.empty() ? "" : ", reached LSN " + reached));
  }
  deadline.check("the start of the restored server");

  auto t1 = SteadyClock::now();
  PgTarget target;
  target.host = sock;
  target.port = std::to_string(port);
  target.user = src.get("user", "postgres");
  target.dbname = src.get("dbname", "postgres");
  target.application_name = "strata drill";
  target.hint = "the drill's restored server should accept its private socket";
  std::string checksums;
  {
    PgClient c(target);
    checksums = c.scalar("SHOW data_checksums");
  }
  std::string conn = " -h " + shell_quote(sock) + " -p " + std::to_string(port) + " -U " + shell_quote(target.user) + " -w";
  CommandOutcome amcheck = run_with_tail(shell_quote(pg_bin(src, major, "pg_amcheck")) + conn +
                                             " --all --heapallindexed --install-missing 2>&1", deadline);
  if (amcheck.timed_out) deadline.check("pg_amcheck");
  add_check(rec, "pg_amcheck", amcheck.status == 0,
            amcheck.status == 0 ? "every table and index of every database checked (--heapallindexed)"
                                : "exit " + std::to_string(amcheck.status) + ": " + amcheck.tail);

  nlohmann::json fp = meta.value("fingerprint", nlohmann::json::object());
  if (pitr) {
    // The fingerprint describes the backup's end, not a later point: nothing to compare with there.
  } else if (!fp.contains("start") || !fp.contains("end")) {
    add_check(rec, "fingerprint", true, "the backup has no fingerprint to compare with (fingerprint = \"off\" or taken before it existed)");
  } else {
    pg::FingerprintCheck f = pg::check_fingerprint(target, fp["start"], fp["end"]);
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

  // A clean stop, so that pg_checksums may read the files (it refuses a running cluster).
  std::string as_user = root ? "runuser -u " + shell_quote(run_as) + " -- " : "";
  CommandOutcome stop = run_with_tail(as_user + shell_quote(pg_bin(src, major, "pg_ctl")) + " -D " + shell_quote(data) +
                                          " -m fast -w -t 120 stop 2>&1", deadline);
  if (stop.timed_out) deadline.check("the stop of the restored server");
  add_check(rec, "stop", stop.status == 0, stop.status == 0 ? "clean shutdown" : "exit " + std::to_string(stop.status) + ": " + stop.tail);
  if (checksums == "on" && stop.status == 0) {
    CommandOutcome c = run_with_tail(as_user + shell_quote(pg_bin(src, major, "pg_checksums")) + " --check -D " +
                                         shell_quote(data) + " 2>&1", deadline);
    if (c.timed_out) deadline.check("pg_checksums");
    add_check(rec, "pg_checksums", c.status == 0, c.status == 0 ? "every data page's checksum is right" : "exit " + std::to_string(c.status) + ": " + c.tail);
  }
  rec.checks_seconds = seconds_since(t1);
}

}  // namespace strata
