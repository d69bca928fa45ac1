#pragma once
// `strata server` (issue 15 part 5): the control plane of a fleet in one process. It copies the fleet config into
// the catalog, runs the scheduler tick (queue due schedules, expire leases, deliver the outbox) every `tick`, serves
// the agent protocol over HTTP(S) when --listen is given, and runs an embedded agent (in process, over the catalog)
// when asked — the single-host setup on SQLite, with no agent to deploy.
#include <chrono>
#include <functional>
#include <string>

#include "common/cancel.hpp"
#include "platform/agent/agent.hpp"
#include "platform/agent/job_runner.hpp"
#include "platform/queue/job_queue.hpp"

namespace strata {

struct FleetServerOptions {
  std::string config_path;         // the fleet config (sources, schedules, limits, catalog, webhooks)
  std::string catalog;             // "" = the config's `catalog` (or STRATA_CATALOG)
  std::string listen;              // "" = no HTTP: only the embedded agent runs jobs
  std::string token_dir;           // with listen: one file per agent holding its token
  std::string tls_cert, tls_key;   // with listen: HTTPS
  unsigned http_threads = 2;
  unsigned catalog_connections = 2;
  QueueOptions queue;              // lease etc.
  std::chrono::milliseconds tick{10000};
  bool embedded_agent = false;
  AgentOptions embedded;           // its name, tags, max jobs
  ProcessRunnerOptions runner;     // how the embedded agent runs a job
  // Called once the server serves (the bound port, 0 without HTTP): the CLI prints where it listens.
  std::function<void(uint16_t port)> on_ready;
};

// Runs until `stop` is cancelled (SIGINT/SIGTERM). Throws StrataError for what prevents starting (bad config, no
// catalog, the address cannot be bound); once running, catalog errors are logged and retried on the next tick.
void run_fleet_server(const FleetServerOptions& options, const CancelToken& stop);

}  // namespace strata
