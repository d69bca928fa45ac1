#include "support/moto_server.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "support/net_util.hpp"

namespace strata::test {
namespace {

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

MotoServer::MotoServer() {
  std::string exe = find_on_path("moto_server");
  if (exe.empty()) {
    throw std::runtime_error("moto_server is not on PATH: the S3 tests need moto's server (run scripts/install-deps.sh, which checks for it)");
  }
  char tmpl[] = "/tmp/strata-moto-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot create a temp dir for moto_server");
  dir_ = tmpl;
  for (int attempt = 0; attempt < 3 && pid_ < 0; ++attempt) {
    port_ = free_loopback_port();
    std::string log = dir_ + "/moto.log";
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      if (::chdir(dir_.c_str()) != 0) _exit(126);
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      std::string p = std::to_string(port_);
      ::execl(exe.c_str(), "moto_server", "-H", "127.0.0.1", "-p", p.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::setpgid(pid, pid);
    try {
      // A port taken between free_loopback_port() and moto's bind shows up as an early exit: try another port.
      wait_for_port(port_, deadline_in(std::chrono::seconds(30)), "moto_server", log,
                    [pid] { return ::waitpid(pid, nullptr, WNOHANG) == 0; });
      pid_ = pid;
    } catch (const std::runtime_error&) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      if (attempt == 2) throw;
    }
  }
}

MotoServer::~MotoServer() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
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
