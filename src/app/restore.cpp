#include "app/restore.hpp"

#include "app/cancel_scope.hpp"
#include "app/phase.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata::app {

namespace {

RestoreResult restore_work(const Services& services, RestoreRequest req) {
  if (req.id == "latest") {
    req.id.clear();
    req.latest = true;
  }
  // A target time picks its own backup: the newest that finished before that time.
  if (req.id.empty() && !req.latest && req.engine.target_time.empty()) {
    fail(ErrorCode::kUsage, "give a backup ID, or 'latest' with --source");
  }
  if (req.latest && req.source.empty()) fail(ErrorCode::kUsage, "'latest' needs --source");
  Repository& repo = services.repository();
  if (repo.config().encrypted && !repo.unlocked()) repo.unlock(services.require_passphrase());
  req.pipeline.cancel = &services.cancel_token();

  RestoreResult result;
  result.started = services.clock_or_system().now();
  const bool plain_target = req.sink || !req.to.empty() || !req.to_command.empty();
  const auto& es = req.engine_source;
  if (es && es->values.count("engine") && (!plain_target || es->values.at("engine") == "command")) {
    auto engine = make_engine(es->require("engine"));
    EngineRestoreRequest er = req.engine;
    er.id = req.id;
    er.to = req.to;
    er.to_command = req.to_command;
    er.force = req.force;
    er.pipeline = req.pipeline;
    result.engine = true;
    PhaseScope phase(services, "restore", 0);
    EngineRestoreResult done = engine->restore(repo, *es, er, phase.fn());
    result.summary = done.summary;
    result.id = done.backup_id;
    result.chain = done.chain;
    result.point_reached = done.point_reached;
    result.seconds = phase.seconds();
    phase.finish({});
    return result;
  }
  if (!plain_target) fail(ErrorCode::kUsage, "give --to FILE, --to - or --to-command CMD");
  result.id = req.latest ? repo.latest_id(req.source) : repo.resolve_id(req.id);
  Manifest m = repo.load(result.id, true);
  std::unique_ptr<ByteSink> opened;
  ByteSink* sink = req.sink;
  if (!sink) {
    opened = req.to_command.empty() ? open_file_sink(req.to, req.force) : open_command_sink(req.to_command);
    sink = opened.get();
  }
  PhaseScope phase(services, "restore", m.stream.plain_bytes);
  repo.restore(m, *sink, req.pipeline, phase.fn());
  result.seconds = phase.seconds();
  result.plain_bytes = m.stream.plain_bytes;
  result.target = sink->describe();
  phase.finish(PhaseTotals{m.stream.plain_bytes, m.stream.stored_bytes, m.stream.objects.size(), m.stream.frames, 0});
  return result;
}

}  // namespace

RestoreResult restore(const Services& services, RestoreRequest req) {
  return run_cancellable(services, [&] { return restore_work(services, std::move(req)); });
}

}  // namespace strata::app
