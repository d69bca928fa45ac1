// Property tests of the retention planner over thousands of random histories: fulls, incrementals and streams,
// failures, suspects, holds, WAL positions, time zones and policies. Each history comes from its own seed, printed
// on failure (STRATA_RETENTION_SEED=N reruns one).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>

#include "platform/retention/planner.hpp"

namespace strata::retention {
namespace {

constexpr int64_t kBase = 1796040000;  // 2026-11-30T12:00:00Z

struct History {
  std::vector<BackupInfo> backups;
  Policy policy;
  int64_t now = 0;
  bool has_log = false;
};

History generate(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](int percent) { return pick(1, 100) <= percent; };
  static const char* zones[] = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham",
                                "Australia/Lord_Howe"};
  History h;
  h.has_log = chance(60);
  int n = pick(0, 70);
  int64_t t = kBase - pick(0, 400) * 86400;
  uint64_t lsn = 1000;
  std::string last_id, last_full;
  for (int i = 0; i < n; ++i) {
    // Gaps from minutes to weeks, so every bucket rule sees empty and crowded periods.
    static const int64_t gaps[] = {300, 1800, 3600, 4 * 3600, 86400, 86400, 2 * 86400, 7 * 86400, 31 * 86400};
    t += gaps[pick(0, 8)] + pick(0, 3599);
    BackupInfo b;
    b.id = "b" + std::to_string(1000 + i);
    b.start = t;
    b.end = t + pick(1, 7200);
    int kind = pick(1, 10);
    if (kind <= 5 && !last_id.empty()) {
      b.kind = BackupKind::kIncremental;
      b.parent = chance(70) ? last_id : (last_full.empty() ? last_id : last_full);
      if (chance(2)) b.parent = "missing-" + std::to_string(i);
    } else {
      b.kind = kind <= 8 || h.has_log ? BackupKind::kFull : BackupKind::kStream;
    }
    int st = pick(1, 100);
    b.state = st <= 80 ? BackupState::kGood : st <= 88 ? BackupState::kVerified : st <= 96 ? BackupState::kFailed
                                                                                         : BackupState::kSuspect;
    if (chance(6)) b.holds.push_back("case " + std::to_string(pick(1, 9999)));
    if (h.has_log) {
      lsn += static_cast<uint64_t>(pick(1, 1000));
      b.log_start = LogPosition{"1", lsn};
    }
    if (b.kind != BackupKind::kIncremental) last_full = b.id;
    last_id = b.id;
    h.backups.push_back(b);
  }
  std::shuffle(h.backups.begin(), h.backups.end(), rng);  // the planner must not rely on input order
  Policy& p = h.policy;
  auto count = [&] { return chance(50) ? 0 : chance(10) ? -1 : pick(1, 8); };
  p.keep_last = count();
  p.keep_hourly = count();
  p.keep_daily = count();
  p.keep_weekly = count();
  p.keep_monthly = count();
  p.keep_yearly = count();
  p.keep_within = chance(30) ? pick(1, 30 * 24) * 3600 : 0;
  p.recovery_window = chance(50) ? pick(1, 60) * 86400 : 0;
  p.min_good = pick(0, 4);
  p.max_share = 1;
  p.time_zone = zones[pick(0, 5)];
  h.now = t + pick(0, 20 * 86400);
  return h;
}

// Restorable from `set`: the backup is good or verified and so is every parent, all present in `set`.
bool restorable(const std::map<std::string, const BackupInfo*>& set, const BackupInfo& b) {
  const BackupInfo* c = &b;
  for (size_t depth = 0; depth <= set.size(); ++depth) {
    if (c->state != BackupState::kGood && c->state != BackupState::kVerified) return false;
    if (c->parent.empty()) return c->kind != BackupKind::kIncremental;
    auto it = set.find(c->parent);
    if (it == set.end()) return false;
    c = it->second;
  }
  return false;
}

// Can point t be restored? With a log archive: from any restorable backup that ended by t whose log start is still
// in the archive. Without: only the backups' own end points are restore points.
bool point_restorable(const std::map<std::string, const BackupInfo*>& set, int64_t t, bool has_log,
                      const std::map<std::string, uint64_t>* log_from) {
  for (const auto& [id, b] : set) {
    if (!restorable(set, *b)) continue;
    if (has_log) {
      if (b->end > t) continue;
      if (log_from) {
        auto it = log_from->find(b->log_start->timeline);
        if (it == log_from->end() || it->second > b->log_start->position) continue;
      }
      return true;
    }
    if (b->end == t) return true;
  }
  return false;
}

void check_history(uint64_t seed) {
  History h = generate(seed);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun: STRATA_RETENTION_SEED=" + std::to_string(seed) + ")");
  Plan plan = retention::plan(h.backups, h.policy, h.now);
  ASSERT_EQ(plan.verdicts.size(), h.backups.size());
  std::map<std::string, const BackupInfo*> all, kept;
  for (const auto& b : h.backups) all[b.id] = &b;
  std::map<std::string, const Verdict*> verdict;
  for (const auto& v : plan.verdicts) verdict[v.id] = &v;
  for (const auto& v : plan.verdicts) {
    ASSERT_FALSE(v.reasons.empty()) << v.id;
    if (v.decision == Decision::kKeep) kept[v.id] = all.at(v.id);
  }
  // Kept chains are complete: every parent that exists is kept too.
  for (const auto& [id, b] : kept) {
    if (!b->parent.empty() && all.count(b->parent)) {
      ASSERT_TRUE(kept.count(b->parent)) << "kept " << id << " lost its parent " << b->parent;
    }
  }
  // Holds never expire.
  for (const auto& b : h.backups) {
    if (!b.holds.empty()) ASSERT_TRUE(kept.count(b.id)) << "held " << b.id << " expired";
  }
  // The newest good backup (newest by start among the restorable) never expires.
  const BackupInfo* newest = nullptr;
  for (const auto& b : h.backups) {
    if (restorable(all, b) && (!newest || b.start > newest->start || (b.start == newest->start && b.id > newest->id))) newest = &b;
  }
  if (newest) ASSERT_TRUE(kept.count(newest->id)) << "newest good " << newest->id << " expired";
  // The minimum of good backups.
  size_t good_all = 0, good_kept = 0;
  for (const auto& b : h.backups) good_all += restorable(all, b);
  for (const auto& [id, b] : kept) good_kept += restorable(kept, *b);
  ASSERT_GE(good_kept, std::min<size_t>(good_all, static_cast<size_t>(h.policy.min_good)));
  // Every kept good backup is still restorable from what is kept.
  for (const auto& [id, b] : kept) {
    if (restorable(all, *b)) ASSERT_TRUE(restorable(kept, *b)) << id;
  }
  // Every point of the recovery window that the full history could reach, what is kept still reaches.
  if (h.policy.recovery_window > 0) {
    int64_t cutoff = h.now - h.policy.recovery_window;
    std::vector<int64_t> points = {cutoff, h.now};
    for (const auto& b : h.backups) {
      if (b.end >= cutoff && b.end <= h.now) points.push_back(b.end);
      if (b.end - 1 >= cutoff && b.end - 1 <= h.now) points.push_back(b.end - 1);
    }
    for (int64_t t : points) {
      if (!point_restorable(all, t, h.has_log, nullptr)) continue;
      ASSERT_TRUE(point_restorable(kept, t, h.has_log, &plan.log_needed_from))
          << "point " << t << " (window from " << cutoff << ") no longer restorable";
    }
  }
  // The log archive is needed from the oldest kept backup's start, per timeline.
  if (h.has_log) {
    for (const auto& [id, b] : kept) ASSERT_LE(plan.log_needed_from.at(b->log_start->timeline), b->log_start->position);
  }
  // The counts and the max-share flag agree with the verdicts.
  ASSERT_EQ(plan.kept, kept.size());
  ASSERT_EQ(plan.expired, h.backups.size() - kept.size());
  // Idempotent: planning again over what is kept expires nothing and gives the same log boundaries.
  std::vector<BackupInfo> again;
  for (const auto& b : h.backups) {
    if (kept.count(b.id)) again.push_back(b);
  }
  Plan second = retention::plan(again, h.policy, h.now);
  for (const auto& v : second.verdicts) ASSERT_EQ(v.decision, Decision::kKeep) << v.id << " expires on the second run";
  ASSERT_EQ(second.log_needed_from, plan.log_needed_from);
}

TEST(RetentionPlannerProperty, RandomHistoriesKeepEveryPromise) {
  if (const char* one = std::getenv("STRATA_RETENTION_SEED")) {
    check_history(std::strtoull(one, nullptr, 10));
    return;
  }
  for (uint64_t seed = 1; seed <= 4000; ++seed) {
    check_history(seed);
    if (HasFatalFailure() || HasNonfatalFailure()) return;  // the first failing seed is the one to look at
  }
}

}  // namespace
}  // namespace strata::retention
