#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

namespace strata::test {
namespace {

bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads one request: headers, then Content-Length bytes of body.
bool read_request(int fd, std::string& out) {
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t need = 0;
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = out.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        header_end += 4;
        std::string head = out.substr(0, header_end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto cl = head.find("\r\ncontent-length:");
        need = header_end + (cl == std::string::npos ? 0 : std::strtoull(head.c_str() + cl + 17, nullptr, 10));
      }
    }
    if (header_end != std::string::npos && out.size() >= need) return true;
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return false;
    out.append(buf, static_cast<size_t>(r));
  }
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void reset_close(int fd) {
  linger l{1, 0};  // close with RST, as a dying middlebox would
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 128) != 0) {
    throw std::runtime_error("fault proxy cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      workers_.emplace_back([this, c] { serve(c); });
    }
  });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : workers_) t.join();
}

void FaultProxy::set_schedule(const FaultSchedule& s) {
  std::lock_guard<std::mutex> lock(mu_);
  schedule_ = s;
}

void FaultProxy::serve(int client) {
  std::string req;
  if (!read_request(client, req)) {
    ::close(client);
    return;
  }
  FaultSchedule s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = schedule_;
  }
  unsigned n = ++requests_;
  auto every = [n](unsigned k) { return k != 0 && n % k == 0; };
  if (s.fail_all || (s.fail_after && n > s.fail_after) || every(s.error_503_every)) {
    ++n503_;
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    std::string resp = "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    send_all(client, resp.data(), resp.size());
    ::close(client);
    return;
  }
  if (every(s.reset_every)) {
    ++nreset_;
    reset_close(client);
    return;
  }
  if (every(s.stall_every)) {
    ++nstall_;
    // Hold the request without a byte of answer until the client gives up (or the stall ends).
    pollfd p{client, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(s.stall_ms));
    reset_close(client);
    return;
  }
  int up = connect_loopback(upstream_port_);
  if (up < 0) {
    reset_close(client);
    return;
  }
  // Ask upstream to close after its answer, so "read to EOF" delimits the response whatever its framing.
  size_t eol = req.find("\r\n");
  req.insert(eol + 2, "Connection: close\r\n");
  std::string head = req.substr(0, req.find("\r\n\r\n"));
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Drop the client's own Connection header if any: the one we inserted must be the only one.
  if (auto pos = head.find("\r\nconnection: keep-alive"); pos != std::string::npos) req.erase(pos, 24);
  if (!send_all(up, req.data(), req.size())) {
    ::close(up);
    reset_close(client);
    return;
  }
  bool create = req.compare(0, 5, "POST ") == 0 && req.substr(0, req.find("\r\n")).find("?uploads") != std::string::npos;
  if ((req.compare(0, 4, "PUT ") == 0 && s.lose_put_answer_every && ++puts_ % s.lose_put_answer_every == 0) ||
      (create && ++creates_ <= s.lose_create_upload_answers)) {
    char sink[65536];
    while (::recv(up, sink, sizeof sink, 0) > 0) {
    }
    ::close(up);
    ++nlost_;
    reset_close(client);
    return;
  }
  char buf[65536];
  for (;;) {
    ssize_t r = ::recv(up, buf, sizeof buf, 0);
    if (r <= 0) break;
    if (!send_all(client, buf, static_cast<size_t>(r))) break;
  }
  ::close(up);
  ::shutdown(client, SHUT_WR);
  ::close(client);
}

}  // namespace strata::test
