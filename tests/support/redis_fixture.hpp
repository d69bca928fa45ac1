#pragma once
// A real redis-server (Debian redis-server 7) in a temp dir on a free 127.0.0.1 port, and a minimal RESP client
// so tests can write and compare binary values exactly.
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "support/engine_fixture.hpp"

namespace strata::test {

struct RespValue {
  char type = 0;  // '+', '-', ':', '$', '*' ('$' with null = true for nil)
  std::string str;
  long long num = 0;
  bool null = false;
  std::vector<RespValue> items;
};

class RespClient {
 public:
  explicit RespClient(int port);
  ~RespClient();
  RespValue call(const std::vector<std::string>& args);

 private:
  std::string read_line();
  std::string read_exact(size_t n);
  RespValue read_value();
  int fd_ = -1;
  std::string buf_;
};

class RedisServer {
 public:
  explicit RedisServer(const std::string& dir);
  ~RedisServer();
  std::string dir;
  int port = 0;

 private:
  std::string pid_file_;
  pid_t pid_ = -1;
};

// Every key with a type-aware canonical dump of its value (sorted members for sets and hashes).
std::map<std::string, std::string> snapshot_keys(int port);

}  // namespace strata::test
