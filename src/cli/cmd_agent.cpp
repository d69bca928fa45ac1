// strata agent: runs the fleet's jobs on this host, claimed from a strata server over HTTP(S) (docs/CLI.md
// "strata agent"). Thin: flags in, platform/agent runs the loop, server/http/agent_client talks to the server.
#include <CLI/CLI.hpp>

#include "cli/context.hpp"
#include "common/cancel.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "platform/agent/agent.hpp"
#include "platform/agent/job_runner.hpp"
#include "server/http/agent_client.hpp"
#include "server/http/tokens.hpp"

namespace strata {

std::vector<std::string> split_tags(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    size_t comma = list.find(',', start);
    std::string tag = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!tag.empty()) {
      if (tag.find('=') == std::string::npos || tag.front() == '=') {
        fail(ErrorCode::kUsage, "tag '" + tag + "' is not key=value (e.g. --tags idc=sh1,role=db)");
      }
      out.push_back(tag);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void register_agent_command(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("agent", "Run fleet jobs on this host, claimed from a strata server");
  struct Opts {
    std::string server, token_file, tags, ca_file, claim_wait = "30s";
    std::vector<std::string> capabilities;
    int max_jobs = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--server", o->server, "The server's URL, e.g. https://backup-ctl:8443")->required();
  cmd->add_option("--token-file", o->token_file, "File holding this agent's token (never on the command line)")->required();
  cmd->add_option("--tags", o->tags, "This host's tags, k=v,... (a source's tags must all be here to run it)");
  cmd->add_option("--capability", o->capabilities, "What this host can do, e.g. engine=postgres (repeatable; reported)");
  cmd->add_option("--max-jobs", o->max_jobs, "Jobs this agent runs at once (default 1)");
  cmd->add_option("--ca-file", o->ca_file, "HTTPS: the CA certificate that signed the server's (default: the system's)");
  cmd->add_option("--claim-wait", o->claim_wait, "How long one claim waits for work on the server (default 30s)");
  cmd->footer(
      "Examples:\n"
      "  strata agent --config /etc/strata/fleet.toml --server https://backup-ctl:8443 \\\n"
      "      --token-file /etc/strata/agent.token --tags idc=sh1,role=db\n"
      "The agent runs each job as `strata backup` with the same --config (sources and repository).");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    if (o->max_jobs < 1) fail(ErrorCode::kUsage, "--max-jobs must be at least 1");
    HttpAgentLinkOptions lo;
    lo.server = o->server;
    lo.token_file = o->token_file;
    lo.token = read_token_file(o->token_file);
    lo.ca_file = o->ca_file;
    lo.cancel = &CancelToken::process();
    HttpAgentLink link(lo);
    ProcessRunnerOptions ro;
    if (!ctx.settings.config_path.empty()) ro.global_args = {"--config", ctx.settings.config_path};
    if (!ctx.repo.empty()) ro.global_args.insert(ro.global_args.end(), {"--repo", ctx.repo});
    if (!ctx.passphrase_file.empty()) ro.global_args.insert(ro.global_args.end(), {"--passphrase-file", ctx.passphrase_file});
    ro.repo = ctx.settings.repo;
    ro.keep_env = {"STRATA_PASSPHRASE"};
    ProcessJobRunner runner(ro);
    AgentOptions ao;
    ao.hello.tags = split_tags(o->tags);
    ao.hello.capabilities = o->capabilities;
    ao.hello.max_jobs = o->max_jobs;
    ao.claim_wait = std::chrono::seconds(std::max<int64_t>(1, parse_duration(o->claim_wait, "--claim-wait", BareNumber::kRefused)));
    Agent agent(link, runner, ao);
    // Until SIGINT/SIGTERM; a server that cannot be reached is retried, a refused token or TLS failure ends it.
    agent.run(CancelToken::process());
  });
}

}  // namespace strata
