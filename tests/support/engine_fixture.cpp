#include "support/engine_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/process.hpp"

namespace strata::test {

std::string shq(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CmdResult run_sh(const std::string& cmd) {
  CmdResult r;
  // The strata under test is one of these commands: it needs the passphrase that run_capture keeps from children.
  r.rc = run_capture({"/bin/sh", "-c", cmd}, &r.out, &r.err, {"STRATA_PASSPHRASE", "STRATA_NEW_PASSPHRASE"});
  return r;
}

TempDir::TempDir(const std::string& prefix) {
  // Short paths: unix socket names inside must stay under 108 bytes.
  std::string templ = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + templ);
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("STRATA_KEEP_TEST_DIRS")) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  return wait_until(ready, deadline_in(timeout));
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A zombie (not reaped yet by init) counts as gone.
bool process_alive(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

void stop_pidfile(const std::string& pid_file) {
  std::ifstream f(pid_file);
  int pid = 0;
  if (!(f >> pid) || pid <= 0) return;
  if (::kill(pid, SIGTERM) != 0) return;
  if (!wait_for([&] { return !process_alive(pid); }, std::chrono::seconds(120))) ::kill(pid, SIGKILL);
}

std::string engine_test_binary() {
  const char* other = std::getenv("STRATA_TEST_BINARY");
  return other && *other ? other : STRATA_BINARY;
}

StrataCli::StrataCli(std::string repo, std::string config) : repo_(std::move(repo)), config_(std::move(config)) {
  ::setenv("STRATA_PASSPHRASE", "engine-test-passphrase", 1);
}

CmdResult StrataCli::init() const { return run({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}); }

CmdResult StrataCli::run(const std::vector<std::string>& args) const {
  std::string cmd = shq(engine_test_binary()) + " --repo " + shq(repo_) + " --config " + shq(config_);
  for (const auto& a : args) cmd += " " + shq(a);
  return run_sh(cmd);
}

}  // namespace strata::test
