#pragma once
// The agent protocol over HTTP: one request per AgentLink call, JSON bodies, the agent's token in
// `Authorization: Bearer ...` on every request (docs/CLI.md "strata server"). Shared by the server's AgentService
// and the agent's HttpAgentLink so both sides read what the other writes.
//
//   POST /v1/agents/register   {"tags":[..],"capabilities":[..],"max_jobs":1}          -> {"agent":"ID"}
//   POST /v1/jobs/claim        {"wait_ms":30000}            -> 200 {"job":{..},"lease_seconds":60,"upload":0} | 204
//   POST /v1/jobs/heartbeat    {"job":7,"epoch":2}                  -> {"ok":true,"cancelled":false,"upload":0}
//   POST /v1/jobs/report       {"job":7,"epoch":2,"success":true,"error":"","repo":"..","manifest":".."}
//                                                                     -> {"result":"accepted"|"stale"}
// Errors: 400 malformed request, 401 unknown token, 404 agent not registered (it registers again), 503 the catalog
// could not be reached; the body is {"error":"one line"}.
#include <string>

#include "platform/agent/agent_link.hpp"

namespace strata::agent_protocol {

inline constexpr const char* kRegister = "/v1/agents/register";
inline constexpr const char* kClaim = "/v1/jobs/claim";
inline constexpr const char* kHeartbeat = "/v1/jobs/heartbeat";
inline constexpr const char* kReport = "/v1/jobs/report";

std::string hello_json(const AgentHello& h);
AgentHello parse_hello(const std::string& body);  // throws StrataError(kUsage) on a malformed body (as all parse_*)
std::string claim_json(const AgentClaim& c);
AgentClaim parse_claim(const std::string& body);
std::string beat_json(const AgentBeat& b);
AgentBeat parse_beat(const std::string& body);

struct JobRef {
  int64_t job = 0, epoch = 0;
};
std::string job_ref_json(int64_t job, int64_t epoch);
JobRef parse_job_ref(const std::string& body);
std::string report_json(int64_t job, int64_t epoch, const JobOutcome& o);
JobOutcome parse_report(const std::string& body, JobRef* ref);

std::string agent_json(const std::string& agent);
std::string parse_agent(const std::string& body);
std::string result_json(ReportResult r);
ReportResult parse_result(const std::string& body);

std::string error_json(const std::string& message);
std::string error_of(const std::string& body);  // the "error" of an error body, or the body itself
int64_t parse_wait_ms(const std::string& body);

}  // namespace strata::agent_protocol
