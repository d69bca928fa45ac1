// strata server: the fleet's control plane (docs/CLI.md "strata server", docs/CATALOG.md). Thin: flags in,
// server/http/fleet_server runs it.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/context.hpp"
#include "common/cancel.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "server/http/fleet_server.hpp"

namespace strata {

std::vector<std::string> split_tags(const std::string& list);  // cmd_agent.cpp

void register_server(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("server", "Run the fleet's control plane: scheduler, job queue, agent API");
  struct Opts {
    std::string catalog, listen, token_dir, tls_cert, tls_key, tick = "10s", agent_tags, agent_name = "embedded";
    int64_t lease = 60;
    unsigned threads = 2, connections = 2;
    int agent_jobs = 1;
    bool embedded = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--catalog", o->catalog, "Catalog URL (default: `catalog` in the config file, or STRATA_CATALOG)");
  cmd->add_option("--listen", o->listen, "Serve the agent API on HOST:PORT (e.g. 127.0.0.1:8443)");
  cmd->add_option("--token-dir", o->token_dir, "Directory with one file per agent, named by the agent, holding its token");
  cmd->add_option("--tls-cert", o->tls_cert, "HTTPS: the server's certificate chain (PEM)");
  cmd->add_option("--tls-key", o->tls_key, "HTTPS: the certificate's private key (PEM)");
  cmd->add_option("--threads", o->threads, "HTTP I/O threads (default 2), whatever the number of agents");
  cmd->add_option("--catalog-connections", o->connections, "Catalog connections serving agents (default 2)");
  cmd->add_option("--lease", o->lease, "Seconds a claim or heartbeat holds a job (default 60)");
  cmd->add_option("--tick", o->tick, "How often the scheduler runs (default 10s)");
  cmd->add_flag("--embedded-agent", o->embedded, "Also run jobs in this process (single host, no agents to deploy)");
  cmd->add_option("--agent-tags", o->agent_tags, "The embedded agent's tags, k=v,...");
  cmd->add_option("--agent-jobs", o->agent_jobs, "Jobs the embedded agent runs at once (default 1)");
  cmd->footer(
      "Examples:\n"
      "  strata server --config /etc/strata/fleet.toml --embedded-agent\n"
      "  strata server --config /etc/strata/fleet.toml --listen 0.0.0.0:8443 --token-dir /etc/strata/agents \\\n"
      "      --tls-cert /etc/strata/tls/cert.pem --tls-key /etc/strata/tls/key.pem");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    if (ctx.settings.config_path.empty()) fail(ErrorCode::kUsage, "strata server needs the fleet config: --config FILE");
    if (o->lease < 2) fail(ErrorCode::kUsage, "--lease must be at least 2 seconds");
    FleetServerOptions so;
    so.config_path = ctx.settings.config_path;
    so.catalog = o->catalog;
    so.listen = o->listen;
    so.token_dir = o->token_dir;
    so.tls_cert = o->tls_cert;
    so.tls_key = o->tls_key;
    so.http_threads = o->threads;
    so.catalog_connections = o->connections;
    so.queue.lease = o->lease;
    so.tick = std::chrono::seconds(std::max<int64_t>(1, parse_duration(o->tick, "--tick", BareNumber::kRefused)));
    so.embedded_agent = o->embedded;
    so.embedded.hello.name = o->agent_name;
    so.embedded.hello.tags = split_tags(o->agent_tags);
    so.embedded.hello.max_jobs = o->agent_jobs;
    so.runner.global_args = {"--config", ctx.settings.config_path};
    so.runner.repo = ctx.settings.repo;
    so.runner.keep_env = {"STRATA_PASSPHRASE"};
    so.on_ready = [](uint16_t port) {
      if (port) std::fprintf(stderr, "strata server: listening on port %u\n", static_cast<unsigned>(port));
      else std::fprintf(stderr, "strata server: running jobs in process\n");
    };
    run_fleet_server(so, CancelToken::process());
  });
}

}  // namespace strata
