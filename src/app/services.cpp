#include "app/services.hpp"

#include "app/phase.hpp"
#include "common/cancel.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/repository.hpp"

namespace strata::app {

void Logger::warning(std::string_view event, std::string_view message) { log::report_warning(event, message); }

Logger& Logger::standard() {
  static Logger logger;
  return logger;
}

Repository& Services::repository() const {
  if (repo) return *repo;
  if (!opened_) {
    if (!open_repository) fail(ErrorCode::kUsage, "no repository given: pass --repo or set STRATA_REPO");
    opened_ = open_repository();
  }
  return *opened_;
}

const Clock& Services::clock_or_system() const { return clock ? *clock : SystemClock::instance(); }

const CancelToken& Services::cancel_token() const { return cancel ? *cancel : CancelToken::process(); }

std::string Services::require_passphrase() const {
  if (!passphrase) fail(ErrorCode::kWrongKey, "the repository is encrypted and no passphrase was given");
  return passphrase();
}

PhaseScope::PhaseScope(const Services& services, std::string phase, uint64_t total)
    : observer_(services.observer), phase_(std::move(phase)), total_(total), start_(std::chrono::steady_clock::now()) {
  if (observer_) observer_->begin(phase_, total_);
}

PhaseScope::~PhaseScope() {
  if (!ended_ && observer_) observer_->end(phase_, false, PhaseTotals{0, 0, 0, 0, seconds()});
}

double PhaseScope::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

ProgressFn PhaseScope::fn() {
  if (!observer_) return [](uint64_t, uint64_t) {};  // engines call it unchecked
  return [this](uint64_t in, uint64_t out) {
    Progress p;
    p.phase = phase_;
    p.bytes_in = in;
    p.bytes_out = out;
    p.total = total_;
    p.seconds = seconds();
    observer_->progress(p);
  };
}

void PhaseScope::finish(PhaseTotals totals) {
  if (ended_) return;
  ended_ = true;
  totals.seconds = seconds();
  if (observer_) observer_->end(phase_, true, totals);
}

}  // namespace strata::app
