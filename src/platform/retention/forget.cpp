#include "platform/retention/forget.hpp"

#include <cstdio>
#include <set>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/retention/policy_config.hpp"
#include "repo/expiry.hpp"
#include "repo/repository.hpp"

namespace strata::retention {
namespace {

using Tables = std::vector<std::pair<std::string, const std::map<std::string, std::string>*>>;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f%%", 100.0 * share);
  return text;
}

RotationRequest make_request(const ForgetRequest& f, const std::string& source, const Tables& tables) {
  RotationRequest req;
  req.source = source;
  req.grace = kDefaultGrace;
  // Buckets are days of the source's wall clock: [source.NAME] timezone (docs/CONFIG.md), else UTC; --time-zone
  // (in the flag table) overrides it.
  if (auto s = f.settings->sources.find(source); s != f.settings->sources.end()) {
    if (auto tz = s->second.find("timezone"); tz != s->second.end()) req.policy.time_zone = tz->second;
  }
  for (const auto& [where, t] : tables) apply_policy_table(*t, where, req.policy, req.grace);
  req.policy_text = describe_policy(req.policy);
  req.dry_run = f.dry_run;
  req.confirm = f.confirm;
  req.delete_now = f.delete_now;
  req.now = f.now;
  req.states = f.states;
  req.publish = f.publish;
  return req;
}

std::vector<RotationRequest> requests_of(Repository& repo, const ForgetRequest& f) {
  std::vector<RotationRequest> requests;
  if (!f.from_config) {
    requests.push_back(make_request(f, f.source, {{"command line", &f.flags}}));
    return requests;
  }
  const Settings& st = *f.settings;
  std::vector<std::string> sources = f.source.empty() ? repository_sources(repo) : std::vector<std::string>{f.source};
  for (const auto& s : sources) {
    Tables tables;
    if (!st.retention_default.empty()) tables.emplace_back("[retention.default]", &st.retention_default);
    auto it = st.retention_by_source.find(s);
    if (it != st.retention_by_source.end()) tables.emplace_back("[source." + s + ".retention]", &it->second);
    // Flags that are not rules (--grace, --max-share, --min-good, --time-zone) still apply on top.
    tables.emplace_back("command line", &f.flags);
    RotationRequest req = make_request(f, s, tables);
    if (!req.policy.has_rule()) {
      log::report_warning("retention_no_policy", "source " + s + " has no retention policy in the config ([retention.default] "
                                                 "or [source." + s + ".retention]); its backups are left alone", {{"source", s}});
      continue;
    }
    requests.push_back(std::move(req));
  }
  if (requests.empty() && st.retention_default.empty() && st.retention_by_source.empty()) {
    fail(ErrorCode::kUsage, "--policy found no [retention.default] or [source.NAME.retention] table in the config" +
                                (st.config_path.empty() ? std::string(" (no config file)") : " " + st.config_path));
  }
  return requests;
}

}  // namespace

std::vector<std::string> repository_sources(Repository& repo) {
  std::set<std::string> out;
  repo.set_include_expired(true);
  for (const auto& m : repo.list()) out.insert(m.source);
  repo.set_include_expired(false);
  for (const auto& t : list_tombstones(repo)) {
    if (t.damaged.empty() && !t.source.empty()) out.insert(t.source);
  }
  return {out.begin(), out.end()};
}

ForgetResult forget(Repository& repo, const ForgetRequest& f) {
  std::vector<RotationRequest> requests = requests_of(repo, f);
  // Every source is planned before any is changed: one source above the max share stops them all.
  std::vector<RotationResult> plans;
  for (const auto& req : requests) plans.push_back(plan_source(repo, req));
  std::vector<std::string> over;
  for (const auto& p : plans) {
    if (!p.stopped) continue;
    double all = static_cast<double>(p.plan.expired + p.plan.kept);
    over.push_back(std::to_string(p.plan.expired) + " of " + std::to_string(p.plan.expired + p.plan.kept) +
                   " backups of source " + p.source + " (" + percent(static_cast<double>(p.plan.expired) / all) + ")");
  }
  ForgetResult result;
  result.stopped = !over.empty();
  if (f.dry_run || result.stopped) {
    result.results = std::move(plans);
  } else {
    for (const auto& req : requests) result.results.push_back(rotate_source(repo, req));
  }
  if (result.stopped) {
    std::string what = "the policy would expire " + join(over, ", ") + ", more than the max share " +
                       percent(requests.front().policy.max_share);
    if (f.dry_run) {
      result.warning = what + ": a run without --dry-run stops unless --confirm is given";
    } else {
      result.problem = app::Problem{ErrorCode::kUsage,
                                    what + "; nothing was expired: check the plan (--dry-run) and run again with --confirm"};
    }
  }
  return result;
}

}  // namespace strata::retention
