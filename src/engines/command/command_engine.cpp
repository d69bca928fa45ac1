#include "engines/command/command_engine.hpp"

#include "common/error.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {

std::vector<Manifest> CommandEngine::backup(Repository& repo, const SourceConfig& source,
                                            const EngineBackupRequest& req, const ProgressFn& progress) {
  auto src = open_command_source(source.require("backup_command"));
  BackupOptions o;
  o.source = source.name;
  o.labels = req.labels;
  o.pipeline = req.pipeline;
  o.engine_json = R"({"engine":"command"})";
  return {repo.backup(*src, o, progress)};
}

EngineRestoreResult CommandEngine::restore(Repository& repo, const SourceConfig& source, const EngineRestoreRequest& req,
                                   const ProgressFn& progress) {
  std::string id = req.id.empty() ? repo.latest_id(source.name) : req.id;
  Manifest m = repo.load(repo.resolve_id(id), true);
  if (m.source != source.name) {
    fail(ErrorCode::kUsage, "backup " + m.id + " belongs to source " + m.source + ", not " + source.name);
  }
  std::unique_ptr<ByteSink> sink;
  if (!req.to.empty()) sink = open_file_sink(req.to, req.force);
  else if (!req.to_command.empty()) sink = open_command_sink(req.to_command);
  else sink = open_command_sink(source.require("restore_command"));
  repo.restore(m, *sink, req.pipeline, progress);
  return {"restored backup " + m.id + " of " + source.name + " into " + sink->describe(), m.id, {}, ""};
}

}  // namespace strata
