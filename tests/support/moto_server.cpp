#include "support/moto_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "engines/tool_util.hpp"
#include "support/child_process.hpp"
#include "support/net_util.hpp"

namespace strata::test {

MotoServer::MotoServer() {
  std::string exe = find_tool({"moto_server"});
  if (exe.empty()) {
    throw std::runtime_error("moto_server is not on PATH: the S3 tests need moto's server (run scripts/install-deps.sh, which checks for it)");
  }
  char tmpl[] = "/tmp/strata-moto-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot create a temp dir for moto_server");
  dir_ = tmpl;
  for (int attempt = 0; attempt < 3 && pid_ < 0; ++attempt) {
    port_ = free_loopback_port();
    std::string log = dir_ + "/moto.log";
    ChildOptions o;
    o.stdout_path = log;
    o.cwd = dir_;
    try {
      // A port taken between free_loopback_port() and moto's bind shows up as an early exit: try another port.
      pid_ = spawn_server({exe, "-H", "127.0.0.1", "-p", std::to_string(port_)}, o, port_, std::chrono::seconds(30),
                          "moto_server", log);
    } catch (const std::runtime_error&) {
      if (attempt == 2) throw;
    }
  }
}

MotoServer::~MotoServer() {
  if (pid_ > 0) stop_child(pid_, SIGTERM, std::chrono::seconds(30));
  if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
}

MotoServer& MotoServer::shared() {
  // Destroyed at process exit, which stops the server.
  static MotoServer server;
  return server;
}

std::map<std::string, std::string> MotoServer::env() const {
  return {{"AWS_ACCESS_KEY_ID", "strata-test"},
          {"AWS_SECRET_ACCESS_KEY", "strata-test-secret"},
          {"AWS_REGION", "us-east-1"},
          {"AWS_ENDPOINT_URL_S3", endpoint()}};
}

std::unique_ptr<s3::Client> MotoServer::client(const std::string& bucket, int port) const {
  s3::S3Config c;
  c.bucket = bucket;
  c.scheme = "http";
  c.host = "127.0.0.1:" + std::to_string(port ? port : port_);
  c.credentials = {"strata-test", "strata-test-secret", ""};
  c.credentials_source = "the test fixture";
  c.max_attempts = 3;
  c.retry_base_ms = 50;
  return std::make_unique<s3::Client>(c);
}

void MotoServer::create_bucket(const std::string& bucket) {
  auto c = client(bucket);
  s3::Call call;
  call.method = "PUT";
  call.accept = {409};  // BucketAlreadyOwnedByYou
  c->execute(call);
}

}  // namespace strata::test
