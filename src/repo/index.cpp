#include "repo/index.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/bounded_json.hpp"
#include "repo/layout.hpp"
#include "storage/storage.hpp"
#include "strata_version.hpp"

namespace strata {
namespace {

using nlohmann::json;
constexpr size_t kMaxEntryBytes = 16u << 10;  // an entry holds a few short fields; more is damage
constexpr size_t kMaxMarkerBytes = 4u << 10;

bool entry_before(const IndexEntry& a, const IndexEntry& b) {
  return a.started_us != b.started_us ? a.started_us < b.started_us : a.id < b.id;
}

// "<20 digits>.<id>" -> (started_us, id); nullopt for anything else (an object a reader does not understand is
// not an entry, and is left alone).
std::optional<std::pair<int64_t, std::string>> parse_entry_name(const std::string& name) {
  if (name.size() < layout::kIndexTimeDigits + 2 || name[layout::kIndexTimeDigits] != '.') return std::nullopt;
  int64_t us = 0;
  for (size_t i = 0; i < layout::kIndexTimeDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (us > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    us = us * 10 + (c - '0');
  }
  return std::make_pair(us, name.substr(layout::kIndexTimeDigits + 1));
}

}  // namespace

std::vector<IndexEntry> BackupIndex::by_time(const std::string& source, int64_t from_us, int64_t to_us) {
  std::vector<IndexEntry> out;
  for (auto& e : by_source(source)) {
    if (e.started_us >= from_us && e.started_us < to_us) out.push_back(std::move(e));
  }
  return out;
}

std::vector<IndexEntry> BackupIndex::by_type(const std::string& source, const std::string& type) {
  std::vector<IndexEntry> out;
  for (auto& e : by_source(source)) {
    if (!e.body_loaded) load_body(e);
    if (e.body_loaded && e.type == type) out.push_back(std::move(e));
  }
  return out;
}

std::vector<IndexEntry> BackupIndex::children(const std::string& source, const std::string& parent_id) {
  std::vector<IndexEntry> out;
  for (auto& e : by_source(source)) {
    if (!e.body_loaded) load_body(e);
    if (e.body_loaded && e.parent == parent_id) out.push_back(std::move(e));
  }
  return out;
}

ScanIndex::ScanIndex(std::vector<std::string> ids, ManifestReader read) : ids_(std::move(ids)), read_(std::move(read)) {}

void ScanIndex::scan() {
  if (all_) return;
  all_.emplace();
  for (const auto& id : ids_) {
    std::optional<Manifest> m = read_(id);
    if (!m) continue;
    IndexEntry e;
    e.id = m->id;
    e.source = m->source;
    e.started_us = m->order_key();
    e.type = m->type;
    e.parent = m->parent;
    e.body_loaded = true;
    e.manifest = std::make_shared<const Manifest>(std::move(*m));
    all_->push_back(std::move(e));
  }
  std::sort(all_->begin(), all_->end(), entry_before);
}

std::vector<IndexEntry> ScanIndex::by_source(const std::string& source) {
  scan();
  std::vector<IndexEntry> out;
  for (const auto& e : *all_) {
    if (e.source == source) out.push_back(e);
  }
  return out;
}

std::vector<IndexEntry> ObjectIndex::by_source(const std::string& source) {
  const std::string prefix = layout::index_source_prefix(source);
  std::vector<IndexEntry> out;
  for (const auto& o : storage_.list(prefix)) {
    auto parsed = parse_entry_name(o.key.substr(prefix.size()));
    if (!parsed || !layout::valid_name(parsed->second)) continue;
    IndexEntry e;
    e.source = source;
    e.started_us = parsed->first;
    e.id = std::move(parsed->second);
    out.push_back(std::move(e));
  }
  // Keys sort as the entries do (fixed-width times), but a driver's listing order is not promised.
  std::sort(out.begin(), out.end(), entry_before);
  return out;
}

void ObjectIndex::load_body(IndexEntry& e) {
  const std::string key = layout::index_entry_key(e.source, e.started_us, e.id);
  try {
    Bytes b = storage_.get(key);
    IndexEntry body = decode_index_entry(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), key);
    // The body must be the entry its name says; one copied under another name says nothing about this backup.
    if (body.id != e.id || body.source != e.source || body.started_us != e.started_us) {
      fail(ErrorCode::kCorrupt, key + " holds the entry of " + excerpt(body.source) + "/" + excerpt(body.id) + "; it was moved or copied");
    }
    e.type = std::move(body.type);
    e.parent = std::move(body.parent);
    e.body_loaded = true;
  } catch (const StrataError& err) {
    if (err.code() != ErrorCode::kNotFound && err.code() != ErrorCode::kCorrupt) throw;
    log::warn("index_entry_unreadable", {{"entry", key}, {"error", err.what()}});
  }
}

std::optional<IndexEntry> parse_index_entry_key(const std::string& key) {
  const std::string prefix = layout::kIndexSources;
  if (!layout::has_prefix(key, prefix)) return std::nullopt;
  size_t slash = key.find('/', prefix.size());
  if (slash == std::string::npos) return std::nullopt;
  auto parsed = parse_entry_name(key.substr(slash + 1));
  if (!parsed) return std::nullopt;
  IndexEntry e;
  e.source = key.substr(prefix.size(), slash - prefix.size());
  e.started_us = parsed->first;
  e.id = std::move(parsed->second);
  if (!layout::valid_name(e.source) || !layout::valid_name(e.id)) return std::nullopt;
  return e;
}

std::string index_entry_key(const Manifest& m) { return layout::index_entry_key(m.source, m.order_key(), m.id); }

std::string encode_index_entry(const Manifest& m) {
  json j = {{"format", "strata-index-entry"},
            {"version", 1},
            {"id", m.id},
            {"source", m.source},
            {"type", m.type},
            {"parent", m.parent},
            {"started_us", m.order_key()},
            {"finished_epoch", m.finished_epoch},
            {"plain_bytes", m.stream.plain_bytes},
            {"stored_bytes", m.stream.stored_bytes}};
  return j.dump() + "\n";
}

IndexEntry decode_index_entry(std::string_view text, const std::string& where) {
  json j = parse_bounded_json(text, kMaxEntryBytes, "index entry " + where);
  IndexEntry e;
  try {
    if (j.at("format").get<std::string>() != "strata-index-entry") fail(ErrorCode::kCorrupt, "index entry " + where + " is not an index entry");
    if (j.at("version").get<int>() != 1) {
      fail(ErrorCode::kCorrupt, "index entry " + where + " has version " + std::to_string(j.at("version").get<int>()) + ", which this strata does not know");
    }
    e.id = j.at("id").get<std::string>();
    e.source = j.at("source").get<std::string>();
    e.type = j.at("type").get<std::string>();
    e.parent = j.at("parent").get<std::string>();
    e.started_us = j.at("started_us").get<int64_t>();
  } catch (const json::exception& x) {
    fail(ErrorCode::kCorrupt, "index entry " + where + " is damaged (" + json_error_text(x) + ")");
  }
  e.body_loaded = true;
  return e;
}

bool index_marker_present(Storage& storage) {
  Bytes b;
  try {
    b = storage.get(layout::kIndexMarker);
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) return false;
    throw;
  }
  // A marker this strata cannot read (damaged, or from a later index version) promises nothing it understands:
  // fall back to the scan, which is slow but always right.
  json j;
  std::string why = try_parse_bounded_json(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), kMaxMarkerBytes, j);
  if (!why.empty() || !j.is_object() || j.value("format", "") != "strata-index" || !j.contains("version") ||
      !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1) {
    log::warn("index_marker_unknown", {{"marker", layout::kIndexMarker}, {"reason", why.empty() ? "not a version 1 marker" : why}});
    return false;
  }
  return true;
}

void write_index_marker(Storage& storage) {
  json j = {{"format", "strata-index"}, {"version", 1}, {"written_by", kVersion}};
  storage.put(layout::kIndexMarker, as_bytes(j.dump() + "\n"), PutMode::kOverwrite);
}

}  // namespace strata
