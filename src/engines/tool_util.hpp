#pragma once
// Small helpers the tool-driving engines (mysql, redis) share: quoting for /bin/sh, private scratch space for
// option files, detached servers and bounded readiness polls.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/process.hpp"

namespace strata {

// First executable of `names` found in PATH (or an absolute path that exists); empty if none.
std::string find_tool(const std::vector<std::string>& names);

// A 0700 directory under $TMPDIR (or /tmp), removed with its contents on destruction. Holds option files with
// credentials so they never reach argv.
class PrivateDir {
 public:
  // base_dir empty: $TMPDIR or /tmp.
  explicit PrivateDir(const std::string& prefix, const std::string& base_dir = "");
  ~PrivateDir();
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `name` inside with mode 0600; returns its path.
  std::string write_file(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string read_text_file(const std::string& path);  // throws StrataError(kNotFound) naming the file

struct SourceConfig;
// The password of a tool-driven source (mysql, redis): the first line-ending-stripped content of
// `<prefix>password_file`, else the variable named by `<prefix>password_env` (kUsage if it is unset), else "".
std::string source_password(const SourceConfig& source, const std::string& prefix = "");
std::string trim(const std::string& s);

// Runs `command` under /bin/sh -c with environment `env`, capturing stdout; on a non-zero exit throws
// StrataError(code) with "<what> failed: <last stderr line>; <hint>".
std::string run_checked(const std::string& command, const std::string& what, const std::string& hint,
                        const ChildEnv& env = {});

// Starts `command` in its own session with stdio redirected, so it outlives us (servers started by --start).
void launch_detached(const std::string& command, const std::string& log_file);

// Polls `ready` every 100 ms until it returns true or `timeout` passes. Returns whether it became ready.
bool poll_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

// "2026-11-21 06:00:00", "2026-11-21 06:00:00+02:00", "...Z" or "@1795240000" -> epoch seconds (UTC when no zone).
// zone_required: only the forms with a zone. PostgreSQL reads a zoneless recovery_target_time in the server's
// TimeZone, so strata could not compare the instant it names with a backup's end. Throws StrataError(kUsage).
int64_t parse_target_time(const std::string& text, bool zone_required = false);

class ByteSource;
// Like open_command_source, but the tool's chatty stderr is kept (its tail quoted on failure) instead of forwarded;
// `what` names the tool in errors ("mariadb-backup of source db1").
std::unique_ptr<ByteSource> open_quiet_command_source(const std::string& command, const std::string& what,
                                                      const std::string& hint, const ChildEnv& env = {});

// When we are root: gives `path` (and everything below it) to OS user `user`, so a server started as that user can
// use it; `whose` names the setting in the error ("run_as of source db1"). Not root: nothing to do (all is ours).
void chown_tree_to(const std::string& path, const std::string& user, const std::string& whose);

// Empty if the directory does not exist or is empty.
bool dir_is_empty_or_missing(const std::string& path);

}  // namespace strata
