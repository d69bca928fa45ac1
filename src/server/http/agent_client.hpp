#pragma once
// The agent's side of the agent protocol (server/http/agent_protocol.hpp): an AgentLink over HTTP(S) with libcurl
// (as the S3 driver and the webhooks use it). One easy handle per call, so the heartbeat thread and the job threads
// never share one. Errors are StrataError with one line naming the server: kWrongKey when the token is refused,
// kNotFound when the server does not know the agent (it registers again), kGeneric when the server cannot be reached.
#include <chrono>
#include <string>

#include "common/cancel.hpp"
#include "platform/agent/agent_link.hpp"

namespace strata {

struct HttpAgentLinkOptions {
  std::string server;      // "http://127.0.0.1:8443" or "https://backup-ctl:8443"
  std::string token;       // read from the token file by the caller (never argv)
  std::string token_file;  // named in messages
  std::string ca_file;     // HTTPS: the CA that signed the server's certificate ("" = the system's)
  std::chrono::milliseconds timeout{15000};  // per request, on top of a claim's wait
  const CancelToken* cancel = nullptr;       // ends a request in flight (a long poll) with kInterrupted
};

class HttpAgentLink final : public AgentLink {
 public:
  explicit HttpAgentLink(HttpAgentLinkOptions options);
  std::string register_agent(const AgentHello& hello) override;
  std::optional<AgentClaim> claim(std::chrono::milliseconds wait) override;
  AgentBeat heartbeat(int64_t job_id, int64_t epoch) override;
  ReportResult report(int64_t job_id, int64_t epoch, const JobOutcome& outcome) override;

 private:
  struct Answer {
    long status = 0;
    std::string body;
  };
  Answer post(const char* path, const std::string& body, std::chrono::milliseconds extra = {});
  HttpAgentLinkOptions opt_;
};

}  // namespace strata
