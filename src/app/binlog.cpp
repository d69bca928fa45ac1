#include "app/binlog.hpp"

#include "app/cancel_scope.hpp"
#include "app/phase.hpp"
#include "repo/repository.hpp"

namespace strata::app {

namespace {

BinlogArchiveOutcome binlog_archive_work(const Services& services, const BinlogArchiveRequest& req) {
  Repository& repo = services.repository();
  if (repo.config().encrypted) {
    if (req.write_only) repo.use_public_key_only(req.public_key);
    else if (!repo.unlocked()) repo.unlock(services.require_passphrase());
  }
  PipelineSettings ps = req.pipeline;
  ps.cancel = &services.cancel_token();
  BinlogArchiveOutcome out;
  {
    PhaseScope phase(services, "binlog", 0);
    out.shipped = archive_binlogs(repo, req.source, ps, req.flush, phase.fn());
    phase.finish(PhaseTotals{0, 0, out.shipped.archived.size(), 0, 0});
  }
  const std::string& name = req.source.name;
  if (!out.shipped.gaps.empty()) {
    out.problem = Problem{ErrorCode::kProblemsFound,
                          "the binlog archive of " + name + " has " + std::to_string(out.shipped.gaps.size()) +
                              " gap(s) the server no longer holds: point-in-time recovery cannot cross them; "
                              "restores to times before a gap still work, and a full backup taken now "
                              "('strata backup --source " + name + " --type full') starts a new recoverable range"};
  }
  return out;
}

}  // namespace

BinlogArchiveOutcome binlog_archive(const Services& services, const BinlogArchiveRequest& req) {
  return run_cancellable(services, [&] { return binlog_archive_work(services, req); });
}

BinlogListResult binlog_list(const Services& services, const std::string& source) {
  BinlogListResult r;
  r.files = list_archived_binlogs(services.repository(), source);
  r.gaps = find_binlog_gaps(r.files);
  if (!r.gaps.empty()) {
    r.problem = Problem{ErrorCode::kProblemsFound, "the binlog archive of " + source + " has " +
                                                       std::to_string(r.gaps.size()) +
                                                       " gap(s): point-in-time recovery cannot cross them (see the GAP: lines)"};
  }
  return r;
}

}  // namespace strata::app
