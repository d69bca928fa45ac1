// The retention planner over a simulated fleet (issue 16 benchmark: 1,000 sources x 400 backups planned in < 10 s):
// each source has a year of history — a full every Sunday, incrementals on the other days, one failed backup in
// 40, a hold in 200 — planned with a GFS policy plus a 14-day recovery window in one of several zones.
// Usage: strata_retention_bench [sources] [backups per source]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "platform/retention/planner.hpp"

using namespace strata::retention;

int main(int argc, char** argv) {
  const int sources = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int per_source = argc > 2 ? std::atoi(argv[2]) : 400;
  const int64_t now = 1796040000;  // 2026-11-30T12:00:00Z
  static const char* zones[] = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe"};
  Policy p;
  p.keep_last = 7;
  p.keep_daily = 14;
  p.keep_weekly = 8;
  p.keep_monthly = 12;
  p.keep_yearly = 3;
  p.recovery_window = 14 * 86400;
  p.max_share = 1;
  size_t kept = 0, expired = 0;
  double build_s = 0, plan_s = 0;
  for (int s = 0; s < sources; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<BackupInfo> in;
    in.reserve(per_source);
    std::string last_full;
    for (int i = 0; i < per_source; ++i) {
      BackupInfo b;
      b.id = "s" + std::to_string(s) + "-" + std::to_string(i);
      b.start = now - int64_t(per_source - i) * 86400 + s;
      b.end = b.start + 1800;
      bool full = i % 7 == 0 || last_full.empty();
      b.kind = full ? BackupKind::kFull : BackupKind::kIncremental;
      if (!full) b.parent = in.back().id;
      if (i % 40 == 39) b.state = BackupState::kFailed;
      if (i % 200 == 17) b.holds.push_back("case " + std::to_string(i));
      b.log_start = LogPosition{"timeline 1", uint64_t(i) << 24};
      if (full) last_full = b.id;
      in.push_back(std::move(b));
    }
    p.time_zone = zones[s % 5];
    auto t1 = std::chrono::steady_clock::now();
    Plan plan = strata::retention::plan(in, p, now);
    auto t2 = std::chrono::steady_clock::now();
    kept += plan.kept;
    expired += plan.expired;
    build_s += std::chrono::duration<double>(t1 - t0).count();
    plan_s += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf("sources %d, backups %lld: planned in %.3f s (%.1f us per source), history generated in %.3f s; kept %zu, "
              "expired %zu\n",
              sources, static_cast<long long>(sources) * per_source, plan_s, 1e6 * plan_s / sources, build_s, kept, expired);
  return 0;
}
