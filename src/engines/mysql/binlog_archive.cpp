#include "engines/mysql/binlog_archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.hpp"
#include "common/log.hpp"
#include "engines/mysql/mysql_conn.hpp"
#include "engines/tool_util.hpp"
#include "io/stream.hpp"
#include "repo/repository.hpp"

namespace strata {

std::string binlog_catalog(const std::string& source) { return "binlog/" + source; }

uint64_t binlog_index(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 >= name.size() ||
      !std::all_of(name.begin() + dot + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail(ErrorCode::kCorrupt, "'" + name + "' is not a binlog file name (base.NNNNNN)");
  }
  return std::stoull(name.substr(dot + 1));
}

std::vector<ArchivedBinlog> list_archived_binlogs(Repository& repo, const std::string& source) {
  std::vector<ArchivedBinlog> out;
  for (const auto& m : repo.list(source, binlog_catalog(source))) {
    ArchivedBinlog b;
    b.name = m.id;
    b.index = binlog_index(m.id);
    b.size = m.stream.plain_bytes;
    auto j = nlohmann::json::parse(m.engine_json, nullptr, false);
    if (j.is_object()) b.created_epoch = j.value("created_epoch", int64_t{0});
    out.push_back(b);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return out;
}

namespace {
std::string with_index(const std::string& like, uint64_t index) {
  std::string base = like.substr(0, like.rfind('.') + 1);
  std::string digits = std::to_string(index);
  size_t width = like.size() - base.size();
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return base + digits;
}

// A binlog file starts with the 4-byte magic and a format description event whose header begins with the
// event's timestamp: when the server opened the file.
int64_t binlog_created_epoch(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open binlog " + path, errno);
  uint8_t hdr[8];
  ssize_t n = ::pread(fd, hdr, sizeof hdr, 0);
  ::close(fd);
  if (n != 8 || hdr[0] != 0xfe || hdr[1] != 'b' || hdr[2] != 'i' || hdr[3] != 'n') {
    fail(ErrorCode::kSourceFailed, path + " is not a binlog file (bad magic); check binlog_dir of the source");
  }
  return int64_t(hdr[4]) | int64_t(hdr[5]) << 8 | int64_t(hdr[6]) << 16 | int64_t(hdr[7]) << 24;
}
}  // namespace

std::vector<std::string> find_binlog_gaps(const std::vector<ArchivedBinlog>& archived) {
  std::vector<std::string> gaps;
  for (size_t i = 1; i < archived.size(); ++i) {
    uint64_t prev = archived[i - 1].index, cur = archived[i].index;
    if (cur > prev + 1) {
      std::string first = with_index(archived[i].name, prev + 1), last = with_index(archived[i].name, cur - 1);
      gaps.push_back((first == last ? first : first + " to " + last) + " missing from the archive");
    }
  }
  return gaps;
}

BinlogArchiveResult archive_binlogs(Repository& repo, const SourceConfig& source, const PipelineSettings& pipeline,
                                    bool flush, const ProgressFn& progress) {
  MysqlConn conn(source);
  auto vars = conn.query("SELECT @@log_bin, @@log_bin_basename, @@server_id");
  if (vars.empty() || vars[0].size() < 3 || vars[0][0] != "1") {
    fail(ErrorCode::kUsage, "binary logging is off on source " + source.name +
                                ": set log_bin (and server_id) in the server's config and restart it");
  }
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
  std::set<std::string> have;
  for (const auto& b : have_list) have.insert(b.name);

  // Files the server already purged that were never archived: recovery across them is impossible.
  std::string purged;
  if (!have_list.empty()) {
    uint64_t next = have_list.back().index + 1, oldest = binlog_index(logs.front()[0]);
    if (oldest > next) {
      std::string first = with_index(logs.front()[0], next), last = with_index(logs.front()[0], oldest - 1);
      purged = (first == last ? first : first + " to " + last) + " purged by the server before they were archived";
    }
  }
  for (size_t i = 0; i + 1 < logs.size(); ++i) {
    const std::string& name = logs[i][0];
    if (have.count(name)) {
      ++res.already;
      continue;
    }
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
    auto src = open_file_source(path);
    BackupOptions o;
    o.source = source.name;
    o.type = "binlog";
    o.id = name;
    o.catalog = catalog;
    o.pipeline = pipeline;
    nlohmann::json j = {{"engine", "mysql"}, {"method", "binlog"}, {"file", name}, {"index", index},
                        {"created_epoch", created}, {"server_id", vars[0][2]}};
    o.engine_json = j.dump();
    try {
      repo.backup(*src, o, progress);
    } catch (const StrataError& e) {
      // Two archivers racing: the other one committed the same file.
      if (e.code() != ErrorCode::kAlreadyExists) throw;
    }
    log::info("binlog_archived", {{"source", source.name}, {"file", name}});
    res.archived.push_back(name);
  }
  auto now_list = list_archived_binlogs(repo, source.name);
  res.gaps = find_binlog_gaps(now_list);
  // Once a newer file is archived the purged range is a hole in the archive and already reported.
  if (res.gaps.empty() && !purged.empty()) res.gaps.push_back(purged);
  return res;
}

}  // namespace strata
