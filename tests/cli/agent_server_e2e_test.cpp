// strata server + strata agent over HTTP on loopback (issue 15 part 5), as real processes on an SQLite catalog: two
// agents back up every queued source exactly once; an agent killed with SIGKILL in the middle of a backup loses its
// job to the other agent once its (short) lease ends, and exactly one backup of that source is committed; a wrong
// token is refused with one clear line. Every wait polls the catalog (through `strata jobs`) with a deadline.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/fifo_gate.hpp"
#include "support/local_repo_fixture.hpp"
#include "support/net_util.hpp"

namespace strata::test {
namespace {

using namespace std::chrono_literals;

const char* const kTokenA = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const char* const kTokenB = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

// Processes whose command line mentions `needle` (a test's own temp path) and `word`: what a test left running.
std::vector<pid_t> processes_with(const std::string& needle, const std::string& word) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find(needle) != std::string::npos && cmd.find(word) != std::string::npos) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

class AgentServerE2E : public LocalRepoTest {
 protected:
  void SetUp() override {
    LocalRepoTest::SetUp();
    init();
    gate_ = tmp_ / "gate";
    make_fifo(gate_);
    cfg_ = tmp_ / "fleet.toml";
    std::string c = "catalog = \"sqlite://" + (tmp_ / "catalog.db") + "\"\n";
    for (int i = 1; i <= 4; ++i) {
      c += "[source.s" + std::to_string(i) + "]\nengine = \"command\"\nbackup_command = \"printf data-" +
           std::to_string(i) + "\"\n";
    }
    // The first run blocks in `cat GATE` (the test sees it start when its open of the FIFO returns); a re-run finds
    // the mark and completes.
    c += "[source.slow]\nengine = \"command\"\nbackup_command = \"if [ -e " + (tmp_ / "mark") + " ]; then printf second; "
         "else touch " + (tmp_ / "mark") + "; cat " + gate_ + "; fi\"\n";
    write_file(cfg_, c);
    ::mkdir((tmp_ / "tokens").c_str(), 0700);
    write_file(tmp_ / "tokens/agent-a", std::string(kTokenA) + "\n");
    write_file(tmp_ / "tokens/agent-b", std::string(kTokenB) + "\n");
    write_file(tmp_ / "a.token", std::string(kTokenA) + "\n");
    write_file(tmp_ / "b.token", std::string(kTokenB) + "\n");
    port_ = free_loopback_port();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override {
    for (auto& [pid, log] : procs_) {
      kill_group(pid, SIGTERM);
      int code = wait_pid(pid);
      if (HasFailure()) std::fprintf(stderr, "--- %s (exit %d)\n%s\n", log.c_str(), code, log_tail(log + ".err", 4000).c_str());
    }
    if (gate_fd_ >= 0) ::close(gate_fd_);
  }
  pid_t spawn(const std::vector<std::string>& args, const std::string& name) {
    std::string log = tmp_ / (name + ".log");
    pid_t pid = spawn_strata(args, env_, log);
    procs_.emplace_back(pid, log);
    return pid;
  }
  void start_server(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--config", cfg_, "server", "--listen", "127.0.0.1:" + std::to_string(port_),
                                     "--token-dir", tmp_ / "tokens", "--lease", lease_, "--tick", "1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t pid = spawn(args, "server");
    wait_for_port(port_, deadline_in(60s), "strata server", tmp_ / "server.log.err",
                  [pid] { return ::kill(pid, 0) == 0; });
  }
  pid_t start_agent(const std::string& name, const std::string& token_file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--config", cfg_, "agent", "--server", url_, "--token-file", token_file};
    if (std::find(extra.begin(), extra.end(), "--claim-wait") == extra.end()) args.insert(args.end(), {"--claim-wait", "2s"});
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn(args, name);
  }
  RunResult jobs(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", cfg_, "jobs"});
    return strata(args);
  }
  nlohmann::json job(int64_t id) {
    auto r = jobs({"show", std::to_string(id), "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
  int64_t run(const std::string& source) {
    auto r = jobs({"run", source, "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out)["job"].get<int64_t>() : 0;
  }
  nlohmann::json backups() {
    auto r = strata({"--config", cfg_, "list", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::array();
  }

  std::string cfg_, gate_, url_;
  std::string lease_ = "3";  // seconds: a lost agent's job is claimable again quickly
  int port_ = 0;
  int gate_fd_ = -1;
  std::vector<std::pair<pid_t, std::string>> procs_;
};

TEST_F(AgentServerE2E, TwoAgentsBackUpEveryQueuedSourceExactlyOnce) {
  start_server();
  start_agent("agent-a", tmp_ / "a.token");
  start_agent("agent-b", tmp_ / "b.token");
  std::vector<int64_t> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(run("s" + std::to_string(i)));
  bool done = wait_until([&] {
    for (int64_t id : ids) {
      if (job(id)["state"] != "succeeded") return false;
    }
    return true;
  }, deadline_in(120s));
  ASSERT_TRUE(done) << jobs({"list"}).out;

  auto list = backups();
  ASSERT_EQ(list.size(), 4u) << list.dump();
  std::map<std::string, std::string> by_source;
  for (const auto& b : list) by_source[b["source"].get<std::string>()] = b["id"].get<std::string>();
  for (size_t i = 0; i < ids.size(); ++i) {
    auto j = job(ids[i]);
    std::string source = "s" + std::to_string(i + 1);
    EXPECT_EQ(j["attempts"].size(), 1u) << j.dump();
    EXPECT_EQ(j["manifest"], by_source[source]) << j.dump();
    EXPECT_TRUE(j["agent"] == "agent-a" || j["agent"] == "agent-b") << j.dump();
    auto r = strata({"--config", cfg_, "restore", by_source[source], "--to", "-"});
    EXPECT_EQ(r.out, "data-" + std::to_string(i + 1));
  }
  auto r = strata({"--config", cfg_, "agents", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto agents = nlohmann::json::parse(r.out)["agents"];
  ASSERT_EQ(agents.size(), 2u) << r.out;
  EXPECT_EQ(agents[0]["id"], "agent-a");
  EXPECT_EQ(agents[1]["id"], "agent-b");
}

TEST_F(AgentServerE2E, AnAgentKilledMidBackupLosesTheJobToTheOtherAfterItsLease) {
  start_server();
  std::map<std::string, pid_t> pids = {{"agent-a", start_agent("agent-a", tmp_ / "a.token")},
                                       {"agent-b", start_agent("agent-b", tmp_ / "b.token")}};
  int64_t id = run("slow");
  // The backup is running once its source command has opened the gate for reading.
  ASSERT_TRUE(wait_until([&] {
    gate_fd_ = ::open(gate_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return gate_fd_ >= 0;
  }, deadline_in(60s))) << "the slow backup never started";
  auto j = job(id);
  ASSERT_EQ(j["state"], "running") << j.dump();
  std::string victim = j["agent"].get<std::string>();
  std::string rescuer = victim == "agent-a" ? "agent-b" : "agent-a";
  ASSERT_EQ(::kill(pids[victim], SIGKILL), 0);  // the agent alone: its backup child must die with it
  EXPECT_TRUE(wait_until([&] { return processes_with(cfg_, "backup").empty(); }, deadline_in(10s)))
      << "the killed agent's `strata backup` outlived it";

  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "succeeded"; }, deadline_in(90s))) << job(id).dump();
  j = job(id);
  EXPECT_EQ(j["agent"], rescuer);
  EXPECT_EQ(j["epoch"], 2);
  ASSERT_EQ(j["attempts"].size(), 2u) << j.dump();
  EXPECT_EQ(j["attempts"][0]["agent"], victim);
  EXPECT_EQ(j["attempts"][0]["outcome"], "lease_lost");
  EXPECT_EQ(j["attempts"][1]["agent"], rescuer);
  EXPECT_EQ(j["attempts"][1]["outcome"], "succeeded");
  auto list = backups();
  ASSERT_EQ(list.size(), 1u) << list.dump();  // the killed attempt committed nothing
  EXPECT_EQ(list[0]["source"], "slow");
  EXPECT_EQ(list[0]["id"], j["manifest"]);
  auto r = strata({"--config", cfg_, "restore", j["manifest"].get<std::string>(), "--to", "-"});
  EXPECT_EQ(r.out, "second");
}

TEST_F(AgentServerE2E, AServerKilledMidBackupIsRestartedAndTheAgentsReportIsTaken) {
  // A lease long enough to ride out the restart (the agent fences itself after half of it without a heartbeat).
  lease_ = "20";
  start_server();
  start_agent("agent-a", tmp_ / "a.token");
  int64_t id = run("slow");
  ASSERT_TRUE(wait_until([&] {
    gate_fd_ = ::open(gate_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return gate_fd_ >= 0;
  }, deadline_in(60s))) << "the slow backup never started";
  kill_group(procs_[0].first, SIGKILL);
  wait_pid(procs_[0].first);
  procs_.erase(procs_.begin());
  start_server();  // same catalog, same port

  ASSERT_EQ(::write(gate_fd_, "first", 5), 5);  // the backup that outlived the server ends now
  ::close(gate_fd_);
  gate_fd_ = -1;
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "succeeded"; }, deadline_in(60s))) << job(id).dump();
  auto j = job(id);
  EXPECT_EQ(j["attempts"].size(), 1u) << j.dump();  // not run twice
  EXPECT_EQ(j["agent"], "agent-a");
  auto list = backups();
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], j["manifest"]);
  auto r = strata({"--config", cfg_, "restore", j["manifest"].get<std::string>(), "--to", "-"});
  EXPECT_EQ(r.out, "first");
}

TEST_F(AgentServerE2E, AWrongTokenIsRefusedWithOneClearLine) {
  start_server();
  write_file(tmp_ / "wrong.token", std::string(64, 'x') + "\n");
  auto r = strata({"--config", cfg_, "agent", "--server", url_, "--token-file", tmp_ / "wrong.token"});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.err, "strata: error: the server " + url_ + " refused this agent's token (from " + (tmp_ / "wrong.token") +
                       "); the server's --token-dir must hold the same token in a file named by the agent\n");
  r = strata({"--config", cfg_, "agent", "--server", url_, "--token-file", tmp_ / "missing.token"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: cannot read the token file " + (tmp_ / "missing.token") +
                       "; give the agent's token file with --token-file\n");
  // The server kept serving: a good agent registers.
  start_agent("agent-a", tmp_ / "a.token");
  EXPECT_TRUE(wait_until([&] {
    auto l = strata({"--config", cfg_, "agents", "list", "--json"});
    return l.code == 0 && nlohmann::json::parse(l.out)["agents"].size() == 1;
  }, deadline_in(30s)));
}

TEST_F(AgentServerE2E, AnAgentStopsOnSigtermWithoutWaitingOutItsLongPoll) {
  start_server();
  pid_t pid = start_agent("agent-a", tmp_ / "a.token", {"--claim-wait", "60s"});
  ASSERT_TRUE(wait_until([&] {
    auto l = strata({"--config", cfg_, "agents", "list", "--json"});
    return l.code == 0 && nlohmann::json::parse(l.out)["agents"].size() == 1;
  }, deadline_in(30s)));
  auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_pid(pid), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);  // not the 60 s its claim would wait
  procs_.erase(std::remove_if(procs_.begin(), procs_.end(), [&](auto& p) { return p.first == pid; }), procs_.end());
  EXPECT_EQ(read_file(tmp_ / "agent-a.log.err"), "") << "a stop is not a failure to warn about";
}

TEST_F(AgentServerE2E, OnOneHostTheServersEmbeddedAgentRunsTheJobs) {
  auto r = strata({"--config", cfg_, "server"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "strata: error: nothing would run the jobs: give --listen (remote agents) or --embedded-agent\n");

  spawn({"--config", cfg_, "server", "--embedded-agent", "--tick", "1s"}, "server");
  int64_t id = run("s2");
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "succeeded"; }, deadline_in(60s))) << job(id).dump();
  auto j = job(id);
  EXPECT_EQ(j["agent"], "embedded");
  auto list = backups();
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], j["manifest"]);
  r = strata({"--config", cfg_, "restore", j["manifest"].get<std::string>(), "--to", "-"});
  EXPECT_EQ(r.out, "data-2");
}

TEST_F(AgentServerE2E, OverHttpsAnAgentThatTrustsTheServersCertificateRunsAJob) {
  auto r = run_process({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", tmp_ / "key.pem", "-out", tmp_ / "cert.pem", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"}, {});
  ASSERT_EQ(r.code, 0) << r.err;
  start_server({"--tls-cert", tmp_ / "cert.pem", "--tls-key", tmp_ / "key.pem"});
  url_ = "https://127.0.0.1:" + std::to_string(port_);
  // Without the CA the agent refuses the server, in one line saying what to give.
  r = strata({"--config", cfg_, "agent", "--server", url_, "--token-file", tmp_ / "a.token"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("strata: error: TLS with the server " + url_ + " failed: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("; give the CA that signed the server's certificate with --ca-file\n"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  start_agent("agent-a", tmp_ / "a.token", {"--ca-file", tmp_ / "cert.pem"});
  int64_t id = run("s1");
  ASSERT_TRUE(wait_until([&] { return job(id)["state"] == "succeeded"; }, deadline_in(60s))) << job(id).dump();
  auto list = backups();
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], job(id)["manifest"]);
}

}  // namespace
}  // namespace strata::test
