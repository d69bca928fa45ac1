#pragma once
// A fault-injecting HTTP proxy on 127.0.0.1 for the S3 tests: it forwards each request to an upstream port on
// loopback, or instead answers 503 SlowDown, resets the connection, or stalls past the client's timeout.
// One request per client connection keeps the parsing trivial; it only ever connects to 127.0.0.1.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::test {

struct FaultSchedule {
  // Request n (1-based, counted over all requests) gets the first fault whose period divides n; 0 = never.
  unsigned error_503_every = 0;
  unsigned reset_every = 0;
  unsigned stall_every = 0;
  unsigned stall_ms = 0;
  // PUT n is forwarded and done upstream, but its answer is replaced by a reset: the client's retry then meets
  // its own object (a create-only PUT gets 412 for it).
  unsigned lose_put_answer_every = 0;
  // The first N POST ?uploads (CreateMultipartUpload) are done upstream but answered by a reset: the retry
  // creates another upload, and the first is orphaned unless the client cleans it up.
  unsigned lose_create_upload_answers = 0;
  bool fail_all = false;  // every request answered 503: faults that outlast any retry budget
  unsigned fail_after = 0;  // every request after the first fail_after answered 503 (0 = off)
};

class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port);
  ~FaultProxy();
  int port() const { return port_; }
  void set_schedule(const FaultSchedule& s);
  unsigned requests() const { return requests_.load(); }
  unsigned injected_503() const { return n503_.load(); }
  unsigned injected_resets() const { return nreset_.load(); }
  unsigned injected_stalls() const { return nstall_.load(); }
  unsigned lost_answers() const { return nlost_.load(); }

 private:
  void serve(int client);
  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  FaultSchedule schedule_;
  std::atomic<unsigned> requests_{0}, n503_{0}, nreset_{0}, nstall_{0}, puts_{0}, creates_{0}, nlost_{0};
};

}  // namespace strata::test
