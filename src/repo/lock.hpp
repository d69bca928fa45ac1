#pragma once
// Repository locks (docs/FORMAT.md "Locks"). Backups hold shared locks, so any number can run at once;
// delete, cleanup and key removal hold an exclusive lock, so they never remove what a running backup still writes.
#include <cstdint>
#include <string>
#include <vector>

namespace strata {

class Storage;

enum class LockKind { kShared, kExclusive };

struct LockInfo {
  std::string key;
  LockKind kind = LockKind::kShared;
  std::string host, command, backup_id, started;
  int64_t pid = 0;
  bool stale = false;  // this host, process gone
};

class RepoLock {
 public:
  // Throws StrataError(kLocked) naming the holder if a conflicting lock exists.
  RepoLock(Storage& storage, LockKind kind, const std::string& command, const std::string& backup_id = "");
  ~RepoLock();
  RepoLock(const RepoLock&) = delete;
  RepoLock& operator=(const RepoLock&) = delete;

  static std::vector<LockInfo> list(Storage& storage);

 private:
  Storage& storage_;
  std::string key_;
};

}  // namespace strata
