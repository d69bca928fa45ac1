#include "engines/tool_util.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/secret_file.hpp"
#include "engines/engine.hpp"
#include "io/stream.hpp"

namespace strata {

namespace fs = std::filesystem;

std::string find_tool(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (n.empty()) continue;
    if (n.find('/') != std::string::npos) {
      if (::access(n.c_str(), X_OK) == 0) return n;
      continue;
    }
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      std::string p = (dir.empty() ? "." : dir) + "/" + n;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
    // Debian puts mariadbd in /usr/sbin, which a non-root PATH often lacks.
    for (const char* d : {"/usr/sbin/", "/sbin/"}) {
      std::string p = std::string(d) + n;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return "";
}

PrivateDir::PrivateDir(const std::string& prefix, const std::string& base_dir) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = !base_dir.empty() ? base_dir : (tmp && *tmp ? tmp : "/tmp");
  std::string templ = base + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) fail_errno("cannot create a private directory under " + templ, errno);
  path_ = buf.data();
}

PrivateDir::~PrivateDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string PrivateDir::write_file(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  mode_t old = ::umask(077);
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  ::umask(old);
  if (!f) fail_errno("cannot write " + p, errno);
  f << content;
  f.close();
  ::chmod(p.c_str(), 0600);
  return p;
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorCode::kNotFound, "cannot read " + path + ": check the path and its permissions");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string source_password(const SourceConfig& source, const std::string& prefix) {
  std::string password;
  if (auto pf = source.get(prefix + "password_file"); !pf.empty()) {
    SecretFile f = read_secret_file(pf);
    if (!f.read) fail(ErrorCode::kNotFound, "cannot read " + pf + ": check the path and its permissions");
    password = f.value;
  } else if (auto pe = source.get(prefix + "password_env"); !pe.empty()) {
    const char* v = std::getenv(pe.c_str());
    if (!v) {
      fail(ErrorCode::kUsage,
           "source " + source.name + ": environment variable " + pe + " (" + prefix + "password_env) is not set");
    }
    password = v;
  }
  return password;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string run_checked(const std::string& command, const std::string& what, const std::string& hint,
                        const ChildEnv& env) {
  std::string out, err;
  int rc = run_capture({"/bin/sh", "-c", command}, &out, &err, env);
  if (rc != 0) {
    std::string e = trim(err);
    auto nl = e.rfind('\n');
    if (nl != std::string::npos) e = e.substr(nl + 1);
    if (e.size() > 300) e = "..." + e.substr(e.size() - 300);
    fail(ErrorCode::kSourceFailed, what + " failed (exit " + std::to_string(rc) + (e.empty() ? "" : ": " + e) + ")" +
                                       (hint.empty() ? "" : "; " + hint));
  }
  return out;
}

void launch_detached(const std::string& command, const std::string& log_file) {
  // setsid: the server must not die with our session or get our terminal's signals.
  std::string sh = "setsid " + command + " >>" + shell_quote(log_file) + " 2>&1 </dev/null &";
  std::string out, err;
  int rc = run_capture({"/bin/sh", "-c", sh}, &out, &err);
  if (rc != 0) fail(ErrorCode::kSourceFailed, "cannot start '" + command + "': " + trim(err));
}

bool poll_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int64_t parse_target_time(const std::string& text, bool zone_required) {
  std::string t = trim(text);
  if (!zone_required && !t.empty() && t[0] == '@') {
    try {
      return std::stoll(t.substr(1));
    } catch (...) {
    }
  }
  static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?$)");
  std::smatch m;
  if (!std::regex_match(t, m, re) || (zone_required && !m[8].matched)) {
    fail(ErrorCode::kUsage, "invalid --target-time '" + text + "': " +
                                (zone_required ? "use 'YYYY-MM-DD HH:MM:SS+TZ', e.g. '2026-11-21 05:43:00+00'"
                                               : "use 'YYYY-MM-DD HH:MM:SS' (UTC) or add +HH:MM"));
  }
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  int64_t epoch = ::timegm(&tm);
  std::string zone = m[8];
  if (!zone.empty() && zone != "Z" && zone != "UTC") {
    int sign = zone[0] == '-' ? -1 : 1;
    std::string digits;
    for (char c : zone.substr(1)) {
      if (c != ':') digits += c;
    }
    int hh = std::stoi(digits.substr(0, 2));
    int mm = digits.size() >= 4 ? std::stoi(digits.substr(2, 2)) : 0;
    epoch -= sign * (hh * 3600 + mm * 60);
  }
  return epoch;
}

namespace {
class QuietCommandSource final : public ByteSource {
 public:
  QuietCommandSource(const std::string& command, std::string what, std::string hint, const ChildEnv& env)
      : proc_(command, Subprocess::Pipe::kStdout, false, env), what_(std::move(what)), hint_(std::move(hint)) {}
  size_t read(uint8_t* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(proc_.fd(), buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      fail_errno("cannot read the output of " + what_, errno);
    }
  }
  void finish() override {
    proc_.close_pipe();
    int st = proc_.wait();
    if (st != 0) fail(ErrorCode::kSourceFailed, what_ + " " + proc_.describe_failure(st) + (hint_.empty() ? "" : "; " + hint_));
  }
  // Any thread, never blocks (ByteSource::abort): the owner reaps the tool.
  void abort() noexcept override { proc_.terminate(); }
  std::string describe() const override { return what_; }

 private:
  Subprocess proc_;
  std::string what_, hint_;
};
}  // namespace

std::unique_ptr<ByteSource> open_quiet_command_source(const std::string& command, const std::string& what,
                                                      const std::string& hint, const ChildEnv& env) {
  return std::make_unique<QuietCommandSource>(command, what, hint, env);
}

bool dir_is_empty_or_missing(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return true;
  return fs::is_directory(path, ec) && fs::is_empty(path, ec);
}

void chown_tree_to(const std::string& path, const std::string& user, const std::string& whose) {
  if (::geteuid() != 0) return;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) fail(ErrorCode::kUsage, "OS user '" + user + "' (" + whose + ") does not exist: create it or set run_as");
  if (::lchown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) fail_errno("cannot chown " + path, errno);
  if (!fs::is_directory(fs::symlink_status(path))) return;
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (::lchown(e.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) fail_errno("cannot chown " + e.path().string(), errno);
  }
}

}  // namespace strata
