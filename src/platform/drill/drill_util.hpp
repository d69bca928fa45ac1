#pragma once
// What the engine drills (drill.cpp, pg_drill.cpp, mysql_drill.cpp) share: the time limit, running a check tool
// with the tail of its output kept, recording a check, a free loopback port.
#include <chrono>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "platform/drill/record.hpp"

namespace strata::drill {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// Thrown when the time limit passes (also out of the restore's progress callback: the pipeline aborts cleanly on it).
struct TimeLimitReached : StrataError {
  explicit TimeLimitReached(const std::string& m) : StrataError(ErrorCode::kInterrupted, m) {}
};

class Deadline {
 public:
  explicit Deadline(int64_t limit_s) : limit_s_(limit_s), end_(SteadyClock::now() + std::chrono::seconds(limit_s)) {}
  bool passed() const { return limit_s_ > 0 && SteadyClock::now() >= end_; }
  void check(const char* during) const {
    if (passed()) throw TimeLimitReached("the drill reached its time limit of " + std::to_string(limit_s_) + " s during " + during);
  }
  int remaining_ms() const {
    if (limit_s_ <= 0) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - SteadyClock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
  }

 private:
  int64_t limit_s_;
  SteadyClock::time_point end_;
};

struct CommandOutcome {
  int status = 0;
  bool timed_out = false;
  std::string tail;  // the last KiB of stdout, then the tail of stderr
};

// Runs `command` under /bin/sh, keeping the tail of what it prints; killed (its process group) when the deadline passes.
CommandOutcome run_with_tail(const std::string& command, const Deadline& deadline);

// Appends a check; the first failed one becomes the record's error.
void add_check(DrillRecord& rec, const std::string& name, bool ok, const std::string& detail);

// A TCP port on 127.0.0.1 nobody listens on right now. Throws StrataError(kGeneric) if there is none.
int free_loopback_port();

}  // namespace strata::drill
