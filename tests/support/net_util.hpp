#pragma once
// Loopback ports and readiness polling shared by the server fixtures (moto_server, PostgreSQL, MariaDB, Redis).
#include <chrono>
#include <functional>
#include <string>

namespace strata::test {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline deadline_in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released; the caller binds it next).
int free_loopback_port();

// Calls done() until it returns true (-> true) or the deadline passes (-> false), backing off from 5 ms to 100 ms
// between calls. A poll, not a sleep: it returns as soon as done() does.
bool wait_until(const std::function<bool()>& done, Deadline deadline);

// The last `max_bytes` of a log file, for error messages ("" if it cannot be read).
std::string log_tail(const std::string& path, size_t max_bytes = 2000);

// Polls until something accepts TCP connections on 127.0.0.1:port. Throws std::runtime_error naming `server` and
// quoting the tail of `log_path` when still_alive() turns false (the server exited) or the deadline passes.
void wait_for_port(int port, Deadline deadline, const std::string& server, const std::string& log_path,
                   const std::function<bool()>& still_alive = {});

}  // namespace strata::test
