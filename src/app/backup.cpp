#include "app/backup.hpp"

#include <sys/stat.h>

#include "app/cancel_scope.hpp"
#include "app/phase.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata::app {
namespace {

void add_totals(BackupResult& r, const Manifest& m) {
  r.plain_bytes += m.stream.plain_bytes;
  r.stored_bytes += m.stream.stored_bytes;
  r.objects += m.stream.objects.size();
  r.frames += m.stream.frames;
}

PhaseTotals totals_of(const BackupResult& r) { return PhaseTotals{r.plain_bytes, r.stored_bytes, r.objects, r.frames, 0}; }

}  // namespace

namespace {

BackupResult backup_work(const Services& services, BackupRequest req) {
  const bool via_engine = !req.stream && req.from_command.empty() && req.from_file.empty();
  if (via_engine && !req.engine_source) {
    fail(ErrorCode::kUsage, "give --from-command or --from-file, or configure [source." + req.source + "] with an engine");
  }
  Repository& repo = services.repository();
  req.pipeline.cancel = &services.cancel_token();
  BackupResult result;
  result.engine = via_engine;
  result.started = services.clock_or_system().now();

  repo.set_fail_on_empty(req.fail_on_empty);
  const bool encrypted = repo.config().encrypted;
  if (req.write_only && encrypted) repo.use_public_key_only(req.public_key);
  if (!req.write_only && encrypted && !repo.unlocked()) {
    // Engines read earlier manifests (incremental parents) before they start, so they need the key first; a plain
    // stream overlaps the passphrase check with its start (Repository::unlock_async).
    if (via_engine) repo.unlock(services.require_passphrase());
    else repo.unlock_async(services.require_passphrase());
  }

  if (via_engine) {
    auto engine = make_engine(req.engine_source->require("engine"));
    EngineBackupRequest er{req.type, req.labels, req.pipeline};
    PhaseScope phase(services, "backup", 0);
    result.manifests = engine->backup(repo, *req.engine_source, er, phase.fn());
    for (const auto& m : result.manifests) add_totals(result, m);
    result.seconds = phase.seconds();
    phase.finish(totals_of(result));
    return result;
  }

  uint64_t total = 0;
  std::unique_ptr<ByteSource> opened;
  ByteSource* src = req.stream;
  if (!src && !req.from_command.empty()) {
    opened = open_command_source(req.from_command);
  } else if (!src) {
    struct stat st;
    if (req.from_file != "-" && ::stat(req.from_file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) total = st.st_size;
    opened = open_file_source(req.from_file);
  }
  if (!src) src = opened.get();

  BackupOptions bo;
  bo.source = req.source;
  bo.labels = req.labels;
  bo.pipeline = req.pipeline;
  PhaseScope phase(services, "backup", total);
  result.manifests.push_back(repo.backup(*src, bo, phase.fn()));
  add_totals(result, result.manifests.back());
  result.seconds = phase.seconds();
  phase.finish(totals_of(result));
  return result;
}

}  // namespace

BackupResult backup(const Services& services, BackupRequest req) {
  return run_cancellable(services, [&] { return backup_work(services, std::move(req)); });
}

}  // namespace strata::app
