#include "platform/drill/freshness.hpp"

#include <set>

#include "common/duration.hpp"
#include "common/error.hpp"
#include "platform/drill/record.hpp"
#include "repo/repository.hpp"

namespace strata {

const char* freshness_name(Freshness f) {
  switch (f) {
    case Freshness::kOk: return "OK";
    case Freshness::kWarning: return "WARNING";
    case Freshness::kCritical: return "CRITICAL";
    case Freshness::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

SourceStatus assess(const SourceFacts& f, int64_t now) {
  SourceStatus s;
  s.facts = f;
  auto age = [&](int64_t t) { return format_duration(now - t) + " ago"; };
  std::string rpo = f.rpo_s ? ", rpo " + format_duration(f.rpo_s) : ", no rpo set";
  if (f.newest_good_end == 0) {
    s.state = Freshness::kCritical;
    s.summary = f.backups ? "no good backup (" + std::to_string(f.backups) + " failed their drills)" : "no backup";
    return s;
  }
  s.summary = "newest good backup " + age(f.newest_good_end) + rpo;
  if (f.rpo_s && now - f.newest_good_end > f.rpo_s) {
    s.state = Freshness::kCritical;
    s.summary = "out of rpo: " + s.summary;
  }
  // A continuous archive that stopped is lost recovery points even while base backups are fresh.
  if (!f.archive.empty() && f.rpo_s && f.archive_end && now - f.archive_end > f.rpo_s) {
    if (s.state == Freshness::kOk) s.state = Freshness::kCritical;
    s.summary += "; " + f.archive + " archive ends " + age(f.archive_end) + " (out of rpo)";
  } else if (!f.archive.empty() && f.archive_end) {
    s.summary += "; " + f.archive + " archive ends " + age(f.archive_end);
  }
  if (!f.failed_drill_backup.empty()) {
    if (s.state == Freshness::kOk) s.state = Freshness::kWarning;
    s.summary += "; newer backup " + f.failed_drill_backup + " failed its drill: " + f.failed_drill_error;
  }
  s.summary += f.newest_verified_end ? "; newest verified " + age(f.newest_verified_end) : "; none verified by a drill";
  return s;
}

std::map<std::string, DrillRecord> latest_drills(Repository& repo, int64_t as_of) {
  std::map<std::string, DrillRecord> latest;
  // Passes count only when authenticated (a forged "passed" must not clear a failure); failures count whatever
  // their authenticity, except proven forgeries: an unverifiable failure can only raise a false alarm.
  for (auto& r : list_drill_records(repo, "", nullptr)) {
    if (r.started_us / 1000000 > as_of || r.result == "stopped" || r.auth == "forged") continue;
    if (r.passed() && !r.counts_as_pass()) continue;
    latest[r.backup_id] = r;  // oldest first: the last assignment is the newest
  }
  return latest;
}

std::vector<SourceFacts> gather_freshness(Repository& repo, const std::map<std::string, int64_t>& rpo_by_source,
                                          const std::string& source_filter, int64_t as_of) {
  std::map<std::string, SourceFacts> by_source;
  for (const auto& [name, rpo] : rpo_by_source) {
    if (!source_filter.empty() && name != source_filter) continue;
    by_source[name].source = name;
    by_source[name].rpo_s = rpo;
  }
  const std::map<std::string, DrillRecord> latest_drill = latest_drills(repo, as_of);
  std::vector<DamagedManifest> damaged;  // reported by list/check; here a damaged manifest is simply not good
  for (const auto& m : repo.list(source_filter, "", &damaged)) {
    if (m.finished_epoch > as_of) continue;
    SourceFacts& f = by_source[m.source];
    f.source = m.source;
    ++f.backups;
    auto d = latest_drill.find(m.id);
    bool failed = d != latest_drill.end() && !d->second.passed();
    if (failed) {
      f.failed_drill_backup = m.id;  // list is oldest first: this is the newest failure so far
      f.failed_drill_error = d->second.error;
      continue;
    }
    f.newest_good_id = m.id;
    f.newest_good_end = m.finished_epoch;
    f.failed_drill_backup.clear();  // a good backup newer than the failure supersedes it
    f.failed_drill_error.clear();
    if (d != latest_drill.end()) {
      f.newest_verified_id = m.id;
      f.newest_verified_end = m.finished_epoch;
    }
  }
  std::vector<SourceFacts> out;
  for (auto& [name, f] : by_source) {
    // Archive ids sort by position (WAL segment name, binlog file), so the newest is at the end: read only the
    // last few manifests instead of an archive of 100k segments (a past `as_of` walks back further).
    for (const char* kind : {"wal", "binlog"}) {
      std::string catalog = std::string(kind) + "/" + name;
      auto ids = repo.list_ids(catalog);
      for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
        try {
          Manifest m = repo.load(*it, false, catalog);
          f.archive = kind;
          if (m.finished_epoch > as_of) continue;
          f.archive_end = m.finished_epoch;
          break;
        } catch (const StrataError&) {
          continue;  // a damaged one: check reports it; the one before still tells the archive's end
        }
      }
    }
    out.push_back(f);
  }
  return out;
}

StatusReport fleet_status(Repository& repo, const std::map<std::string, std::map<std::string, std::string>>& configured,
                          int64_t override_rpo_s, const std::string& source_filter, int64_t as_of) {
  std::map<std::string, int64_t> rpos;
  for (const auto& [name, values] : configured) {
    auto it = values.find("rpo");
    rpos[name] = override_rpo_s ? override_rpo_s : it == values.end() ? 0 : parse_duration(it->second, "rpo of source " + name);
  }
  StatusReport report;
  for (auto& f : gather_freshness(repo, rpos, source_filter, as_of)) {
    if (override_rpo_s) f.rpo_s = override_rpo_s;
    report.sources.push_back(assess(f, as_of));
    if (static_cast<int>(report.sources.back().state) > static_cast<int>(report.worst)) report.worst = report.sources.back().state;
  }
  if (!source_filter.empty() && report.sources.empty()) {
    fail(ErrorCode::kNotFound, "source " + source_filter + " has no backups in " + repo.location() + " and is not in the config");
  }
  size_t bad = 0;
  for (const auto& s : report.sources) bad += s.state != Freshness::kOk;
  if (bad) {
    report.problem = app::Problem{ErrorCode::kProblemsFound,
                                  std::to_string(bad) + " of " + std::to_string(report.sources.size()) +
                                      " sources need attention (see above); back them up, or drill and investigate"};
  }
  return report;
}

}  // namespace strata
