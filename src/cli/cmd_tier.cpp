// `strata tier setup|demo|cooldown|freeze|thaw|reap|gc|erase|status`: data tiering of database entities (docs/TIERING.md).
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <chrono>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"
#include "tiering/entity.hpp"
#include "tiering/pg.hpp"
#include "tiering/schema.hpp"
#include "tiering/serve.hpp"
#include "tiering/support/crash_failpoint.hpp"
#include "tiering/support/demo.hpp"
#include "tiering/tiering.hpp"

namespace strata {
namespace {

struct TierOpts {
  std::string entity;
  bool apply = false;
  bool json = false;
  bool restoring = false;
  bool all_archived = false;
  size_t limit = SIZE_MAX;
  std::string key;
  std::vector<std::string> keys;
  std::string database;
  size_t players = 1000;
  size_t first = 0;
  int inactive_percent = 50;
  bool print_config = false;
  std::string keys_from;
  std::string socket;
  int port = -1;
  size_t serve_workers = 8;
  size_t callers = 1;
  std::string via;
  double rate = 0;
};

std::atomic<bool> g_serve_stop{false};
void on_serve_signal(int) { g_serve_stop = true; }

tiering::EntityConfig entity_config(const CliContext& ctx, const std::string& name) {
  const std::string& path = ctx.settings.config_path;
  if (!name.empty()) return tiering::load_entity(path, name);
  auto all = tiering::load_entities(path);
  if (all.size() != 1) {
    fail(ErrorCode::kUsage, all.empty() ? "no [entity.NAME] in the config; give --config (docs/TIERING.md)"
                                        : "several entities in the config; give --entity NAME");
  }
  return tiering::load_entity(path, all.begin()->first);
}

double elapsed(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// `tier thaw --keys-from F [--callers N] [--via SOCKET] [--rate R]`: logins as a game server makes them, timed from
// request to answer. N callers split the keys; each thaws in-process with a Tierer of its own (its own connection)
// or asks the thaw service on SOCKET over a connection of its own. With --rate, logins are spread at R per second in
// total instead of each caller sending the next as soon as it has an answer.
void thaw_latency(tiering::Tierer& first, Repository& repo, const TierOpts& o) {
  std::ifstream in(o.keys_from);
  if (!in) fail(ErrorCode::kUsage, "cannot read " + o.keys_from);
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) keys.push_back(line);
  }
  size_t n = std::max<size_t>(1, o.callers);
  std::vector<std::vector<double>> ms(n);
  std::vector<size_t> thawed(n, 0), errors(n, 0);
  std::vector<std::string> first_error(n);
  auto start = std::chrono::steady_clock::now();
  auto caller = [&](size_t c) {
    std::unique_ptr<tiering::Tierer> own;
    std::unique_ptr<tiering::ThawClient> client;
    if (!o.via.empty()) client = std::make_unique<tiering::ThawClient>(o.via);
    else if (c > 0) own = std::make_unique<tiering::Tierer>(first.config(), &repo);
    tiering::Tierer& t = own ? *own : first;
    if (!client) t.prepare();  // as the service does at start: the timed logins are steady state, on both paths
    auto gap = o.rate > 0 ? std::chrono::duration<double>(static_cast<double>(n) / o.rate) : std::chrono::duration<double>(0);
    auto next = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap * (static_cast<double>(c) / n));
    for (size_t i = c; i < keys.size(); i += n) {
      if (o.rate > 0) {
        std::this_thread::sleep_until(next);  // pacing the load, not synchronisation
        next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap);
      }
      auto t0 = std::chrono::steady_clock::now();
      try {
        if (client) {
          std::string r = client->request("THAW " + keys[i]);
          if (r.rfind("OK ", 0) != 0) fail(ErrorCode::kGeneric, r);
          if (r.rfind("OK thawed", 0) == 0) ++thawed[c];
        } else if (t.thaw(keys[i]) == tiering::ThawOutcome::kThawed) {
          ++thawed[c];
        }
        ms[c].push_back(elapsed(t0) * 1000);
      } catch (const StrataError& e) {
        if (!errors[c]++) first_error[c] = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c) threads.emplace_back(caller, c);
  for (auto& th : threads) th.join();
  double wall = elapsed(start);
  std::vector<double> all;
  size_t total_thawed = 0, total_errors = 0;
  std::string err;
  for (size_t c = 0; c < n; ++c) {
    all.insert(all.end(), ms[c].begin(), ms[c].end());
    total_thawed += thawed[c];
    total_errors += errors[c];
    if (err.empty()) err = first_error[c];
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))]; };
  std::printf("%zu on-demand thaws (%zu thawed) by %zu caller(s) %s%s in %.1f s (%.0f/s): p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, "
              "max %.2f ms\n",
              all.size(), total_thawed, n, o.via.empty() ? "in-process" : "through the thaw service",
              o.rate > 0 ? (", paced at " + std::to_string(static_cast<int>(o.rate)) + "/s").c_str() : "", wall,
              wall > 0 ? all.size() / wall : 0.0, pct(0.5), pct(0.95), pct(0.99), all.empty() ? 0.0 : all.back());
  if (total_errors) fail(ErrorCode::kProblemsFound, std::to_string(total_errors) + " thaws failed; the first: " + err);
}

}  // namespace

void register_tier(CLI::App& app, CliContext& ctx) {
  // The crash-safety tests kill the real binary at a named step (STRATA_TIER_FAILPOINT); inert otherwise.
  tiering::install_crash_failpoint_from_env();
  auto* tier = app.add_subcommand("tier", "Data tiering: cool down, deep-freeze to the repository, thaw and erase entities");
  tier->require_subcommand(1);
  auto o = std::make_shared<TierOpts>();
  tier->add_option("--entity", o->entity, "Entity name from [entity.NAME] in the config (default: the only one)");
  tier->footer(
      "Examples:\n"
      "  strata --config tier.toml tier setup --apply\n"
      "  strata --config tier.toml tier cooldown\n"
      "  strata --config tier.toml --repo /backups/tier tier freeze\n"
      "  strata --config tier.toml --repo /backups/tier tier thaw 5f2b...-uuid\n"
      "  strata --config tier.toml tier status --json");

  auto* setup = tier->add_subcommand("setup", "Print (or --apply) the DDL tiering needs: tier/location columns, indexes");
  setup->add_flag("--apply", o->apply, "Run the DDL instead of printing it");
  setup->callback([&ctx, o] {
    ctx.finalize();
    tiering::Tierer t(entity_config(ctx, o->entity), nullptr);
    if (!o->apply) {
      std::printf("%s", t.setup_ddl().c_str());
      // What the database's foreign keys say the entity is, to compare with (or paste into) the config.
      tiering::PgConn conn(t.config().database);
      std::printf("-- child tables reached from %s through foreign keys, as [[entity.%s.child]] entries:\n", t.config().root.c_str(),
                  t.config().name.c_str());
      for (const auto& c : tiering::derive_children(conn, t.config())) std::printf("--   %s\n", tiering::child_toml(t.config(), c).c_str());
      t.check_schema();  // a definition that a freeze would refuse fails here already, naming what to change
      return;
    }
    t.apply_setup();
    if (!ctx.quiet) std::printf("tiering columns and indexes are in place for entity %s\n", t.config().name.c_str());
  });

  auto* demo = tier->add_subcommand("demo", "Create the demo game schema (players, stats, equipment, bank, friends) and fill it");
  demo->add_option("--database", o->database, "libpq conninfo, e.g. \"host=127.0.0.1 port=5432 dbname=game\" (password via PGPASSWORD)");
  demo->add_option("--players", o->players, "Players to add (about 22 child rows each)");
  demo->add_option("--first", o->first, "Number of the first player (to add more later)");
  demo->add_option("--inactive-percent", o->inactive_percent, "Share of players inactive for 20-40 days")->check(CLI::Range(0, 100));
  demo->add_flag("--print-config", o->print_config, "Only print the [entity.players] config for --database");
  demo->callback([&ctx, o] {
    ctx.finalize();
    if (o->database.empty()) fail(ErrorCode::kUsage, "give --database (a libpq conninfo)");
    if (o->print_config) {
      std::printf("%s", tiering::demo_entity_toml(o->database).c_str());
      return;
    }
    tiering::PgConn conn(o->database);
    conn.exec(tiering::demo_schema_sql());
    auto t0 = std::chrono::steady_clock::now();
    tiering::generate_demo(conn, o->first, o->players, o->inactive_percent);
    if (!ctx.quiet) std::printf("added %zu demo players in %.1f s\n", o->players, elapsed(t0));
  });

  auto* cool = tier->add_subcommand("cooldown", "Mark entities inactive for warm_after as warm, in small batches");
  cool->add_option("--limit", o->limit, "At most this many entities");
  cool->callback([&ctx, o] {
    ctx.finalize();
    tiering::Tierer t(entity_config(ctx, o->entity), nullptr);
    auto st = t.cooldown(o->limit);
    if (!ctx.quiet) {
      std::printf("%zu entities hot -> warm, %zu warm -> hot in %.2f s (%.0f/s)\n", st.warmed, st.rewarmed, st.seconds,
                  st.seconds > 0 ? st.warmed / st.seconds : 0.0);
    }
  });

  auto* freeze = tier->add_subcommand("freeze", "Archive warm entities inactive for freeze_after and delete their rows");
  freeze->add_option("--limit", o->limit, "At most this many entities");
  freeze->add_option("--key", o->keys, "Only these keys (must be warm)");
  freeze->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    tiering::Tierer t(entity_config(ctx, o->entity), repo.get());
    auto st = o->keys.empty() ? t.freeze(o->limit) : t.freeze_keys(o->keys);
    if (!ctx.quiet) {
      std::printf("%zu entities frozen into %zu pack(s), %zu left in place (changed meanwhile) in %.2f s (%.0f/s)\n", st.frozen,
                  st.packs, st.skipped, st.seconds, st.seconds > 0 ? st.frozen / st.seconds : 0.0);
    }
    if (st.failed) {
      fail(ErrorCode::kProblemsFound, std::to_string(st.failed) + " entities could not be frozen and stay in the database; see the log "
                                      "(tier_freeze_failed, with each key and reason), strata_tier_events and `strata tier status`");
    }
  });

  auto* thaw = tier->add_subcommand("thaw", "Bring archived entities back: one KEY, or every one marked restoring");
  thaw->add_option("key", o->key, "Entity key to thaw now");
  thaw->add_flag("--restoring", o->restoring, "Thaw every entity whose tier is 'restoring', in batches");
  thaw->add_flag("--all-archived", o->all_archived, "Thaw every archived entity, in batches");
  thaw->add_option("--limit", o->limit, "At most this many entities (batch mode)");
  thaw->add_option("--keys-from", o->keys_from, "Thaw the keys in this file (one a line) one by one, as logins would; reports latency percentiles");
  thaw->add_option("--callers", o->callers, "With --keys-from: this many concurrent callers, each with its own connection")->check(CLI::Range(1, 256));
  thaw->add_option("--via", o->via, "With --keys-from: ask the thaw service on this Unix socket instead of thawing in-process");
  thaw->add_option("--rate", o->rate, "With --keys-from: logins per second in total (default: each caller as fast as answered)");
  thaw->callback([&ctx, o] {
    ctx.finalize();
    int modes = !o->key.empty() + (o->restoring || o->all_archived) + !o->keys_from.empty();
    if (modes != 1) fail(ErrorCode::kUsage, "give one of KEY, --restoring / --all-archived, or --keys-from FILE");
    auto repo = ctx.open_repo(true);
    tiering::Tierer t(entity_config(ctx, o->entity), repo.get());
    if (!o->keys_from.empty()) {
      thaw_latency(t, *repo, *o);
      return;
    }
    if (!o->key.empty()) {
      auto r = t.thaw(o->key);
      if (!ctx.quiet) {
        std::printf("%s/%s %s\n", t.config().name.c_str(), o->key.c_str(),
                    r == tiering::ThawOutcome::kThawed ? "thawed" : "was already in the database");
      }
      return;
    }
    auto st = t.thaw_batch(o->all_archived, o->limit);
    if (!ctx.quiet) {
      std::printf("%zu entities thawed, %zu failed in %.2f s (%.0f/s)\n", st.thawed, st.failed, st.seconds,
                  st.seconds > 0 ? st.thawed / st.seconds : 0.0);
    }
    if (st.failed) {
      fail(ErrorCode::kProblemsFound, std::to_string(st.failed) + " entities could not be thawed; see the log (tier_thaw_failed) and `strata tier status`");
    }
  });

  auto* erase = tier->add_subcommand("erase", "GDPR: destroy every archive of an entity and delete its row; recorded");
  erase->add_option("key", o->key, "Entity key")->required();
  erase->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    tiering::Tierer t(entity_config(ctx, o->entity), repo.get());
    size_t n = t.erase(o->key);
    if (!ctx.quiet) std::printf("%s/%s erased (%zu archive(s) destroyed); recorded in strata_tier_events\n", t.config().name.c_str(), o->key.c_str(), n);
  });

  auto* reap = tier->add_subcommand("reap", "Destroy archive entries released by committed thaws (batch thaw and freeze do it too)");
  reap->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    tiering::Tierer t(entity_config(ctx, o->entity), repo.get());
    size_t n = t.reap_released();
    if (!ctx.quiet) std::printf("%zu released archive entries destroyed\n", n);
  });

  auto* gc = tier->add_subcommand("gc", "Destroy archive entries no database row refers to (skipped or crashed freezes)");
  gc->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    tiering::Tierer t(entity_config(ctx, o->entity), repo.get());
    size_t n = t.collect_garbage();
    if (!ctx.quiet) std::printf("%zu unreferenced archive entries destroyed\n", n);
  });

  auto* serve = tier->add_subcommand("serve", "Run the on-demand thaw service for game servers (Unix socket and/or loopback port)");
  serve->add_option("--socket", o->socket, "Unix socket path to listen on (mode 0660)");
  serve->add_option("--port", o->port, "TCP port on 127.0.0.1 to listen on (0 = any free port)")->check(CLI::Range(0, 65535));
  serve->add_option("--workers", o->serve_workers, "Concurrent thaws, each with its own database connection")->check(CLI::Range(1, 256));
  serve->footer("Protocol: one line per request, one line per reply (docs/TIERING.md \"Thaw service\"):\n"
                "  THAW <key>  ->  OK thawed <ms> | OK hot <ms> | ERR <exit-code> <message>\n"
                "  PING        ->  OK pong\n"
                "Example:\n  strata --config tier.toml --repo /backups/tier tier serve --socket /run/strata/thaw.sock");
  serve->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(true);
    tiering::ThawService svc(entity_config(ctx, o->entity), *repo, o->serve_workers);
    struct sigaction sa{};
    sa.sa_handler = on_serve_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    tiering::ServeOptions so{o->socket, o->port};
    tiering::serve_lines(svc, so, g_serve_stop, [&](int port) {
      std::string where = o->socket.empty() ? "" : o->socket;
      if (port >= 0) where += (where.empty() ? "" : " and ") + std::string("127.0.0.1:") + std::to_string(port);
      std::printf("thaw service listening on %s (%zu workers)\n", where.c_str(), svc.workers());
      std::fflush(stdout);
    });
  });

  auto* status = tier->add_subcommand("status", "Entities per tier, backlog, failures, packs");
  status->add_flag("--json", o->json, "One JSON object");
  status->callback([&ctx, o] {
    ctx.finalize();
    std::unique_ptr<Repository> repo;
    if (!ctx.settings.repo.empty()) repo = ctx.open_repo(false);
    tiering::Tierer t(entity_config(ctx, o->entity), repo.get());
    auto s = t.status();
    std::printf("%s\n", o->json ? s.to_json().c_str() : s.to_text().c_str());
  });
}

}  // namespace strata
