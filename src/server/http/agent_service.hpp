#pragma once
// The server side of the agent protocol (server/http/agent_protocol.hpp): checks the token on every request, then
// runs the job-queue call on a small pool of catalog connections — the number of agents never sets the number of
// catalog connections. A claim that finds nothing waits (a long poll) in a list that a claim pass walks every `poll`
// and at once when something may have become claimable (a report freed slots, wake()). A pass first asks the catalog
// whether anything is claimable at all, so thousands of idle waiting agents cost one cheap query per pass.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "platform/queue/job_queue.hpp"
#include "server/http/http_server.hpp"
#include "server/http/tokens.hpp"

namespace strata {

struct AgentServiceOptions {
  std::string catalog_url;
  const Clock* clock = nullptr;  // the catalog's clock (tests); null = the database's
  QueueOptions queue;
  unsigned catalog_connections = 2;
  std::chrono::milliseconds poll{500};        // waiting claims look again at least this often
  std::chrono::milliseconds max_wait{30000};  // the longest a claim may wait
};

class AgentService {
 public:
  AgentService(AgentServiceOptions options, TokenStore& tokens);
  ~AgentService();
  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  // The HTTP handler (any I/O thread).
  void handle(HttpRequest request, HttpRespond respond);
  // Waiting claims look again now.
  void wake();
  // Answers every waiting claim with "nothing" and stops the catalog workers. Idempotent.
  void stop();
  size_t waiting();

 private:
  struct Worker;
  struct Waiter {
    std::string agent;
    std::chrono::steady_clock::time_point deadline;
    HttpRespond respond;
  };
  void submit(std::function<void(Worker&)> task);
  void work(unsigned index);
  void dispatch();
  void claim_pass(Worker& w);
  void serve(Worker& w, const std::string& agent, const HttpRequest& req, const HttpRespond& respond);

  AgentServiceOptions opt_;
  TokenStore& tokens_;
  std::mutex mu_;  // everything below
  std::condition_variable cv_;
  std::deque<std::function<void(Worker&)>> tasks_;
  std::list<Waiter> waiters_;
  bool pass_running_ = false;
  bool woken_ = false;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread dispatcher_;
};

}  // namespace strata
