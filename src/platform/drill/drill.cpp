#include "platform/drill/drill.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "engines/tool_util.hpp"
#include "io/crypto.hpp"
#include "io/stream.hpp"
#include "platform/drill/drill_util.hpp"
#include "platform/drill/engine_drills.hpp"
#include "platform/drill/scratch.hpp"
#include "repo/bounded_json.hpp"
#include "repo/repository.hpp"

namespace strata {

namespace fs = std::filesystem;

namespace {

using namespace drill;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Discards what it is given: level 1 verifies the stream (the pipeline authenticates every frame and compares the
// plaintext SHA-256) without writing it anywhere.
class DiscardSink : public ByteSink {
 public:
  void write(ByteView) override {}
  void finish() override {}
  void abort() noexcept override {}
  std::string describe() const override { return "nowhere (verify only)"; }
};

// A user command of the source (drill_restore_command, drill_verify_command) run in the scratch directory with the
// drill's facts in its own environment (never ours: other jobs of the process must not see them).
std::string drill_shell(const std::string& command, const std::string& dir, const std::string& file,
                        const Manifest& m) {
  return "export STRATA_DRILL_DIR=" + shell_quote(dir) + " STRATA_DRILL_FILE=" + shell_quote(file) +
         " STRATA_BACKUP_ID=" + shell_quote(m.id) + " STRATA_SOURCE=" + shell_quote(m.source) + "; cd " +
         shell_quote(dir) + " && " + command;
}

// Level 2 of a command or plain stream source: restore into the scratch directory (through drill_restore_command
// if the source has one, else into a file), then the source's drill_verify_command decides.
void drill_command(Repository& repo, const Manifest& m, const DrillRequest& req, DrillScratch& scratch,
                   const ProgressFn& progress, const Deadline& deadline, DrillRecord& rec) {
  std::string file = scratch.path() + "/backup.data";
  std::string restore_cmd = req.source.get("drill_restore_command");
  std::unique_ptr<ByteSink> sink = restore_cmd.empty()
                                       ? open_file_sink(file, false)
                                       : open_command_sink(drill_shell(restore_cmd, scratch.path(), "", m));
  auto t0 = SteadyClock::now();
  repo.restore(m, *sink, req.pipeline, progress);
  rec.restore_seconds = seconds_since(t0);
  add_check(rec, "restore", true, "every frame authenticated, SHA-256 matches; restored " +
                                      (restore_cmd.empty() ? "to " + file : std::string("through drill_restore_command")));
  rec.rto_seconds = rec.restore_seconds;
  std::string verify = req.source.get("drill_verify_command");
  if (verify.empty()) return;
  auto t1 = SteadyClock::now();
  CommandOutcome v = run_with_tail(drill_shell(verify, scratch.path(), restore_cmd.empty() ? file : "", m), deadline);
  rec.checks_seconds = seconds_since(t1);
  if (v.timed_out) deadline.check("drill_verify_command");
  add_check(rec, "drill_verify_command", v.status == 0,
            v.status == 0 ? "exit 0" + (v.tail.empty() ? "" : ": " + v.tail)
                          : "exit " + std::to_string(v.status) + (v.tail.empty() ? "" : ": " + v.tail));
}

// The key count a Redis backup's fingerprint allows: DBSIZE just before and just after the snapshot.
std::pair<long long, long long> redis_key_range(const Manifest& m) {
  nlohmann::json j;
  if (!try_parse_bounded_json(m.engine_json, kMaxEngineJsonBytes, j).empty() || !j.is_object()) return {-1, -1};
  auto num = [&](const char* k) -> long long {
    if (!j.contains(k)) return -1;
    try {
      return std::stoll(j[k].is_string() ? j[k].get<std::string>() : j[k].dump());
    } catch (...) {
      return -1;
    }
  };
  long long a = num("keys_at_start"), b = num("keys_at_end");
  if (b < 0) b = a;
  return {std::min(a, b), std::max(a, b)};
}

// Level 2 of a Redis source: restore dump.rdb, redis-check-rdb it, start redis-server on a free loopback port with
// persistence off (the engine's --start), compare DBSIZE with the fingerprint, stop it.
void drill_redis(Repository& repo, const Manifest& m, const DrillRequest& req, DrillScratch& scratch,
                 const ProgressFn& progress, const Deadline& deadline, DrillRecord& rec) {
  std::string dir = scratch.path() + "/redis";
  scratch.add_server_pid_file(dir + "/redis.pid");
  EngineRestoreRequest er;
  er.id = m.id;
  er.target_dir = dir;
  er.start = true;
  er.port = free_loopback_port();
  er.pipeline = req.pipeline;
  auto t0 = SteadyClock::now();
  SteadyClock::time_point last_byte = t0;
  ProgressFn timed = [&](uint64_t plain, uint64_t stored) {
    last_byte = SteadyClock::now();
    if (progress) progress(plain, stored);
  };
  std::string summary = make_engine("redis")->restore(repo, req.source, er, timed).summary;
  rec.rto_seconds = seconds_since(t0);
  rec.restore_seconds = std::chrono::duration<double>(last_byte - t0).count();
  rec.start_seconds = rec.rto_seconds - rec.restore_seconds;
  add_check(rec, "restore", true, summary);
  deadline.check("the start of redis-server");

  auto t1 = SteadyClock::now();
  std::string check_rdb = find_tool({"redis-check-rdb"});
  if (check_rdb.empty()) {
    add_check(rec, "redis-check-rdb", false, "redis-check-rdb is not installed (redis-tools)");
  } else {
    CommandOutcome c = run_with_tail(shell_quote(check_rdb) + " " + shell_quote(dir + "/dump.rdb") + " 2>&1", deadline);
    if (c.timed_out) deadline.check("redis-check-rdb");
    add_check(rec, "redis-check-rdb", c.status == 0, c.status == 0 ? "RDB looks OK" : "exit " + std::to_string(c.status) + ": " + c.tail);
  }
  std::string cli = find_tool({"redis-cli"});
  CommandOutcome k = run_with_tail(shell_quote(cli) + " -h 127.0.0.1 -p " + std::to_string(er.port) + " DBSIZE", deadline);
  long long keys = -1;
  try {
    keys = std::stoll(k.tail);
  } catch (...) {
  }
  auto [lo, hi] = redis_key_range(m);
  rec.recovery_point = keys >= 0 ? std::to_string(keys) + " keys" : "";
  if (keys < 0) {
    add_check(rec, "dbsize", false, "the restored server did not answer DBSIZE: " + k.tail);
  } else if (lo < 0) {
    add_check(rec, "dbsize", true, std::to_string(keys) + " keys (the backup has no fingerprint to compare with)");
  } else {
    bool ok = keys >= lo && keys <= hi;
    std::string want = lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi);
    add_check(rec, "dbsize", ok, std::to_string(keys) + " keys, fingerprint at backup time " + want);
  }
  rec.checks_seconds = seconds_since(t1);
}

}  // namespace

std::string pick_drill_backup(Repository& repo, const std::string& source, const std::string& id, int64_t random_within_s) {
  if (!id.empty()) return repo.resolve_id(id);
  if (random_within_s <= 0) return repo.latest_id(source);
  int64_t since = now_epoch() - random_within_s;
  std::vector<std::string> candidates;
  for (const auto& m : repo.list(source)) {
    if (m.finished_epoch >= since) candidates.push_back(m.id);
  }
  if (candidates.empty()) {
    fail(ErrorCode::kNotFound, "source " + source + " has no backup that finished in the last " + format_duration(random_within_s) +
                                   "; widen --random-within or give an ID");
  }
  uint32_t r = 0;
  random_bytes(reinterpret_cast<uint8_t*>(&r), sizeof r);
  return candidates[r % candidates.size()];
}

DrillRecord run_drill(Repository& repo, const DrillRequest& req, const ProgressFn& progress) {
  if (req.level < 1 || req.level > 3) fail(ErrorCode::kUsage, "drill level " + std::to_string(req.level) + " is not supported: use 1, 2 or 3");
  Manifest m = repo.load(req.backup_id, true);
  std::string engine = req.source.get("engine");
  if (req.level == 3 && engine != "postgres") {
    fail(ErrorCode::kUsage, "level 3 (point-in-time) drills are supported for postgres sources only (source " + m.source +
                                "); run --level 2");
  }
  if (req.level >= 2 && engine == "postgres") {
    if (auto why = postgres_drill_refusal(m); !why.empty()) fail(ErrorCode::kUsage, why + "; run 'strata drill run --level 1' to verify every byte of it");
  }
  if (req.level == 2 && engine == "mysql") {
    if (auto why = mysql_drill_refusal(m); !why.empty()) fail(ErrorCode::kUsage, why + "; run 'strata drill run --level 1' to verify every byte of it");
  }
  if (req.level == 2 && engine != "" && engine != "command" && engine != "redis" && engine != "postgres" &&
      engine != "mysql") {
    fail(ErrorCode::kUsage, "level 2 drills of " + engine + " sources are not supported yet (source " + m.source +
                                "); run 'strata drill run --level 1' to verify every byte of the backup");
  }
  DrillRecord rec;
  uint8_t rnd[4];
  random_bytes(rnd, sizeof rnd);
  rec.started_us = now_us();
  rec.id = compact_utc(rec.started_us / 1000000) + "-" + hex_encode(ByteView(rnd, sizeof rnd));
  rec.started = iso_utc(rec.started_us / 1000000);
  rec.backup_id = m.id;
  rec.source = m.source;
  rec.backup_type = m.type;
  rec.host = hostname();
  rec.level = req.level;
  rec.plain_bytes = m.stream.plain_bytes;
  Deadline deadline(req.settings.time_limit_s);
  ProgressFn guarded = [&](uint64_t plain, uint64_t stored) {
    deadline.check("the restore");
    if (progress) progress(plain, stored);
  };
  try {
    if (req.level == 1) {
      DiscardSink sink;
      auto t0 = SteadyClock::now();
      repo.restore(m, sink, req.pipeline, guarded);
      rec.restore_seconds = seconds_since(t0);
      add_check(rec, "read-data", true, std::to_string(m.stream.objects.size()) + " objects read: every frame authenticated, SHA-256 matches");
    } else {
      std::string root = req.settings.scratch_dir;
      if (root.empty()) root = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
      remove_stale_drill_scratch(root);
      if (req.settings.disk_budget && m.stream.plain_bytes > req.settings.disk_budget) {
        fail(ErrorCode::kUsage, "backup " + m.id + " restores to " + format_size(m.stream.plain_bytes) +
                                    ", more than the drill disk budget of " + format_size(req.settings.disk_budget) +
                                    "; raise [drill] disk_budget, or run --level 1 (which writes nothing)");
      }
      uint64_t free = free_bytes_at(root);
      if (free && m.stream.plain_bytes > free) {
        fail(ErrorCode::kStorage, "backup " + m.id + " restores to " + format_size(m.stream.plain_bytes) + " but " + root +
                                      " has only " + format_size(free) + " free; free space or set [drill] scratch_dir");
      }
      DrillScratch scratch(root, rec.id);
      if (engine == "redis") drill_redis(repo, m, req, scratch, guarded, deadline, rec);
      else if (engine == "postgres") drill_postgres(repo, m, req, scratch, guarded, deadline, rec);
      else if (engine == "mysql") drill_mysql(repo, m, req, scratch, guarded, deadline, rec);
      else drill_command(repo, m, req, scratch, guarded, deadline, rec);
    }
    rec.result = rec.error.empty() ? "passed" : "failed";
  } catch (const TimeLimitReached& e) {
    rec.result = "stopped";
    rec.error = e.what();
  } catch (const StrataError& e) {
    // Refusals (the drill cannot run here) say nothing about the backup: they end the command, no record.
    if (e.code() == ErrorCode::kUsage || e.code() == ErrorCode::kWrongKey || e.code() == ErrorCode::kStorage ||
        e.code() == ErrorCode::kLocked) {
      throw;
    }
    rec.result = "failed";
    add_check(rec, rec.level == 1 ? "read-data" : "restore", false, e.what());
  }
  return rec;
}

}  // namespace strata
