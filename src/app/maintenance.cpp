#include "app/maintenance.hpp"

#include "app/phase.hpp"

namespace strata::app {
namespace {

std::string plural(size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

}  // namespace

CheckResult check_repository(const Services& services, const CheckRequest& req) {
  Repository& repo = services.repository();
  if (req.use_key && repo.config().encrypted && !repo.unlocked()) repo.unlock(services.require_passphrase());
  CheckOptions co;
  co.read_fraction = req.read_fraction;
  co.subset_n = req.subset_n;
  co.subset_t = req.subset_t;
  CheckResult result;
  {
    PhaseScope phase(services, "check", 0);
    ProgressFn fn = phase.fn();
    co.progress = [&phase, &fn](uint64_t done, uint64_t total) {
      phase.set_total(total);
      fn(done, 0);
    };
    result.report = repo.check(co);
    phase.finish(PhaseTotals{result.report.bytes_read, result.report.bytes_read, result.report.objects_read, 0, 0});
  }
  result.encrypted = repo.config().encrypted;
  result.read_any = req.read_fraction > 0 || req.subset_t > 0;
  result.location = repo.location();
  result.repository_id = repo.config().id;
  const CheckReport& r = result.report;
  if (!r.errors.empty()) {
    result.problem = Problem{ErrorCode::kCorrupt, "check found " + std::to_string(r.errors.size()) +
                                                      " damaged backups or objects in " + result.location +
                                                      "; see the ERROR lines above"};
  } else if (!r.leftovers.empty()) {
    result.problem = Problem{ErrorCode::kProblemsFound,
                             "check found " + plural(r.leftovers.size(), "leftover", "leftovers") + " in " + result.location +
                                 " (objects of backups that never committed); 'strata cleanup' removes them"};
  }
  return result;
}

std::vector<std::string> delete_backups(const Services& services, const DeleteRequest& req) {
  return services.repository().delete_backups(req.ids, req.dry_run);
}

CleanupResult cleanup(const Services& services, const CleanupRequest& req) {
  CleanupResult result;
  result.removed = services.repository().cleanup(req.dry_run, req.min_age_seconds, &result.kept);
  return result;
}

}  // namespace strata::app
