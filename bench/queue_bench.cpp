// Job queue benchmark (issue 15; docs/BENCHMARKS.md "Job queue"): on one catalog URL (SQLite file or PostgreSQL),
//  1. throughput: J jobs queued in G groups under group limits, W workers (threads, one connection and one agent
//     each) claim + complete until all are done — every claim takes the agent's, the groups' and the fleet's slots;
//  2. latency: a producer queues jobs at R per second while the W workers poll; queued -> running is measured from
//     the enqueue's commit to the claim's commit (steady_clock, one process);
//  3. reference: the same J jobs through a plain SQL loop (PostgreSQL: UPDATE ... WHERE id = (SELECT ... FOR UPDATE
//     SKIP LOCKED LIMIT 1); SQLite: the same in BEGIN IMMEDIATE) with no limits, no epochs, no events.
// At the end it checks that no limit slot is left used and every job succeeded exactly once.
//
//   strata_queue_bench URL [jobs=5000] [workers=8] [rate=200] [latency_jobs=1000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "platform/catalog/catalog.hpp"
#include "platform/queue/job_queue.hpp"

using namespace strata;
using Clock_ = std::chrono::steady_clock;

namespace {

double ms_since(Clock_::time_point t) { return std::chrono::duration<double, std::milli>(Clock_::now() - t).count(); }

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string group_of(int i) { return "region-" + std::to_string(i % 2) + "/idc-" + std::to_string(i % 5); }

void fresh(Catalog& c) {
  for (const char* t : {"jobs", "job_attempts", "job_events", "limit_slots", "agents", "outbox"}) {
    c.sql().exec(std::string("DELETE FROM ") + t);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: strata_queue_bench URL [jobs] [workers] [rate] [latency_jobs]\n");
    return 2;
  }
  std::string url = argv[1];
  int jobs = argc > 2 ? std::stoi(argv[2]) : 5000;
  int workers = argc > 3 ? std::stoi(argv[3]) : 8;
  int rate = argc > 4 ? std::stoi(argv[4]) : 200;
  int latency_jobs = argc > 5 ? std::stoi(argv[5]) : 1000;
  auto main_cat = Catalog::open(url);
  std::printf("catalog %s, %d jobs, %d workers%s\n", main_cat->describe().c_str(), jobs, workers,
              std::getenv("NO_FLEET_LIMIT") ? ", no fleet limit" : "");

  // ---- 1. throughput ----
  fresh(*main_cat);
  JobQueue q(*main_cat);
  // The fleet's limit (as many as there are workers) is one row every claim and completion updates: the serial point.
  bool global = !std::getenv("NO_FLEET_LIMIT");
  if (global) q.set_limit("", workers, std::nullopt);
  for (int g = 0; g < 5; ++g) q.set_limit("region-" + std::to_string(g % 2) + "/idc-" + std::to_string(g), 3, std::nullopt);
  for (int w = 0; w < workers; ++w) q.register_agent("w" + std::to_string(w), {}, 2);
  auto t_enq = Clock_::now();
  for (int i = 0; i < jobs; ++i) {
    JobSpec s;
    s.source = "s" + std::to_string(i);
    s.group = group_of(i);
    q.enqueue(s);
  }
  double enq_ms = ms_since(t_enq);
  std::atomic<int> done{0}, empty_claims{0};
  auto t0 = Clock_::now();
  std::vector<std::thread> th;
  for (int w = 0; w < workers; ++w) {
    th.emplace_back([&, w] {
      auto cat = Catalog::open(url);
      JobQueue wq(*cat);
      std::string agent = "w" + std::to_string(w);
      while (done.load() < jobs) {
        auto c = wq.claim(agent);
        if (!c) {
          ++empty_claims;
          continue;
        }
        wq.complete(c->job_id, c->epoch, {true, "", "file:///bench", "m" + std::to_string(c->job_id)});
        ++done;
      }
    });
  }
  for (auto& t : th) t.join();
  double secs = ms_since(t0) / 1000;
  auto ok = main_cat->sql().exec("SELECT count(*) FROM jobs WHERE state = 'succeeded'").rows[0][0].value_or("?");
  auto used = main_cat->sql().exec("SELECT coalesce(sum(used), 0) FROM limit_slots").rows[0][0].value_or("?");
  std::printf("enqueue: %d jobs in %.0f ms (%.0f jobs/s, one connection)\n", jobs, enq_ms, jobs / (enq_ms / 1000));
  std::printf("claim+complete: %d jobs in %.2f s = %.0f jobs/s (%d empty claims); succeeded %s, slots left used %s\n",
              jobs, secs, jobs / secs, empty_claims.load(), ok.c_str(), used.c_str());

  // ---- 2. latency ----
  fresh(*main_cat);
  for (int w = 0; w < workers; ++w) q.register_agent("w" + std::to_string(w), {}, 2);
  std::mutex mu;
  std::map<int64_t, Clock_::time_point> queued_at;
  std::vector<double> lat;
  std::atomic<int> claimed{0};
  std::atomic<bool> stop{false};
  th.clear();
  for (int w = 0; w < workers; ++w) {
    th.emplace_back([&, w] {
      auto cat = Catalog::open(url);
      JobQueue wq(*cat);
      std::string agent = "w" + std::to_string(w);
      while (!stop.load()) {
        auto c = wq.claim(agent);
        auto at = Clock_::now();
        if (!c) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));  // an idle agent's poll interval
          continue;
        }
        {
          std::lock_guard<std::mutex> l(mu);
          auto it = queued_at.find(c->job_id);
          if (it != queued_at.end()) lat.push_back(std::chrono::duration<double, std::milli>(at - it->second).count());
        }
        wq.complete(c->job_id, c->epoch, {true, "", "file:///bench", "m"});
        ++claimed;
      }
    });
  }
  auto start = Clock_::now();
  for (int i = 0; i < latency_jobs; ++i) {
    auto due = start + std::chrono::microseconds(static_cast<int64_t>(1e6 * i / rate));
    std::this_thread::sleep_until(due);
    JobSpec s;
    s.source = "l" + std::to_string(i);
    s.group = group_of(i);
    std::lock_guard<std::mutex> l(mu);  // the claim cannot record before the commit time is known
    auto r = q.enqueue(s);
    queued_at[r.job_id] = Clock_::now();
  }
  while (claimed.load() < latency_jobs) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& t : th) t.join();
  std::printf("queued->running at %d jobs/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu jobs)\n", rate, pct(lat, 0.5),
              pct(lat, 0.99), pct(lat, 1.0), lat.size());

  // ---- 3. the plain SQL reference ----
  fresh(*main_cat);
  main_cat->write([&] {
    for (int i = 0; i < jobs; ++i) {
      main_cat->sql().exec("INSERT INTO jobs (source, type, state, origin, priority, grp, tags, created_at, run_after, "
                           "attempt, max_attempts, epoch, slots, lease_losses) VALUES ($1, 'full', 'queued', 'bench', 0, "
                           "'', '', 0, 0, 0, 1, 0, '', 0)", {"r" + std::to_string(i)});
    }
  });
  std::atomic<int> rdone{0};
  th.clear();
  auto r0 = Clock_::now();
  for (int w = 0; w < workers; ++w) {
    th.emplace_back([&] {
      auto cat = Catalog::open(url);
      while (rdone.load() < jobs) {
        std::optional<std::string> id;
        cat->write([&] {
          auto r = cat->sql().exec(std::string("UPDATE jobs SET state = 'running' WHERE id = (SELECT id FROM jobs WHERE "
                                               "state = 'queued' ORDER BY id LIMIT 1") + cat->skip_locked() + ") RETURNING id");
          if (!r.rows.empty()) id = r.rows[0][0];
        });
        if (!id) continue;
        cat->write([&] { cat->sql().exec("UPDATE jobs SET state = 'succeeded' WHERE id = $1", {*id}); });
        ++rdone;
      }
    });
  }
  for (auto& t : th) t.join();
  double rs = ms_since(r0) / 1000;
  std::printf("reference plain SQL loop (no limits/epochs/events): %d jobs in %.2f s = %.0f jobs/s\n", jobs, rs, jobs / rs);
  return 0;
}
