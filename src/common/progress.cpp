#include "common/progress.hpp"

#include <algorithm>
#include <cstdio>

#include "common/bytes.hpp"

namespace strata {

std::string format_clock(double seconds) {
  if (seconds < 0) seconds = 0;
  auto s = static_cast<uint64_t>(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60), static_cast<unsigned long long>(s % 60));
  }
  return buf;
}

std::string ProgressMeter::line(double elapsed, uint64_t done, uint64_t stored) {
  samples_.emplace_back(elapsed, done);
  while (samples_.size() > 2 && elapsed - samples_[1].first >= kRateWindowSeconds) samples_.pop_front();
  std::string out = "[" + format_clock(elapsed) + "]";
  if (total_) {
    char pct[16];
    double p = 100.0 * static_cast<double>(std::min(done, total_)) / static_cast<double>(total_);
    std::snprintf(pct, sizeof pct, " %.2f%%", p);
    out += pct;
  }
  out += "  " + verb_ + " " + format_size(done);
  if (total_) out += " of " + format_size(total_);
  double overall = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  out += "  " + format_size(static_cast<uint64_t>(overall)) + "/s";
  if (stored) out += "  stored " + format_size(stored);
  if (total_ && done < total_ && elapsed >= kEtaAfterSeconds &&
      static_cast<double>(done) >= kEtaAfterFraction * static_cast<double>(total_)) {
    const auto& [t0, d0] = samples_.front();
    double window = elapsed - t0;
    double rate = window > 0.5 && done > d0 ? static_cast<double>(done - d0) / window : overall;
    if (rate > 0) out += "  ETA " + format_clock(static_cast<double>(total_ - done) / rate);
  }
  return out;
}

}  // namespace strata
