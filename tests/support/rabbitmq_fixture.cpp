#include "support/rabbitmq_fixture.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "support/child_process.hpp"
#include "support/net_util.hpp"

extern char** environ;

namespace strata::test {

namespace {
const char* kServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";
}

RabbitMqServer::RabbitMqServer() {
  if (::access(kServer, X_OK) != 0) {
    throw std::runtime_error("rabbitmq-server is not installed (run scripts/install-deps.sh)");
  }
  char tmpl[] = "/tmp/strata-rmq-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot create a temp dir for rabbitmq-server");
  dir_ = tmpl;
  port_ = free_loopback_port();
  dist_port_ = free_loopback_port();
  epmd_port_ = free_loopback_port();
  std::ofstream(dir_ + "/enabled_plugins") << "[].\n";
  std::ofstream(dir_ + "/rabbitmq.conf") << "listeners.tcp.default = 127.0.0.1:" << port_ << "\n"
                                          << "loopback_users.guest = true\n";
  // epmd in the foreground, as our child: the broker finds it on ERL_EPMD_PORT instead of starting a daemon.
  ChildOptions eo;
  eo.stdout_path = dir_ + "/epmd.log";
  epmd_ = spawn_server({"epmd", "-port", std::to_string(epmd_port_), "-address", "127.0.0.1"}, eo, epmd_port_,
                       std::chrono::seconds(30), "epmd", dir_ + "/epmd.log");
  start();
}

void RabbitMqServer::start() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("RABBITMQ_", 0) != 0 && kv.rfind("ERL_", 0) != 0 && kv.rfind("HOME=", 0) != 0) env.push_back(kv);
  }
  const std::string p = std::to_string(port_);
  for (const std::string& kv : std::vector<std::string>{"HOME=" + dir_, "RABBITMQ_NODENAME=strata" + p + "@localhost", "RABBITMQ_NODE_PORT=" + p,
                         "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", "RABBITMQ_DIST_PORT=" + std::to_string(dist_port_),
                         "ERL_EPMD_PORT=" + std::to_string(epmd_port_), "ERL_EPMD_ADDRESS=127.0.0.1",
                         "RABBITMQ_MNESIA_BASE=" + dir_ + "/mnesia", "RABBITMQ_LOG_BASE=" + dir_ + "/log",
                         "RABBITMQ_CONFIG_FILE=" + dir_ + "/rabbitmq", "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir_ + "/enabled_plugins",
                         "RABBITMQ_PID_FILE=" + dir_ + "/rabbitmq.pid"}) {
    env.push_back(kv);
  }
  ChildOptions o;
  o.stdout_path = dir_ + "/server.log";
  o.env = env;
  o.cwd = dir_;
  pid_ = spawn_server({kServer}, o, port_, std::chrono::seconds(120), "rabbitmq-server", dir_ + "/server.log");
}

void RabbitMqServer::stop() {
  if (pid_ > 0) stop_child(pid_, SIGTERM, std::chrono::seconds(60));
  pid_ = -1;
}

RabbitMqServer::~RabbitMqServer() {
  stop();
  if (epmd_ > 0) stop_child(epmd_, SIGTERM, std::chrono::seconds(10));
  if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
}

}  // namespace strata::test
