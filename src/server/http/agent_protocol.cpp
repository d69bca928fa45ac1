#include "server/http/agent_protocol.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace strata::agent_protocol {
namespace {

using nlohmann::json;

json parse(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(ErrorCode::kUsage, "the request body is not a JSON object");
  return j;
}

template <class T>
T get(const json& j, const char* key, T def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    fail(ErrorCode::kUsage, std::string("'") + key + "' has the wrong type");
  }
}

}  // namespace

std::string hello_json(const AgentHello& h) {
  return json{{"name", h.name}, {"tags", h.tags}, {"capabilities", h.capabilities}, {"max_jobs", h.max_jobs}}.dump();
}

AgentHello parse_hello(const std::string& body) {
  json j = parse(body);
  AgentHello h;
  h.name = get<std::string>(j, "name", "");
  h.tags = get<std::vector<std::string>>(j, "tags", {});
  h.capabilities = get<std::vector<std::string>>(j, "capabilities", {});
  h.max_jobs = get<int>(j, "max_jobs", 1);
  return h;
}

std::string claim_json(const AgentClaim& c) {
  json job{{"id", c.job.job_id},   {"epoch", c.job.epoch}, {"attempt", c.job.attempt},
           {"source", c.job.source}, {"type", c.job.type},  {"lease_until", c.job.lease_until}};
  job["deadline"] = c.job.deadline ? json(*c.job.deadline) : json(nullptr);
  return json{{"job", job}, {"lease_seconds", c.lease_seconds}, {"upload", c.upload}}.dump();
}

AgentClaim parse_claim(const std::string& body) {
  json j = parse(body);
  auto it = j.find("job");
  if (it == j.end() || !it->is_object()) fail(ErrorCode::kUsage, "a claim answer without a job");
  AgentClaim c;
  c.job.job_id = get<int64_t>(*it, "id", 0);
  c.job.epoch = get<int64_t>(*it, "epoch", 0);
  c.job.attempt = get<int64_t>(*it, "attempt", 0);
  c.job.source = get<std::string>(*it, "source", "");
  c.job.type = get<std::string>(*it, "type", "full");
  c.job.lease_until = get<int64_t>(*it, "lease_until", 0);
  if (it->contains("deadline") && !(*it)["deadline"].is_null()) c.job.deadline = get<int64_t>(*it, "deadline", 0);
  c.lease_seconds = get<int64_t>(j, "lease_seconds", 60);
  c.upload = get<uint64_t>(j, "upload", 0);
  if (c.job.job_id <= 0 || c.job.source.empty()) fail(ErrorCode::kUsage, "a claim answer without a job id or source");
  return c;
}

std::string beat_json(const AgentBeat& b) {
  return json{{"ok", b.ok}, {"cancelled", b.cancelled}, {"upload", b.upload}}.dump();
}

AgentBeat parse_beat(const std::string& body) {
  json j = parse(body);
  return {get<bool>(j, "ok", false), get<bool>(j, "cancelled", false), get<uint64_t>(j, "upload", 0)};
}

std::string job_ref_json(int64_t job, int64_t epoch) { return json{{"job", job}, {"epoch", epoch}}.dump(); }

JobRef parse_job_ref(const std::string& body) {
  json j = parse(body);
  JobRef r{get<int64_t>(j, "job", 0), get<int64_t>(j, "epoch", 0)};
  if (r.job <= 0) fail(ErrorCode::kUsage, "'job' is missing");
  return r;
}

std::string report_json(int64_t job, int64_t epoch, const JobOutcome& o) {
  return json{{"job", job},       {"epoch", epoch}, {"success", o.success}, {"error", o.error},
              {"repo", o.repo},   {"manifest", o.manifest}}.dump();
}

JobOutcome parse_report(const std::string& body, JobRef* ref) {
  json j = parse(body);
  *ref = {get<int64_t>(j, "job", 0), get<int64_t>(j, "epoch", 0)};
  if (ref->job <= 0) fail(ErrorCode::kUsage, "'job' is missing");
  JobOutcome o;
  o.success = get<bool>(j, "success", false);
  o.error = get<std::string>(j, "error", "");
  o.repo = get<std::string>(j, "repo", "");
  o.manifest = get<std::string>(j, "manifest", "");
  return o;
}

std::string agent_json(const std::string& agent) { return json{{"agent", agent}}.dump(); }

std::string parse_agent(const std::string& body) {
  std::string a = get<std::string>(parse(body), "agent", "");
  if (a.empty()) fail(ErrorCode::kUsage, "a register answer without an agent id");
  return a;
}

std::string result_json(ReportResult r) {
  return json{{"result", r == ReportResult::kAccepted ? "accepted" : "stale"}}.dump();
}

ReportResult parse_result(const std::string& body) {
  std::string r = get<std::string>(parse(body), "result", "");
  if (r == "accepted") return ReportResult::kAccepted;
  if (r == "stale") return ReportResult::kStale;
  fail(ErrorCode::kUsage, "a report answer without a result");
}

std::string error_json(const std::string& message) { return json{{"error", message}}.dump(); }

std::string error_of(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return body.substr(0, 200);
}

int64_t parse_wait_ms(const std::string& body) {
  if (body.empty()) return 0;
  return get<int64_t>(parse(body), "wait_ms", 0);
}

}  // namespace strata::agent_protocol
