#include "platform/drill/scratch.hpp"

#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.hpp"
#include "common/proc_stat.hpp"

namespace strata {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "strata-drill-";
constexpr const char* kOwnerFile = ".strata-drill-owner";

// "" when the process does not exist: an owner file names its writer by pid and start time.
std::string start_time_of(long pid) {
  auto st = read_proc_stat(pid);
  return st && !st->stopped() ? std::to_string(st->start_time) : "";
}

bool owner_alive(const std::string& dir) {
  std::ifstream in(dir + "/" + kOwnerFile);
  long pid = 0;
  std::string started;
  if (!(in >> pid >> started)) return false;  // torn or missing: the owner died while creating it
  return start_time_of(pid) == started;
}

// Stops a server a drill started (its pid file), waiting for it to exit so its files can be removed.
void stop_server(const std::string& pid_file) {
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return;
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0) return;
  // The server is not our child: poll for its exit (bounded), then make sure.
  for (int i = 0; i < 100; ++i) {
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(static_cast<pid_t>(pid), SIGKILL);
}

void remove_dir(const std::string& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied)) {
    if (e.path().filename().string().find(".pid") != std::string::npos && e.is_regular_file()) stop_server(e.path().string());
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

DrillScratch::DrillScratch(const std::string& root, const std::string& drill_id) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root)) {
    fail(ErrorCode::kUsage, "drill scratch directory " + root + " cannot be used (" + (ec ? ec.message() : "not a directory") +
                                "); set [drill] scratch_dir or --scratch-dir to a writable directory");
  }
  path_ = (fs::absolute(root) / (kPrefix + drill_id)).lexically_normal().string();
  fs::create_directory(path_, ec);
  if (ec) fail(ErrorCode::kUsage, "cannot create drill scratch directory " + path_ + ": " + ec.message());
  fs::permissions(path_, fs::perms::owner_all, ec);
  // Written before anything else goes in, and read by remove_stale_drill_scratch() of later drills.
  std::ofstream(path_ + "/" + kOwnerFile) << ::getpid() << " " << start_time_of(::getpid()) << "\n";
}

DrillScratch::~DrillScratch() {
  for (const auto& p : pid_files_) stop_server(p);
  remove_dir(path_);
}

std::vector<std::string> remove_stale_drill_scratch(const std::string& root) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return removed;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (!e.is_directory() || e.path().filename().string().rfind(kPrefix, 0) != 0) continue;
    if (owner_alive(e.path().string())) continue;
    remove_dir(e.path().string());
    removed.push_back(e.path().string());
  }
  return removed;
}

uint64_t free_bytes_at(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace strata
