#pragma once
// The text of a progress line, restic-style: "[0:03] 45.12%  backup 1.2 GiB of 2.6 GiB  48.0 MiB/s  ETA 0:04".
// Pure (time comes in as an argument) so the ETA rule is testable: the ETA is shown only once it has settled —
// after kEtaAfterSeconds and kEtaAfterFraction of the work — and comes from the rate over the last
// kRateWindowSeconds, so a fast first burst (cache, buffers) does not promise "ETA 0:02" for a 10-minute job.
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

namespace strata {

class ProgressMeter {
 public:
  static constexpr double kEtaAfterSeconds = 3.0;
  static constexpr double kEtaAfterFraction = 0.01;
  static constexpr double kRateWindowSeconds = 10.0;

  ProgressMeter(std::string verb, uint64_t total) : verb_(std::move(verb)), total_(total) {}
  void set_total(uint64_t total) { total_ = total; }
  uint64_t total() const { return total_; }
  // The line for `done` bytes (and `stored` bytes written, 0 = not shown) at `elapsed` seconds since the start.
  std::string line(double elapsed, uint64_t done, uint64_t stored);

 private:
  std::string verb_;
  uint64_t total_;
  std::deque<std::pair<double, uint64_t>> samples_;  // (elapsed, done) within the rate window
};

// m:ss, or h:mm:ss from an hour on.
std::string format_clock(double seconds);

}  // namespace strata
