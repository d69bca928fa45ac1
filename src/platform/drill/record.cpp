#include "platform/drill/record.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "repo/bounded_json.hpp"
#include "storage/storage.hpp"

namespace strata {

namespace {
constexpr const char* kDrillsPrefix = "drills/";
constexpr size_t kMaxRecordBytes = 256u << 10;
constexpr size_t kMaxDetail = 4096;

std::string clip(const std::string& s) { return s.size() <= kMaxDetail ? s : s.substr(s.size() - kMaxDetail); }
}  // namespace

std::string drill_record_key(const DrillRecord& r) { return kDrillsPrefix + r.backup_id + "/" + r.id + ".json"; }

std::string encode_drill_record(const DrillRecord& r) {
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
  return j.dump(1);
}

DrillRecord decode_drill_record(const std::string& text, const std::string& where) {
  nlohmann::json j = parse_bounded_json(text, kMaxRecordBytes, where);
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
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kCorrupt, where + " is damaged (" + json_error_text(e) + ")");
  }
  return r;
}

void store_drill_record(Storage& storage, const DrillRecord& r) {
  std::string text = encode_drill_record(r);
  storage.put(drill_record_key(r), as_bytes(text), PutMode::kCreateOnly);
}

std::vector<DrillRecord> list_drill_records(Storage& storage, const std::string& backup_id,
                                            std::vector<std::string>* damaged) {
  std::string prefix = std::string(kDrillsPrefix) + (backup_id.empty() ? "" : backup_id + "/");
  std::vector<DrillRecord> out;
  for (const auto& o : storage.list(prefix)) {
    try {
      if (o.size > kMaxRecordBytes) fail(ErrorCode::kCorrupt, o.key + " is damaged (larger than a drill record can be)");
      Bytes b = storage.get(o.key);
      out.push_back(decode_drill_record(std::string(b.begin(), b.end()), o.key));
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
