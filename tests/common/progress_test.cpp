// Issue 13 item 14: elapsed time and percent, and an ETA only once it has settled.
#include "common/progress.hpp"

#include <gtest/gtest.h>

namespace strata {
namespace {

constexpr uint64_t kMiB = 1u << 20;

TEST(ProgressMeter, ShowsElapsedPercentAndSizes) {
  ProgressMeter m("backup", 200 * kMiB);
  EXPECT_EQ(m.line(3.4, 90 * kMiB + 245 * 1024, 0).rfind("[0:03] 45.12%  backup 90.2 MiB of 200.0 MiB", 0), 0u)
      << m.line(3.4, 90 * kMiB + 245 * 1024, 0);
  ProgressMeter unknown("backup", 0);
  std::string l = unknown.line(65, 10 * kMiB, 4 * kMiB);
  EXPECT_EQ(l.rfind("[1:05]  backup 10.0 MiB  ", 0), 0u) << l;
  EXPECT_NE(l.find("stored 4.0 MiB"), std::string::npos) << l;
  EXPECT_EQ(l.find("ETA"), std::string::npos) << "no ETA without a total";
  EXPECT_EQ(l.find('%'), std::string::npos);
  EXPECT_EQ(format_clock(3725), "1:02:05");
}

TEST(ProgressMeter, NoEtaFromTheFirstBurst) {
  ProgressMeter m("restore", 1000 * kMiB);
  // 50 ms in, 5% done: any ETA now would be a guess from cache speed.
  EXPECT_EQ(m.line(0.05, 50 * kMiB, 0).find("ETA"), std::string::npos);
  EXPECT_EQ(m.line(2.9, 100 * kMiB, 0).find("ETA"), std::string::npos) << "not before 3 s";
  ProgressMeter slow("restore", 1000 * kMiB);
  EXPECT_EQ(slow.line(10, 5 * kMiB, 0).find("ETA"), std::string::npos) << "not before 1% is done";
}

TEST(ProgressMeter, EtaFollowsTheRecentRateNotTheFirstBurst) {
  ProgressMeter m("restore", 1000 * kMiB);
  m.line(0.1, 100 * kMiB, 0);  // a burst from the page cache
  // Then a steady 10 MiB/s for 20 s: 300 MiB done at t = 20.1, 700 MiB left -> 70 s at the recent rate
  // (the overall average, 14.9 MiB/s, would promise 47 s).
  std::string last;
  for (int i = 1; i <= 20; ++i) last = m.line(0.1 + i, 100 * kMiB + static_cast<uint64_t>(i) * 10 * kMiB, 0);
  EXPECT_NE(last.find("ETA 1:10"), std::string::npos) << last;
  EXPECT_EQ(m.line(30, 1000 * kMiB, 0).find("ETA"), std::string::npos) << "done: no ETA";
}

}  // namespace
}  // namespace strata
