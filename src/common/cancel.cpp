#include "common/cancel.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/process.hpp"

namespace strata {

void CancelToken::cancel(const std::string& reason) {
  std::map<uint64_t, Hook> hooks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = reason;
    hooks = hooks_;
    running_hooks_ = true;
    cv_.notify_all();
  }
  // Outside the lock: a hook may look at the token.
  for (auto& [id, hook] : hooks) {
    try {
      hook();
    } catch (...) {
      // A hook that fails must not keep the others from stopping their work.
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  running_hooks_ = false;
  cv_.notify_all();
}

bool CancelToken::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

std::string CancelToken::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

void CancelToken::throw_if_cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) throw StrataError(ErrorCode::kInterrupted, interrupted_message(reason_));
}

void CancelToken::wait() const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return cancelled_; });
}

uint64_t CancelToken::add_hook(Hook hook) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_) {
      uint64_t id = next_id_++;
      hooks_.emplace(id, std::move(hook));
      return id;
    }
  }
  hook();
  return 0;
}

void CancelToken::remove_hook(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  hooks_.erase(id);
  // A hook that cancel() already picked up may still be running: what it uses must outlive it.
  cv_.wait(lock, [&] { return !running_hooks_; });
}

CancelToken& CancelToken::process() {
  static CancelToken* token = new CancelToken();  // never destroyed: the watcher thread may use it at exit
  return *token;
}

CancelHook::CancelHook(const CancelToken* token, CancelToken::Hook hook) : token_(const_cast<CancelToken*>(token)) {
  if (token_) id_ = token_->add_hook(std::move(hook));
}

CancelHook::~CancelHook() {
  if (token_ && id_) token_->remove_hook(id_);
}

namespace {

int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signals{0};

void on_signal(int sig) {
  if (g_signals.fetch_add(1) > 0) {
    // Asked twice: the user wants out now, whatever is left behind.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  unsigned char b = static_cast<unsigned char>(sig);
  int saved = errno;
  ssize_t n = ::write(g_signal_pipe[1], &b, 1);
  (void)n;
  errno = saved;
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

}  // namespace

void install_signal_handlers() {
  if (g_signal_pipe[0] >= 0) return;
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) return;  // without the pipe the default actions stay in force
  std::thread([] {
    unsigned char b = 0;
    for (;;) {
      ssize_t n = ::read(g_signal_pipe[0], &b, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      CancelToken::process().cancel(signal_name(b));
      // Engine tools and commands that no pipeline hook knows of (a pg_ctl, a mariadb-backup --prepare) stop too.
      terminate_all_children();
    }
  }).detach();
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

std::string interrupted_message(const std::string& reason) {
  return "interrupted" + (reason.empty() ? std::string() : " by " + reason) +
         ": the source and child commands were stopped, nothing was committed and the lock was released; "
         "run the command again";
}

void test_pause_point(const char* name, const CancelToken& token) {
  static const char* spec = std::getenv("STRATA_TEST_PAUSE");
  if (!spec) return;
  std::string s = spec;
  auto colon = s.find(':');
  if (colon == std::string::npos || s.compare(0, colon, name) != 0) return;
  int fd = ::open(s.substr(colon + 1).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string line = std::string(name) + "\n";
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
  ::close(fd);
  token.wait();
}

}  // namespace strata
