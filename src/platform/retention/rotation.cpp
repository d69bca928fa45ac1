#include "platform/retention/rotation.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engines/mysql/binlog_archive.hpp"
#include "engines/postgres/wal.hpp"
#include "repo/expiry.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace strata::retention {
namespace {

using nlohmann::json;

// Kill points for the crash tests (tests/cli/retention_crash_e2e_test.cpp): STRATA_RETENTION_FAILPOINT=NAME or
// NAME:N exits the process (as kill -9 would: no destructors, locks left behind) at the Nth time NAME is reached.
void failpoint(const char* name) {
  static const char* armed = std::getenv("STRATA_RETENTION_FAILPOINT");
  if (!armed) return;
  static int hits = 0;
  std::string spec = armed;
  size_t colon = spec.find(':');
  std::string want = spec.substr(0, colon);
  int nth = colon == std::string::npos ? 1 : std::atoi(spec.c_str() + colon + 1);
  if (want == name && ++hits == nth) ::_exit(86);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// "0/2000028" -> 0x2000028
std::optional<uint64_t> parse_lsn(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) return std::nullopt;
  char* end = nullptr;
  uint64_t hi = std::strtoull(s.c_str(), &end, 16);
  if (end != s.c_str() + slash) return std::nullopt;
  uint64_t lo = std::strtoull(s.c_str() + slash + 1, &end, 16);
  if (*end != '\0') return std::nullopt;
  return (hi << 32) | lo;
}

// Dependants before what they build on, in levels: no backup shares a level with one it builds on, so each level
// can be deleted in one batch and a run cut short leaves whole chains only. Linear in the ids (Kahn's order).
std::vector<std::vector<std::string>> children_first_levels(const std::vector<std::string>& ids,
                                                            const std::map<std::string, std::string>& parent_of) {
  std::set<std::string> pending(ids.begin(), ids.end());
  std::map<std::string, size_t> children;  // pending dependants of each pending id
  for (const auto& id : ids) {
    auto it = parent_of.find(id);
    if (it != parent_of.end() && it->second != id && pending.count(it->second)) ++children[it->second];
  }
  std::vector<std::vector<std::string>> levels;
  std::vector<std::string> level;
  for (const auto& id : ids) {
    if (!children.count(id)) level.push_back(id);
  }
  while (!level.empty()) {
    std::vector<std::string> next;
    for (const auto& id : level) {
      pending.erase(id);
      auto it = parent_of.find(id);
      if (it == parent_of.end() || it->second == id || !pending.count(it->second)) continue;
      if (--children[it->second] == 0) next.push_back(it->second);
    }
    levels.push_back(std::move(level));
    level = std::move(next);
  }
  if (!pending.empty()) {  // a cycle only a tampered manifest can make: last, in the given order
    std::vector<std::string> rest;
    for (const auto& id : ids) {
      if (pending.count(id)) rest.push_back(id);
    }
    levels.push_back(std::move(rest));
  }
  return levels;
}

// `ids` in order, 1,000 at a time (what one S3 DeleteObjects request takes): fn(batch).
void in_batches(const std::vector<std::string>& ids, const std::function<void(const std::vector<std::string>&)>& fn) {
  constexpr size_t kBatch = 1000;
  for (size_t from = 0; from < ids.size(); from += kBatch) {
    fn(std::vector<std::string>(ids.begin() + static_cast<ptrdiff_t>(from),
                                ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), from + kBatch))));
  }
}

std::vector<std::string> children_first(const std::vector<std::string>& ids, const std::map<std::string, std::string>& parent_of) {
  std::vector<std::string> out;
  for (auto& level : children_first_levels(ids, parent_of)) out.insert(out.end(), level.begin(), level.end());
  return out;
}

struct SourceView {
  std::vector<Manifest> live;                  // no tombstone
  std::map<std::string, Manifest> expired;     // tombstoned, manifest still there
  std::map<std::string, std::vector<std::string>> holds;
  std::set<std::string> tombstones;            // every tombstoned id (any source)
};

SourceView load_view(Repository& repo, const std::string& source) {
  SourceView v;
  v.tombstones = expired_ids(repo);
  for (const auto& h : list_holds(repo)) v.holds[h.backup_id].push_back(h.reason);
  repo.set_include_expired(true);
  std::vector<Manifest> all;
  try {
    all = repo.list(source);
  } catch (...) {
    repo.set_include_expired(false);
    throw;
  }
  repo.set_include_expired(false);
  for (auto& m : all) {
    if (v.tombstones.count(m.id)) v.expired.emplace(m.id, std::move(m));
    else v.live.push_back(std::move(m));
  }
  return v;
}

// A tombstoned backup that a live one builds on, or that is held, comes back: holds never expire, and a live
// incremental must keep its chain (an incremental may have committed on a parent while it was being expired).
std::vector<std::string> revive(Repository& repo, SourceView& v, bool dry_run) {
  std::vector<std::string> revived;
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> needed;
    for (const auto& m : v.live) {
      if (!m.parent.empty()) needed.insert(m.parent);
    }
    for (const auto& [id, reasons] : v.holds) needed.insert(id);
    for (auto it = v.expired.begin(); it != v.expired.end();) {
      if (!needed.count(it->first)) {
        ++it;
        continue;
      }
      std::string why = v.holds.count(it->first) ? "it is held" : "a live backup builds on it";
      if (!dry_run) {
        remove_tombstone(repo, it->first);
        log::warn("backup_revived", {{"source", it->second.source}, {"backup", it->first}, {"why", why}});
      }
      revived.push_back(it->first + " (" + why + ")");
      v.live.push_back(std::move(it->second));
      it = v.expired.erase(it);
      changed = true;
    }
  }
  return revived;
}

RotationResult plan_view(const SourceView& v, const RotationRequest& req) {
  RotationResult r;
  r.source = req.source;
  r.policy_text = req.policy_text;
  std::vector<BackupInfo> infos;
  std::map<std::string, const Manifest*> by_id;
  for (const auto& m : v.live) {
    auto h = v.holds.find(m.id);
    infos.push_back(backup_info_of(m, h == v.holds.end() ? std::vector<std::string>{} : h->second));
    if (auto st = req.states.find(m.id); st != req.states.end()) infos.back().state = st->second;
    by_id[m.id] = &m;
  }
  r.plan = plan(infos, req.policy, req.now);
  std::map<std::string, const BackupInfo*> info_of;
  for (const auto& i : infos) info_of[i.id] = &i;
  for (const auto& verdict : r.plan.verdicts) {
    PlannedBackup b;
    b.info = *info_of.at(verdict.id);
    b.type = by_id.at(verdict.id)->type;
    b.started = by_id.at(verdict.id)->started;
    b.verdict = verdict;
    r.backups.push_back(std::move(b));
  }
  return r;
}

Invalidation invalidation_of(const char* kind, const std::string& source, const std::string& id, const SourceView& v) {
  Invalidation n;
  n.kind = kind;
  n.source = source;
  n.backup_id = id;
  if (auto m = v.expired.find(id); m != v.expired.end()) {
    n.type = m->second.type;
    n.started = m->second.started;
    n.finished = m->second.finished;
  }
  return n;
}

// The tombstones of v, each read once per run (notices and phase 2 both need them); nullopt: gone since listed.
using Tombstones = std::map<std::string, std::optional<Tombstone>>;
Tombstones read_tombstones(Repository& repo, const SourceView& v) {
  Tombstones out;
  for (const auto& id : v.tombstones) out.emplace(id, read_tombstone(repo, id));
  return out;
}

// Every backup of the source with a tombstone that counts (readable, and authentic where the repository can tell).
std::vector<Invalidation> expired_notices(Repository& repo, const RotationRequest& req, const SourceView& v,
                                          const Tombstones& stones) {
  std::vector<Invalidation> out;
  for (const auto& [id, t] : stones) {
    if (!t || !t->damaged.empty() || t->source != req.source) continue;
    if (repo.config().encrypted && !t->authentic) continue;  // forged: it deletes nothing, so it invalidates nothing
    Invalidation n = invalidation_of("backup.expired", req.source, id, v);
    n.reasons = t->reasons;
    n.policy = t->policy;
    n.expired = t->expired;
    n.delete_after = iso_utc(t->delete_after_epoch);
    out.push_back(std::move(n));
  }
  return out;
}

// Phase 2 for one source: tombstones whose grace is over (or all, with delete_now) lose their backup.
void purge(Repository& repo, const RotationRequest& req, const SourceView& v, const Tombstones& stones,
           RotationResult& r, bool apply) {
  std::map<std::string, std::string> parent_of;
  std::set<std::string> live_parents;
  for (const auto& m : v.live) {
    if (!m.parent.empty()) live_parents.insert(m.parent);
  }
  for (const auto& [id, m] : v.expired) parent_of[id] = m.parent;
  std::vector<std::string> due;
  for (const auto& [id, t] : stones) {
    if (!t) continue;
    if (!t->damaged.empty()) {
      r.left_alone.push_back(id + " (damaged tombstone: " + t->damaged + ")");
      continue;
    }
    if (t->source != req.source) continue;
    // A dry run without the passphrase cannot check a MAC: it shows what the real run (which can) would delete.
    if (repo.config().encrypted && !t->authentic && repo.unlocked()) {
      // Only a passphrase holder can make a tombstone that deletes; a forged one hides a backup at most.
      r.left_alone.push_back(id + " (tombstone does not authenticate with the repository key: not deleted; "
                                  "'strata expired restore " + id + "' brings the backup back)");
      log::warn("tombstone_not_authentic", {{"backup", id}});
      continue;
    }
    if (v.holds.count(id) || live_parents.count(id)) continue;  // revived above (dry runs only get here)
    if (!req.delete_now && t->delete_after_epoch > req.now) {
      r.waiting.push_back(id + " (until " + iso_utc(t->delete_after_epoch) + ")");
      continue;
    }
    due.push_back(id);
  }
  if (due.empty()) return;
  // A backup of this source in flight may be an incremental on one of these: leave them to the next run.
  for (const auto& l : RepoLock::list(repo.storage())) {
    if (!l.stale && !l.backup_id.empty() && l.command == "backup " + req.source) {
      for (const auto& id : due) r.left_alone.push_back(id + " (a backup of " + req.source + " is running: deleted on a later run)");
      return;
    }
  }
  if (!apply) {
    r.deleted = children_first(due, parent_of);
    return;
  }
  // A level at a time, in batches: one remove_many of manifests, one of objects, one of tombstones per batch.
  for (const auto& level : children_first_levels(due, parent_of)) {
    in_batches(level, [&](const std::vector<std::string>& batch) {
      repo.purge_backups(batch);
      failpoint("purge.after_backup");
      remove_tombstones(repo, batch);
      for (const auto& id : batch) {
        log::info("backup_purged", {{"source", req.source}, {"backup", id}});
        r.deleted.push_back(id);
      }
    });
  }
}

// The backup still present after phase 2 (live, or expired and within its grace period, so an undo still finds its
// logs) that starts at the smallest log position, as `position` reads it from a manifest's engine metadata (nullopt:
// another engine's backup, or no readable position): what WAL and binlog expiry keep everything from.
template <class Position, class Reader>
std::optional<std::pair<Position, json>> oldest_present(const SourceView& v, const RotationResult& r, Reader position) {
  std::set<std::string> gone(r.deleted.begin(), r.deleted.end());
  std::optional<std::pair<Position, json>> oldest;
  auto consider = [&](const Manifest& m) {
    if (gone.count(m.id)) return;
    json meta = json::parse(m.engine_json, nullptr, false);
    if (!meta.is_object()) return;
    std::optional<Position> p = position(meta);
    if (p && (!oldest || *p < oldest->first)) oldest.emplace(*p, std::move(meta));
  };
  for (const auto& m : v.live) consider(m);
  for (const auto& [id, m] : v.expired) consider(m);
  return oldest;
}

// The WAL archive of a PostgreSQL source, after phase 2: a segment is needed by no restore once it ends at or before
// the oldest start LSN of every base backup still present (kept, or expired and within its grace period, so an
// undo still finds its WAL). LSNs grow along every timeline path, so one boundary holds for all timelines; history,
// .backup and .partial files are never removed.
void expire_wal(Repository& repo, const RotationRequest& req, const SourceView& v, RotationResult& r, bool apply) {
  auto found = oldest_present<uint64_t>(v, r, [](const json& meta) -> std::optional<uint64_t> {
    if (meta.value("engine", "") != "postgres" || !meta.contains("start_lsn") || !meta["start_lsn"].is_string()) return std::nullopt;
    return parse_lsn(meta["start_lsn"].get<std::string>());
  });
  if (!found) return;
  const uint64_t oldest = found->first;
  uint64_t seg_size = pg::kDefaultSegmentSize;
  const json& meta = found->second;
  if (meta.contains("wal_segment_size") && meta["wal_segment_size"].is_number_unsigned()) seg_size = meta["wal_segment_size"].get<uint64_t>();
  if (seg_size == 0) return;
  r.wal_needed_from = pg::format_lsn(oldest);
  const std::string catalog = pg::wal_catalog(req.source), prefix = req.source + ".";
  std::vector<std::pair<std::string, std::string>> due;  // (id, file name)
  for (const auto& id : repo.list_ids(catalog)) {
    if (id.compare(0, prefix.size(), prefix) != 0) continue;
    std::string name = id.substr(prefix.size());
    auto seg = pg::parse_segment_name(name, seg_size);
    if (!seg || (seg->segno + 1) * seg_size > oldest) continue;
    due.emplace_back(id, name);
  }
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  // Oldest first, in batches: a run cut short leaves the newest of the expired segments, never a gap among the
  // segments a kept backup needs.
  std::vector<std::string> ids;
  for (const auto& [id, name] : due) {
    ids.push_back(id);
    r.wal_deleted.push_back(name);
  }
  if (apply) {
    in_batches(ids, [&](const std::vector<std::string>& batch) {
      repo.purge_backups(batch, catalog);
      failpoint("wal.after_segment");
    });
  }
  if (apply && !due.empty()) {
    log::info("wal_expired", {{"source", req.source}, {"segments", uint64_t(due.size())}, {"before", r.wal_needed_from}});
  }
}

// The binlog archive of a MariaDB/MySQL source, after phase 2, by the same rule as WAL: a file numbered before the
// binlog file the oldest backup still present (kept, or waiting for its grace period) starts in is needed by no
// restore. The file a backup starts in stays whole (replay begins at the backup's position inside it). Files of
// another base name (log-bin renamed since) are left alone: their order against the backups is not known.
void expire_binlogs(Repository& repo, const RotationRequest& req, const SourceView& v, RotationResult& r, bool apply) {
  auto found = oldest_present<uint64_t>(v, r, [](const json& meta) -> std::optional<uint64_t> {
    if (meta.value("engine", "") != "mysql" || !meta.contains("binlog_file") || !meta["binlog_file"].is_string()) return std::nullopt;
    try {
      return binlog_index(meta["binlog_file"].get<std::string>());
    } catch (const StrataError&) {
      return std::nullopt;
    }
  });
  if (!found) return;
  const std::pair<uint64_t, std::string> oldest(found->first, found->second["binlog_file"].get<std::string>());  // (index, file)
  r.binlog_needed_from = oldest.second;
  const std::string base = oldest.second.substr(0, oldest.second.rfind('.'));
  const std::string catalog = binlog_catalog(req.source);
  std::vector<std::tuple<uint64_t, std::string, std::string>> due;  // (index, name, manifest id)
  for (const auto& m : repo.list(req.source, catalog)) {
    json meta = json::parse(m.engine_json, nullptr, false);
    std::string name = meta.is_object() ? meta.value("file", m.id) : m.id;  // first layout: the id is the file name
    if (name.substr(0, name.rfind('.')) != base) continue;
    uint64_t index = 0;
    try {
      index = binlog_index(name);
    } catch (const StrataError&) {
      continue;
    }
    if (index < oldest.first) due.emplace_back(index, name, m.id);
  }
  std::sort(due.begin(), due.end());
  std::vector<std::string> ids;  // oldest first, in batches, as WAL
  for (const auto& [index, name, id] : due) {
    ids.push_back(id);
    if (r.binlog_deleted.empty() || r.binlog_deleted.back() != name) r.binlog_deleted.push_back(name);
  }
  if (apply) {
    in_batches(ids, [&](const std::vector<std::string>& batch) {
      repo.purge_backups(batch, catalog);
      failpoint("binlog.after_file");
    });
  }
  if (apply && !due.empty()) {
    log::info("binlogs_expired", {{"source", req.source}, {"files", uint64_t(r.binlog_deleted.size())}, {"before", r.binlog_needed_from}});
  }
}

RotationResult run(Repository& repo, const RotationRequest& req, bool apply) {
  SourceView v = load_view(repo, req.source);
  RotationResult r;
  std::vector<std::string> revived = revive(repo, v, !apply);
  r = plan_view(v, req);
  r.revived = std::move(revived);
  if (r.plan.exceeds_max_share && !req.confirm) {
    r.stopped = true;
    if (!apply) purge(repo, req, v, read_tombstones(repo, v), r, false);
    return r;
  }
  std::vector<std::string> expire, order;
  std::map<std::string, std::string> parent_of;
  for (const auto& b : r.backups) {
    parent_of[b.info.id] = b.info.parent;
    if (b.verdict.decision == Decision::kExpire) expire.push_back(b.info.id);
  }
  order = children_first(expire, parent_of);
  for (const auto& id : order) {
    const PlannedBackup& b = *std::find_if(r.backups.begin(), r.backups.end(), [&](const PlannedBackup& p) { return p.info.id == id; });
    if (apply) {
      Tombstone t;
      t.backup_id = id;
      t.source = req.source;
      t.expired_epoch = req.now;
      t.delete_after_epoch = req.now + req.grace;
      t.reasons = b.verdict.reasons;
      t.policy = req.policy_text;
      if (!write_tombstone(repo, t)) continue;
      // The invalidation notice, until the outbox exists: one warn line per version that became invalid.
      log::warn("backup_expired", {{"source", req.source}, {"backup", id}, {"started", b.started},
                                   {"reasons", join(b.verdict.reasons, "; ")}, {"policy", req.policy_text},
                                   {"delete_after", iso_utc(req.now + req.grace)}});
      failpoint("expire.after_tombstone");
    }
    r.expired_now.push_back(id);
    // From here on it is one of the expired: phase 2 decides about it like any other tombstone.
    v.tombstones.insert(id);
    auto it = std::find_if(v.live.begin(), v.live.end(), [&](const Manifest& m) { return m.id == id; });
    if (it != v.live.end()) {
      v.expired.emplace(id, *it);
      v.live.erase(it);
    }
  }
  if (!apply) {
    std::vector<std::string> now_due = req.delete_now ? r.expired_now : std::vector<std::string>{};
    purge(repo, req, v, read_tombstones(repo, v), r, false);
    if (req.delete_now) {
      // purge() cannot read tombstones a dry run never wrote: add them.
      for (const auto& id : now_due) {
        if (std::find(r.deleted.begin(), r.deleted.end(), id) == r.deleted.end()) r.deleted.push_back(id);
      }
      r.deleted = children_first(r.deleted, parent_of);
    }
    expire_wal(repo, req, v, r, false);
    expire_binlogs(repo, req, v, r, false);
    return r;
  }
  // The notices are recorded before anything is deleted: a backup is never gone without the OPS platform told.
  Tombstones stones = read_tombstones(repo, v);
  if (req.publish) req.publish(expired_notices(repo, req, v, stones));
  purge(repo, req, v, stones, r, true);
  if (req.publish && !r.deleted.empty()) {
    std::vector<Invalidation> deleted;
    for (const auto& id : r.deleted) deleted.push_back(invalidation_of("backup.deleted", req.source, id, v));
    req.publish(deleted);
  }
  expire_wal(repo, req, v, r, true);
  expire_binlogs(repo, req, v, r, true);
  return r;
}

}  // namespace

BackupInfo backup_info_of(const Manifest& m, const std::vector<std::string>& holds) {
  BackupInfo b;
  b.id = m.id;
  b.parent = m.parent;
  b.kind = (m.type == "incremental" || !m.parent.empty()) ? BackupKind::kIncremental
           : m.type == "full"                             ? BackupKind::kFull
                                                          : BackupKind::kStream;
  b.start = m.started_epoch;
  b.order_us = m.order_key();
  b.end = std::max(m.finished_epoch, m.started_epoch);
  // A committed manifest is a backup that finished and verified its stream; drills and check will add
  // verified/failed states here once they record them.
  b.state = BackupState::kGood;
  b.holds = holds;
  json meta = json::parse(m.engine_json, nullptr, false);
  if (meta.is_object()) {
    std::string engine = meta.value("engine", "");
    if (engine == "postgres" && meta.contains("start_lsn") && meta["start_lsn"].is_string()) {
      if (auto lsn = parse_lsn(meta["start_lsn"].get<std::string>())) {
        uint64_t tli = meta.contains("timeline") && meta["timeline"].is_number_unsigned() ? meta["timeline"].get<uint64_t>() : 1;
        b.log_start = LogPosition{"timeline " + std::to_string(tli), *lsn};
      }
    } else if (engine == "mysql" && meta.contains("binlog_file") && meta["binlog_file"].is_string()) {
      // mysql-bin.000012 at position P: files of one server history are numbered, so (index, position) orders them.
      std::string file = meta["binlog_file"].get<std::string>();
      size_t dot = file.rfind('.');
      if (dot != std::string::npos && dot + 1 < file.size()) {
        uint64_t index = std::strtoull(file.c_str() + dot + 1, nullptr, 10);
        uint64_t pos = meta.contains("binlog_pos") && meta["binlog_pos"].is_number_unsigned() ? meta["binlog_pos"].get<uint64_t>() : 0;
        b.log_start = LogPosition{"binlog " + file.substr(0, dot), (index << 32) | (pos & 0xffffffffu)};
      }
    }
  }
  return b;
}

RotationResult plan_source(Repository& repo, const RotationRequest& req) { return run(repo, req, false); }

RotationResult rotate_source(Repository& repo, const RotationRequest& req) {
  if (req.dry_run) return run(repo, req, false);
  // Shared: backups of every source go on; cleanup, delete and key removal (exclusive) wait.
  RepoLock lock(repo.storage(), LockKind::kShared, "forget " + req.source);
  return run(repo, req, true);
}

}  // namespace strata::retention
