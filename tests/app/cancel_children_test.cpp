// Issue 14 part 3 through app::: a job's own cancel token (not the process token SIGINT/SIGTERM set) ends an engine
// backup whose `command` source is still producing — its shell's process group is terminated, the writes in flight
// are abandoned, nothing is listed, the lock is released, and the call ends with kInterrupted — and a restore whose
// --to-command stopped reading. The shells use builtins only (printf, read), so the group is exactly the child
// strata reaps; they block on a FIFO the test controls, and the token is fired once the observer has seen bytes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <fcntl.h>
#include <poll.h>
#include <future>
#include <mutex>
#include <optional>
#include <string>

#include "../common/test_helpers.hpp"
#include "app/backup.hpp"
#include "app/restore.hpp"
#include "common/cancel.hpp"
#include "common/process.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

// Tells the test thread when the first bytes of a phase arrived.
class FirstBytes final : public app::Observer {
 public:
  void progress(const app::Progress& p) override {
    if (p.bytes_in == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    seen_ = true;
    cv_.notify_all();
  }
  void end(std::string_view, bool ok, const app::PhaseTotals&) override { ended_ok = ok; }
  bool wait(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return seen_; });
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mu_);
    seen_ = false;
    ended_ok.reset();
  }
  std::optional<bool> ended_ok;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool seen_ = false;
};

// The pid the shell writes into the FIFO at `path` as its first step (its process group: strata starts every child
// as a group leader); 0 if no shell opened it within a minute.
pid_t read_pid_fifo(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  // A FIFO that never had a writer does not report POLLHUP: this waits for the shell's open and write.
  pollfd p{fd, POLLIN, 0};
  std::string text;
  if (::poll(&p, 1, 60'000) == 1) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    char c;
    while (::read(fd, &c, 1) == 1) text += c;
  }
  ::close(fd);
  return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
}

bool group_gone(pid_t pgid) { return pgid > 0 && ::kill(-pgid, 0) != 0 && errno == ESRCH; }

// Lets a shell that was not stopped finish, so a failing test fails instead of hanging.
void release(const std::string& gate) {
  int fd = ::open(gate.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::write(fd, "\n", 1);
    ::close(fd);
  }
}

// Declared after the job's future, so it runs first: whatever failed, the job ends and the future can be joined.
struct EndJob {
  CancelToken& token;
  std::string gate;
  ~EndJob() {
    token.cancel("the test ended");
    release(gate);
  }
};

struct Fixture {
  Fixture() {
    auto mem = std::make_unique<MemoryStorage>(state);
    storage = mem.get();
    InitOptions init;
    init.passphrase = "pw";
    init.kdf = KdfParams{1, 8ull << 20};
    Repository::init(*storage, init);
    repo = std::make_unique<Repository>(std::move(mem));
    services.repo = repo.get();
    services.cancel = &token;
    services.observer = &observer;
    services.passphrase = [] { return std::string("pw"); };
    EXPECT_EQ(::mkfifo(gate.c_str(), 0600), 0);
    EXPECT_EQ(::mkfifo(pid_file.c_str(), 0600), 0);
  }
  PipelineSettings small_frames() const {
    PipelineSettings p;
    p.frame_size = 4096;
    p.frames_per_object = 4;
    p.threads = 2;
    return p;
  }
  testing::TempDir dir;
  std::string gate = dir.path() + "/gate", pid_file = dir.path() + "/pid";
  std::shared_ptr<MemoryStorage::State> state = std::make_shared<MemoryStorage::State>();
  MemoryStorage* storage = nullptr;
  std::unique_ptr<Repository> repo;
  CancelToken token;
  FirstBytes observer;
  app::Services services;
};

TEST(AppCancel, AJobsCancelEndsACommandEngineBackupAndItsProcessGroup) {
  Fixture f;
  // 16 KiB from builtins (four 4 KiB frames), then the shell blocks until the gate is written: the backup is
  // mid-stream, with the lock held and objects in flight.
  std::string script = "echo $$ > " + shell_quote(f.pid_file) +
                       "; i=0; while [ $i -lt 256 ]; do printf '%s' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef;"
                       " i=$((i+1)); done; read x < " + shell_quote(f.gate);
  SourceConfig source;
  source.name = "app1";
  source.values = {{"engine", "command"}, {"backup_command", script}};
  app::BackupRequest req;
  req.source = "app1";
  req.engine_source = source;
  req.pipeline = f.small_frames();
  auto run = std::async(std::launch::async, [&]() -> ErrorCode {
    try {
      app::backup(f.services, req);
    } catch (const StrataError& e) {
      return e.code();
    }
    return ErrorCode::kGeneric;  // committed: the cancel was not honoured
  });
  EndJob end{f.token, f.gate};
  pid_t pgid = read_pid_fifo(f.pid_file);  // the shell's first step, before any byte
  ASSERT_GT(pgid, 0);
  ASSERT_TRUE(f.observer.wait(std::chrono::seconds(60))) << "no bytes arrived from the source";
  f.token.cancel("the job was cancelled");
  if (run.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    release(f.gate);
    FAIL() << "the job's cancel did not end the backup";
  }
  EXPECT_EQ(run.get(), ErrorCode::kInterrupted);
  EXPECT_TRUE(group_gone(pgid)) << "the source command's process group is gone";
  EXPECT_TRUE(f.repo->list().empty()) << "nothing listed";
  EXPECT_TRUE(RepoLock::list(*f.storage).empty()) << "the lock was released";
  EXPECT_EQ(f.observer.ended_ok, false);
  EXPECT_FALSE(CancelToken::process().cancelled()) << "the process token is untouched";
}

TEST(AppCancel, AJobsCancelEndsARestoreWhoseCommandStoppedReading) {
  ::signal(SIGPIPE, SIG_IGN);  // as main.cpp: a reader that goes away is an error we report, not a signal
  Fixture f;
  Bytes data = testing::pseudo_random(1 << 20, 7);  // incompressible: far more than a pipe holds
  testing::BufferSource src(data, 65536);
  app::BackupRequest b;
  b.source = "app1";
  b.stream = &src;
  b.pipeline = f.small_frames();
  auto backup = app::backup(f.services, b);
  ASSERT_EQ(backup.manifests.size(), 1u);
  f.observer.reset();

  app::RestoreRequest r;
  r.id = backup.manifests[0].id;
  r.to_command = "echo $$ > " + shell_quote(f.pid_file) + "; read x < " + shell_quote(f.gate);  // never reads stdin
  r.pipeline = f.small_frames();
  auto run = std::async(std::launch::async, [&]() -> ErrorCode {
    try {
      app::restore(f.services, r);
    } catch (const StrataError& e) {
      return e.code();
    }
    return ErrorCode::kGeneric;
  });
  EndJob end{f.token, f.gate};
  pid_t pgid = read_pid_fifo(f.pid_file);
  ASSERT_GT(pgid, 0);
  ASSERT_TRUE(f.observer.wait(std::chrono::seconds(60))) << "no bytes were restored";
  f.token.cancel("the job was cancelled");
  if (run.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    release(f.gate);
    FAIL() << "the job's cancel did not end the restore";
  }
  EXPECT_EQ(run.get(), ErrorCode::kInterrupted);
  EXPECT_TRUE(group_gone(pgid)) << "the target command's process group is gone";
  EXPECT_TRUE(RepoLock::list(*f.storage).empty());
  EXPECT_FALSE(CancelToken::process().cancelled());
}

}  // namespace
}  // namespace strata
