#pragma once
// Settings come from, in rising precedence: built-in defaults, the TOML config file, STRATA_* environment
// variables, then command-line flags (applied by the CLI). docs/CONFIG.md lists every key.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace strata {

struct Settings {
  std::string repo;
  std::string passphrase_file;
  std::string log_level = "warn";
  std::string log_format = "text";
  std::string compression = "zstd:3";
  uint64_t frame_size = 1u << 20;
  uint64_t object_size = 0;  // 0: the storage driver's hint (Storage::object_size_hint)
  unsigned threads = 0;
  unsigned io_threads = 4;
  bool write_only = false;
  // [backup] fail_on_empty: refuse a source that wrote nothing. Unset: on for engine sources (a database never
  // backs up to zero bytes), off for --from-command/--from-file (docs/CONFIG.md).
  std::optional<bool> fail_on_empty;
  std::string public_key;  // pinned repository public key (hex) for write-only hosts
  // Writer identity (docs/CLI.md "Writer identities"): this host's Ed25519 key file, and what readers do with
  // backups that carry no writer signature ("warn" or "refuse").
  std::string writer_key_file;
  std::string unsigned_backups = "warn";
  // [source.NAME] tables, kept as flat "key=value" maps for the engines to interpret.
  std::map<std::string, std::map<std::string, std::string>> sources;
  // Retention policies (docs/RETENTION.md): [retention.default] and [source.NAME.retention], as text by key.
  std::map<std::string, std::string> retention_default;
  std::map<std::string, std::map<std::string, std::string>> retention_by_source;
  // [s3] table, as text by key, for the S3 driver (docs/S3.md). May hold credentials: never log it.
  std::map<std::string, std::string> s3;
  // Process-wide storage limits (bytes/s; 0 = none) and requests in flight (0 = driver default).
  uint64_t limit_upload = 0;
  uint64_t limit_download = 0;
  unsigned max_requests = 0;
  // Repository locks are leases (repo/lock.hpp): refreshed this often, stale after this long without a refresh.
  int64_t lock_refresh_every = 300;
  int64_t lock_stale_after = 1800;
  // [drill] (docs/DRILLS.md): where level 2 drills restore to, the most they may restore, how long one may take.
  std::string drill_scratch_dir;
  uint64_t drill_disk_budget = 0;
  int64_t drill_time_limit_s = 3600;
  // The fleet catalog (docs/CATALOG.md): "sqlite:///var/lib/strata/catalog.db" or "postgresql://user@host/db".
  std::string catalog;
  // [webhook.NAME] tables as text by key (events: comma-separated), for platform/notify.
  std::map<std::string, std::map<std::string, std::string>> webhooks;
  // [amqp.NAME] tables as text by key (events: comma-separated), for platform/notify's RabbitMQ channel.
  std::map<std::string, std::map<std::string, std::string>> amqp;
  std::string config_path;  // where the settings came from, for messages
};

// Loads the file if `path` is non-empty, else STRATA_CONFIG, else ~/.config/strata/strata.toml if it exists.
// Throws StrataError(kUsage) naming the file and line on a parse error, an unknown key (with the closest known
// one), a value of the wrong type, or a secret in the file.
Settings load_settings(const std::string& path);

// "50MiB/s" (or a plain size) -> bytes per second. Throws StrataError(kUsage).
uint64_t parse_rate(std::string text);

}  // namespace strata
