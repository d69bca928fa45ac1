#include "platform/drill/drill_util.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/process.hpp"
#include "engines/tool_util.hpp"

namespace strata::drill {

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) ::close(fd);
  if (port == 0) fail(ErrorCode::kGeneric, "no free loopback port for the drill's server");
  return port;
}

// Runs `command`, keeping the tail of what it prints, killed when the deadline passes.
CommandOutcome run_with_tail(const std::string& command, const Deadline& deadline) {
  Subprocess p(command, Subprocess::Pipe::kStdout, /*forward_stderr=*/false);
  CommandOutcome r;
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd pfd{p.fd(), POLLIN, 0};
    int left = deadline.remaining_ms();
    int n = ::poll(&pfd, 1, left < 0 ? -1 : left);
    if (n == 0) {
      r.timed_out = true;
      p.kill_and_wait();
      break;
    }
    if (n < 0) continue;
    ssize_t got = ::read(p.fd(), buf, sizeof buf);
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
    if (out.size() > 8192) out.erase(0, out.size() - 4096);
  }
  r.status = r.timed_out ? 137 : p.wait();
  std::string err = p.stderr_tail();
  r.tail = trim(out.size() > 1024 ? out.substr(out.size() - 1024) : out);
  if (!err.empty()) r.tail += (r.tail.empty() ? "" : " | ") + trim(err);
  return r;
}

void add_check(DrillRecord& rec, const std::string& name, bool ok, const std::string& detail) {
  rec.checks.push_back({name, ok, detail});
  if (!ok && rec.error.empty()) rec.error = name + ": " + detail;
}

}  // namespace strata::drill
