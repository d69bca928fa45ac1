#pragma once
// How a claimed job is run, behind one small interface so the agent loop does not care: today a child
// `strata backup` process (ProcessJobRunner); once the use-case layer (src/app) lands, a runner that calls
// app::backup in process with the job's CancelToken and the assigned bandwidth share.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "platform/queue/job_queue.hpp"

namespace strata {

struct JobRun {
  ClaimedJob job;
  uint64_t upload = 0;  // bytes/s the server assigned this job; 0 = unlimited
};

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Runs the job to its end and says how it went (never throws for the job's own failure: that is an outcome).
  // When `stop` is cancelled (lease lost, job cancelled, agent stopping, self-fencing) everything the run started
  // must end promptly and the run return; the outcome is then a failure naming the token's reason.
  virtual JobOutcome run(const JobRun& run, const CancelToken& stop) = 0;
};

struct ProcessRunnerOptions {
  std::string binary = "/proc/self/exe";      // the strata executable
  std::vector<std::string> global_args;       // before the command: "--config", "/etc/strata/fleet.toml"
  std::string repo;                           // what the outcome names as the repository (the child's repo)
  std::vector<std::string> keep_env;          // strata secrets the child needs (STRATA_PASSPHRASE); others dropped
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM, then SIGKILL of the child's process group after this
};

// Runs `strata [global args] -q backup --source S --type T [--limit-upload N]` as a child in a process group of its
// own that dies with the agent (PR_SET_PDEATHSIG): a SIGKILLed agent leaves no backup running that nobody fences.
// Success = exit 0; the manifest id is the last line the child printed. A failure's error is the child's last
// stderr line ("strata: error: ..."), or the stop reason.
class ProcessJobRunner final : public JobRunner {
 public:
  explicit ProcessJobRunner(ProcessRunnerOptions options) : opt_(std::move(options)) {}
  JobOutcome run(const JobRun& run, const CancelToken& stop) override;

 private:
  ProcessRunnerOptions opt_;
};

}  // namespace strata
