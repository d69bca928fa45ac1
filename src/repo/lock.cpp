#include "repo/lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/proc_stat.hpp"
#include "io/crypto.hpp"
#include "repo/layout.hpp"
#include "storage/storage.hpp"

namespace strata {
namespace {

using layout::kLocks;

std::string first_line_of(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

std::string read_link(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// /proc shows our own PID namespace (not one mounted by a parent namespace): only then do /proc/PID files describe
// the pids we compare.
bool proc_is_ours() { return read_link("/proc/self") == std::to_string(::getpid()); }

bool process_alive(int64_t pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// Lock keys begin with the UTC time they were made: the age of a lock whose content cannot be read.
int64_t epoch_of_key(const std::string& id) {
  std::tm tm{};
  if (id.size() < 16 || !strptime(id.substr(0, 16).c_str(), "%Y%m%dT%H%M%SZ", &tm)) return 0;
  return ::timegm(&tm);
}

int64_t epoch_of_iso(const std::string& iso) {
  std::tm tm{};
  if (iso.empty() || !strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return ::timegm(&tm);
}

std::string minutes(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  return std::to_string(seconds / 60) + " min";
}

void judge(LockInfo& l, const LockHolder& me, const LockTiming& timing) {
  const int64_t now = timing.now_epoch();
  if (!l.readable) {
    int64_t made = epoch_of_key(l.id);
    if (made && now - made > timing.stale_seconds) {
      l.stale = true;
      l.stale_reason = "unreadable lock file made " + minutes(now - made) + " ago";
    }
    return;
  }
  int64_t last = l.refreshed_epoch ? l.refreshed_epoch : l.started_epoch;
  if (last && now - last > timing.stale_seconds) {
    l.stale = true;
    l.stale_reason = "not refreshed for " + minutes(now - last);
    return;
  }
  if (!me.same_pid_space(l.holder)) return;  // another machine, container or PID namespace: only the lease counts
  if (!process_alive(l.holder.pid)) {
    l.stale = true;
    l.stale_reason = "process " + std::to_string(l.holder.pid) + " on this host is gone";
    return;
  }
  if (l.holder.process_start && proc_is_ours()) {
    auto st = read_proc_stat(l.holder.pid);
    if (st && (st->stopped() || st->start_time != l.holder.process_start)) {
      l.stale = true;
      l.stale_reason = "process " + std::to_string(l.holder.pid) + " on this host is gone (its pid now belongs to " +
                       "another process)";
    }
  }
}

std::optional<LockInfo> read_lock(Storage& storage, const std::string& key, const LockHolder& me,
                                  const LockTiming& timing) {
  LockInfo l;
  l.key = key;
  l.id = key.substr(std::string(kLocks).size());
  try {
    Bytes b = storage.get(key);
    l.raw.assign(b.begin(), b.end());
    auto j = nlohmann::json::parse(b.begin(), b.end());
    l.kind = j.at("kind") == "exclusive" ? LockKind::kExclusive : LockKind::kShared;
    l.holder.host = j.value("host", "");
    l.holder.pid = j.value("pid", int64_t{0});
    l.holder.machine_id = j.value("machine_id", "");
    l.holder.boot_id = j.value("boot_id", "");
    l.holder.pid_ns = j.value("pid_ns", "");
    l.holder.process_start = j.value("process_start", uint64_t{0});
    l.command = j.value("command", "");
    l.backup_id = j.value("backup_id", "");
    l.started = j.value("started", "");
    l.started_epoch = j.value("started_epoch", int64_t{0});
    if (!l.started_epoch) l.started_epoch = epoch_of_iso(l.started);
    l.refreshed_epoch = j.value("refreshed_epoch", int64_t{0});
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;  // released meanwhile
    throw;
  } catch (const nlohmann::json::exception&) {
    LockInfo bad;
    bad.key = l.key;
    bad.id = l.id;
    bad.raw = std::move(l.raw);
    l = std::move(bad);
    l.readable = false;
    l.kind = LockKind::kExclusive;  // an unreadable lock is treated as the stronger kind
    l.command = "unreadable lock file";
  }
  judge(l, me, timing);
  return l;
}

}  // namespace

LockHolder LockHolder::self() {
  static const LockHolder me = [] {
    LockHolder h;
    h.host = hostname();
    h.machine_id = first_line_of("/etc/machine-id");
    h.boot_id = first_line_of("/proc/sys/kernel/random/boot_id");
    h.pid_ns = read_link("/proc/self/ns/pid");
    h.pid = ::getpid();
    if (proc_is_ours()) {
      if (auto st = read_proc_stat(h.pid)) h.process_start = st->start_time;
    }
    return h;
  }();
  return me;
}

bool LockHolder::same_pid_space(const LockHolder& other) const {
  return !boot_id.empty() && !pid_ns.empty() && boot_id == other.boot_id && pid_ns == other.pid_ns;
}

int64_t LockTiming::now_epoch() const { return now ? now() : strata::now_epoch(); }

LockTiming& LockTiming::process_default() {
  static LockTiming t;
  return t;
}

std::string LockInfo::describe() const {
  if (!readable) return "an unreadable lock file (" + key + ")";
  std::string s = "'" + command + "' (pid " + std::to_string(holder.pid) + " on " + holder.host + ", since " + started;
  if (refreshed_epoch) s += ", refreshed " + iso_utc(refreshed_epoch);
  return s + ")";
}

std::vector<LockInfo> RepoLock::list(Storage& storage, const LockTiming& timing) {
  std::vector<LockInfo> out;
  const LockHolder me = LockHolder::self();
  for (const auto& o : storage.list(kLocks)) {
    if (auto l = read_lock(storage, o.key, me, timing)) out.push_back(*l);
  }
  return out;
}

bool RepoLock::remove_if_unchanged(Storage& storage, const LockInfo& info) {
  // A holder that is alive after all rewrites its lock every few minutes; the re-read closes most of the window
  // between judging a lock stale and removing it.
  try {
    Bytes now = storage.get(info.key);
    if (std::string(now.begin(), now.end()) != info.raw) {
      log::warn("lock_refreshed_meanwhile", {{"lock", info.key}});
      return false;
    }
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) return false;
    throw;
  }
  storage.remove(info.key);
  return true;
}

std::string RepoLock::encode(int64_t refreshed) const {
  nlohmann::json j = {{"kind", kind_ == LockKind::kExclusive ? "exclusive" : "shared"},
                      {"host", self_.host},
                      {"machine_id", self_.machine_id},
                      {"boot_id", self_.boot_id},
                      {"pid_ns", self_.pid_ns},
                      {"pid", self_.pid},
                      {"process_start", self_.process_start},
                      {"command", command_},
                      {"backup_id", backup_id_},
                      {"started", iso_utc(started_)},
                      {"started_epoch", started_},
                      {"refreshed_epoch", refreshed}};
  return j.dump();
}

RepoLock::RepoLock(Storage& storage, LockKind kind, const std::string& command, const std::string& backup_id,
                   LockTiming timing)
    : storage_(storage), timing_(std::move(timing)), kind_(kind), command_(command), backup_id_(backup_id),
      self_(LockHolder::self()) {
  started_ = timing_.now_epoch();
  uint8_t rnd[8];
  random_bytes(rnd, sizeof rnd);
  key_ = layout::lock_key(compact_utc(started_) + "-" + hex_encode(ByteView(rnd, 8)));
  std::string text = encode(started_);
  // Lock ids are random, so no create-only check is needed; and a lock matters only while its process lives, so
  // it need not survive a crash (saves two fsyncs on every command, which WAL push feels).
  storage_.put(key_, as_bytes(text), PutMode::kEphemeral);
  // Publish first, then look: of two conflicting writers at least one sees the other and backs off.
  try {
    for (const auto& other : list(storage_, timing_)) {
      if (other.key == key_) continue;
      if (other.stale) {
        if (remove_if_unchanged(storage_, other)) {
          log::warn("lock_stale_removed", {{"lock", other.key}, {"reason", other.stale_reason}});
          continue;
        }
      }
      if (kind == LockKind::kExclusive || other.kind == LockKind::kExclusive) {
        storage_.remove(key_);
        key_.clear();
        std::string how = other.readable
                              ? "wait for it to finish; if that process is gone, remove its lock with 'strata unlock " +
                                    other.id + "' (it also expires " + minutes(timing_.stale_seconds) +
                                    " after its last refresh)"
                              : "remove it with 'strata unlock'";
        fail(ErrorCode::kLocked, "repository " + storage_.describe() + " is locked by " + other.describe() + "; " + how);
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
  if (timing_.refresh_seconds > 0) thread_ = std::thread([this] { refresher(); });
}

RepoLock::~RepoLock() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (key_.empty()) return;
  try {
    // A lock that was taken from us may belong to nobody now, but it is not ours to remove if it was replaced.
    if (!lost_) storage_.remove(key_);
  } catch (const std::exception& e) {
    log::warn("lock_release_failed", {{"lock", key_}, {"error", e.what()}});
  }
}

void RepoLock::refresher() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, std::chrono::seconds(timing_.refresh_seconds), [&] { return stop_; })) return;
    lock.unlock();
    try {
      refresh();
      if (timing_.after_refresh) timing_.after_refresh();
    } catch (const std::exception& e) {
      // A storage hiccup: the next refresh tries again; the lease is 6 refreshes long.
      log::warn("lock_refresh_failed", {{"lock", key_}, {"error", e.what()}});
    }
    lock.lock();
  }
}

void RepoLock::refresh() {
  if (key_.empty() || lost()) return;
  storage_.put(key_, as_bytes(encode(timing_.now_epoch())), PutMode::kEphemeral);
  log::debug("lock_refreshed", {{"lock", key_}});
}

bool RepoLock::lost() {
  if (lost_) return true;
  try {
    Bytes b = storage_.get(key_);
    auto j = nlohmann::json::parse(b.begin(), b.end());
    if (j.value("pid", int64_t{0}) == self_.pid && j.value("boot_id", "") == self_.boot_id &&
        j.value("pid_ns", "") == self_.pid_ns) {
      return false;
    }
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
  } catch (const nlohmann::json::exception&) {
  }
  log::warn("lock_lost", {{"lock", key_}});
  lost_ = true;
  return true;
}

}  // namespace strata
