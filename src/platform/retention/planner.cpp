#include "platform/retention/planner.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "common/error.hpp"
#include "platform/retention/buckets.hpp"

namespace strata::retention {

bool Policy::has_rule() const {
  return keep_last != 0 || keep_hourly != 0 || keep_daily != 0 || keep_weekly != 0 || keep_monthly != 0 ||
         keep_yearly != 0 || keep_within > 0 || recovery_window > 0;
}

const char* decision_name(Decision d) { return d == Decision::kKeep ? "keep" : "expire"; }

const char* state_name(BackupState s) {
  switch (s) {
    case BackupState::kGood: return "good";
    case BackupState::kVerified: return "verified";
    case BackupState::kFailed: return "failed";
    case BackupState::kSuspect: return "suspect";
  }
  return "?";
}

const char* kind_name(BackupKind k) {
  switch (k) {
    case BackupKind::kFull: return "full";
    case BackupKind::kIncremental: return "incremental";
    case BackupKind::kStream: return "stream";
  }
  return "?";
}

namespace {

struct Planner {
  const std::vector<BackupInfo>& in;
  const Policy& policy;
  int64_t now;
  std::vector<size_t> order;  // newest first
  std::map<std::string, size_t> by_id;
  std::vector<int> good_memo;  // -1 unknown, 0/1
  std::vector<std::string> not_good_why;
  std::vector<std::vector<std::string>> reasons;
  std::vector<bool> kept;

  Planner(const std::vector<BackupInfo>& b, const Policy& p, int64_t t) : in(b), policy(p), now(t) {
    order.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      order[i] = i;
      by_id.emplace(in[i].id, i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return in[a].order_key() != in[b].order_key() ? in[a].order_key() > in[b].order_key() : in[a].id > in[b].id;
    });
    good_memo.assign(in.size(), -1);
    not_good_why.assign(in.size(), "");
    reasons.assign(in.size(), {});
    kept.assign(in.size(), false);
  }

  // Good: committed, not failed or suspect, and for an incremental a whole chain of good parents. Only good
  // backups count toward a rule: a backup that cannot be restored must never be what keeps a rule satisfied.
  bool good(size_t i) {
    if (good_memo[i] >= 0) return good_memo[i] == 1;
    good_memo[i] = 0;  // also breaks a cycle a tampered parent field could make
    const BackupInfo& b = in[i];
    if (b.state == BackupState::kFailed || b.state == BackupState::kSuspect) {
      not_good_why[i] = std::string("not good (") + state_name(b.state) + "): does not count";
      return false;
    }
    if (b.kind == BackupKind::kIncremental || !b.parent.empty()) {
      auto it = by_id.find(b.parent);
      if (b.parent.empty() || it == by_id.end()) {
        not_good_why[i] = "not good (parent " + (b.parent.empty() ? std::string("unknown") : b.parent) +
                          " missing): does not count";
        return false;
      }
      if (!good(it->second)) {
        not_good_why[i] = "not good (parent " + b.parent + " is not good): does not count";
        return false;
      }
    }
    good_memo[i] = 1;
    return true;
  }

  void keep(size_t i, std::string reason) {
    kept[i] = true;
    reasons[i].push_back(std::move(reason));
  }

  // Keeps every parent of a kept backup, naming the child that needs it: a kept incremental must stay restorable.
  void close_chains() {
    for (size_t i : order) {  // newest first: children are visited before the parents they mark
      if (!kept[i] || in[i].parent.empty()) continue;
      auto it = by_id.find(in[i].parent);
      if (it == by_id.end()) continue;
      size_t p = it->second;
      std::string why = "parent of kept " + std::string(kind_name(in[i].kind)) + " " + in[i].id;
      if (std::find(reasons[p].begin(), reasons[p].end(), why) == reasons[p].end()) keep(p, why);
    }
    // A parent started after its child only in a tampered or clock-skewed repository: repeat until stable.
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < in.size(); ++i) {
        if (!kept[i] || in[i].parent.empty()) continue;
        auto it = by_id.find(in[i].parent);
        if (it != by_id.end() && !kept[it->second]) {
          keep(it->second, "parent of kept " + std::string(kind_name(in[i].kind)) + " " + in[i].id);
          changed = true;
        }
      }
    }
  }

  void bucket_rule(int count, const char* name, std::string Buckets::*field) {
    if (count == 0) return;
    int left = count;
    std::string last;
    bool first = true;
    for (size_t i : order) {
      if (left == 0) break;
      if (!good(i)) continue;
      std::string key = buckets_of(in[i].start, policy.time_zone).*field;
      if (!first && key == last) continue;
      keep(i, std::string(name) + " " + key);
      last = key;
      first = false;
      if (left > 0) --left;
    }
  }

  std::optional<size_t> newest_good() {
    for (size_t i : order) {
      if (good(i)) return i;
    }
    return std::nullopt;
  }

  // The chain root of a good backup (itself when it is not an incremental).
  size_t root_of(size_t i) {
    std::set<size_t> seen;
    while (!in[i].parent.empty() && seen.insert(i).second) {
      auto it = by_id.find(in[i].parent);
      if (it == by_id.end()) break;
      i = it->second;
    }
    return i;
  }

  void recovery_window() {
    if (policy.recovery_window <= 0) return;
    const int64_t cutoff = now - policy.recovery_window;
    const std::string w = format_duration(policy.recovery_window);
    // Every restore point inside the window: the good backups that end in it.
    for (size_t i : order) {
      if (good(i) && in[i].end > cutoff) keep(i, "inside recovery window " + w);
    }
    // The base the window's earliest points are reached from: the newest good self-contained backup that ended
    // before the window starts (with WAL/binlog positions where the source has an archive: replay starts there).
    bool source_has_log = std::any_of(in.begin(), in.end(), [](const BackupInfo& b) { return b.log_start.has_value(); });
    std::optional<size_t> base;
    for (size_t i : order) {
      if (!good(i) || in[i].kind == BackupKind::kIncremental || in[i].end > cutoff) continue;
      if (source_has_log && !in[i].log_start) continue;
      base = i;
      break;
    }
    if (!base) return;
    keep(*base, "base of recovery window " + w);
    for (size_t i : order) {
      if (i == *base || !good(i) || in[i].kind != BackupKind::kIncremental || in[i].end > cutoff) continue;
      if (root_of(i) == *base) keep(i, "incremental of recovery window base " + in[*base].id);
    }
  }

  size_t good_kept() {
    size_t n = 0;
    for (size_t i = 0; i < in.size(); ++i) n += kept[i] && good(i);
    return n;
  }

  Plan run() {
    if (policy.keep_last < -1 || policy.keep_hourly < -1 || policy.keep_daily < -1 || policy.keep_weekly < -1 ||
        policy.keep_monthly < -1 || policy.keep_yearly < -1 || policy.min_good < 0) {
      fail(ErrorCode::kUsage, "retention counts must be 0 or more (or -1 for unlimited)");
    }
    if (policy.keep_hourly || policy.keep_daily || policy.keep_weekly || policy.keep_monthly || policy.keep_yearly) {
      require_time_zone(policy.time_zone);
    }
    for (size_t i = 0; i < in.size(); ++i) (void)good(i);
    if (policy.keep_last != 0) {
      int left = policy.keep_last;
      for (size_t i : order) {
        if (left == 0) break;
        if (!good(i)) continue;
        keep(i, "last " + std::to_string(policy.keep_last));
        if (left > 0) --left;
      }
    }
    bucket_rule(policy.keep_hourly, "hourly", &Buckets::hour);
    bucket_rule(policy.keep_daily, "daily", &Buckets::day);
    bucket_rule(policy.keep_weekly, "weekly", &Buckets::week);
    bucket_rule(policy.keep_monthly, "monthly", &Buckets::month);
    bucket_rule(policy.keep_yearly, "yearly", &Buckets::year);
    auto newest = newest_good();
    if (policy.keep_within > 0 && newest) {
      // Like restic: relative to the newest good backup, not to now, so a source whose backups stopped (or keep
      // failing) does not lose its last good ones to the passing of time.
      const int64_t from = in[*newest].start - policy.keep_within;
      const std::string w = "within " + format_duration(policy.keep_within);
      for (size_t i : order) {
        if (good(i) && in[i].start >= from) keep(i, w);
      }
    }
    recovery_window();
    if (newest) keep(*newest, "newest good backup");
    for (size_t i = 0; i < in.size(); ++i) {
      for (const auto& h : in[i].holds) keep(i, "held: " + h);
    }
    close_chains();
    // The minimum: more good backups, newest first, until the kept ones reach it (or there are no more).
    const size_t min_good = static_cast<size_t>(policy.min_good);
    size_t count = good_kept();
    for (size_t i : order) {
      if (count >= min_good) break;
      if (kept[i] || !good(i)) continue;
      keep(i, "minimum " + std::to_string(policy.min_good) + " good backups");
      ++count;
      // Its chain comes with it (a good backup's parents are good, so they count too).
      for (size_t c = i; !in[c].parent.empty();) {
        auto it = by_id.find(in[c].parent);
        if (it == by_id.end()) break;
        size_t p = it->second;
        std::string why = "parent of kept " + std::string(kind_name(in[c].kind)) + " " + in[c].id;
        if (std::find(reasons[p].begin(), reasons[p].end(), why) == reasons[p].end()) reasons[p].push_back(why);
        if (kept[p]) break;
        kept[p] = true;
        ++count;
        c = p;
      }
    }

    Plan plan;
    for (size_t i : order) {
      Verdict v;
      v.id = in[i].id;
      v.good = good(i);
      if (!v.good) v.reasons.push_back(not_good_why[i]);
      v.reasons.insert(v.reasons.end(), reasons[i].begin(), reasons[i].end());
      v.decision = kept[i] ? Decision::kKeep : Decision::kExpire;
      if (!kept[i] && v.good) v.reasons.push_back("no rule keeps it");
      if (kept[i]) {
        ++plan.kept;
        if (in[i].log_start) {
          auto [it, fresh] = plan.log_needed_from.emplace(in[i].log_start->timeline, in[i].log_start->position);
          if (!fresh) it->second = std::min(it->second, in[i].log_start->position);
        }
      } else {
        ++plan.expired;
      }
      plan.verdicts.push_back(std::move(v));
    }
    plan.exceeds_max_share = !in.empty() && static_cast<double>(plan.expired) > policy.max_share * static_cast<double>(in.size());
    return plan;
  }
};

}  // namespace

Plan plan(const std::vector<BackupInfo>& backups, const Policy& policy, int64_t now) {
  Planner p(backups, policy, now);
  return p.run();
}

}  // namespace strata::retention
