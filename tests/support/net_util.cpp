#include "support/net_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace strata::test {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("cannot create a socket: ") + std::strerror(errno));
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("cannot bind a port on 127.0.0.1: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool wait_until(const std::function<bool()>& done, Deadline deadline) {
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    if (done()) return true;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

std::string log_tail(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

void wait_for_port(int port, Deadline deadline, const std::string& server, const std::string& log_path,
                   const std::function<bool()>& still_alive) {
  bool exited = false;
  bool up = wait_until([&] {
    if (accepts_connections(port)) return true;
    exited = still_alive && !still_alive();
    return exited;
  }, deadline);
  if (up && !exited) return;
  std::string what = exited ? " exited before it accepted connections on 127.0.0.1:"
                            : " did not accept connections on 127.0.0.1:";
  throw std::runtime_error(server + what + std::to_string(port) + " (log " + log_path + "): " + log_tail(log_path));
}

}  // namespace strata::test
