// The thaw service (src/tiering/serve.*): its line protocol over a Unix socket and loopback TCP, with concurrent
// callers, coalescing thaws of one key, and errors that carry the CLI's exit code and name the entity and key.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <condition_variable>

#include "tiering/serve.hpp"
#include "tiering/tier_fixture.hpp"

using namespace tiering_test;

namespace {

class TierServe : public TieringTest {
 protected:
  static int connect_unix(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  static int connect_tcp(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  // Sends one request line and reads one reply line.
  static std::string ask(int fd, const std::string& line) {
    std::string req = line + "\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return "<send failed>";
    std::string out;
    char c;
    while (::recv(fd, &c, 1, 0) == 1) {
      if (c == '\n') return out;
      out += c;
    }
    return out + "<closed>";
  }
};

TEST_F(TierServe, ConcurrentCallersOverSocketAndPortThawEachEntityOnce) {
  demo(40);
  make_all_warm();
  auto repo = open_repo();
  std::string before = digest();
  ASSERT_EQ(Tierer(entity(10, 40), repo.get()).freeze().frozen, 40u);
  ThawService svc(entity(10, 40), *repo, 4);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  int port = -2;
  ServeOptions opts{dir_ + "/thaw.sock", 0};
  std::thread server([&] {
    serve_lines(svc, opts, stop, [&](int p) {
      std::lock_guard<std::mutex> g(mu);
      port = p;
      cv.notify_all();
    });
  });
  {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return port != -2; });
  }
  ASSERT_GT(port, 0);
  // 8 callers, half on the socket, half on the port; every key asked twice (by two callers), so thaws coalesce.
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back(key_of(i));  // the fixture's connection is not for threads
  std::atomic<int> thawed{0}, hot{0}, bad{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&, c] {
      int fd = c % 2 ? connect_tcp(port) : connect_unix(opts.socket_path);
      if (fd < 0) {
        ++bad;
        return;
      }
      for (int i = (c / 2) * 10; i < (c / 2) * 10 + 10; ++i) {
        std::string r = ask(fd, "THAW " + keys[i]);
        if (r.rfind("OK thawed ", 0) == 0) ++thawed;
        else if (r.rfind("OK hot ", 0) == 0) ++hot;
        else ++bad;
      }
      ::close(fd);
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(thawed.load(), 40);
  EXPECT_EQ(hot.load(), 40);
  EXPECT_EQ(digest(), before);

  int fd = connect_unix(opts.socket_path);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ask(fd, "PING"), "OK pong");
  std::string missing = "00000000-0000-0000-0000-000000000000";
  std::string r = ask(fd, "THAW " + missing);
  EXPECT_EQ(r.rfind("ERR 9 ", 0), 0u) << r;
  EXPECT_NE(r.find("players/" + missing), std::string::npos) << r;
  EXPECT_EQ(ask(fd, "FREEZE everything").rfind("ERR 2 ", 0), 0u);
  EXPECT_EQ(ask(fd, "THAW " + keys[3]).rfind("OK hot ", 0), 0u);  // the connection survives errors
  // The key travels into SQL as a literal (one round trip fewer): a key that tries to end it is only a bad key.
  std::string tiers = scalar("SELECT string_agg(tier, ',' ORDER BY id) FROM players");
  r = ask(fd, "THAW " + keys[4] + "'::uuid; UPDATE players SET tier = 'archived'; COMMIT; SELECT '");
  EXPECT_EQ(r.rfind("ERR ", 0), 0u) << r;
  EXPECT_NE(r.find("invalid input syntax for type uuid"), std::string::npos) << r;
  r = ask(fd, std::string("THAW ") + keys[4] + std::string(1, '\0') + "x");
  EXPECT_EQ(r.rfind("ERR 2 ", 0), 0u) << r;
  EXPECT_NE(r.find("NUL"), std::string::npos) << r;
  EXPECT_EQ(scalar("SELECT string_agg(tier, ',' ORDER BY id) FROM players"), tiers);
  EXPECT_EQ(digest(), before);
  EXPECT_EQ(ask(fd, "THAW " + keys[4]).rfind("OK hot ", 0), 0u);
  ::close(fd);
  stop = true;
  server.join();
  EXPECT_FALSE(fs::exists(opts.socket_path));
}

}  // namespace
