// `strata tier setup|demo|cooldown|freeze|thaw|reap|gc|erase|status`: data tiering of database entities (docs/TIERING.md).
// The work is in app/tier.hpp; the demo generator (not a use case) is called from here.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>

#include "app/tier.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"
#include "tiering/pg.hpp"
#include "tiering/support/crash_failpoint.hpp"
#include "tiering/support/demo.hpp"

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
  return app::tier_entity(ctx.settings.config_path, name);
}

// The tier commands' services: the repository opened with its key (archives are sealed) when first needed.
app::Services tier_services(CliContext& ctx, bool need_key = true) {
  app::Services s = ctx.services();
  s.open_repository = [&ctx, need_key] { return ctx.open_repo(need_key); };
  return s;
}

double elapsed(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
    auto entity = entity_config(ctx, o->entity);
    auto r = app::tier_setup(tier_services(ctx), {entity, o->apply});
    if (!o->apply) {
      std::printf("%s", r.ddl.c_str());
      std::printf("-- child tables reached from %s through foreign keys, as [[entity.%s.child]] entries:\n", entity.root.c_str(),
                  entity.name.c_str());
      for (const auto& c : r.children) std::printf("--   %s\n", c.c_str());
      app::raise(r.problem);  // a definition that a freeze would refuse fails here already, naming what to change
      return;
    }
    if (!ctx.quiet) std::printf("tiering columns and indexes are in place for entity %s\n", entity.name.c_str());
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
    auto st = app::tier_cooldown(tier_services(ctx), {entity_config(ctx, o->entity), o->limit});
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
    auto r = app::tier_freeze(tier_services(ctx), {entity_config(ctx, o->entity), o->limit, o->keys});
    const auto& st = r.stats;
    if (!ctx.quiet) {
      std::printf("%zu entities frozen into %zu pack(s), %zu left in place (changed meanwhile) in %.2f s (%.0f/s)\n", st.frozen,
                  st.packs, st.skipped, st.seconds, st.seconds > 0 ? st.frozen / st.seconds : 0.0);
    }
    app::raise(r.problem);
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
    auto entity = entity_config(ctx, o->entity);
    if (!o->keys_from.empty()) {
      auto r = app::tier_thaw_latency(tier_services(ctx), {entity, o->keys_from, o->callers, o->via, o->rate});
      const auto& l = r.latency;
      std::printf("%zu on-demand thaws (%zu thawed) by %zu caller(s) %s%s in %.1f s (%.0f/s): p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, "
                  "max %.2f ms\n",
                  l.count, r.thawed, r.callers, o->via.empty() ? "in-process" : "through the thaw service",
                  o->rate > 0 ? (", paced at " + std::to_string(static_cast<int>(o->rate)) + "/s").c_str() : "", r.seconds,
                  r.seconds > 0 ? l.count / r.seconds : 0.0, l.p50, l.p95, l.p99, l.max);
      app::raise(r.problem);
      return;
    }
    if (!o->key.empty()) {
      auto r = app::tier_thaw(tier_services(ctx), {entity, o->key});
      if (!ctx.quiet) {
        std::printf("%s/%s %s\n", entity.name.c_str(), o->key.c_str(), r.thawed ? "thawed" : "was already in the database");
      }
      return;
    }
    auto r = app::tier_thaw_batch(tier_services(ctx), {entity, o->all_archived, o->limit});
    const auto& st = r.stats;
    if (!ctx.quiet) {
      std::printf("%zu entities thawed, %zu failed in %.2f s (%.0f/s)\n", st.thawed, st.failed, st.seconds,
                  st.seconds > 0 ? st.thawed / st.seconds : 0.0);
    }
    app::raise(r.problem);
  });

  auto* erase = tier->add_subcommand("erase", "GDPR: destroy every archive of an entity and delete its row; recorded");
  erase->add_option("key", o->key, "Entity key")->required();
  erase->callback([&ctx, o] {
    ctx.finalize();
    auto entity = entity_config(ctx, o->entity);
    size_t n = app::tier_erase(tier_services(ctx), {entity, o->key});
    if (!ctx.quiet) std::printf("%s/%s erased (%zu archive(s) destroyed); recorded in strata_tier_events\n", entity.name.c_str(), o->key.c_str(), n);
  });

  auto* reap = tier->add_subcommand("reap", "Destroy archive entries released by committed thaws (batch thaw and freeze do it too)");
  reap->callback([&ctx, o] {
    ctx.finalize();
    size_t n = app::tier_reap(tier_services(ctx), {entity_config(ctx, o->entity)});
    if (!ctx.quiet) std::printf("%zu released archive entries destroyed\n", n);
  });

  auto* gc = tier->add_subcommand("gc", "Destroy archive entries no database row refers to (skipped or crashed freezes)");
  gc->callback([&ctx, o] {
    ctx.finalize();
    size_t n = app::tier_gc(tier_services(ctx), {entity_config(ctx, o->entity)});
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
    auto entity = entity_config(ctx, o->entity);
    // A signal stops the service (it answers what is in flight and removes its socket) and the command ends with 0.
    struct sigaction sa{};
    sa.sa_handler = on_serve_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    app::TierServeRequest req{entity, o->socket, o->port, o->serve_workers, &g_serve_stop};
    app::tier_serve(tier_services(ctx), req, [&](int port, size_t workers) {
      std::string where = o->socket.empty() ? "" : o->socket;
      if (port >= 0) where += (where.empty() ? "" : " and ") + std::string("127.0.0.1:") + std::to_string(port);
      std::printf("thaw service listening on %s (%zu workers)\n", where.c_str(), workers);
      std::fflush(stdout);
    });
  });

  auto* status = tier->add_subcommand("status", "Entities per tier, backlog, failures, packs");
  status->add_flag("--json", o->json, "One JSON object");
  status->callback([&ctx, o] {
    ctx.finalize();
    app::Services services = tier_services(ctx, false);
    if (ctx.settings.repo.empty()) services.open_repository = nullptr;  // status without pack counts
    auto s = app::tier_status(services, {entity_config(ctx, o->entity)});
    std::printf("%s\n", o->json ? s.to_json().c_str() : s.to_text().c_str());
  });
}

}  // namespace strata
