#include "app/tier.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "app/phase.hpp"
#include "common/cancel.hpp"
#include "common/error.hpp"
#include "tiering/pg.hpp"
#include "tiering/schema.hpp"
#include "tiering/serve.hpp"

namespace strata::app {
namespace {

double elapsed(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One tier operation as the observer and the cancel token see it: a phase whose progress is the batches done,
// and a stop asked before every batch.
class TierRun {
 public:
  // A job cancelled before it started connects nowhere and shows no phase.
  TierRun(const Services& services, const std::string& phase, size_t limit)
      : token_(checked(services.cancel_token())), services_(services), phase_name_(phase),
        phase_(services, phase, limit == SIZE_MAX ? 0 : limit) {}

  tiering::RunControl control() {
    return {[this] { return token_.cancelled(); }, [this](const tiering::BatchDone& b) { add(b); }};
  }

  // Batches come from worker threads; the observer hears them one at a time.
  void add(const tiering::BatchDone& b) {
    std::lock_guard<std::mutex> lock(mu_);
    entities_ += b.entities;
    bytes_ += b.bytes;
    if (!services_.observer) return;
    Progress p;
    p.phase = phase_name_;
    p.bytes_out = bytes_;
    p.objects = entities_;
    p.seconds = phase_.seconds();
    services_.observer->progress(p);
  }

  // A run the token stopped between batches: what was done is committed, the rest is untouched.
  void throw_if_stopped(const tiering::EntityConfig& entity, const std::string& what, size_t done) const {
    if (!token_.cancelled()) return;
    throw StrataError(ErrorCode::kInterrupted,
                      "entity " + entity.name + ": " + what + " interrupted by " + token_.reason() + " after " +
                          std::to_string(done) + " entities; each batch was committed on its own and the others "
                          "were left as they were; run the command again to continue");
  }

  void finish(uint64_t entities, uint64_t bytes) { phase_.finish(PhaseTotals{0, bytes, entities, 0, 0}); }

 private:
  static const CancelToken& checked(const CancelToken& token) {
    token.throw_if_cancelled();
    return token;
  }
  const CancelToken& token_;  // first: checked before the phase begins
  const Services& services_;
  std::string phase_name_;
  PhaseScope phase_;
  std::mutex mu_;
  uint64_t entities_ = 0, bytes_ = 0;
};

}  // namespace

tiering::EntityConfig tier_entity(const std::string& config_path, const std::string& name) {
  if (!name.empty()) return tiering::load_entity(config_path, name);
  auto all = tiering::load_entities(config_path);
  if (all.size() != 1) {
    fail(ErrorCode::kUsage, all.empty() ? "no [entity.NAME] in the config; give --config (docs/TIERING.md)"
                                        : "several entities in the config; give --entity NAME");
  }
  return tiering::load_entity(config_path, all.begin()->first);
}

TierSetupResult tier_setup(const Services& services, const TierSetupRequest& req) {
  TierRun run(services, "tier_setup", 0);
  tiering::Tierer t(req.entity, nullptr);
  TierSetupResult r;
  if (req.apply) {
    t.apply_setup();
    run.finish(0, 0);
    return r;
  }
  r.ddl = t.setup_ddl();
  // What the database's foreign keys say the entity is, to compare with (or paste into) the config.
  tiering::PgConn conn(t.config().database);
  for (const auto& c : tiering::derive_children(conn, t.config())) r.children.push_back(tiering::child_toml(t.config(), c));
  try {
    t.check_schema();  // a definition that a freeze would refuse is reported here already, naming what to change
  } catch (const StrataError& e) {
    r.problem = Problem{e.code(), e.what()};
  }
  run.finish(0, 0);
  return r;
}

tiering::CooldownStats tier_cooldown(const Services& services, const TierCooldownRequest& req) {
  TierRun run(services, "tier_cooldown", req.limit);
  tiering::Tierer t(req.entity, nullptr);
  t.set_control(run.control());
  auto st = t.cooldown(req.limit);
  run.throw_if_stopped(req.entity, "cooldown", st.warmed + st.rewarmed);
  run.finish(st.warmed + st.rewarmed, 0);
  return st;
}

TierFreezeResult tier_freeze(const Services& services, const TierFreezeRequest& req) {
  TierRun run(services, "tier_freeze", req.keys.empty() ? req.limit : req.keys.size());
  tiering::Tierer t(req.entity, &services.repository());
  t.set_control(run.control());
  TierFreezeResult r;
  r.stats = req.keys.empty() ? t.freeze(req.limit) : t.freeze_keys(req.keys);
  run.throw_if_stopped(req.entity, "freeze", r.stats.frozen);
  if (r.stats.failed) {
    r.problem = Problem{ErrorCode::kProblemsFound,
                        std::to_string(r.stats.failed) + " entities could not be frozen and stay in the database; see the "
                        "log (tier_freeze_failed, with each key and reason), strata_tier_events and `strata tier status`"};
  }
  run.finish(r.stats.frozen, r.stats.stored_bytes);
  return r;
}

TierThawResult tier_thaw(const Services& services, const TierThawRequest& req) {
  TierRun run(services, "tier_thaw", 1);
  tiering::Tierer t(req.entity, &services.repository());
  auto t0 = std::chrono::steady_clock::now();
  TierThawResult r;
  r.thawed = t.thaw(req.key) == tiering::ThawOutcome::kThawed;
  r.seconds = elapsed(t0);
  run.finish(r.thawed ? 1 : 0, 0);
  return r;
}

TierThawBatchResult tier_thaw_batch(const Services& services, const TierThawBatchRequest& req) {
  TierRun run(services, "tier_thaw", req.limit);
  tiering::Tierer t(req.entity, &services.repository());
  t.set_control(run.control());
  TierThawBatchResult r;
  r.stats = t.thaw_batch(req.all_archived, req.limit);
  run.throw_if_stopped(req.entity, "thaw", r.stats.thawed);
  if (r.stats.failed) {
    r.problem = Problem{ErrorCode::kProblemsFound, std::to_string(r.stats.failed) +
                                                       " entities could not be thawed; see the log (tier_thaw_failed) and "
                                                       "`strata tier status`"};
  }
  run.finish(r.stats.thawed, 0);
  return r;
}

LatencySummary summarize_latencies(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  LatencySummary s;
  s.count = ms.size();
  if (ms.empty()) return s;
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
  s.p50 = pct(0.5);
  s.p95 = pct(0.95);
  s.p99 = pct(0.99);
  s.max = ms.back();
  return s;
}

TierThawLatencyResult tier_thaw_latency(const Services& services, const TierThawLatencyRequest& req) {
  std::ifstream in(req.keys_from);
  if (!in) fail(ErrorCode::kUsage, "cannot read " + req.keys_from);
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) keys.push_back(line);
  }
  TierRun run(services, "tier_thaw", keys.size());
  Repository& repo = services.repository();
  tiering::Tierer first(req.entity, &repo);
  const CancelToken& token = services.cancel_token();
  const size_t n = std::max<size_t>(1, req.callers);
  std::vector<std::vector<double>> ms(n);
  std::vector<size_t> thawed(n, 0), errors(n, 0);
  std::vector<std::string> first_error(n);
  auto start = std::chrono::steady_clock::now();
  auto caller = [&](size_t c) {
    std::unique_ptr<tiering::Tierer> own;
    std::unique_ptr<tiering::ThawClient> client;
    if (!req.via.empty()) client = std::make_unique<tiering::ThawClient>(req.via);
    else if (c > 0) own = std::make_unique<tiering::Tierer>(first.config(), &repo);
    tiering::Tierer& t = own ? *own : first;
    if (!client) t.prepare();  // as the service does at start: the timed logins are steady state, on both paths
    auto gap = req.rate > 0 ? std::chrono::duration<double>(static_cast<double>(n) / req.rate) : std::chrono::duration<double>(0);
    auto next = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap * (static_cast<double>(c) / n));
    for (size_t i = c; i < keys.size() && !token.cancelled(); i += n) {
      if (req.rate > 0) {
        std::this_thread::sleep_until(next);  // pacing the load, not synchronisation
        next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap);
      }
      auto t0 = std::chrono::steady_clock::now();
      try {
        bool now_thawed = false;
        if (client) {
          std::string r = client->request("THAW " + keys[i]);
          if (r.rfind("OK ", 0) != 0) fail(ErrorCode::kGeneric, r);
          now_thawed = r.rfind("OK thawed", 0) == 0;
        } else {
          now_thawed = t.thaw(keys[i]) == tiering::ThawOutcome::kThawed;
        }
        if (now_thawed) ++thawed[c];
        ms[c].push_back(elapsed(t0) * 1000);
        run.add(tiering::BatchDone{1, 0, 0, 0});
      } catch (const StrataError& e) {
        if (!errors[c]++) first_error[c] = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c) threads.emplace_back(caller, c);
  for (auto& th : threads) th.join();
  TierThawLatencyResult r;
  r.seconds = elapsed(start);
  r.callers = n;
  std::vector<double> all;
  std::string err;
  for (size_t c = 0; c < n; ++c) {
    all.insert(all.end(), ms[c].begin(), ms[c].end());
    r.thawed += thawed[c];
    r.errors += errors[c];
    if (err.empty()) err = first_error[c];
  }
  r.latency = summarize_latencies(std::move(all));
  run.throw_if_stopped(req.entity, "the latency run", r.latency.count);
  if (r.errors) r.problem = Problem{ErrorCode::kProblemsFound, std::to_string(r.errors) + " thaws failed; the first: " + err};
  run.finish(r.latency.count, 0);
  return r;
}

size_t tier_reap(const Services& services, const TierEntityRequest& req) {
  TierRun run(services, "tier_reap", 0);
  tiering::Tierer t(req.entity, &services.repository());
  size_t n = t.reap_released();
  run.finish(n, 0);
  return n;
}

size_t tier_gc(const Services& services, const TierEntityRequest& req) {
  TierRun run(services, "tier_gc", 0);
  tiering::Tierer t(req.entity, &services.repository());
  size_t n = t.collect_garbage();
  run.finish(n, 0);
  return n;
}

size_t tier_erase(const Services& services, const TierEraseRequest& req) {
  TierRun run(services, "tier_erase", 1);
  tiering::Tierer t(req.entity, &services.repository());
  size_t n = t.erase(req.key);
  run.finish(1, 0);
  return n;
}

tiering::TierStatus tier_status(const Services& services, const TierEntityRequest& req) {
  TierRun run(services, "tier_status", 0);
  Repository* repo = services.repo || services.open_repository ? &services.repository() : nullptr;
  tiering::Tierer t(req.entity, repo);
  auto s = t.status();
  run.finish(0, 0);
  return s;
}

void tier_serve(const Services& services, const TierServeRequest& req, const std::function<void(int, size_t)>& ready) {
  TierRun run(services, "tier_serve", 0);
  tiering::ThawService svc(req.entity, services.repository(), req.workers);
  std::atomic<bool> own_stop{false};
  std::atomic<bool>& stop = req.stop ? *req.stop : own_stop;
  CancelHook hook(&services.cancel_token(), [&stop] { stop = true; });
  tiering::ServeOptions so{req.socket, req.port};
  tiering::serve_lines(svc, so, stop, [&](int port) {
    if (ready) ready(port, svc.workers());
  });
  run.finish(0, 0);
}

}  // namespace strata::app
