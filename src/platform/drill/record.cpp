#include "platform/drill/record.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "repo/bounded_json.hpp"
#include "repo/layout.hpp"
#include "repo/record_mac.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata {

namespace {
constexpr const char* kMacDomain = "strata/drill/v1";
constexpr size_t kMaxRecordBytes = 256u << 10;
constexpr size_t kMaxDetail = 4096;

std::string clip(const std::string& s) { return s.size() <= kMaxDetail ? s : s.substr(s.size() - kMaxDetail); }
}  // namespace

std::string drill_record_key(const DrillRecord& r) { return layout::kDrills + r.backup_id + "/" + r.id + ".json"; }

std::string encode_drill_record(const Repository& repo, const DrillRecord& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) checks.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", clip(c.detail)}});
  nlohmann::json j = {{"version", 1},
                      {"id", r.id},
                      {"backup", r.backup_id},
                      {"source", r.source},
                      {"backup_type", r.backup_type},
                      {"host", r.host},
                      {"level", r.level},
                      {"started", r.started},
                      {"started_us", r.started_us},
                      {"restore_seconds", r.restore_seconds},
                      {"start_seconds", r.start_seconds},
                      {"checks_seconds", r.checks_seconds},
                      {"rto_seconds", r.rto_seconds},
                      {"plain_bytes", r.plain_bytes},
                      {"result", r.result},
                      {"error", clip(r.error)},
                      {"recovery_point", r.recovery_point},
                      {"checks", checks}};
  auto mac = record_mac(repo, kMacDomain, j);
  if (!mac && repo.config().encrypted) {
    fail(ErrorCode::kWrongKey, "recording a drill needs the repository passphrase (drill records are authenticated with its key)");
  }
  j["mac"] = mac.value_or("");
  return j.dump(1);
}

DrillRecord decode_drill_record(const Repository& repo, const std::string& text, const std::string& where) {
  nlohmann::json j = parse_bounded_json(text, kMaxRecordBytes, where);
  std::string mac;
  if (j.is_object() && j.contains("mac")) {
    mac = j["mac"].is_string() ? j["mac"].get<std::string>() : "?";
    j.erase("mac");
  }
  DrillRecord r;
  try {
    if (!j.is_object() || j.value("version", 0) != 1) fail(ErrorCode::kCorrupt, where + " is not a version 1 drill record");
    r.id = j.at("id").get<std::string>();
    r.backup_id = j.at("backup").get<std::string>();
    r.source = j.value("source", "");
    r.backup_type = j.value("backup_type", "");
    r.host = j.value("host", "");
    r.level = j.value("level", 1);
    r.started = j.value("started", "");
    r.started_us = j.value("started_us", int64_t{0});
    r.restore_seconds = j.value("restore_seconds", 0.0);
    r.start_seconds = j.value("start_seconds", 0.0);
    r.checks_seconds = j.value("checks_seconds", 0.0);
    r.rto_seconds = j.value("rto_seconds", 0.0);
    r.plain_bytes = j.value("plain_bytes", uint64_t{0});
    r.result = j.at("result").get<std::string>();
    if (r.result != "passed" && r.result != "failed" && r.result != "stopped") {
      fail(ErrorCode::kCorrupt, where + " is damaged (result is not passed, failed or stopped)");
    }
    r.error = j.value("error", "");
    r.recovery_point = j.value("recovery_point", "");
    for (const auto& c : j.value("checks", nlohmann::json::array())) {
      r.checks.push_back({c.value("name", ""), c.value("ok", false), c.value("detail", "")});
    }
    if (!repo.config().encrypted) r.auth = "none";
    else if (mac.empty() || !repo.unlocked()) r.auth = "unverified";
    else r.auth = record_mac_ok(repo, kMacDomain, j, mac) ? "authentic" : "forged";
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kCorrupt, where + " is damaged (" + json_error_text(e) + ")");
  }
  return r;
}

void store_drill_record(Repository& repo, const DrillRecord& r) {
  std::string text = encode_drill_record(repo, r);
  repo.storage().put(drill_record_key(r), as_bytes(text), PutMode::kCreateOnly);
}

std::vector<DrillRecord> list_drill_records(Repository& repo, const std::string& backup_id,
                                            std::vector<std::string>* damaged) {
  Storage& storage = repo.storage();
  std::string prefix = std::string(layout::kDrills) + (backup_id.empty() ? "" : backup_id + "/");
  std::vector<DrillRecord> out;
  for (const auto& o : storage.list(prefix)) {
    try {
      if (o.size > kMaxRecordBytes) fail(ErrorCode::kCorrupt, o.key + " is damaged (larger than a drill record can be)");
      Bytes b = storage.get(o.key);
      DrillRecord r = decode_drill_record(repo, std::string(b.begin(), b.end()), o.key);
      // The MAC covers the backup and drill ids: a record copied under another backup's name is not that backup's.
      if (drill_record_key(r) != o.key) fail(ErrorCode::kCorrupt, o.key + " holds the record of " + drill_record_key(r) + "; it was moved or copied");
      out.push_back(std::move(r));
    } catch (const StrataError& e) {
      if (damaged) damaged->push_back(e.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const DrillRecord& a, const DrillRecord& b) {
    return a.started_us != b.started_us ? a.started_us < b.started_us : a.id < b.id;
  });
  return out;
}

}  // namespace strata
