#include "support/redis_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "support/child_process.hpp"

namespace strata::test {

RespClient::RespClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot connect to redis on port " + std::to_string(port));
  }
}

RespClient::~RespClient() {
  if (fd_ >= 0) ::close(fd_);
}

RespValue RespClient::call(const std::vector<std::string>& args) {
  std::string req = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::write(fd_, req.data() + off, req.size() - off);
    if (n <= 0) throw std::runtime_error("redis write failed");
    off += static_cast<size_t>(n);
  }
  return read_value();
}

std::string RespClient::read_exact(size_t n) {
  while (buf_.size() < n) {
    char tmp[65536];
    ssize_t r = ::read(fd_, tmp, sizeof tmp);
    if (r <= 0) throw std::runtime_error("redis connection closed");
    buf_.append(tmp, static_cast<size_t>(r));
  }
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

std::string RespClient::read_line() {
  for (;;) {
    auto p = buf_.find("\r\n");
    if (p != std::string::npos) {
      std::string line = buf_.substr(0, p);
      buf_.erase(0, p + 2);
      return line;
    }
    char tmp[65536];
    ssize_t r = ::read(fd_, tmp, sizeof tmp);
    if (r <= 0) throw std::runtime_error("redis connection closed");
    buf_.append(tmp, static_cast<size_t>(r));
  }
}

RespValue RespClient::read_value() {
  std::string line = read_line();
  RespValue v;
  v.type = line[0];
  std::string rest = line.substr(1);
  switch (v.type) {
    case '+':
    case '-':
      v.str = rest;
      break;
    case ':':
      v.num = std::stoll(rest);
      break;
    case '$': {
      long long n = std::stoll(rest);
      if (n < 0) {
        v.null = true;
        break;
      }
      v.str = read_exact(static_cast<size_t>(n));
      read_exact(2);
      break;
    }
    case '*': {
      long long n = std::stoll(rest);
      for (long long i = 0; i < n; ++i) v.items.push_back(read_value());
      break;
    }
    default:
      throw std::runtime_error("unexpected RESP reply: " + line);
  }
  return v;
}

RedisServer::RedisServer(const std::string& d) : dir(d) {
  port = free_loopback_port();
  pid_file_ = dir + "/redis.pid";
  std::filesystem::create_directories(dir);
  // In the foreground (--daemonize no): a daemonized server would not be our child and could outlive the test.
  pid_ = spawn_server({"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize",
                       "no", "--pidfile", pid_file_, "--logfile", dir + "/redis.log", "--save", "", "--appendonly", "no"},
                      {}, port, std::chrono::seconds(60), "redis-server", dir + "/redis.log");
}

RedisServer::~RedisServer() { stop_child(pid_, SIGTERM, std::chrono::seconds(60)); }

namespace {
std::string joined(std::vector<std::string> parts, bool sort) {
  if (sort) std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += std::to_string(p.size()) + ":" + p + ",";
  return out;
}
std::vector<std::string> strings(const RespValue& v) {
  std::vector<std::string> out;
  for (const auto& i : v.items) out.push_back(i.str);
  return out;
}
}  // namespace

std::map<std::string, std::string> snapshot_keys(int port) {
  RespClient c(port);
  std::map<std::string, std::string> out;
  std::string cursor = "0";
  do {
    auto r = c.call({"SCAN", cursor, "COUNT", "1000"});
    cursor = r.items.at(0).str;
    for (const auto& k : r.items.at(1).items) {
      std::string type = c.call({"TYPE", k.str}).str;
      std::string val;
      if (type == "string") val = c.call({"GET", k.str}).str;
      else if (type == "hash") {
        auto h = strings(c.call({"HGETALL", k.str}));
        std::vector<std::string> pairs;
        for (size_t i = 0; i + 1 < h.size(); i += 2) pairs.push_back(h[i] + "=" + h[i + 1]);
        val = joined(pairs, true);
      } else if (type == "list") val = joined(strings(c.call({"LRANGE", k.str, "0", "-1"})), false);
      else if (type == "set") val = joined(strings(c.call({"SMEMBERS", k.str})), true);
      else if (type == "zset") val = joined(strings(c.call({"ZRANGE", k.str, "0", "-1", "WITHSCORES"})), false);
      else val = c.call({"DUMP", k.str}).str;  // streams and modules: the serialized form
      out[k.str] = type + "|" + val;
    }
  } while (cursor != "0");
  return out;
}

}  // namespace strata::test
