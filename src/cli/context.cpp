#include "cli/context.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/cancel.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/secret_file.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "storage/throttle/throttle_storage.hpp"

namespace strata {
namespace {

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A passphrase file that is missing, unreadable or empty is a missing passphrase (exit 4, docs/CLI.md), like an
// unset STRATA_PASSPHRASE: the command line is fine, the secret is not there.
std::string read_passphrase_file(const std::string& path) {
  SecretFile f = read_secret_file(path);
  if (!f.read) {
    fail(ErrorCode::kWrongKey, "cannot read passphrase file " + path + " (" + std::strerror(f.error) +
                                   "); check --passphrase-file / STRATA_PASSPHRASE_FILE / passphrase_file");
  }
  if (f.value.empty()) fail(ErrorCode::kWrongKey, "passphrase file " + path + " is empty; write the passphrase into it");
  return f.value;
}

std::string prompt_tty(const char* prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t unused = ::write(fd, prompt, std::char_traits<char>::length(prompt));
  termios old{}, noecho{};
  bool have_termios = ::tcgetattr(fd, &old) == 0;
  if (have_termios) {
    noecho = old;
    noecho.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &noecho);
  }
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &old);
  unused = ::write(fd, "\n", 1);
  (void)unused;
  ::close(fd);
  return trim_newline(line);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void CliContext::finalize() {
  settings = load_settings(config_path);
  if (!repo.empty()) settings.repo = repo;
  if (!passphrase_file.empty()) settings.passphrase_file = passphrase_file;
  if (!log_level.empty()) settings.log_level = log_level;
  if (!log_format.empty()) settings.log_format = log_format;
  if (!limit_upload.empty()) settings.limit_upload = parse_rate(limit_upload);
  if (!limit_download.empty()) settings.limit_download = parse_rate(limit_download);
  if (max_requests) settings.max_requests = max_requests;
  log::configure(log::parse_level(settings.log_level), log::parse_format(settings.log_format));
  LockTiming::process_default().refresh_seconds = settings.lock_refresh_every;
  LockTiming::process_default().stale_seconds = settings.lock_stale_after;
  finalized = true;
}

std::string CliContext::repo_location() const {
  if (settings.repo.empty()) fail(ErrorCode::kUsage, "no repository given: pass --repo or set STRATA_REPO");
  return settings.repo;
}

bool CliContext::passphrase_available() const {
  if (const char* p = std::getenv("STRATA_PASSPHRASE"); p && *p) return true;
  if (!settings.passphrase_file.empty()) return true;
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::string CliContext::passphrase(const char* prompt) {
  if (const char* p = std::getenv("STRATA_PASSPHRASE"); p && *p) return p;
  if (!settings.passphrase_file.empty()) return read_passphrase_file(settings.passphrase_file);
  std::string s = prompt_tty(prompt);
  if (s.empty()) {
    fail(ErrorCode::kWrongKey, "no passphrase given: set STRATA_PASSPHRASE, pass --passphrase-file, or run on a terminal");
  }
  return s;
}

std::string CliContext::new_passphrase(const std::string& file, bool for_init) {
  if (!file.empty()) return read_passphrase_file(file);
  if (const char* p = std::getenv("STRATA_NEW_PASSPHRASE"); p && *p) return p;
  if (for_init) {
    if (const char* p = std::getenv("STRATA_PASSPHRASE"); p && *p) return p;
    if (!settings.passphrase_file.empty()) return read_passphrase_file(settings.passphrase_file);
  }
  std::string a = prompt_tty("New passphrase: ");
  if (a.empty()) {
    fail(ErrorCode::kUsage, std::string("no new passphrase given: set ") + (for_init ? "STRATA_PASSPHRASE" : "STRATA_NEW_PASSPHRASE") +
                                ", pass a passphrase file, or run on a terminal");
  }
  std::string b = prompt_tty("Repeat passphrase: ");
  if (a != b) fail(ErrorCode::kUsage, "the two passphrases differ; nothing was changed");
  return a;
}

std::unique_ptr<Repository> CliContext::open_repo(bool need_key) {
  auto repo = std::make_unique<Repository>(open_repo_storage());
  repo->set_writer_key_file(settings.writer_key_file);
  repo->set_refuse_unsigned(settings.unsigned_backups == "refuse");
  if (need_key && repo->config().encrypted) repo->unlock(passphrase());
  return repo;
}

std::unique_ptr<Storage> CliContext::open_repo_storage() const {
  StorageOptions options = settings.s3;
  // One cap on requests in flight: the S3 driver enforces it per HTTP request, the decorator per storage call.
  if (settings.max_requests && !options.count("max_requests")) options["max_requests"] = std::to_string(settings.max_requests);
  StorageLimits limits;
  limits.upload_bytes_per_second = settings.limit_upload;
  limits.download_bytes_per_second = settings.limit_download;
  limits.max_requests = settings.max_requests;
  return apply_limits(open_storage(repo_location(), options), limits);
}

PipelineSettings CliContext::pipeline(const std::string& compression_flag, const std::string& frame_flag,
                                      const std::string& object_flag, unsigned threads_flag) const {
  PipelineSettings p;
  p.compression = parse_compression(compression_flag.empty() ? settings.compression : compression_flag);
  uint64_t frame = frame_flag.empty() ? settings.frame_size : parse_size(frame_flag);
  // Neither flag nor config: 0, and the repository asks its storage driver (Storage::object_size_hint: 8 MiB on
  // S3, 64 MiB on disk).
  const bool object_set = !object_flag.empty() || settings.object_size != 0;
  uint64_t object = !object_flag.empty() ? parse_size(object_flag) : settings.object_size;
  if (frame == 0 || frame > (64u << 20)) fail(ErrorCode::kUsage, "--frame-size must be between 1 byte and 64MiB");
  if (object_set && object < frame) fail(ErrorCode::kUsage, "--object-size must be at least --frame-size");
  p.frame_size = static_cast<uint32_t>(frame);
  p.frames_per_object = static_cast<uint32_t>(object / frame);
  p.threads = threads_flag ? threads_flag : settings.threads;
  p.io_threads = settings.io_threads;
  p.cancel = &CancelToken::process();  // SIGINT/SIGTERM (main.cpp) stop every stream
  return p;
}

app::Services CliContext::services() {
  app::Services s;
  s.open_repository = [this] { return open_repo(false); };
  s.passphrase = [this] { return passphrase(); };
  s.cancel = &CancelToken::process();
  return s;
}

void ProgressObserver::begin(std::string_view phase, uint64_t total) {
  line_ = std::make_unique<Progress>(std::string(phase), total, enabled_);
}

void ProgressObserver::progress(const app::Progress& p) {
  if (!line_) return;
  if (p.total) line_->set_total(p.total);
  line_->update(p.bytes_in, p.bytes_out);
}

void ProgressObserver::end(std::string_view, bool, const app::PhaseTotals&) { line_.reset(); }

std::string format_rate(uint64_t bytes, double seconds) {
  if (seconds <= 0) seconds = 1e-9;
  return format_size(static_cast<uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
}

Progress::Progress(const std::string& verb, uint64_t total, bool enabled)
    : meter_(verb, total),
      enabled_(enabled && ::isatty(STDERR_FILENO) && log::format() == log::Format::kText),
      start_ns_(now_ns()) {}

Progress::~Progress() {
  if (printed_) std::fprintf(stderr, "\r\033[K");
}

void Progress::update(uint64_t done, uint64_t stored) {
  if (!enabled_) return;
  int64_t t = now_ns();
  if (printed_ && t - last_ns_ < 250'000'000) return;
  last_ns_ = t;
  std::string line = meter_.line(static_cast<double>(t - start_ns_) / 1e9, done, stored);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  printed_ = true;
}

ProgressFn Progress::fn() {
  return [this](uint64_t d, uint64_t s) { update(d, s); };
}

}  // namespace strata
