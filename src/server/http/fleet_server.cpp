#include "server/http/fleet_server.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/agent/local_link.hpp"
#include "platform/catalog/catalog.hpp"
#include "platform/notify/amqp_notifier.hpp"
#include "platform/notify/outbox_notifier.hpp"
#include "platform/notify/webhook_config.hpp"
#include "platform/notify/webhook_notifier.hpp"
#include "platform/queue/fleet_sync.hpp"
#include "platform/scheduler/fleet_config.hpp"
#include "server/http/agent_service.hpp"
#include "server/http/http_server.hpp"
#include "server/http/tokens.hpp"

namespace strata {
namespace {

// Waits for `d` or until `stop` is set, whichever comes first.
void wait_or_stop(const CancelToken& stop, std::chrono::milliseconds d) {
  std::mutex m;
  std::condition_variable cv;
  bool woken = false;
  CancelHook hook(&stop, [&] {
    std::lock_guard l(m);
    woken = true;
    cv.notify_all();
  });
  std::unique_lock l(m);
  cv.wait_for(l, d, [&] { return woken; });
}

}  // namespace

void run_fleet_server(const FleetServerOptions& o, const CancelToken& stop) {
  FleetConfig fleet = load_fleet_config(o.config_path);
  std::vector<Schedule> schedules = fleet.compile_schedules();
  std::string url = !o.catalog.empty() ? o.catalog : fleet.settings.catalog;
  if (url.empty()) {
    fail(ErrorCode::kUsage, "no catalog configured; set catalog = \"sqlite:///var/lib/strata/catalog.db\" in " +
                                o.config_path + " (or STRATA_CATALOG, or --catalog)");
  }
  if (o.listen.empty() && !o.embedded_agent) {
    fail(ErrorCode::kUsage, "nothing would run the jobs: give --listen (remote agents) or --embedded-agent");
  }
  if (!o.listen.empty() && o.token_dir.empty()) {
    fail(ErrorCode::kUsage, "--listen needs --token-dir: every agent call is checked against its token");
  }
  std::unique_ptr<Catalog> cat = Catalog::open(url);
  {
    JobQueue queue(*cat, o.queue);
    sync_fleet(*cat, queue, fleet);
  }
  log::info("server_started", {{"catalog", cat->describe()}, {"sources", static_cast<uint64_t>(fleet.sources.size())}});

  std::unique_ptr<TokenStore> tokens;
  std::unique_ptr<AgentService> service;
  std::unique_ptr<HttpServer> http;
  if (!o.listen.empty()) {
    tokens = std::make_unique<TokenStore>(o.token_dir);
    AgentServiceOptions so;
    so.catalog_url = url;
    so.queue = o.queue;
    so.catalog_connections = o.catalog_connections;
    service = std::make_unique<AgentService>(so, *tokens);
    HttpServerOptions ho;
    ho.listen = o.listen;
    ho.threads = o.http_threads;
    ho.tls_cert = o.tls_cert;
    ho.tls_key = o.tls_key;
    AgentService* svc = service.get();
    http = std::make_unique<HttpServer>(ho, [svc](HttpRequest r, HttpRespond respond) { svc->handle(std::move(r), std::move(respond)); });
    log::info("server_listening", {{"listen", o.listen}, {"port", static_cast<int64_t>(http->port())},
                                   {"tls", http->tls() ? "yes" : "no"}, {"agents", static_cast<uint64_t>(tokens->size())}});
  }

  // The embedded agent: its own catalog connection, stopped with the server.
  CancelToken agent_stop;
  CancelHook forward(&stop, [&agent_stop] { agent_stop.cancel("the server is stopping"); });
  std::unique_ptr<Catalog> agent_cat;
  std::unique_ptr<LocalAgentLink> link;
  std::unique_ptr<ProcessJobRunner> runner;
  std::unique_ptr<Agent> agent;
  std::thread agent_thread;
  if (o.embedded_agent) {
    agent_cat = Catalog::open(url);
    link = std::make_unique<LocalAgentLink>(*agent_cat, o.queue);
    runner = std::make_unique<ProcessJobRunner>(o.runner);
    AgentOptions ao = o.embedded;
    if (ao.hello.name.empty()) ao.hello.name = "embedded";
    ao.claim_wait = std::min(ao.claim_wait, std::chrono::milliseconds(2000));
    agent = std::make_unique<Agent>(*link, *runner, ao);
    agent->id();
    agent_thread = std::thread([&] { agent->run(agent_stop); });
  }
  if (o.on_ready) o.on_ready(http ? http->port() : 0);

  // The tick's own connection; when the catalog goes away (a PostgreSQL restart) it is opened again next tick.
  std::unique_ptr<JobQueue> tick_queue;
  std::unique_ptr<OutboxNotifier> notifier;
  auto connect = [&] {
    if (!cat) cat = Catalog::open(url);
    tick_queue = std::make_unique<JobQueue>(*cat, o.queue);
    std::vector<NotifyChannel> channels = webhook_channels(webhook_endpoints(fleet.settings));
    for (auto& c : amqp_channels(amqp_endpoints(fleet.settings))) channels.push_back(std::move(c));
    notifier = std::make_unique<OutboxNotifier>(*cat, std::move(channels));
  };
  while (!stop.cancelled()) {
    try {
      if (!notifier) connect();
      TickResult t = schedule_tick(*cat, *tick_queue, fleet, schedules);
      int reaped = tick_queue->reap();
      notifier->pass();
      if (t.enqueued + t.coalesced + t.missed > 0 || reaped > 0) {
        log::info("server_tick", {{"queued", static_cast<uint64_t>(t.enqueued)}, {"joined", static_cast<uint64_t>(t.coalesced)},
                                  {"missed", static_cast<uint64_t>(t.missed)}, {"expired", reaped}});
        if (service) service->wake();
        if (link) link->wake();
      }
    } catch (const std::exception& e) {  // catalog unreachable: agents keep their leases while they can; retry
      log::warn("server_tick_failed", {{"error", e.what()}});
      notifier.reset();
      tick_queue.reset();
      cat.reset();
    }
    wait_or_stop(stop, o.tick);
  }
  log::info("server_stopping", {});
  if (service) service->stop();  // waiting claims answered "nothing", new requests refused
  if (http) http->stop();
  if (agent_thread.joinable()) agent_thread.join();
}

}  // namespace strata
