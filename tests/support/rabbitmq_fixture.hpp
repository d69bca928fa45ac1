#pragma once
// A real RabbitMQ broker (Debian rabbitmq-server 3.10) for tests: its own node name, data and log dirs and Erlang
// cookie in a temp dir, AMQP on a free 127.0.0.1 port, and its own epmd on another free port (started here as our
// child, so nothing of it outlives the test and the host's epmd, if any, is never used). The guest user, which
// RabbitMQ allows from loopback only. Start-up takes ~5-25 s on 2 cores (Erlang boot).
#include <sys/types.h>

#include <string>

namespace strata::test {

class RabbitMqServer {
 public:
  // Throws std::runtime_error with a one-line reason if rabbitmq-server is missing or does not come up.
  RabbitMqServer();
  ~RabbitMqServer();
  RabbitMqServer(const RabbitMqServer&) = delete;
  RabbitMqServer& operator=(const RabbitMqServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // Stops the broker (data kept) / starts it again on the same port and data: a broker that is down for a while.
  void stop();
  void start();

 private:
  std::string dir_;
  pid_t epmd_ = -1, pid_ = -1;
  int port_ = 0, dist_port_ = 0, epmd_port_ = 0;
};

}  // namespace strata::test
