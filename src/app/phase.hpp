#pragma once
// Inside app/: one phase of a use case as the observer sees it — begin at construction, progress through fn(), end
// with the totals (finish) or as failed (destructor, while unwinding).
#include <chrono>
#include <string>

#include "app/services.hpp"
#include "io/pipeline.hpp"

namespace strata::app {

class PhaseScope {
 public:
  PhaseScope(const Services& services, std::string phase, uint64_t total);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

  ProgressFn fn();
  double seconds() const;
  // The total becomes known while the phase runs (check learns it after listing).
  void set_total(uint64_t total) { total_ = total; }
  // Ends the phase as done; totals.seconds is filled in.
  void finish(PhaseTotals totals);

 private:
  Observer* observer_;
  std::string phase_;
  uint64_t total_;
  std::chrono::steady_clock::time_point start_;
  bool ended_ = false;
};

}  // namespace strata::app
