#pragma once
// A real S3 server on loopback for tests: moto's `moto_server` (on the machine image; scripts/install-deps.sh
// checks for it), started on a free 127.0.0.1 port in a temp dir, stopped at teardown and killed with the test process
// if it dies first (support/child_process.hpp).
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "storage/s3/s3_client.hpp"

namespace strata::test {

class MotoServer {
 public:
  // Throws std::runtime_error with a one-line reason if moto_server is missing or does not answer.
  MotoServer();
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  // One server per test process, started on first use.
  static MotoServer& shared();

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // AWS_* variables that point strata (or awscli) at this server.
  std::map<std::string, std::string> env() const;
  // Creates the bucket if it does not exist yet.
  void create_bucket(const std::string& bucket);
  // A raw client on `bucket`, independent of the strata storage driver, for tests that inspect or damage objects.
  std::unique_ptr<s3::Client> client(const std::string& bucket, int port = 0) const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace strata::test
