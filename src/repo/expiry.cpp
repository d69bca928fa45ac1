#include "repo/expiry.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "repo/bounded_json.hpp"
#include "repo/layout.hpp"
#include "repo/record_mac.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata {
namespace {

using nlohmann::json;
constexpr const char* kMacInfo = "strata/expiry/v1";

bool valid_backup_id(const std::string& id) { return layout::valid_name(id); }

std::string text_field(const json& j, const char* name, const std::string& where) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) fail(ErrorCode::kCorrupt, where + " has no string '" + name + "'");
  std::string v = it->get<std::string>();
  if (v.size() > 1024) fail(ErrorCode::kCorrupt, where + ": '" + name + "' is longer than 1024 bytes");
  return v;
}

int64_t int_field(const json& j, const char* name, const std::string& where) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) fail(ErrorCode::kCorrupt, where + " has no integer '" + name + "'");
  return it->get<int64_t>();
}

Tombstone parse_tombstone(Repository& repo, const std::string& key, const std::string& id, const Bytes& raw) {
  json j = parse_bounded_json(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()),
                              kMaxRetentionRecordBytes, key);
  if (!j.is_object() || j.value("format", "") != "strata-expiry") fail(ErrorCode::kCorrupt, key + " is not a tombstone");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1) {
    fail(ErrorCode::kUnsupportedVersion, key + " has a tombstone version this strata does not know; upgrade strata");
  }
  Tombstone t;
  t.backup_id = text_field(j, "backup", key);
  if (t.backup_id != id) fail(ErrorCode::kCorrupt, key + " names backup " + excerpt(t.backup_id) + "; it was moved or replaced");
  t.source = text_field(j, "source", key);
  t.host = text_field(j, "host", key);
  t.expired = text_field(j, "expired", key);
  t.policy = text_field(j, "policy", key);
  t.expired_epoch = int_field(j, "expired_epoch", key);
  t.delete_after_epoch = int_field(j, "delete_after_epoch", key);
  auto r = j.find("reasons");
  if (r == j.end() || !r->is_array() || r->size() > 256) fail(ErrorCode::kCorrupt, key + " has no list of reasons");
  for (const auto& e : *r) {
    if (!e.is_string() || e.get<std::string>().size() > 1024) fail(ErrorCode::kCorrupt, key + " has a damaged reason");
    t.reasons.push_back(e.get<std::string>());
  }
  std::string mac = text_field(j, "mac", key);
  j.erase("mac");
  t.authentic = record_mac_ok(repo, kMacInfo, j, mac);
  return t;
}

}  // namespace

bool write_tombstone(Repository& repo, Tombstone t) {
  if (!valid_backup_id(t.backup_id)) fail(ErrorCode::kUsage, "invalid backup id '" + excerpt(t.backup_id) + "'");
  if (repo.config().encrypted && !repo.metadata_key(kMacInfo)) {
    fail(ErrorCode::kWrongKey, "expiring backups needs the repository passphrase (tombstones are authenticated with its key)");
  }
  json j = {{"format", "strata-expiry"},
            {"version", 1},
            {"backup", t.backup_id},
            {"source", t.source},
            {"host", t.host.empty() ? hostname() : t.host},
            {"expired", t.expired.empty() ? iso_utc(t.expired_epoch) : t.expired},
            {"expired_epoch", t.expired_epoch},
            {"delete_after_epoch", t.delete_after_epoch},
            {"policy", t.policy},
            {"reasons", t.reasons}};
  j["mac"] = record_mac(repo, kMacInfo, j).value_or("");
  std::string text = j.dump() + "\n";
  try {
    repo.storage().put(kExpiredPrefix + t.backup_id, as_bytes(text), PutMode::kCreateOnly);
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kAlreadyExists) return false;
    throw;
  }
  return true;
}

std::optional<Tombstone> read_tombstone(Repository& repo, const std::string& id) {
  if (!valid_backup_id(id)) return std::nullopt;
  std::string key = kExpiredPrefix + id;
  Bytes raw;
  try {
    raw = repo.storage().get(key);
  } catch (const StrataError& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;
    throw;
  }
  try {
    return parse_tombstone(repo, key, id, raw);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kUnsupportedVersion) throw;
    Tombstone t;
    t.backup_id = id;
    t.damaged = e.what();
    return t;
  }
}

std::set<std::string> expired_ids(Repository& repo) {
  std::set<std::string> out;
  const std::string prefix = kExpiredPrefix;
  for (const auto& o : repo.storage().list(prefix)) {
    std::string id = o.key.substr(prefix.size());
    if (valid_backup_id(id)) out.insert(id);
  }
  return out;
}

std::vector<Tombstone> list_tombstones(Repository& repo) {
  std::vector<Tombstone> out;
  for (const auto& id : expired_ids(repo)) {
    if (auto t = read_tombstone(repo, id)) out.push_back(std::move(*t));
  }
  return out;
}

void remove_tombstone(Repository& repo, const std::string& id) { remove_tombstones(repo, {id}); }

void remove_tombstones(Repository& repo, const std::vector<std::string>& ids) {
  std::vector<std::string> keys;
  for (const auto& id : ids) {
    if (!valid_backup_id(id)) fail(ErrorCode::kUsage, "invalid backup id '" + excerpt(id) + "'");
    keys.push_back(kExpiredPrefix + id);
  }
  repo.storage().remove_many(keys);
}

void add_hold(Repository& repo, const std::string& id, const std::string& reason) {
  if (!valid_backup_id(id)) fail(ErrorCode::kUsage, "invalid backup id '" + excerpt(id) + "'");
  if (reason.empty() || reason.size() > 1024) {
    fail(ErrorCode::kUsage, "a hold needs a reason of 1 to 1024 bytes (--reason \"case 4711\")");
  }
  int64_t now = now_epoch();
  json j = {{"format", "strata-hold"}, {"version", 1},       {"backup", id},         {"reason", reason},
            {"host", hostname()},      {"created", iso_utc(now)}, {"created_epoch", now}};
  try {
    repo.storage().put(kHoldsPrefix + id, as_bytes(j.dump() + "\n"), PutMode::kCreateOnly);
  } catch (const StrataError& e) {
    if (e.code() != ErrorCode::kAlreadyExists) throw;
    std::string existing;
    for (const auto& h : list_holds(repo)) {
      if (h.backup_id == id) existing = h.damaged.empty() ? h.reason : "(damaged record)";
    }
    fail(ErrorCode::kAlreadyExists, "backup " + id + " is already held: " + existing +
                                        "; release it first ('strata hold --release " + id + "') to change the reason");
  }
}

std::vector<Hold> list_holds(Repository& repo) {
  std::vector<Hold> out;
  const std::string prefix = kHoldsPrefix;
  for (const auto& o : repo.storage().list(prefix)) {
    Hold h;
    h.backup_id = o.key.substr(prefix.size());
    if (!valid_backup_id(h.backup_id)) continue;
    try {
      Bytes raw = repo.storage().get(o.key);
      json j = parse_bounded_json(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()),
                                  kMaxRetentionRecordBytes, o.key);
      if (!j.is_object() || j.value("format", "") != "strata-hold") fail(ErrorCode::kCorrupt, o.key + " is not a hold");
      if (text_field(j, "backup", o.key) != h.backup_id) fail(ErrorCode::kCorrupt, o.key + " names another backup");
      h.reason = text_field(j, "reason", o.key);
      h.host = text_field(j, "host", o.key);
      h.created = text_field(j, "created", o.key);
      h.created_epoch = int_field(j, "created_epoch", o.key);
    } catch (const StrataError& e) {
      if (e.code() == ErrorCode::kNotFound) continue;  // released since the listing
      if (e.code() != ErrorCode::kCorrupt) throw;
      // A hold that cannot be read still holds: only keeping data can come of it.
      h.damaged = e.what();
      h.reason = "(damaged hold record)";
    }
    out.push_back(std::move(h));
  }
  return out;
}

void release_hold(Repository& repo, const std::string& id) {
  if (!valid_backup_id(id)) fail(ErrorCode::kUsage, "invalid backup id '" + excerpt(id) + "'");
  if (!repo.storage().stat(kHoldsPrefix + id)) {
    fail(ErrorCode::kNotFound, "backup " + id + " has no hold in " + repo.location() + "; 'strata hold --list' shows them");
  }
  repo.storage().remove(kHoldsPrefix + id);
}

}  // namespace strata
