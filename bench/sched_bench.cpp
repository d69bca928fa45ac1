// Scheduler benchmark (issue 15 part 4): a simulated fleet of 10,000 sources with 30,000 schedules in 26 zones
// (weekly full + daily incremental in an off-peak window with 30 min jitter, and a 4-hourly incremental), and the
// time (wall and this thread's CPU) of one scheduler pass over all of them — cold (no stored next fires), in steady state (a pass every 60 s
// over a simulated week on a manual clock), and after a week of downtime (every row due, a week of fires each).
//
//   strata_sched_bench [sources=10000] [days=7]        (bench/run_sched_bench.sh runs it; docs/BENCHMARKS.md)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <time.h>
#include <vector>

#include "common/clock.hpp"
#include "common/time_zone.hpp"
#include "platform/scheduler/scheduler.hpp"

using namespace strata;

namespace {

const char* const kZones[] = {
    "America/New_York", "Europe/London",    "Australia/Lord_Howe", "America/Santiago",  "Asia/Shanghai",
    "Asia/Kolkata",     "Pacific/Chatham",  "America/St_Johns",    "Europe/Moscow",     "Africa/Casablanca",
    "Asia/Tehran",      "Pacific/Apia",     "UTC",                 "Europe/Berlin",     "America/Los_Angeles",
    "Australia/Sydney", "America/Havana",   "Asia/Gaza",           "Pacific/Auckland",  "Africa/Cairo",
    "Asia/Jerusalem",   "Europe/Dublin",    "America/Nuuk",        "Antarctica/Troll",  "America/Asuncion",
    "Asia/Kathmandu",
};

// CPU time of this thread: on a shared 2-core machine the wall time of a pass also counts the waits for a core.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a;
  f >> a;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const int sources = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int days = argc > 2 ? std::atoi(argv[2]) : 7;
  const int64_t start = local_seconds_from_civil(2027, 10, 25, 0, 0);  // a week with DST changes in the north

  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_ms();
  std::vector<Schedule> schedules;
  schedules.reserve(static_cast<size_t>(sources) * 3);
  for (int i = 0; i < sources; ++i) {
    std::string name = "region-" + std::to_string(i % 4) + "/idc-" + std::to_string(i % 17) + "/db" + std::to_string(i);
    const char* zone = kZones[static_cast<size_t>(i) % (sizeof kZones / sizeof kZones[0])];
    ScheduleSpec full;
    full.source = name;
    full.type = "full";
    full.cron = "0 3 * * " + std::to_string(i % 7);
    full.zone = zone;
    full.window = "01:00-05:00";
    full.jitter = 1800;
    ScheduleSpec daily = full;
    daily.type = "incremental";
    daily.cron = std::to_string(i % 60) + " " + std::to_string(1 + i % 3) + " * * *";
    ScheduleSpec hourly;
    hourly.source = name;
    hourly.type = "incremental";
    hourly.cron = std::to_string((i * 7) % 60) + " */4 * * *";
    hourly.zone = zone;
    schedules.push_back(Schedule::compile(full));
    schedules.push_back(Schedule::compile(daily));
    schedules.push_back(Schedule::compile(hourly));
  }
  double compile_ms = ms_since(t0);
  double compile_cpu = cpu_ms() - c0;

  std::vector<ScheduleRow> rows;
  rows.reserve(schedules.size());
  for (const auto& s : schedules) rows.push_back(ScheduleRow{&s, std::nullopt});

  ManualClock clock(start);
  Scheduler scheduler(clock);
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_ms();
  PassResult cold = scheduler.pass(rows);
  double cold_ms = ms_since(t0);
  double cold_cpu = cpu_ms() - c0;
  for (auto [row, next] : cold.next_fires) rows[row].next_fire = next;
  std::vector<ScheduleRow> week_later = rows;  // the same stored state, for the downtime pass

  // Steady state: a pass every 60 s for `days` days.
  std::vector<double> pass_ms;
  std::vector<double> pass_cpu;
  size_t due = 0;
  size_t missed = 0;
  size_t max_due = 0;
  for (int64_t t = start + 60; t <= start + days * 86400LL; t += 60) {
    clock.set(t);
    auto p0 = std::chrono::steady_clock::now();
    double pc = cpu_ms();
    PassResult r = scheduler.pass(rows);
    for (auto [row, next] : r.next_fires) rows[row].next_fire = next;
    double ms = ms_since(p0);
    pass_ms.push_back(ms);
    pass_cpu.push_back(cpu_ms() - pc);
    due += r.due.size();
    max_due = std::max(max_due, r.due.size());
    missed += r.missed.size();
  }

  // After `days` days of downtime: every row is due with all of its fires since.
  clock.set(start + days * 86400LL);
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_ms();
  PassResult down = scheduler.pass(week_later);
  double down_ms = ms_since(t0);
  double down_cpu = cpu_ms() - c0;
  size_t down_missed = 0;
  for (const auto& m : down.missed) down_missed += m.count;

  std::printf("sources %d, schedules %zu, zones %zu, simulated %d days from %s, load %s\n\n", sources,
              schedules.size(), sizeof kZones / sizeof kZones[0], days, iso_utc(start).c_str(), loadavg().c_str());
  std::printf("| measurement | wall | CPU |\n|---|---:|---:|\n");
  std::printf("| compile %zu schedules (parse cron, locate zone, check window) | %.1f ms | %.1f ms |\n",
              schedules.size(), compile_ms, compile_cpu);
  std::printf("| cold pass (no stored next fires: %zu computed) | %.1f ms | %.1f ms |\n", cold.next_fires.size(),
              cold_ms, cold_cpu);
  std::printf("| steady passes (every 60 s, %zu passes) p50 / p99 / max | %.3f / %.3f / %.3f ms | %.3f / %.3f / %.3f ms |\n",
              pass_ms.size(), percentile(pass_ms, 0.5), percentile(pass_ms, 0.99),
              *std::max_element(pass_ms.begin(), pass_ms.end()), percentile(pass_cpu, 0.5),
              percentile(pass_cpu, 0.99), *std::max_element(pass_cpu.begin(), pass_cpu.end()));
  std::printf("| occurrences due over the run (most in one pass) | %zu (%zu) | |\n", due, max_due);
  std::printf("| missed reports in steady state | %zu | |\n", missed);
  std::printf("| pass after %d days of downtime (every row due: %zu run late, %zu fires reported missed) | %.1f ms | %.1f ms |\n",
              days, down.due.size(), down_missed, down_ms, down_cpu);
  return missed == 0 ? 0 : 1;
}
