#pragma once
#include <atomic>
#include <cstdint>
#include <string>

namespace strata {
int64_t now_epoch();
int64_t now_epoch_us();  // microseconds: orders events within one second
std::string iso_utc(int64_t epoch);  // 2026-11-21T05:33:00Z
std::string compact_utc(int64_t epoch);  // 20261121T053300Z, sortable and path-safe; also SigV4's x-amz-date
std::string sql_utc(int64_t epoch);  // 2026-11-21 05:33:00, as mysqlbinlog and PostgreSQL read a timestamp
std::string hostname();

// The wall clock as something that can be passed in: whatever decides by the time (the scheduler, leases, retention)
// asks a Clock, so tests run a simulated year in seconds on a ManualClock instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now() const = 0;  // UTC seconds since the epoch
};

class SystemClock final : public Clock {
 public:
  int64_t now() const override { return now_epoch(); }
  static const SystemClock& instance();
};

// A clock that moves only when told to. Safe to read from other threads while a test moves it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start) : now_(start) {}
  int64_t now() const override { return now_.load(); }
  void set(int64_t t) { now_.store(t); }
  void advance(int64_t seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<int64_t> now_;
};
}  // namespace strata
