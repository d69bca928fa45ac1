#pragma once
// FIFO handshakes for end-to-end tests that act on a command at an exact point, without sleeping: a source command
// that blocks in `cat GATE` until the test opens GATE for writing (so the open returning means the source is
// running and the repository lock is held), and STRATA_TEST_PAUSE points that open a FIFO when reached.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/child_process.hpp"

namespace strata::test {

inline void make_fifo(const std::string& path) {
  if (::mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + path + " failed");
}

// Opens `fifo` once its reader (a command of `pid`'s) has opened it. Fails, instead of hanging, if `pid` exits first
// or nothing happens for a minute.
inline int open_when_read(const std::string& fifo, pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    if (errno != ENXIO) throw std::runtime_error("cannot open " + fifo);
    int st;
    if (::waitpid(pid, &st, WNOHANG) == pid) throw std::runtime_error("the command ended before it opened " + fifo);
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("nobody opened " + fifo);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // waiting for a condition, not for time to pass
  }
}

// Reads the line a STRATA_TEST_PAUSE point writes: returns once `pid` is parked at the point.
inline std::string wait_for_pause(const std::string& fifo) {
  int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);  // blocks until the paused command opens it
  if (fd < 0) throw std::runtime_error("cannot open " + fifo);
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1) line += c;
  ::close(fd);
  return line;
}

// Exit code of `pid` (as wait_pid), or -1 if it is still running after `seconds`: a test of "strata does not hang"
// fails instead of hanging with it. Polls for the exit, it does not sleep for a result.
inline int wait_pid_for(pid_t pid, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// wait_for_pause, bounded: fails (throws) instead of hanging if `pid` exits without reaching the point (a binary
// without it) or nothing happens for `seconds`. Opens the FIFO read-write so that no open blocks and no EOF comes
// before the line; `pid` is checked without reaping it.
inline std::string wait_for_pause(const std::string& fifo, pid_t pid, int seconds = 120) {
  int fd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + fifo);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::string line;
  for (;;) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n == 1) {
      line += c;
      if (c == '\n') break;
      continue;
    }
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
      ::close(fd);
      throw std::runtime_error("the command ended before it reached the pause point in " + fifo);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      throw std::runtime_error("nothing reached the pause point in " + fifo);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling for the line, not waiting for time
  }
  ::close(fd);
  return line;
}

// True once nobody reads `fd`'s FIFO any more: the command that did is gone.
inline bool reader_gone(int fd) {
  ::signal(SIGPIPE, SIG_IGN);
  return ::write(fd, "x", 1) < 0 && errno == EPIPE;
}

}  // namespace strata::test
