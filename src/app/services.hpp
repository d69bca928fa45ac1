#pragma once
// What a use case (app::backup, app::restore, ...) receives explicitly instead of reaching for process globals: the
// repository it works on, a clock, a logger, an observer for progress and metrics, the cancel token, and where a
// passphrase comes from. The CLI fills it from flags and the config file; an agent fills it per job (its own token,
// its own observer feeding metrics), so two jobs in one process do not share any of it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace strata {
class Repository;
class Clock;
class CancelToken;
}  // namespace strata

namespace strata::app {

// One sample of a running phase ("backup", "restore"): what Prometheus and a console show. Totals are 0 when unknown.
struct Progress {
  std::string_view phase;
  uint64_t bytes_in = 0;   // plaintext read from the source (backup) / verified and written (restore)
  uint64_t bytes_out = 0;  // stored bytes written (backup) / read (restore); 0 when not known
  uint64_t total = 0;      // expected bytes_in (tiering: entities), 0 = unknown
  uint64_t objects = 0;    // items done so far where a phase counts them (tiering: entities); 0 = not counted
  double seconds = 0;      // since the phase began
  double rate() const { return seconds > 0 ? static_cast<double>(bytes_in) / seconds : 0; }
};

// Counts of a finished phase (the manifests' layout), for metrics.
struct PhaseTotals {
  uint64_t bytes_in = 0, bytes_out = 0, objects = 0, frames = 0;
  double seconds = 0;
};

// Progress and metrics of a use case. Every method has a no-op default so an observer overrides what it shows.
// begin/end bracket a phase (end also runs when the phase fails: `ok` says which); progress may be called often,
// from the thread that drives the stream.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void begin(std::string_view phase, uint64_t total) {}
  virtual void progress(const Progress& p) {}
  virtual void end(std::string_view phase, bool ok, const PhaseTotals& totals) {}
};

// Where warnings of a use case go (besides the result's `warnings`). The default writes them as the CLI always did
// (log::report_warning); an agent's logger adds its job's fields.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void warning(std::string_view event, std::string_view message);
  static Logger& standard();
};

struct Services {
  // The repository: `repo`, or the one `open_repository` opens when the use case first needs it (after it checked
  // its request, so a wrong request is reported as such and not as a missing repository).
  Repository* repo = nullptr;
  std::function<std::unique_ptr<Repository>()> open_repository;
  const Clock* clock = nullptr;       // null: the system clock
  Logger* logger = nullptr;           // null: Logger::standard()
  Observer* observer = nullptr;       // null: nothing is shown
  const CancelToken* cancel = nullptr;  // null: the process token (SIGINT/SIGTERM)
  // The repository passphrase, asked only when a use case needs the secret key (empty function: none available,
  // and an encrypted repository then fails with kWrongKey).
  std::function<std::string()> passphrase;

  Repository& repository() const;  // throws kUsage when neither is set
  const Clock& clock_or_system() const;
  Logger& log() const { return logger ? *logger : Logger::standard(); }
  const CancelToken& cancel_token() const;
  std::string require_passphrase() const;

 private:
  mutable std::shared_ptr<Repository> opened_;
};

}  // namespace strata::app
