#include "tiering/serve.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "tiering/tiering.hpp"

namespace strata::tiering {
namespace {

constexpr size_t kMaxLine = 4096;
constexpr int kPollMs = 200;  // how often idle loops look at `stop`; never a synchronisation

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

int listen_unix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) fail(ErrorCode::kUsage, "socket path " + path + " is too long; use a shorter one");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("cannot create a Unix socket", errno);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A socket file left by a killed server: replace it only if nobody answers on it.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ::close(fd);
    fail(ErrorCode::kLocked, "another thaw service is listening on " + path + "; stop it or choose another --socket");
  }
  ::unlink(path.c_str());
  mode_t old = ::umask(0117);  // 0660: the game server's group may connect, nobody else
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    fail_errno("cannot listen on " + path, err);
  }
  return fd;
}

int listen_loopback(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("cannot create a TCP socket", errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only: the protocol has no authentication
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    fail_errno("cannot listen on 127.0.0.1:" + std::to_string(port), err);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

bool write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void serve_connection(ThawService& service, int fd, const std::atomic<bool>& stop) {
  std::string buf;
  char chunk[4096];
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, kPollMs);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    bool open = true;
    while (open && (nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      open = write_all(fd, handle_line(service, line) + "\n");
    }
    if (!open) break;
    if (buf.size() > kMaxLine) {
      write_all(fd, "ERR 2 request line longer than 4096 bytes\n");
      break;
    }
  }
  ::close(fd);
}

}  // namespace

ThawService::ThawService(const EntityConfig& cfg, Repository& repo, size_t workers) {
  for (size_t i = 0; i < std::max<size_t>(1, workers); ++i) {
    pool_.push_back(std::make_unique<Tierer>(cfg, &repo));
    pool_.back()->prepare();
    idle_.push_back(i);
  }
}

ThawService::~ThawService() = default;

ThawReply ThawService::thaw(const std::string& key) {
  size_t slot;
  {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [&] { return !idle_.empty(); });
    slot = idle_.back();
    idle_.pop_back();
  }
  auto t0 = std::chrono::steady_clock::now();  // the thaw itself, not the wait for a free worker
  ThawReply reply;
  try {
    reply.thawed = pool_[slot]->thaw(key) == ThawOutcome::kThawed;
    reply.ok = true;
  } catch (const StrataError& e) {
    reply.exit_code = e.exit_code();
    reply.message = one_line(e.what());
  } catch (const std::exception& e) {
    reply.exit_code = 1;
    reply.message = one_line(e.what());
  }
  reply.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  {
    std::lock_guard<std::mutex> g(mu_);
    idle_.push_back(slot);
  }
  cv_.notify_one();
  if (!reply.ok) log::warn("tier_serve_thaw_failed", {{"key", key}, {"reason", reply.message}});
  return reply;
}

ThawClient::ThawClient(const std::string& socket_path) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) fail(ErrorCode::kUsage, "socket path " + socket_path + " is too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    fail(ErrorCode::kSourceFailed, "cannot connect to the thaw service at " + socket_path + ": " + std::strerror(err) +
                                       "; start it with `strata tier serve --socket " + socket_path + "`");
  }
}

ThawClient::~ThawClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string ThawClient::request(const std::string& line) {
  if (!write_all(fd_, line + "\n")) fail(ErrorCode::kSourceFailed, "the thaw service closed the connection");
  for (;;) {
    size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string reply = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return reply;
    }
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(ErrorCode::kSourceFailed, "the thaw service closed the connection");
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

std::string handle_line(ThawService& service, const std::string& line) {
  if (line == "PING") return "OK pong";
  if (line.rfind("THAW ", 0) == 0 && line.size() > 5) {
    ThawReply r = service.thaw(line.substr(5));
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", r.ms);
    if (r.ok) return std::string("OK ") + (r.thawed ? "thawed " : "hot ") + ms;
    return "ERR " + std::to_string(r.exit_code) + " " + r.message;
  }
  return "ERR 2 unknown request; send THAW <key> or PING";
}

void serve_lines(ThawService& service, const ServeOptions& options, const std::atomic<bool>& stop,
                 const std::function<void(int port)>& ready) {
  std::vector<int> fds;
  int port = options.port;
  try {
    if (!options.socket_path.empty()) fds.push_back(listen_unix(options.socket_path));
    if (options.port >= 0) fds.push_back(listen_loopback(port));
  } catch (...) {
    for (int fd : fds) ::close(fd);
    throw;
  }
  if (fds.empty()) fail(ErrorCode::kUsage, "give --socket PATH and/or --port N for the thaw service to listen on");
  log::info("tier_serve_listening", {{"socket", options.socket_path}, {"port", int64_t{options.port >= 0 ? port : -1}},
                                     {"workers", uint64_t{service.workers()}}});
  if (ready) ready(options.port >= 0 ? port : -1);
  // One thread per connection (a game server keeps a few open); finished ones are joined as new ones arrive.
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::vector<std::unique_ptr<Conn>> conns;
  while (!stop) {
    std::vector<pollfd> ps;
    for (int fd : fds) ps.push_back({fd, POLLIN, 0});
    int r = ::poll(ps.data(), ps.size(), kPollMs);
    if (r <= 0) continue;
    for (const auto& p : ps) {
      if (!(p.revents & POLLIN)) continue;
      int c = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      for (size_t i = 0; i < conns.size();) {
        if (conns[i]->done) {
          conns[i]->thread.join();
          conns.erase(conns.begin() + static_cast<long>(i));
        } else {
          ++i;
        }
      }
      auto conn = std::make_unique<Conn>();
      Conn* raw = conn.get();
      raw->thread = std::thread([&service, c, &stop, raw] {
        serve_connection(service, c, stop);
        raw->done = true;
      });
      conns.push_back(std::move(conn));
    }
  }
  for (int fd : fds) ::close(fd);
  for (auto& t : conns) t->thread.join();
  if (!options.socket_path.empty()) ::unlink(options.socket_path.c_str());
}

}  // namespace strata::tiering
