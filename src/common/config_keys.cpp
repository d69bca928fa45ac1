#include "common/config_keys.hpp"

#include <map>

namespace strata {

const std::vector<std::string>& known_config_keys(std::string_view table) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> keys = {
      {"",
       {"repo", "passphrase_file", "log_level", "log_format", "write_only", "public_key", "limit_upload",
        "limit_download", "max_requests", "writer_key_file", "unsigned_backups", "lock_refresh_every",
        "lock_stale_after", "backup", "s3", "source", "entity",
        "limits", "retention", "drill", "catalog", "webhook", "amqp"}},
      // [webhook.NAME] (docs/CATALOG.md "Webhooks"): where the outbox's events are posted.
      {"webhook", {"url", "secret_file", "events", "timeout"}},
      // [amqp.NAME] (docs/CATALOG.md "RabbitMQ"): an exchange the outbox's events are published to.
      {"amqp", {"url", "password_file", "exchange", "routing_key", "events", "timeout"}},
      {"drill", {"scratch_dir", "disk_budget", "time_limit"}},
      {"backup", {"compression", "frame_size", "object_size", "threads", "io_threads", "fail_on_empty"}},
      {"s3",
       {"endpoint", "region", "addressing", "storage_class", "part_size", "upload_concurrency", "upload_buffer",
        "max_requests", "max_attempts", "retry_base_ms", "retry_max_ms", "request_timeout_ms", "stall_timeout_ms",
        "connect_timeout_ms", "if_none_match", "sign_payload", "verify_tls", "checksum", "access_key_id",
        "secret_access_key", "session_token", "profile"}},
      // The fleet keys (docs/SCHEDULING.md, strata server / fleet): read by platform/scheduler/fleet_config.
      {"source",
       {"engine", "group", "timezone", "window", "priority", "rpo", "tags", "jitter", "missed", "catch_up",
        "schedule", "retention"}},
      {"source.schedule", {"cron", "type"}},
      // [limits] (the whole fleet) and [limits."group/path"] (a group and every group below it).
      {"limits", {"jobs", "upload"}},
      // [retention.default] and [source.NAME.retention] (docs/RETENTION.md).
      {"retention", {"default"}},
      {"retention.policy",
       {"keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within",
        "recovery_window", "min_good", "max_share", "grace"}},
      {"source.command", {"backup_command", "restore_command", "drill_restore_command", "drill_verify_command"}},
      {"source.postgres",
       {"host", "port", "user", "dbname", "passfile", "password_file", "method", "wal_method", "checkpoint", "max_rate",
        "bin_dir", "spool_dir", "archive_async", "wal_compression", "wal_prefetch", "wal_segment_size", "databases",
        "restore_archive_mode", "fingerprint", "fingerprint_max_rows", "run_as"}},
      {"source.mysql",
       {"socket", "host", "port", "user", "password_file", "password_env", "defaults_file", "client", "datadir",
        "backup_tool", "dump_tool", "parallel", "backup_options", "databases", "binlog_dir", "binlog_fetch", "run_as",
        "server", "server_options", "start_timeout", "default_type", "restore_user", "restore_password_file",
        "restore_password_env", "fingerprint", "fingerprint_max_rows"}},
      {"source.redis", {"socket", "host", "port", "user", "password_file", "password_env", "server", "start_timeout"}},
      {"entity",
       {"database", "root", "key", "activity", "tier_column", "location_column", "compression", "exclude",
        "warm_after", "freeze_after", "cooldown_batch", "batch", "pack_size", "workers", "keep_after_thaw", "child"}},
      {"entity.child", {"table", "fk", "parent", "parent_key", "exclude"}},
  };
  static const std::vector<std::string> none;
  auto it = keys.find(table);
  return it == keys.end() ? none : it->second;
}

const std::vector<std::string>& known_engines() {
  static const std::vector<std::string> engines = {"command", "postgres", "mysql", "redis"};
  return engines;
}

}  // namespace strata
