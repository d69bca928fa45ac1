#include "support/moto_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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

std::string tail_of(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > 600 ? s.substr(s.size() - 600) : s;
}

}  // namespace

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool wait_for_port(int port, int timeout_ms, pid_t must_stay_alive) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    if (must_stay_alive > 0 && ::waitpid(must_stay_alive, nullptr, WNOHANG) == must_stay_alive) return false;
    // Polling interval, not synchronisation: the loop ends as soon as the port answers.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

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
    if (wait_for_port(port_, 30000, pid)) {
      pid_ = pid;
      break;
    }
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (attempt == 2) throw std::runtime_error("moto_server did not start on 127.0.0.1:" + std::to_string(port_) + ": " + tail_of(log));
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
