#pragma once
// What every command shares: global options, settings, and how a repository is opened and unlocked.
// Kept free of CLI11 so command files only pay for it where they declare options.
#include <cstdint>
#include <memory>
#include <string>

#include "app/services.hpp"
#include "common/config.hpp"
#include "common/progress.hpp"
#include "io/pipeline.hpp"

namespace CLI {
class App;
}

namespace strata {

class Repository;
class Storage;

struct CliContext {
  // Global flags (empty = not given).
  std::string repo;
  std::string config_path;
  std::string passphrase_file;
  std::string log_level;
  std::string log_format;
  bool quiet = false;
  std::string limit_upload;    // "50MiB/s"
  std::string limit_download;
  unsigned max_requests = 0;
  Settings settings;
  bool finalized = false;

  // Called once flags are parsed: loads settings and applies flag overrides.
  void finalize();
  std::string repo_location() const;
  std::unique_ptr<Repository> open_repo(bool need_key);
  // The repository's storage: driver options from the config file, bandwidth and request limits applied.
  std::unique_ptr<Storage> open_repo_storage() const;
  // Whether passphrase() has somewhere to get one from (environment, file, or a terminal to prompt on).
  bool passphrase_available() const;
  // Reads the passphrase from STRATA_PASSPHRASE, --passphrase-file, or a prompt on the terminal.
  std::string passphrase(const char* prompt = "Repository passphrase: ");
  // A new passphrase (init, key add): STRATA_NEW_PASSPHRASE / --new-passphrase-file / prompt twice.
  std::string new_passphrase(const std::string& file, bool for_init);
  PipelineSettings pipeline(const std::string& compression_flag, const std::string& frame_flag,
                            const std::string& object_flag, unsigned threads_flag) const;
  // What an app:: use case gets from the command line: the repository opened (without its key) when the use case
  // needs it, the passphrase from passphrase(), the process's cancel token (SIGINT/SIGTERM), the system clock.
  app::Services services();
};

// A progress line on stderr when it is a terminal (and the log format is text); nothing when piped. total = 0 if
// unknown. Redrawn at most 4 times a second; the text is ProgressMeter's.
class Progress {
 public:
  Progress(const std::string& verb, uint64_t total, bool enabled);
  ~Progress();
  void update(uint64_t done, uint64_t stored);
  void set_total(uint64_t total) { meter_.set_total(total); }
  ProgressFn fn();

 private:
  ProgressMeter meter_;
  bool enabled_;
  int64_t start_ns_;
  int64_t last_ns_ = 0;
  bool printed_ = false;
};

// The terminal progress line as an app::Observer: a Progress while a phase runs (cleared when it ends).
class ProgressObserver final : public app::Observer {
 public:
  explicit ProgressObserver(bool enabled) : enabled_(enabled) {}
  void begin(std::string_view phase, uint64_t total) override;
  void progress(const app::Progress& p) override;
  void end(std::string_view phase, bool ok, const app::PhaseTotals& totals) override;

 private:
  bool enabled_;
  std::unique_ptr<Progress> line_;
};

std::string format_rate(uint64_t bytes, double seconds);

// One registration function per command file.
void register_repo_init(CLI::App& app, CliContext& ctx);
void register_backup(CLI::App& app, CliContext& ctx);
void register_list(CLI::App& app, CliContext& ctx);
void register_show(CLI::App& app, CliContext& ctx);
void register_restore(CLI::App& app, CliContext& ctx);
void register_check(CLI::App& app, CliContext& ctx);
void register_delete(CLI::App& app, CliContext& ctx);
void register_cleanup(CLI::App& app, CliContext& ctx);
void register_key(CLI::App& app, CliContext& ctx);
void register_unlock(CLI::App& app, CliContext& ctx);
void register_binlog(CLI::App& app, CliContext& ctx);
void register_wal(CLI::App& app, CliContext& ctx);
void register_tier(CLI::App& app, CliContext& ctx);
void register_fleet(CLI::App& app, CliContext& ctx);
void register_retention_commands(CLI::App& app, CliContext& ctx);  // forget, hold, expired
void register_drill(CLI::App& app, CliContext& ctx);  // also `status`
void register_jobs(CLI::App& app, CliContext& ctx);   // cmd_jobs.cpp
void register_agents(CLI::App& app, CliContext& ctx);  // cmd_jobs.cpp
void register_server(CLI::App& app, CliContext& ctx);
void register_agent_command(CLI::App& app, CliContext& ctx);  // `strata agent` (cmd_agent.cpp)

}  // namespace strata
