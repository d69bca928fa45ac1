#include "repo/lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "io/crypto.hpp"
#include "storage/storage.hpp"

namespace strata {
namespace {

bool process_alive(int64_t pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

std::optional<LockInfo> read_lock(Storage& storage, const std::string& key) {
  try {
    Bytes b = storage.get(key);
    auto j = nlohmann::json::parse(b.begin(), b.end());
    LockInfo l;
    l.key = key;
    l.kind = j.at("kind") == "exclusive" ? LockKind::kExclusive : LockKind::kShared;
    l.host = j.value("host", "");
    l.pid = j.value("pid", int64_t{0});
    l.command = j.value("command", "");
    l.backup_id = j.value("backup_id", "");
    l.started = j.value("started", "");
    l.stale = l.host == hostname() && !process_alive(l.pid);
    return l;
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;  // released meanwhile
    throw;
  } catch (const nlohmann::json::exception&) {
    LockInfo l;
    l.key = key;
    l.kind = LockKind::kExclusive;  // an unreadable lock is treated as the stronger kind
    l.command = "unreadable lock file";
    return l;
  }
}

}  // namespace

std::vector<LockInfo> RepoLock::list(Storage& storage) {
  std::vector<LockInfo> out;
  for (const auto& o : storage.list("locks/")) {
    if (auto l = read_lock(storage, o.key)) out.push_back(*l);
  }
  return out;
}

RepoLock::RepoLock(Storage& storage, LockKind kind, const std::string& command, const std::string& backup_id)
    : storage_(storage) {
  uint8_t rnd[8];
  random_bytes(rnd, sizeof rnd);
  key_ = "locks/" + compact_utc(now_epoch()) + "-" + hex_encode(ByteView(rnd, 8));
  nlohmann::json j = {{"kind", kind == LockKind::kExclusive ? "exclusive" : "shared"},
                      {"host", hostname()},
                      {"pid", static_cast<int64_t>(::getpid())},
                      {"command", command},
                      {"backup_id", backup_id},
                      {"started", iso_utc(now_epoch())}};
  std::string text = j.dump();
  // Lock ids are random, so no create-only check is needed; and a lock matters only while its process lives, so
  // it need not survive a crash (saves two fsyncs on every command, which WAL push feels).
  storage_.put(key_, as_bytes(text), PutMode::kEphemeral);
  // Publish first, then look: of two conflicting writers at least one sees the other and backs off.
  try {
    for (const auto& other : list(storage_)) {
      if (other.key == key_) continue;
      if (other.stale) {
        log::warn("lock_stale_removed", {{"lock", other.key}, {"pid", other.pid}});
        storage_.remove(other.key);
        continue;
      }
      if (kind == LockKind::kExclusive || other.kind == LockKind::kExclusive) {
        storage_.remove(key_);
        key_.clear();
        fail(ErrorCode::kLocked, "repository " + storage_.describe() + " is locked by '" + other.command + "' (pid " +
                                     std::to_string(other.pid) + " on " + other.host + ", since " + other.started +
                                     "); wait for it to finish, or if that process is gone run 'strata unlock'");
      }
    }
  } catch (...) {
    // The constructor did not complete, so no destructor runs: withdraw our lock here or it would block everyone.
    if (!key_.empty()) {
      try {
        storage_.remove(key_);
      } catch (...) {
      }
      key_.clear();
    }
    throw;
  }
}

RepoLock::~RepoLock() {
  if (key_.empty()) return;
  try {
    storage_.remove(key_);
  } catch (const std::exception& e) {
    log::warn("lock_release_failed", {{"lock", key_}, {"error", e.what()}});
  }
}

}  // namespace strata
