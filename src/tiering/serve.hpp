#pragma once
// On-demand thaw for game servers in any language (docs/TIERING.md "Thaw service"): `strata tier serve` keeps a pool
// of Tierers (each with its own database connection, schema and pack keys cached) and answers one line per request
// on a Unix socket and/or a loopback TCP port. ThawService::thaw is the one implementation of the call; the HTTP
// API serves the same object.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tiering/entity.hpp"

namespace strata {
class Repository;
}

namespace strata::tiering {

class Tierer;

struct ThawReply {
  bool ok = false;
  bool thawed = false;  // false with ok: the entity was already in the database (hot or warm, now hot)
  int exit_code = 0;    // on error: the code `strata tier thaw KEY` would exit with (docs/CLI.md)
  std::string message;  // on error: one line naming the entity and key
  double ms = 0;  // the thaw itself, from getting a worker to its answer
};

class ThawService {
 public:
  // Opens `workers` connections and reads the entity's tables on each now, so a bad configuration fails at start
  // rather than at the first login, and no login pays for it.
  ThawService(const EntityConfig& cfg, Repository& repo, size_t workers);
  ~ThawService();
  ThawService(const ThawService&) = delete;
  ThawService& operator=(const ThawService&) = delete;

  // Thread-safe; blocks while every worker is busy. Concurrent calls for one key coalesce (Tierer::thaw).
  ThawReply thaw(const std::string& key);
  size_t workers() const { return pool_.size(); }

 private:
  std::vector<std::unique_ptr<Tierer>> pool_;
  std::vector<size_t> idle_;
  std::mutex mu_;
  std::condition_variable cv_;
};

struct ServeOptions {
  std::string socket_path;  // Unix socket (created 0660, replaced if stale); empty = none
  int port = -1;            // TCP port on 127.0.0.1; 0 = any free port; -1 = none
};

// The line protocol (one request, one reply, any number per connection):
//   THAW <key>   ->  OK thawed <ms> | OK hot <ms> | ERR <exit-code> <message>    (<ms>: ThawReply::ms)
//   PING         ->  OK pong
// Serves until `stop` becomes true. `ready(port)` is called once listening (with the TCP port bound, or -1).
void serve_lines(ThawService& service, const ServeOptions& options, const std::atomic<bool>& stop,
                 const std::function<void(int port)>& ready = {});

// A client of the line protocol on a Unix socket (the benchmark's callers, tests, C++ game servers).
class ThawClient {
 public:
  explicit ThawClient(const std::string& socket_path);  // throws StrataError naming the socket
  ~ThawClient();
  ThawClient(const ThawClient&) = delete;
  ThawClient& operator=(const ThawClient&) = delete;
  // Sends one request line, returns the reply line (without the newline).
  std::string request(const std::string& line);

 private:
  int fd_ = -1;
  std::string buf_;
};

// The reply line for one request line (without the newline); what serve_lines writes back.
std::string handle_line(ThawService& service, const std::string& line);

}  // namespace strata::tiering
