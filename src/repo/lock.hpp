#pragma once
// Repository locks (docs/FORMAT.md "Locks"). Backups hold shared locks, so any number can run at once;
// delete, cleanup and key removal hold an exclusive lock, so they never remove what a running backup still writes.
//
// Locks are leases (restic's model): the holder rewrites its lock every `refresh_seconds` while it runs, and a lock
// not refreshed for `stale_seconds` is stale wherever it came from. A lock of this machine's own PID namespace (same
// boot id and PID namespace, not merely the same hostname: containers, pods and cloned VMs share hostnames) is also
// stale once its process is gone or its pid now belongs to another process (a different start time).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace strata {

class Storage;

enum class LockKind { kShared, kExclusive };

// Who holds a lock, precisely enough that a pid in another PID namespace or a reused pid is never mistaken for ours.
struct LockHolder {
  std::string host;        // hostname, for people
  std::string machine_id;  // /etc/machine-id (informational: cloned images share it)
  std::string boot_id;     // /proc/sys/kernel/random/boot_id: one per running kernel
  std::string pid_ns;      // "pid:[4026531836]": the PID namespace the pid is valid in
  int64_t pid = 0;
  uint64_t process_start = 0;  // /proc/PID/stat starttime (clock ticks after boot): tells pid reuse apart
  static LockHolder self();
  // Same kernel and PID namespace: our kill(pid, 0) and /proc/pid say something about the holder.
  bool same_pid_space(const LockHolder& other) const;
};

struct LockTiming {
  int64_t refresh_seconds = 300;  // holders rewrite their lock this often
  int64_t stale_seconds = 1800;   // a lock not refreshed for this long is stale
  std::function<int64_t()> now;   // epoch seconds; empty = the system clock
  std::function<void()> after_refresh;  // observer for tests: called after each background refresh
  int64_t now_epoch() const;
  // What the CLI configured (lock_stale_after / lock_refresh_every); tests construct their own.
  static LockTiming& process_default();
};

struct LockInfo {
  std::string key;  // "locks/<id>"
  std::string id;   // what 'strata unlock ID' takes
  LockKind kind = LockKind::kShared;
  std::string command, backup_id, started;
  LockHolder holder;
  int64_t started_epoch = 0;
  int64_t refreshed_epoch = 0;  // 0: written by a strata that did not refresh locks
  bool readable = true;          // false: empty or damaged lock file (counted as exclusive)
  bool stale = false;
  std::string stale_reason;      // why it is stale, for messages
  std::string raw;               // the bytes read, to see whether it changed before removing it
  // "'backup db' (pid 1234 on db-1, since 2026-...Z, refreshed 2026-...Z)"
  std::string describe() const;
};

class RepoLock {
 public:
  // Throws StrataError(kLocked) naming the holder and the command that removes its lock if a conflicting lock
  // exists. Starts refreshing the lock in the background.
  RepoLock(Storage& storage, LockKind kind, const std::string& command, const std::string& backup_id = "",
           LockTiming timing = LockTiming::process_default());
  ~RepoLock();
  RepoLock(const RepoLock&) = delete;
  RepoLock& operator=(const RepoLock&) = delete;

  // Rewrites the lock with the current time (the background thread calls it every refresh_seconds). If the lock
  // was removed meanwhile (by 'strata unlock --all', or a cleanup that judged it stale) it is not recreated:
  // lost() turns true and the holder must check before it commits anything.
  void refresh();
  // The lock file disappeared or was replaced while we held it.
  bool lost();
  const std::string& key() const { return key_; }

  static std::vector<LockInfo> list(Storage& storage, const LockTiming& timing = LockTiming::process_default());
  // Removes `info`'s lock unless it changed since it was read (a holder refreshed it meanwhile). Returns whether
  // it was removed.
  static bool remove_if_unchanged(Storage& storage, const LockInfo& info);

 private:
  std::string encode(int64_t refreshed) const;
  void refresher();

  Storage& storage_;
  LockTiming timing_;
  std::string key_;
  LockKind kind_;
  std::string command_, backup_id_;
  LockHolder self_;
  int64_t started_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace strata
