#include "engines/postgres/wal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "io/crypto.hpp"
#include "io/stream.hpp"
#include "repo/layout.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace strata::pg {
namespace {

bool all_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Digest32 sha256_file(const std::string& path) {
  auto src = open_file_source(path);
  Sha256 h;
  std::vector<uint8_t> buf(1u << 20);
  for (;;) {
    size_t n = src->read(buf.data(), buf.size());
    if (n == 0) break;
    h.update(ByteView(buf.data(), n));
  }
  return h.finish();
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open " + path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail_errno("cannot fsync " + path, err);
}

std::vector<std::string> dir_names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Objects of an uncommitted `id` (data/<id>/...), complete or not. Called only with no other writer of `id`
// alive and its manifest absent, so everything there is what interrupted earlier attempts left.
void remove_push_leftovers(Storage& storage, const std::string& id, const std::string& name) {
  const std::string prefix = layout::data_prefix(id);
  size_t removed = 0;
  for (const auto& o : storage.list(prefix)) {
    storage.remove(o.key);
    ++removed;
  }
  for (const auto& o : storage.list_incomplete(prefix)) {
    storage.remove_incomplete(o);
    ++removed;
  }
  if (removed) log::warn("wal_push_leftovers_removed", {{"file", name}, {"objects", uint64_t(removed)}});
}

}  // namespace

uint64_t parse_lsn(const std::string& text) {
  auto slash = text.find('/');
  std::string hi = text.substr(0, slash), lo = slash == std::string::npos ? "" : text.substr(slash + 1);
  if (slash == std::string::npos || hi.empty() || lo.empty() || hi.size() > 8 || lo.size() > 8 || !all_hex(hi) ||
      !all_hex(lo)) {
    fail(ErrorCode::kUsage, "invalid LSN '" + text + "': expected the form 0/3000028");
  }
  return (std::stoull(hi, nullptr, 16) << 32) | std::stoull(lo, nullptr, 16);
}

std::string format_lsn(uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

std::optional<SegmentId> parse_segment_name(const std::string& name, uint64_t segment_size) {
  if (name.size() != 24 || !all_hex(name)) return std::nullopt;
  uint64_t per_id = 0x100000000ull / segment_size;
  SegmentId s;
  s.timeline = static_cast<uint32_t>(std::stoul(name.substr(0, 8), nullptr, 16));
  uint64_t log = std::stoull(name.substr(8, 8), nullptr, 16), seg = std::stoull(name.substr(16, 8), nullptr, 16);
  s.segno = log * per_id + seg;
  return s;
}

std::string segment_name(uint32_t timeline, uint64_t segno, uint64_t segment_size) {
  uint64_t per_id = 0x100000000ull / segment_size;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X%08X%08X", timeline, static_cast<unsigned>(segno / per_id),
                static_cast<unsigned>(segno % per_id));
  return buf;
}

std::string wal_catalog(const std::string& source) { return layout::wal_series(source); }
std::string wal_id(const std::string& source, const std::string& file_name) { return source + "." + file_name; }

PushOutcome wal_push(Repository& repo, const std::string& source, const std::string& path, const PipelineSettings& ps,
                     const std::function<void(Repository&)>& unlock, uint64_t* stored_bytes) {
  std::string name = base_name(path);
  std::string id = wal_id(source, name), catalog = wal_catalog(source);
  auto compare = [&]() {
    unlock(repo);
    Manifest m = repo.load(id, true, catalog);
    Digest32 local = sha256_file(path);
    if (!equal_ct(ByteView(local.data(), local.size()), ByteView(m.stream.plain_sha256.data(), m.stream.plain_sha256.size()))) {
      fail(ErrorCode::kAlreadyExists, "WAL file " + name + " of source " + source + " is already archived in " +
                                          repo.location() + " with DIFFERENT content; refusing to overwrite. Another cluster "
                                          "may be archiving to this source: check archive_command on every server");
    }
    log::info("wal_already_archived", {{"file", name}, {"source", source}});
    return PushOutcome::kAlreadyArchived;
  };
  if (repo.exists(id, catalog)) return compare();
  // The segment's objects live under data/<id>/ with create-only names, so objects an interrupted earlier push
  // (SIGKILL, SIGTERM, a host crash) left there would make every retry fail. Announce ourselves as a writer of `id`
  // first, then look: of two pushes of the same file at least one sees the other (the locks' publish-then-look
  // rule), so leftovers are only ever removed when no other live process is writing them.
  RepoLock guard(repo.storage(), LockKind::kShared, "wal push " + name, id);
  std::vector<LockInfo> writers;
  for (auto& l : RepoLock::list(repo.storage())) {
    if (l.backup_id == id && !l.stale) writers.push_back(std::move(l));
  }
  if (writers.size() > 1) {
    if (repo.exists(id, catalog)) return compare();
    // Ours is the lock we just wrote (by key: another push in this process would share our pid and host).
    auto mine = [&](const LockInfo& l) { return l.key == guard.key(); };
    const LockInfo& other = mine(writers.front()) ? writers[1] : writers.front();
    fail(ErrorCode::kLocked, "WAL file " + name + " of source " + source + " is being archived by another strata process (pid " +
                                 std::to_string(other.holder.pid) + " on " + other.holder.host + ", since " + other.started +
                                 "); PostgreSQL retries archive_command, or if that process is gone run 'strata unlock " +
                                 other.id + "'");
  }
  // The manifest is the commit point: one committed while we took the lock is a finished push, never leftovers.
  if (repo.exists(id, catalog)) return compare();
  remove_push_leftovers(repo.storage(), id, name);
  BackupOptions o;
  o.source = source;
  o.type = "wal";
  o.id = id;
  o.catalog = catalog;
  o.pipeline = ps;
  o.engine_json = "{\"engine\":\"postgres\",\"wal_file\":\"" + name + "\"}";
  auto src = open_file_source(path);
  try {
    Manifest m = repo.backup(*src, o, nullptr);
    if (stored_bytes) *stored_bytes = m.stream.stored_bytes;
  } catch (const StrataError& e) {
    // A concurrent pusher of the same file (a retried archive_command) won the race: judge by content.
    if (e.code() == ErrorCode::kAlreadyExists) return compare();
    throw;
  }
  return PushOutcome::kStored;
}

bool wal_fetch(Repository& repo, const std::string& source, const std::string& file_name, const std::string& dest,
               const PipelineSettings& ps) {
  std::string id = wal_id(source, file_name), catalog = wal_catalog(source);
  if (!repo.exists(id, catalog)) return false;
  Manifest m = repo.load(id, true, catalog);
  auto sink = open_file_sink(dest, true);
  repo.restore(m, *sink, ps, nullptr);
  return true;
}

namespace {

// Collects a restored file in memory, up to a bound (history files are a few hundred bytes).
class StringSink final : public ByteSink {
 public:
  explicit StringSink(size_t limit) : limit_(limit) {}
  void write(ByteView data) override {
    if (out_.size() + data.size() > limit_) fail(ErrorCode::kCorrupt, "archived file is larger than " + std::to_string(limit_) + " bytes");
    out_.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  void finish() override {}
  void abort() noexcept override { out_.clear(); }
  std::string describe() const override { return "memory"; }
  std::string out_;

 private:
  size_t limit_;
};

// Verification only: the pipeline checks every frame and the SHA-256 before finish().
class DiscardSink final : public ByteSink {
 public:
  void write(ByteView) override {}
  void finish() override {}
  void abort() noexcept override {}
  std::string describe() const override { return "verification"; }
};

}  // namespace

std::optional<std::string> wal_read_small(Repository& repo, const std::string& source, const std::string& file_name,
                                          const PipelineSettings& ps) {
  std::string id = wal_id(source, file_name), catalog = wal_catalog(source);
  if (!repo.exists(id, catalog)) return std::nullopt;
  Manifest m = repo.load(id, true, catalog);
  StringSink sink(1u << 20);
  repo.restore(m, sink, ps, nullptr);
  return sink.out_;
}

void wal_verify(Repository& repo, const std::string& source, const std::string& file_name, const PipelineSettings& ps) {
  std::string id = wal_id(source, file_name), catalog = wal_catalog(source);
  Manifest m = repo.load(id, true, catalog);
  DiscardSink sink;
  repo.restore(m, sink, ps, nullptr);
}

void ensure_history_archived(Repository& repo, const std::string& source, const std::string& segment_path,
                             const PipelineSettings& ps, const std::function<void(Repository&)>& unlock) {
  std::string name = base_name(segment_path);
  if (name.size() != 24 || !all_hex(name)) return;
  uint32_t tli = static_cast<uint32_t>(std::stoul(name.substr(0, 8), nullptr, 16));
  if (tli <= 1) return;
  char hist[32];
  std::snprintf(hist, sizeof hist, "%08X.history", tli);
  if (repo.exists(wal_id(source, hist), wal_catalog(source))) return;
  auto slash = segment_path.rfind('/');
  std::string local = (slash == std::string::npos ? std::string() : segment_path.substr(0, slash + 1)) + hist;
  struct stat st;
  if (::stat(local.c_str(), &st) != 0) {
    fail(ErrorCode::kNotFound, "timeline " + std::to_string(tli) + "'s history file " + hist + " is not in the archive of " +
                                   source + " and not beside " + name + ", so " + name + " could not be restored along its "
                                   "timeline; push it first: strata wal push --source " + source + " $PGDATA/pg_wal/" + hist);
  }
  wal_push(repo, source, local, ps, unlock);
  log::info("wal_history_pushed", {{"file", std::string(hist)}, {"source", source}, {"before", name}});
}

size_t WalInventory::count() const {
  size_t n = 0;
  for (const auto& [tli, s] : segments) n += s.size();
  return n;
}

bool WalInventory::has(uint32_t timeline, uint64_t segno) const {
  auto it = segments.find(timeline);
  return it != segments.end() && it->second.count(segno);
}

std::vector<WalRange> WalInventory::gaps() const {
  std::vector<WalRange> out;
  for (const auto& [tli, s] : segments) {
    uint64_t prev = 0;
    bool first = true;
    for (uint64_t seg : s) {
      if (!first && seg > prev + 1) out.push_back({tli, prev + 1, seg - 1});
      prev = seg;
      first = false;
    }
  }
  return out;
}

uint64_t WalInventory::contiguous_end(uint32_t timeline, uint64_t segno) const {
  uint64_t cur = segno;
  while (has(timeline, cur)) ++cur;
  return cur - 1;
}

WalInventory wal_inventory(Repository& repo, const std::string& source, uint64_t segment_size) {
  WalInventory inv;
  inv.segment_size = segment_size;
  std::string prefix = source + ".";
  for (const auto& id : repo.list_ids(wal_catalog(source))) {
    if (id.rfind(prefix, 0) != 0) continue;
    std::string name = id.substr(prefix.size());
    if (auto seg = parse_segment_name(name, segment_size)) inv.segments[seg->timeline].insert(seg->segno);
    else inv.other_files.push_back(name);
  }
  return inv;
}

void spool_put(const std::string& spool_dir, const std::string& path) {
  if (::mkdir(spool_dir.c_str(), 0700) != 0 && errno != EEXIST) fail_errno("cannot create spool directory " + spool_dir, errno);
  std::string name = base_name(path);
  std::string final_path = spool_dir + "/" + name, tmp = final_path + ".tmp";
  {
    auto src = open_file_source(path);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail_errno("cannot write " + tmp, errno);
    std::vector<uint8_t> buf(1u << 20);
    for (;;) {
      size_t n = src->read(buf.data(), buf.size());
      if (n == 0) break;
      size_t off = 0;
      while (off < n) {
        ssize_t w = ::write(fd, buf.data() + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          int err = errno;
          ::close(fd);
          fail_errno("cannot write " + tmp, err);
        }
        off += static_cast<size_t>(w);
      }
    }
    // postgres recycles the segment as soon as we return: the spool copy must survive a crash.
    if (::fsync(fd) != 0) {
      int err = errno;
      ::close(fd);
      fail_errno("cannot fsync " + tmp, err);
    }
    ::close(fd);
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) fail_errno("cannot rename " + tmp, errno);
  fsync_path(spool_dir, O_RDONLY | O_DIRECTORY);
}

std::vector<std::string> spool_pending(const std::string& spool_dir) {
  std::vector<std::string> out;
  for (const auto& n : dir_names(spool_dir)) {
    if (n[0] == '.' || ends_with(n, ".tmp") || ends_with(n, ".error")) continue;
    out.push_back(n);
  }
  return out;
}

std::vector<std::string> spool_errors(const std::string& spool_dir) {
  std::vector<std::string> out;
  for (const auto& n : dir_names(spool_dir)) {
    if (!ends_with(n, ".error")) continue;
    std::ifstream f(spool_dir + "/" + n);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string msg = ss.str();
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    out.push_back(n.substr(0, n.size() - 6) + ": " + msg);
  }
  return out;
}

size_t spool_drain(const std::string& spool_dir, const std::function<void(const std::string& path)>& push_one) {
  std::string lock_path = spool_dir + "/.drain.lock";
  size_t pushed = 0;
  for (;;) {
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) fail_errno("cannot open " + lock_path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return pushed;  // another drainer owns the spool and will see our file
    }
    bool failed = false;
    for (;;) {
      auto pending = spool_pending(spool_dir);
      size_t before = pushed;
      for (const auto& n : pending) {
        std::string p = spool_dir + "/" + n, err_path = p + ".error";
        try {
          push_one(p);
          ::unlink(p.c_str());
          ::unlink(err_path.c_str());
          ++pushed;
        } catch (const std::exception& e) {
          std::ofstream(err_path, std::ios::trunc) << e.what() << "\n";
          log::error("wal_spool_push_failed", {{"file", n}, {"error", e.what()}});
          // Later segments stay queued behind the failed one so the archive never gets a gap it did not report.
          failed = true;
          break;
        }
      }
      if (failed || pushed == before) break;
    }
    ::flock(fd, LOCK_UN);
    ::close(fd);
    // A file spooled after our last listing but while we held the lock saw a busy drainer and left it to us.
    if (failed || spool_pending(spool_dir).empty()) return pushed;
  }
}

}  // namespace strata::pg
