// The Repository's queries by source and their index (repo/index.hpp, docs/FORMAT.md "Source index"): list,
// latest, the children of a backup, what check and cleanup see of the index, and `repo reindex`.
#include "repo/repository.hpp"

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/bounded_json.hpp"
#include "repo/expiry.hpp"
#include "repo/index.hpp"
#include "repo/layout.hpp"
#include "repo/lock.hpp"
#include "storage/storage.hpp"

namespace strata {

bool Repository::indexed() {
  if (!indexed_) indexed_ = index_marker_present(*storage_);
  return *indexed_;
}

std::optional<Manifest> Repository::read_listed(const std::string& key, const std::string& id, bool from_index,
                                                std::vector<DamagedManifest>* damaged) {
  try {
    return read_public(key, id);
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) {
      // Scanned: deleted since it was listed. Indexed: an entry whose backup never committed (a crash between the
      // two writes) or whose delete was cut short; `strata cleanup` removes it.
      if (from_index) log::warn("index_entry_without_manifest", {{"backup", id}, {"manifest", key}});
      return std::nullopt;
    }
    if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kUnsupportedVersion) throw;
    if (damaged) damaged->push_back({key, e.what()});
    else log::warn("manifest_damaged", {{"manifest", key}, {"error", e.what()}});
    return std::nullopt;
  }
}

std::unique_ptr<BackupIndex> Repository::source_index(std::vector<DamagedManifest>* damaged) {
  if (indexed()) return std::make_unique<ObjectIndex>(*storage_);
  // The scan reads every manifest, so it also reports every damaged one, whatever the source asked for: a damaged
  // manifest's source is unknown.
  return std::make_unique<ScanIndex>(list_ids(""), [this, damaged](const std::string& id) {
    return read_listed(layout::manifest_key("", id), id, false, damaged);
  });
}

std::vector<Manifest> Repository::source_backups(const std::string& source, std::vector<DamagedManifest>* damaged,
                                                 bool newest_only) {
  std::set<std::string> hidden;
  if (!include_expired_) hidden = expired_ids(*this);
  auto index = source_index(damaged);
  std::vector<IndexEntry> entries = index->by_source(source);
  std::vector<Manifest> out;
  std::set<std::string> seen;
  // Newest first when only the newest is wanted: one manifest read instead of all of them.
  if (newest_only) std::reverse(entries.begin(), entries.end());
  for (auto& e : entries) {
    if (hidden.count(e.id) || seen.count(e.id)) continue;
    std::optional<Manifest> m;
    if (e.manifest) {
      m = *e.manifest;
    } else {
      m = read_listed(layout::manifest_key("", e.id), e.id, true, damaged);
      if (!m) continue;
      // The entry is a hint written by whoever can write the storage; the manifest decides. One that names
      // another source or start belongs elsewhere (a copied entry, an id a racing writer reused).
      if (m->source != source || m->order_key() != e.started_us) {
        log::warn("index_entry_mismatch", {{"backup", e.id}, {"entry_source", source}, {"manifest_source", m->source}});
        continue;
      }
    }
    seen.insert(e.id);
    out.push_back(std::move(*m));
    if (newest_only) break;
  }
  if (newest_only) return out;
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) {
    return a.order_key() != b.order_key() ? a.order_key() < b.order_key() : a.id < b.id;
  });
  return out;
}

std::vector<Manifest> Repository::list(const std::string& source_filter, const std::string& catalog,
                                       std::vector<DamagedManifest>* damaged) {
  if (!source_filter.empty() && catalog.empty()) return source_backups(source_filter, damaged, false);
  std::vector<Manifest> out;
  // Backups expired by a retention policy wait for their grace period hidden (docs/RETENTION.md).
  std::set<std::string> hidden;
  if (catalog.empty() && !include_expired_) hidden = expired_ids(*this);
  for (const auto& id : list_ids(catalog)) {
    if (hidden.count(id)) continue;
    std::optional<Manifest> m = read_listed(layout::manifest_key(catalog, id), id, false, damaged);
    if (!m) continue;
    if (!source_filter.empty() && m->source != source_filter) continue;
    out.push_back(std::move(*m));
  }
  // By start time to the microsecond; manifests from before started_us by their whole second, then id.
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) {
    return a.order_key() != b.order_key() ? a.order_key() < b.order_key() : a.id < b.id;
  });
  return out;
}

std::string Repository::latest_id(const std::string& source) {
  // A damaged manifest is skipped with a warning: the newest intact backup is still restorable.
  auto newest = source_backups(source, nullptr, true);
  if (newest.empty()) fail(ErrorCode::kNotFound, "no backups of source " + source + " in " + location());
  return newest.back().id;
}

std::map<std::string, std::vector<std::string>> Repository::children_of(const std::vector<std::string>& ids) {
  std::map<std::string, std::vector<std::string>> out;
  if (!indexed()) {
    auto all = children_by_parent();
    for (const auto& id : ids) {
      if (auto it = all.find(id); it != all.end()) out[id] = it->second;
    }
    return out;
  }
  // An incremental builds on a backup of its own source (the engines find the parent among the source's
  // backups), so the parent's source is the only one to look in.
  ObjectIndex index(*storage_);
  for (const auto& id : ids) {
    std::string key = layout::manifest_key("", id);
    std::string source;
    try {
      source = decode_manifest_public(storage_->get(key), key).source;
    } catch (const StrataError& e) {
      if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;
      continue;  // as children_by_parent: a manifest that cannot be read names no parent we could honour
    }
    for (const auto& c : index.children(source, id)) {
      // Only a child whose manifest exists holds the parent back (an entry can outlive a cut-short delete).
      if (storage_->stat(layout::manifest_key("", c.id))) out[id].push_back(c.id);
    }
  }
  return out;
}

void Repository::index_remove(const Manifest& m, const std::string& id) {
  if (!m.source.empty()) {
    storage_->remove(index_entry_key(m));
    return;
  }
  // The manifest could not be read, so its source is unknown: look for the entry among every source's.
  const std::string suffix = "." + id;
  for (const auto& o : storage_->list(layout::kIndexSources)) {
    if (o.key.size() > suffix.size() && o.key.compare(o.key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      storage_->remove(o.key);
    }
  }
}

std::vector<IndexEntry> Repository::index_entries_without_backup(const std::set<std::string>& committed,
                                                                 std::vector<std::string>* strays,
                                                                 std::set<std::string>* present) {
  std::vector<IndexEntry> out;
  for (const auto& o : storage_->list(layout::kIndexSources)) {
    auto e = parse_index_entry_key(o.key);
    if (!e) {
      if (strays) strays->push_back(o.key);
      continue;
    }
    if (present) present->insert(o.key);
    if (!committed.count(e->id)) out.push_back(std::move(*e));
  }
  return out;
}

void Repository::check_index(CheckReport& report, const std::set<std::string>& expected,
                             const std::set<std::string>& committed, const std::set<std::string>& writing) {
  std::vector<std::string> strays;
  std::set<std::string> present;
  for (const auto& e : index_entries_without_backup(committed, &strays, &present)) {
    std::string key = layout::index_entry_key(e.source, e.started_us, e.id);
    if (writing.count(e.id)) report.notes.push_back("index entry " + key + " belongs to backup " + e.id + " which is still being written");
    else report.leftovers.push_back(key + " (index entry without a backup)");
  }
  for (const auto& k : strays) report.notes.push_back("object " + k + " is not a source index entry; strata ignores it");
  if (!indexed()) return;
  for (const auto& key : expected) {
    if (!present.count(key)) {
      report.errors.push_back("source index entry " + key + " is missing: list --source and restore latest --source do not "
                              "see that backup; run 'strata repo reindex'");
    }
  }
}

ReindexReport Repository::reindex() {
  RepoLock lock(*storage_, LockKind::kExclusive, "repo reindex");
  ReindexReport report;
  std::map<std::string, std::string> want;  // entry key -> body
  for (const auto& id : list_ids("")) {
    std::optional<Manifest> m = read_listed(layout::manifest_key("", id), id, false, &report.damaged);
    if (!m) continue;
    ++report.manifests;
    if (!layout::valid_name(m->source)) {
      // Only a manifest written by hand can carry such a source (backup refuses it); it cannot be a key segment.
      report.damaged.push_back({layout::manifest_key("", id), "its source '" + excerpt(m->source) + "' cannot be indexed"});
      continue;
    }
    want[index_entry_key(*m)] = encode_index_entry(*m);
  }
  for (const auto& o : storage_->list(layout::kIndexSources)) {
    auto it = want.find(o.key);
    if (it == want.end()) {
      // Under the exclusive lock no backup is between its entry and its manifest: this one's backup is gone.
      storage_->remove(o.key);
      ++report.removed;
      continue;
    }
    Bytes have = storage_->get(o.key);
    if (std::string(have.begin(), have.end()) == it->second) want.erase(it);  // already right
  }
  for (const auto& [key, body] : want) {
    storage_->put(key, as_bytes(body), PutMode::kOverwrite);
    ++report.written;
  }
  // Last: the marker promises completeness, which holds only now.
  write_index_marker(*storage_);
  indexed_ = true;
  log::info("reindex_done", {{"manifests", uint64_t(report.manifests)}, {"written", uint64_t(report.written)},
                             {"removed", uint64_t(report.removed)}, {"damaged", uint64_t(report.damaged.size())}});
  return report;
}

}  // namespace strata
