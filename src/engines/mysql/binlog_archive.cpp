#include "engines/mysql/binlog_archive.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/bytes.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engines/mysql/binlog_file.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/tool_util.hpp"
#include "io/crypto.hpp"
#include "io/stream.hpp"
#include "repo/layout.hpp"
#include "repo/repository.hpp"

namespace strata {

std::string binlog_catalog(const std::string& source) { return layout::binlog_series(source); }

uint64_t binlog_index(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 >= name.size() ||
      !std::all_of(name.begin() + dot + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail(ErrorCode::kCorrupt, "'" + name + "' is not a binlog file name (base.NNNNNN)");
  }
  return std::stoull(name.substr(dot + 1));
}

std::string binlog_with_index(const std::string& like, uint64_t index) {
  std::string base = like.substr(0, like.rfind('.') + 1);
  std::string digits = std::to_string(index);
  size_t width = like.size() - base.size();
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return base + digits;
}

std::vector<ArchivedBinlog> list_archived_binlogs(Repository& repo, const std::string& source) {
  std::vector<ArchivedBinlog> out;
  // repo.list() orders by start time: the first committed copy of a file wins over a racing archiver's.
  std::set<std::string> seen;
  for (const auto& m : repo.list(source, binlog_catalog(source))) {
    auto j = nlohmann::json::parse(m.engine_json, nullptr, false);
    if (!j.is_object()) j = nlohmann::json::object();
    ArchivedBinlog b;
    b.id = m.id;
    // Layout 1 (before per-attempt ids): the id is the file name.
    b.name = j.value("file", m.id);
    if (!seen.insert(b.name).second) continue;
    b.index = binlog_index(b.name);
    b.size = m.stream.plain_bytes;
    b.created_epoch = j.value("created_epoch", int64_t{0});
    b.closed_epoch = j.value("closed_epoch", int64_t{0});
    if (j.contains("server_id")) b.server_id = j["server_id"].is_string() ? j["server_id"].get<std::string>() : j["server_id"].dump();
    out.push_back(b);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return out;
}

std::vector<std::string> find_binlog_gaps(const std::vector<ArchivedBinlog>& archived) {
  std::vector<std::string> gaps;
  for (size_t i = 1; i < archived.size(); ++i) {
    uint64_t prev = archived[i - 1].index, cur = archived[i].index;
    if (cur > prev + 1) {
      std::string first = binlog_with_index(archived[i].name, prev + 1), last = binlog_with_index(archived[i].name, cur - 1);
      gaps.push_back((first == last ? first : first + " to " + last) + " missing from the archive");
    }
  }
  return gaps;
}

namespace {

std::string attempt_id(const std::string& source, const std::string& file) {
  uint8_t rnd[4];
  random_bytes(rnd, sizeof rnd);
  std::string id = source + "." + file + "." + compact_utc(now_epoch()) + "-" + hex_encode(ByteView(rnd, 4));
  if (id.size() > 128) {
    fail(ErrorCode::kUsage, "source name '" + source + "' is too long to name its archived binlogs (at most " +
                                std::to_string(128 - (id.size() - source.size())) + " characters here); use a shorter name");
  }
  return id;
}

// The server's binlog files must continue the archived history: a file of the same name must be the same file
// (same size once closed, same opening time). Otherwise the source now points to another server, or the server's
// binlogs were reset, and shipping would mix two histories under one name. Returns whether at least one file on
// the server is also in the archive (the history is proven continuous).
bool check_same_history(const SourceConfig& source, const std::vector<std::vector<std::string>>& logs,
                        const std::map<std::string, const ArchivedBinlog*>& archived, const std::string& dir, bool local) {
  bool overlap = false;
  for (size_t i = 0; i < logs.size(); ++i) {
    const std::string& name = logs[i][0];
    auto it = archived.find(name);
    if (it == archived.end()) continue;
    const ArchivedBinlog& a = *it->second;
    std::string why;
    bool open = i + 1 == logs.size();
    uint64_t size = logs[i].size() > 1 ? std::strtoull(logs[i][1].c_str(), nullptr, 10) : 0;
    if (open) {
      why = "it is still open on the server, but the archive holds a closed " + name + " (" + std::to_string(a.size) + " bytes)";
    } else if (size != a.size) {
      why = "it has " + std::to_string(size) + " bytes on the server and " + std::to_string(a.size) + " in the archive";
    } else if (local && a.created_epoch != 0) {
      int64_t created = binlog_created_epoch(dir + "/" + name);
      if (created != a.created_epoch) {
        why = "the server opened it at " + iso_utc(created) + ", the archived one at " + iso_utc(a.created_epoch);
      }
    }
    if (!why.empty()) {
      fail(ErrorCode::kUsage, "binlog " + name + " of source " + source.name + " is not the archived " + name + ": " + why +
                                  ". The source now points to another server or its binary logs were reset (RESET MASTER); "
                                  "archive it under a new source name ([source.NEW] in the config) so the two histories stay apart");
    }
    overlap = true;
  }
  return overlap;
}

}  // namespace

BinlogArchiveResult archive_binlogs(Repository& repo, const SourceConfig& source, const PipelineSettings& pipeline,
                                    bool flush, const ProgressFn& progress) {
  MysqlConn conn(source);
  auto vars = conn.query("SELECT @@log_bin, @@log_bin_basename, @@server_id, VERSION()");
  if (vars.empty() || vars[0].size() < 4) fail(ErrorCode::kSourceFailed, "source " + source.name + " did not report its binary log settings");
  require_supported_server(source.name, vars[0][3]);
  if (vars[0][0] != "1") {
    fail(ErrorCode::kUsage, "binary logging is off on source " + source.name +
                                ": set log_bin (and server_id) in the server's config and restart it");
  }
  const std::string server_id = vars[0][2];
  // binlog_fetch = "remote": read closed files from the server over the replication protocol instead of from
  // the binlog directory, so the archiver can run on another host.
  bool remote = source.get("binlog_fetch", "local") == "remote";
  std::string binlog_tool;
  if (remote) {
    binlog_tool = find_tool({"mariadb-binlog", "mysqlbinlog"});
    if (binlog_tool.empty()) fail(ErrorCode::kNotFound, "no mariadb-binlog or mysqlbinlog in PATH: install mariadb-client");
  }
  std::string dir = source.get("binlog_dir");
  if (dir.empty()) {
    std::string base = vars[0][1];
    dir = base.substr(0, base.rfind('/'));
  }
  if (flush) conn.query("FLUSH BINARY LOGS");
  auto logs = conn.query("SHOW BINARY LOGS");
  if (logs.empty()) fail(ErrorCode::kSourceFailed, "SHOW BINARY LOGS on source " + source.name + " returned nothing");

  BinlogArchiveResult res;
  res.open_file = logs.back()[0];
  std::string catalog = binlog_catalog(source.name);
  auto have_list = list_archived_binlogs(repo, source.name);
  std::map<std::string, const ArchivedBinlog*> have;
  for (const auto& b : have_list) have[b.name] = &b;

  bool continuous = check_same_history(source, logs, have, dir, !remote);
  if (!have_list.empty()) {
    const ArchivedBinlog& newest = have_list.back();
    if (!newest.server_id.empty() && newest.server_id != server_id) {
      if (!continuous) {
        fail(ErrorCode::kUsage, "source " + source.name + " now reports server_id " + server_id + ", but its archived binlogs up to " +
                                    newest.name + " come from server_id " + newest.server_id +
                                    " and none of them is still on the server to prove it is the same binlog history; "
                                    "archive this server under a new source name ([source.NEW] in the config)");
      }
      res.notes.push_back("server_id changed from " + newest.server_id + " to " + server_id + " on a continuing binlog history");
    }
  }

  // Files the server already purged that were never archived: recovery across them is impossible.
  std::string purged;
  if (!have_list.empty()) {
    uint64_t next = have_list.back().index + 1, oldest = binlog_index(logs.front()[0]);
    if (oldest > next) {
      std::string first = binlog_with_index(logs.front()[0], next), last = binlog_with_index(logs.front()[0], oldest - 1);
      purged = (first == last ? first : first + " to " + last) + " purged by the server before they were archived";
    }
  }
  for (size_t i = 0; i + 1 < logs.size(); ++i) {
    const std::string& name = logs[i][0];
    if (have.count(name)) {
      ++res.already;
      continue;
    }
    uint64_t server_size = logs[i].size() > 1 ? std::strtoull(logs[i][1].c_str(), nullptr, 10) : 0;
    std::string path = dir + "/" + name;
    std::unique_ptr<PrivateDir> fetched;
    if (remote) {
      // One closed file at a time through the replication protocol: bounded by max_binlog_size, removed after.
      fetched = std::make_unique<PrivateDir>("strata-binlog");
      run_checked(shell_quote(binlog_tool) + " " + conn.defaults_arg() + " --read-from-remote-server --raw --result-file=" +
                      shell_quote(fetched->path() + "/") + " " + shell_quote(name),
                  "fetching binlog " + name + " of source " + source.name + " from the server",
                  "the source's user needs the REPLICATION SLAVE privilege");
      path = fetched->path() + "/" + name;
    }
    int64_t created = binlog_created_epoch(path);
    uint64_t index = binlog_index(name);
    BinlogEventScanner scan;
    auto src = scanning_source(open_file_source(path), scan);
    BackupOptions o;
    o.source = source.name;
    o.type = "binlog";
    o.id = attempt_id(source.name, name);
    o.catalog = catalog;
    o.pipeline = pipeline;
    nlohmann::json j = {{"engine", "mysql"}, {"method", "binlog"}, {"layout", 2}, {"file", name}, {"index", index},
                        {"created_epoch", created}, {"server_id", server_id}};
    // Known only once every byte passed: a file that is not whole is not committed (the backup fails and removes
    // what it wrote).
    o.engine_json_after = [&] {
      std::string problem = scan.problem_as_closed_file();
      if (problem.empty() && server_size != 0 && scan.bytes() != server_size) {
        problem = "it has " + std::to_string(scan.bytes()) + " bytes where the server lists " + std::to_string(server_size);
      }
      if (!problem.empty()) {
        fail(ErrorCode::kSourceFailed, "binlog " + name + " of source " + source.name + " read from " + path +
                                           " is not a whole closed binlog: " + problem + "; check binlog_dir of the source");
      }
      nlohmann::json done = j;
      done["closed_epoch"] = scan.last_timestamp();
      return done.dump();
    };
    repo.backup(*src, o, progress);
    log::info("binlog_archived", {{"source", source.name}, {"file", name}, {"id", o.id}});
    res.archived.push_back(name);
  }
  auto now_list = list_archived_binlogs(repo, source.name);
  std::set<std::string> listed;
  for (const auto& b : now_list) listed.insert(b.name);
  for (const auto& name : res.archived) {
    if (!listed.count(name)) {
      fail(ErrorCode::kStorage, "binlog " + name + " of source " + source.name + " was committed but is not listed by the "
                                "repository; run 'strata binlog list --source " + source.name + "' and archive again");
    }
  }
  res.gaps = find_binlog_gaps(now_list);
  // Once a newer file is archived the purged range is a hole in the archive and already reported.
  if (res.gaps.empty() && !purged.empty()) res.gaps.push_back(purged);
  return res;
}

}  // namespace strata
