// The credential providers beyond static keys, each against a real server on loopback: a small HTTP server in
// this file stands in for the EC2 instance metadata service and the container credentials agent (the S3 requests
// go to moto); credential_process runs real programs; web identity goes to moto's STS.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <sstream>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "storage/s3/credentials.hpp"
#include "storage/s3/s3_config.hpp"
#include "storage/storage.hpp"
#include "support/moto_server.hpp"

namespace strata {
namespace {

using test::MotoServer;

struct HttpRequest {
  std::string method, path, body;
  std::map<std::string, std::string> headers;  // lower-case names
};
struct HttpReply {
  int status = 200;
  std::string body;
};

// One request per connection, answered by `handler` on the server's thread; every request is recorded.
class TinyHttpServer {
 public:
  explicit TinyHttpServer(std::function<HttpReply(const HttpRequest&)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t head_end = std::string::npos, need = 0;
      for (;;) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
          std::string lower = in.substr(0, head_end);
          for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          auto cl = lower.find("content-length:");
          need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
        }
        if (head_end != std::string::npos && in.size() >= head_end + 4 + need) break;
      }
      HttpRequest r;
      std::istringstream hs(in.substr(0, head_end));
      std::string line;
      std::getline(hs, line);
      std::istringstream rl(line);
      rl >> r.method >> r.path;
      while (std::getline(hs, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string k = line.substr(0, colon);
        for (char& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[k] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      if (head_end != std::string::npos) r.body = in.substr(head_end + 4);
      HttpReply reply = handler_(r);
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(r);
      }
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                        "\r\nConnection: close\r\n\r\n" + reply.body;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::function<HttpReply(const HttpRequest&)> handler_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

std::string iso8601(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

int64_t now() { return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string creds_json(const std::string& id, int64_t expires_at, const char* token_field = "Token") {
  return R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")" + id + R"(","SecretAccessKey":"secret-)" + id + R"(",")" +
         token_field + R"(":"token-)" + id + R"(","Expiration":")" + iso8601(expires_at) + "\"}";
}

class S3CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          "AWS_ENDPOINT_URL_STS"}) {
      ::unsetenv(v);
    }
    for (const auto& [k, v] : moto().env()) ::setenv(k.c_str(), v.c_str(), 1);
    ::unsetenv("AWS_ACCESS_KEY_ID");  // each test brings its own credentials
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    dir_ = ::testing::TempDir() + "/strata-creds-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ::mkdir(dir_.c_str(), 0700);
    ::setenv("HOME", dir_.c_str(), 1);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", (dir_ + "/credentials").c_str(), 1);
    ::setenv("AWS_CONFIG_FILE", (dir_ + "/config").c_str(), 1);
    // Never the real link-local metadata address from a test: only loopback traffic.
    ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    moto().create_bucket(kBucket);
  }
  static MotoServer& moto() { return MotoServer::shared(); }
  std::string location() const {
    return "s3://" + std::string(kBucket) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  // A round trip through moto with whatever the chain resolved: the credentials reach real signed requests.
  void round_trip() {
    auto s = open_storage(location());
    s->put("probe", as_bytes("hello"), PutMode::kCreateOnly);
    Bytes got = s->get("probe");
    EXPECT_EQ(std::string(got.begin(), got.end()), "hello");
  }
  std::string write_script(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), 0700);
    return p;
  }
  static constexpr const char* kBucket = "strata-creds-tests";
  std::string dir_;
};

TEST_F(S3CredentialsTest, InstanceMetadataV2TokenRoleAndRefresh) {
  std::atomic<int> served{0};
  TinyHttpServer imds([&](const HttpRequest& r) -> HttpReply {
    if (r.method == "PUT" && r.path == "/latest/api/token") {
      if (r.headers.count("x-aws-ec2-metadata-token-ttl-seconds") == 0) return {400, ""};
      return {200, "tok-123"};
    }
    if (r.headers.count("x-aws-ec2-metadata-token") == 0 || r.headers.at("x-aws-ec2-metadata-token") != "tok-123") return {401, ""};
    if (r.path == "/latest/meta-data/iam/security-credentials/") return {200, "backup-role"};
    if (r.path == "/latest/meta-data/iam/security-credentials/backup-role") {
      // The second credentials are already inside the refresh window; all others are good for six hours.
      int n = ++served;
      return {200, creds_json("AKIDIMDS" + std::to_string(n), now() + (n == 2 ? 120 : 6 * 3600))};
    }
    return {404, ""};
  });
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", (imds.url() + "/").c_str(), 1);
  auto c = s3::resolve_s3_config(location(), {});
  EXPECT_EQ(c.credentials_source, "EC2 instance metadata (IMDSv2) at " + imds.url());
  EXPECT_EQ(c.credentials.access_key_id, "AKIDIMDS1");
  EXPECT_EQ(c.credentials.session_token, "token-AKIDIMDS1");
  auto reqs = imds.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method + " " + reqs[0].path, "PUT /latest/api/token");
  EXPECT_EQ(reqs[1].method + " " + reqs[1].path, "GET /latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(reqs[2].method + " " + reqs[2].path, "GET /latest/meta-data/iam/security-credentials/backup-role");
  EXPECT_EQ(c.credential_cache->get().access_key_id, "AKIDIMDS1");  // valid for hours: no new request
  EXPECT_EQ(served.load(), 1);
  // As after an ExpiredToken answer; those have two minutes left, inside the refresh window, so the next use
  // fetches fresh ones again, and later uses keep them.
  EXPECT_TRUE(c.credential_cache->force_refresh());
  EXPECT_EQ(c.credential_cache->get().access_key_id, "AKIDIMDS3");
  EXPECT_EQ(c.credential_cache->get().access_key_id, "AKIDIMDS3");
  EXPECT_EQ(served.load(), 3);
  round_trip();
}

TEST_F(S3CredentialsTest, InstanceMetadataDisabledOrAbsentIsOneLine) {
  std::atomic<int> hits{0};
  TinyHttpServer imds([&](const HttpRequest&) -> HttpReply {
    ++hits;
    return {200, "x"};
  });
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url().c_str(), 1);
  ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  try {
    s3::resolve_s3_config(location(), {});
    FAIL() << "no credentials must fail";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("last tried: EC2 instance metadata disabled by AWS_EC2_METADATA_DISABLED"), std::string::npos) << e.what();
  }
  EXPECT_EQ(hits.load(), 0);
  // Nothing listening (a host that is not on EC2): a fast, named failure.
  ::unsetenv("AWS_EC2_METADATA_DISABLED");
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
  try {
    s3::resolve_s3_config(location(), {});
    FAIL() << "no credentials must fail";
  } catch (const StrataError& e) {
    std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos);
    EXPECT_NE(m.find("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"), std::string::npos) << m;
    EXPECT_NE(m.find("cannot reach EC2 instance metadata (IMDSv2) at http://127.0.0.1:1"), std::string::npos) << m;
  }
}

TEST_F(S3CredentialsTest, InstanceWithoutRoleSaysSo) {
  TinyHttpServer imds([&](const HttpRequest& r) -> HttpReply {
    if (r.method == "PUT") return {200, "tok"};
    return {404, ""};
  });
  ::setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url().c_str(), 1);
  try {
    s3::resolve_s3_config(location(), {});
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("this EC2 instance has no IAM role"), std::string::npos) << e.what();
  }
}

TEST_F(S3CredentialsTest, ContainerFullUriWithAuthorizationToken) {
  TinyHttpServer agent([&](const HttpRequest& r) -> HttpReply {
    auto auth = r.headers.find("authorization");
    if (r.path != "/v2/credentials/task" || auth == r.headers.end() || auth->second != "auth-secret") return {401, ""};
    return {200, creds_json("AKIDECS", now() + 3600)};
  });
  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", (agent.url() + "/v2/credentials/task").c_str(), 1);
  ::setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-secret", 1);
  auto c = s3::resolve_s3_config(location(), {});
  EXPECT_EQ(c.credentials.access_key_id, "AKIDECS");
  EXPECT_EQ(c.credentials.session_token, "token-AKIDECS");
  EXPECT_EQ(c.credentials_source, "the container credentials endpoint " + agent.url() + "/v2/credentials/task");
  round_trip();

  // The token file wins over the variable (EKS Pod Identity rotates it).
  std::ofstream(dir_ + "/token") << "wrong-token\n";
  ::setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir_ + "/token").c_str(), 1);
  try {
    s3::resolve_s3_config(location(), {});
    FAIL();
  } catch (const StrataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("answered HTTP 401; check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)"), std::string::npos) << m;
    EXPECT_EQ(m.find("wrong-token"), std::string::npos) << "the token is a secret";
  }
  ::unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

  // Plain HTTP only to loopback or the container agents' addresses: nothing is sent elsewhere.
  ::setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds", 1);
  size_t before = agent.requests().size();
  try {
    s3::resolve_s3_config(location(), {});
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_NE(std::string(e.what()).find("is neither https nor a loopback/container-agent address"), std::string::npos) << e.what();
  }
  EXPECT_EQ(agent.requests().size(), before);
}

TEST_F(S3CredentialsTest, CredentialProcessWithoutShell) {
  std::string marker = dir_ + "/shell-ran";
  std::string script = write_script("creds.sh", "#!/bin/sh\n"
                                                "printf '{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"proc-secret\", "
                                                "\"SessionToken\": \"proc-token\", \"Expiration\": \"%s\"}' \"$1\" \"$2\"\n");
  std::ofstream(dir_ + "/config") << "[profile sso-user]\nregion = us-east-1\ncredential_process = " << script
                                  << " \"AKID PROC\" " << iso8601(now() + 3600) << " '$(touch " << marker << ")'\n";
  ::setenv("AWS_PROFILE", "sso-user", 1);
  auto c = s3::resolve_s3_config(location(), {});
  EXPECT_EQ(c.credentials.access_key_id, "AKID PROC");  // a quoted argument arrives as one word
  EXPECT_EQ(c.credentials.session_token, "proc-token");
  EXPECT_EQ(c.credentials_source, "credential_process of profile 'sso-user' in " + dir_ + "/config");
  EXPECT_TRUE(c.credential_cache->refreshable());
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "no shell may interpret the command line";
  round_trip();

  // Failures name the provider and quote stderr's last line; stdout (which may hold a secret) never shows.
  std::string bad = write_script("bad.sh", "#!/bin/sh\necho '{\"SecretAccessKey\": \"leaked-secret\"}'\necho 'session expired' >&2\nexit 3\n");
  std::ofstream(dir_ + "/config") << "[profile sso-user]\ncredential_process = " << bad << "\n";
  try {
    s3::resolve_s3_config(location(), {});
    FAIL();
  } catch (const StrataError& e) {
    std::string m = e.what();
    EXPECT_EQ(m, "credential_process of profile 'sso-user' in " + dir_ + "/config exited with status 3 (session expired); run it by hand "
                 "to see why (an SSO session may need 'aws sso login')");
  }
  std::string half = write_script("half.sh", "#!/bin/sh\necho '{\"Version\": 1, \"SecretAccessKey\": \"leaked-secret\"}'\n");
  std::ofstream(dir_ + "/config") << "[profile sso-user]\ncredential_process = " << half << "\n";
  try {
    s3::resolve_s3_config(location(), {});
    FAIL();
  } catch (const StrataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("returned no AccessKeyId/SecretAccessKey"), std::string::npos) << m;
    EXPECT_EQ(m.find("leaked-secret"), std::string::npos);
  }
}

TEST_F(S3CredentialsTest, ProfileOrderAndSsoHint) {
  std::string script = write_script("creds.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"s\"}'\n");
  // Static keys of the credentials file come before credential_process, which comes before the config file's keys.
  std::ofstream(dir_ + "/credentials") << "[both]\naws_access_key_id = AKIDCREDFILE\naws_secret_access_key = s1\n";
  std::ofstream(dir_ + "/config") << "[profile both]\ncredential_process = " << script << "\n"
                                  << "[profile proc]\ncredential_process = " << script << "\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = s2\n"
                                  << "[profile keys]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = s2\n"
                                  << "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Backup\n";
  ::setenv("AWS_PROFILE", "both", 1);
  EXPECT_EQ(s3::resolve_s3_config(location(), {}).credentials.access_key_id, "AKIDCREDFILE");
  ::setenv("AWS_PROFILE", "proc", 1);
  auto c = s3::resolve_s3_config(location(), {});
  EXPECT_EQ(c.credentials.access_key_id, "AKIDPROC");
  EXPECT_FALSE(c.credential_cache->refreshable()) << "no Expiration: the process is not run again";
  ::setenv("AWS_PROFILE", "keys", 1);
  EXPECT_EQ(s3::resolve_s3_config(location(), {}).credentials_source, "profile 'keys' in " + dir_ + "/config");
  ::setenv("AWS_PROFILE", "sso", 1);
  try {
    s3::resolve_s3_config(location(), {});
    FAIL();
  } catch (const StrataError& e) {
    EXPECT_EQ(std::string(e.what()), "profile 'sso' uses SSO, which strata does not resolve itself; add 'credential_process = aws configure "
                                     "export-credentials --profile sso --format process' to a profile and use that one");
  }
}

TEST_F(S3CredentialsTest, WebIdentityThroughMotoSts) {
  std::ofstream(dir_ + "/oidc-token") << "eyJhbGciOiJSUzI1NiJ9.e30.sig\n";
  ::setenv("AWS_WEB_IDENTITY_TOKEN_FILE", (dir_ + "/oidc-token").c_str(), 1);
  ::setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/backup", 1);
  ::setenv("AWS_ROLE_SESSION_NAME", "strata-test", 1);
  ::setenv("AWS_ENDPOINT_URL_STS", moto().endpoint().c_str(), 1);
  auto c = s3::resolve_s3_config(location(), {});
  EXPECT_EQ(c.credentials_source, "web identity (role arn:aws:iam::123456789012:role/backup via " + moto().endpoint() + ")");
  EXPECT_EQ(c.credentials.access_key_id.substr(0, 4), "ASIA");  // STS hands out temporary keys
  EXPECT_FALSE(c.credentials.session_token.empty());
  EXPECT_TRUE(c.credential_cache->refreshable());
  round_trip();
  ::setenv("AWS_WEB_IDENTITY_TOKEN_FILE", (dir_ + "/missing").c_str(), 1);
  EXPECT_THROW(s3::resolve_s3_config(location(), {}), StrataError);
}

}  // namespace
}  // namespace strata
