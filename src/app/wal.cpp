#include "app/wal.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engines/postgres/postgres_engine.hpp"
#include "engines/postgres/wal.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata::app {
namespace {

// Test hook: STRATA_PG_FAILPOINT=fetch-missing:<file> makes `wal fetch` answer "not in the archive" for that file,
// so the tests can make PostgreSQL end recovery early the way a lost segment once did.
bool failpoint_pretends_missing(const std::string& file) {
  const char* fp = std::getenv("STRATA_PG_FAILPOINT");
  return fp && std::string(fp) == "fetch-missing:" + file;
}

void copy_file(const std::string& from, const std::string& to) {
  auto in = open_file_source(from);
  auto out = open_file_sink(to, true);
  std::vector<uint8_t> buf(1u << 20);
  for (size_t n; (n = in->read(buf.data(), buf.size())) > 0;) out->write(ByteView(buf.data(), n));
  out->finish();
}

}  // namespace

std::string wal_compression(const SourceConfig& source) { return source.get("wal_compression", "zstd:1"); }

WalPushResult wal_push(const Services& services, WalPushRequest req) {
  auto t0 = std::chrono::steady_clock::now();
  const SourceConfig& src = req.source;
  std::string spool = src.get("spool_dir");
  bool async = req.async || src.get("archive_async") == "true";
  if ((async || req.drain) && spool.empty()) {
    fail(ErrorCode::kUsage, "async WAL archiving needs spool_dir under [source." + src.name + "] (a local directory)");
  }
  if (!req.drain && req.path.empty()) fail(ErrorCode::kUsage, "give the WAL file to push (archive_command '... wal push %p')");
  WalPushResult result;
  if (async && !req.drain) {
    pg::spool_put(spool, req.path);
    if (req.start_drainer) req.start_drainer(spool);
    auto errors = pg::spool_errors(spool);
    if (!errors.empty()) {
      fail(ErrorCode::kStorage, "async WAL archiving of " + src.name + " is failing: " + errors.front() +
                                    " (spooled files are kept in " + spool + "; run 'strata wal check --source " + src.name + "')");
    }
    result.kind = WalPushResult::Kind::kSpooled;
    return result;
  }
  Repository& repo = services.repository();
  // Only the public key unless the file is already archived and its content must be compared (no Argon2 per segment).
  if (repo.config().encrypted) repo.use_public_key_only(req.public_key);
  PipelineSettings ps = req.pipeline;
  ps.cancel = &services.cancel_token();
  bool unlocked = false;
  auto unlock = [&](Repository& r) {
    if (!unlocked && r.config().encrypted) r.unlock(services.require_passphrase());
    unlocked = true;
  };
  if (req.drain) {
    result.kind = WalPushResult::Kind::kDrained;
    result.drained = pg::spool_drain(spool, [&](const std::string& p) {
      pg::ensure_history_archived(repo, src.name, p, ps, unlock);
      pg::wal_push(repo, src.name, p, ps, unlock);
    });
    log::info("wal_spool_drained", {{"source", src.name}, {"files", uint64_t(result.drained)}});
    return result;
  }
  pg::ensure_history_archived(repo, src.name, req.path, ps, unlock);
  auto outcome = pg::wal_push(repo, src.name, req.path, ps, unlock, &result.stored_bytes);
  result.kind = outcome == pg::PushOutcome::kStored ? WalPushResult::Kind::kStored : WalPushResult::Kind::kAlreadyArchived;
  result.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  log::info("wal_pushed", {{"source", src.name}, {"file", req.path}, {"stored_bytes", result.stored_bytes}, {"ms", result.ms},
                           {"outcome", outcome == pg::PushOutcome::kStored ? "stored" : "already-archived"}});
  return result;
}

WalFetchOutcome wal_fetch(const Services& services, const WalFetchRequest& req) {
  const SourceConfig& src = req.source;
  // A file still waiting in the local spool is not in the repository yet but is the newest copy.
  if (auto spool = src.get("spool_dir"); !spool.empty()) {
    std::string spooled = spool + "/" + req.file;
    struct stat st;
    if (::stat(spooled.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      copy_file(spooled, req.dest);
      return WalFetchOutcome::kFromSpool;
    }
  }
  // Unlocking costs an Argon2id derivation per process, so each call that must unlock also fetches the next
  // segments into a prefetch directory beside %p; postgres's next calls are then plain renames.
  std::string dest_dir = req.dest.find('/') == std::string::npos ? "." : req.dest.substr(0, req.dest.rfind('/'));
  std::string prefetch = dest_dir + "/.strata-prefetch";
  if (::rename((prefetch + "/" + req.file).c_str(), req.dest.c_str()) == 0) return WalFetchOutcome::kFromPrefetch;
  uint64_t seg_size = pg::kDefaultSegmentSize;
  if (auto v = src.get("wal_segment_size"); !v.empty()) seg_size = parse_size(v);
  auto seg = pg::parse_segment_name(req.file, seg_size);
  Repository& repo = services.repository();
  if (failpoint_pretends_missing(req.file) || !repo.exists(pg::wal_id(src.name, req.file), pg::wal_catalog(src.name))) {
    // The end of the archive: recovery is about to finish, so drop what was fetched ahead.
    if (seg) std::filesystem::remove_all(prefetch);
    log::info("wal_not_in_archive", {{"file", req.file}, {"source", src.name}});
    return WalFetchOutcome::kNotInArchive;
  }
  if (repo.config().encrypted && !repo.unlocked()) repo.unlock(services.require_passphrase());
  PipelineSettings ps = req.pipeline;
  ps.cancel = &services.cancel_token();
  if (!pg::wal_fetch(repo, src.name, req.file, req.dest, ps)) {
    fail(ErrorCode::kNotFound, "WAL file " + req.file + " disappeared from the archive of " + src.name + " (" +
                                   repo.location() + ") while it was being fetched; is a cleanup or delete running?");
  }
  unsigned ahead = static_cast<unsigned>(std::stoul(src.get("wal_prefetch", "8")));
  if (!seg || ahead == 0) return WalFetchOutcome::kFetched;
  std::error_code ec;
  std::filesystem::create_directories(prefetch, ec);
  for (unsigned i = 1; i <= ahead && !ec; ++i) {
    std::string next = pg::segment_name(seg->timeline, seg->segno + i, seg_size);
    if (std::filesystem::exists(prefetch + "/" + next)) continue;
    if (failpoint_pretends_missing(next)) break;
    try {
      if (!pg::wal_fetch(repo, src.name, next, prefetch + "/" + next, ps)) break;
    } catch (const StrataError& e) {
      // Only an optimisation: postgres asks for the file itself later and gets the real error then.
      log::warn("wal_prefetch_failed", {{"file", next}, {"error", e.what()}});
      break;
    }
  }
  return WalFetchOutcome::kFetched;
}

WalCheckResult wal_check(const Services& services, const WalCheckRequest& req) {
  Repository& repo = services.repository();
  if (req.read_data && repo.config().encrypted && !repo.unlocked()) repo.unlock(services.require_passphrase());
  pg::WalCheckOptions opts;
  opts.read_data = req.read_data;
  opts.pipeline = req.pipeline;
  opts.pipeline.cancel = &services.cancel_token();
  bool ok = true;
  WalCheckResult result;
  result.report = pg::wal_check_report(repo, req.source, opts, &ok);
  if (!ok) {
    result.problem = Problem{ErrorCode::kProblemsFound,
                             "the WAL archive of " + req.source.name + " has gaps, damaged files or unrestorable backups "
                             "(listed above); fix archive_command and take a new base backup"};
  }
  return result;
}

}  // namespace strata::app
