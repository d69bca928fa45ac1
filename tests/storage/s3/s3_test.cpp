// Hermetic tests of the S3 driver's pieces: settings resolution, error classification (the exact one-line
// messages), part sizing, XML parsing and the bandwidth limiter. No server: the tests against one (moto) are the
// *_moto_test.cpp files beside this one.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "common/error.hpp"
#include "storage/s3/s3_client.hpp"
#include "storage/s3/s3_config.hpp"
#include "storage/memory/memory_storage.hpp"
#include "storage/s3/s3_storage.hpp"
#include "common/config.hpp"
#include "storage/s3/credentials.hpp"
#include "storage/throttle/throttle_storage.hpp"

namespace strata {
namespace {

class S3ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
                          "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SHARED_CREDENTIALS_FILE",
                          "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"}) {
      ::unsetenv(v);
    }
    // Hermetic: no ~/.aws/config of the machine, and never the link-local metadata service.
    ::setenv("AWS_CONFIG_FILE", (::testing::TempDir() + "/strata-s3-no-config").c_str(), 1);
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ::setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
  }
};

TEST_F(S3ConfigTest, LocationEnvironmentAndDefaults) {
  ::setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
  auto c = s3::resolve_s3_config("s3://my-bucket/some/prefix/", {});
  EXPECT_EQ(c.bucket, "my-bucket");
  EXPECT_EQ(c.prefix, "some/prefix/");
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.host, "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c.scheme, "https");
  EXPECT_EQ(c.addressing, s3::Addressing::kVirtualHosted);
  EXPECT_EQ(c.request_host(), "my-bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c.request_path("some/prefix/k"), "/some/prefix/k");
  EXPECT_EQ(c.describe(), "s3://my-bucket/some/prefix");
  EXPECT_EQ(c.credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(c.credentials_source, "environment (AWS_ACCESS_KEY_ID)");
}

// The driver, not the CLI, says how large a data object should be; a decorator passes its answer on.
TEST_F(S3ConfigTest, DataObjectsOfEightMiBOneStoreEach) {
  auto s3 = open_storage("s3://my-bucket/p", {});
  EXPECT_EQ(s3->object_size_hint(), 8u << 20);
  StorageLimits limits;
  limits.max_requests = 8;
  EXPECT_EQ(apply_limits(open_storage("s3://my-bucket/p", {}), limits)->object_size_hint(), 8u << 20);
}

TEST_F(S3ConfigTest, PrecedenceFileThenEnvThenLocation) {
  ::setenv("AWS_ENDPOINT_URL", "http://10.0.0.1:9000", 1);
  auto c = s3::resolve_s3_config("s3://b1b/p", {{"endpoint", "http://file:1"}, {"region", "file-region"}, {"storage_class", "STANDARD_IA"}});
  EXPECT_EQ(c.host, "10.0.0.1:9000");  // environment beats the file
  EXPECT_EQ(c.scheme, "http");
  EXPECT_EQ(c.region, "file-region");
  EXPECT_EQ(c.storage_class, "STANDARD_IA");
  EXPECT_EQ(c.addressing, s3::Addressing::kPath);  // not AWS: path-style
  EXPECT_EQ(c.request_path("p/k"), "/b1b/p/k");
  ::setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9999", 1);  // the S3-specific variable wins
  c = s3::resolve_s3_config("s3://b1b/p?region=loc-region&addressing=virtual&part_size=8MiB", {});
  EXPECT_EQ(c.host, "127.0.0.1:9999");
  EXPECT_EQ(c.region, "loc-region");
  EXPECT_EQ(c.addressing, s3::Addressing::kVirtualHosted);
  EXPECT_EQ(c.part_size, 8u << 20);
  EXPECT_EQ(c.describe(), "s3://b1b/p");  // options never show in messages
}

TEST_F(S3ConfigTest, CredentialsFromProfileAndConfigFile) {
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  std::string path = ::testing::TempDir() + "/strata-s3-credentials";
  std::ofstream(path) << "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = sdef\n\n"
                         "[backup]\naws_access_key_id=AKIDBACKUP\naws_secret_access_key=sbackup\naws_session_token=tok\n";
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", path.c_str(), 1);
  auto c = s3::resolve_s3_config("s3://bucket", {});
  EXPECT_EQ(c.credentials.access_key_id, "AKIDDEF");
  ::setenv("AWS_PROFILE", "backup", 1);
  c = s3::resolve_s3_config("s3://bucket", {});
  EXPECT_EQ(c.credentials.access_key_id, "AKIDBACKUP");
  EXPECT_EQ(c.credentials.session_token, "tok");
  EXPECT_EQ(c.credentials_source, "profile 'backup' in " + path);
  c = s3::resolve_s3_config("s3://bucket", {{"access_key_id", "AKIDFILE"}, {"secret_access_key", "sfile"}});
  EXPECT_EQ(c.credentials.access_key_id, "AKIDFILE");
  ::setenv("AWS_PROFILE", "nope", 1);
  try {
    s3::resolve_s3_config("s3://bucket/x", {});
    FAIL() << "no credentials must fail";
  } catch (const StrataError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_EQ(std::string(e.what()), "no S3 credentials for s3://bucket/x: profile 'nope' has no credentials in " + path + " or " +
                                         ::testing::TempDir() + "/strata-s3-no-config; add them, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
}

TEST_F(S3ConfigTest, NoCredentialsAnywhereIsOneLine) {
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (::testing::TempDir() + "/strata-s3-no-credentials").c_str(), 1);
  try {
    s3::resolve_s3_config("s3://bucket/x", {});
    FAIL() << "no credentials must fail";
  } catch (const StrataError& e) {
    EXPECT_EQ(std::string(e.what()), "no S3 credentials for s3://bucket/x: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add profile "
                                     "'default' to " + ::testing::TempDir() + "/strata-s3-no-credentials, or set access_key_id/"
                                     "secret_access_key under [s3] in the strata config (last tried: EC2 instance metadata disabled by "
                                     "AWS_EC2_METADATA_DISABLED)");
  }
}

TEST(S3Credentials, Iso8601) {
  EXPECT_EQ(s3::parse_iso8601("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(s3::parse_iso8601("2026-11-21T09:55:08.117699Z"), 1795254908);
  EXPECT_EQ(s3::parse_iso8601("2026-11-21T10:55:08+01:00"), 1795254908);
  EXPECT_EQ(s3::parse_iso8601("tomorrow"), -1);
}

TEST(S3Credentials, CommandLineSplitLikeAShellWithoutOne) {
  using V = std::vector<std::string>;
  EXPECT_EQ(s3::split_command("aws configure export-credentials --profile x --format process"),
            (V{"aws", "configure", "export-credentials", "--profile", "x", "--format", "process"}));
  EXPECT_EQ(s3::split_command(R"(/opt/my tool\ x "a b" 'c "d"' "e\"f" $(rm -rf /) ; |)"),
            (V{"/opt/my", "tool x", "a b", "c \"d\"", "e\"f", "$(rm", "-rf", "/)", ";", "|"}));
  EXPECT_EQ(s3::split_command("''"), (V{""}));
  EXPECT_THROW(s3::split_command("cmd 'open"), StrataError);
}

TEST(S3Credentials, JsonDocuments) {
  auto t = s3::parse_credentials_json(R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","Expiration":"1970-01-01T01:00:00Z"})", "p");
  EXPECT_EQ(t.credentials.access_key_id, "A");
  EXPECT_EQ(t.credentials.session_token, "T");
  EXPECT_EQ(t.expiration, 3600);
  t = s3::parse_credentials_json(R"({"AccessKeyId":"A","SecretAccessKey":"S","Token":"T2"})", "p");  // container/IMDS spelling
  EXPECT_EQ(t.credentials.session_token, "T2");
  EXPECT_EQ(t.expiration, 0);
  for (const char* bad : {"not json", R"({"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"})", R"({"Code":"Failure","Message":"m"})",
                          R"({"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"soon"})"}) {
    EXPECT_THROW(s3::parse_credentials_json(bad, "p"), StrataError) << bad;
  }
}

TEST(S3Credentials, ContainerHostsAllowedOverPlainHttp) {
  for (const char* ok : {"http://127.0.0.1:51679/creds", "http://127.1.2.3/x", "http://localhost/x", "http://[::1]:80/x",
                         "http://169.254.170.2/v2/credentials/id", "http://169.254.170.23/v1/credentials", "https://creds.example.com/x"}) {
    EXPECT_TRUE(s3::container_host_allowed(ok)) << ok;
  }
  for (const char* bad : {"http://10.0.0.1/x", "http://169.254.169.254/x", "http://127.0.0.1.evil.com/x", "ftp://127.0.0.1/x", "http://localhost.evil/x"}) {
    EXPECT_FALSE(s3::container_host_allowed(bad)) << bad;
  }
}

class CountingProvider final : public s3::CredentialProvider {
 public:
  CountingProvider(int64_t* clock, int64_t lifetime, bool* broken) : clock_(clock), lifetime_(lifetime), broken_(broken) {}
  std::string name() const override { return "counting"; }
  s3::TimedCredentials fetch() override {
    if (*broken_) fail(ErrorCode::kStorage, "counting provider is down");
    ++n_;
    return {{"AKID" + std::to_string(n_), "s", "t"}, lifetime_ ? *clock_ + lifetime_ : 0};
  }

 private:
  int64_t* clock_;
  int64_t lifetime_;
  bool* broken_;
  int n_ = 0;
};

TEST(S3Credentials, CacheRefreshesAheadOfExpiryAndRidesOutAFailedRefresh) {
  int64_t clock = 1000000;
  bool broken = false;
  s3::CredentialCache cache(std::make_unique<CountingProvider>(&clock, 3600, &broken), [&] { return clock; });
  EXPECT_EQ(cache.get().access_key_id, "AKID1");
  clock += 3600 - s3::CredentialCache::kRefreshAheadSeconds - 1;
  EXPECT_EQ(cache.get().access_key_id, "AKID1");  // not yet
  clock += 2;
  EXPECT_EQ(cache.get().access_key_id, "AKID2");  // inside the window: refreshed before expiry
  clock += 3600 - 60;
  broken = true;
  EXPECT_EQ(cache.get().access_key_id, "AKID2");  // a failed early refresh keeps the still-valid credentials
  clock += 61;
  EXPECT_THROW(cache.get(), StrataError);         // expired and no refresh: an error, not a doomed request
  broken = false;
  EXPECT_EQ(cache.get().access_key_id, "AKID3");
  EXPECT_TRUE(cache.force_refresh());
  EXPECT_EQ(cache.get().access_key_id, "AKID4");
  EXPECT_EQ(cache.fetches(), 4u);

  s3::CredentialCache fixed(std::make_unique<CountingProvider>(&clock, 0, &broken), [&] { return clock; });
  EXPECT_EQ(fixed.get().access_key_id, "AKID1");
  clock += 100 * 86400;
  EXPECT_EQ(fixed.get().access_key_id, "AKID1");
  EXPECT_FALSE(fixed.force_refresh());
}

TEST_F(S3ConfigTest, RefusesSecretsInLocationAndBadOptions) {
  EXPECT_THROW(s3::resolve_s3_config("s3://bucket/p?secret_access_key=x", {}), StrataError);
  EXPECT_THROW(s3::resolve_s3_config("s3://bucket/p?part_size=1MiB", {}), StrataError);
  EXPECT_THROW(s3::resolve_s3_config("s3://bucket/p?colour=blue", {}), StrataError);
  EXPECT_THROW(s3::resolve_s3_config("s3:///p", {}), StrataError);
  EXPECT_THROW(s3::resolve_s3_config("s3://bucket/p?endpoint=ftp://x", {}), StrataError);
}

s3::S3Config test_config() {
  s3::S3Config c;
  c.bucket = "bkt";
  c.prefix = "repo/";
  c.host = "127.0.0.1:9000";
  c.credentials_source = "environment (AWS_ACCESS_KEY_ID)";
  return c;
}

std::string err_xml(const std::string& code) {
  return "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>m &amp; n</Message></Error>";
}

TEST(S3Classify, RetryableAndFinal) {
  auto c = test_config();
  s3::Call call;
  call.method = "PUT";
  call.key = "repo/data/x";
  call.what = "upload of s3://bkt/repo/data/x";
  EXPECT_EQ(s3::classify(c, call, 0, "", 200, "").verdict, s3::Verdict::kOk);
  for (long status : {500L, 502L, 503L, 504L, 429L}) {
    EXPECT_EQ(s3::classify(c, call, 0, "", status, "").verdict, s3::Verdict::kRetry) << status;
  }
  auto slow = s3::classify(c, call, 0, "", 503, err_xml("SlowDown"));
  EXPECT_EQ(slow.message, "upload of s3://bkt/repo/data/x failed: HTTP 503 SlowDown: m & n");
  auto reset = s3::classify(c, call, 56, "Connection reset by peer", 0, "");
  EXPECT_EQ(reset.verdict, s3::Verdict::kRetry);
  EXPECT_EQ(reset.message, "upload of s3://bkt/repo/data/x: connection to 127.0.0.1:9000 failed (Connection reset by peer)");
  auto timeout = s3::classify(c, call, 28, "Operation timed out after 1000 milliseconds", 0, "");
  EXPECT_EQ(timeout.verdict, s3::Verdict::kRetry);
  EXPECT_EQ(timeout.message, "upload of s3://bkt/repo/data/x timed out talking to 127.0.0.1:9000 (Operation timed out after 1000 milliseconds)");
  EXPECT_EQ(s3::classify(c, call, 0, "", 400, err_xml("RequestTimeout")).verdict, s3::Verdict::kRetry);
}

TEST(S3Classify, OneLineCauses) {
  auto c = test_config();
  s3::Call call;
  call.method = "GET";
  call.key = "repo/config";
  auto msg = [&](long status, const std::string& code) {
    auto o = s3::classify(c, call, 0, "", status, err_xml(code));
    EXPECT_EQ(o.verdict, s3::Verdict::kFail) << code;
    return o.message;
  };
  EXPECT_EQ(msg(403, "InvalidAccessKeyId"),
            "S3 at 127.0.0.1:9000 does not know the access key id from environment (AWS_ACCESS_KEY_ID) (InvalidAccessKeyId); check the credentials");
  EXPECT_EQ(msg(403, "SignatureDoesNotMatch"),
            "S3 at 127.0.0.1:9000 rejected the request signature (SignatureDoesNotMatch): the secret access key from environment (AWS_ACCESS_KEY_ID) is wrong");
  EXPECT_EQ(msg(403, "RequestTimeTooSkewed"),
            "this host's clock differs from the S3 server's by more than 15 minutes (RequestTimeTooSkewed); fix the clock (NTP) and retry");
  EXPECT_EQ(msg(403, "AccessDenied"),
            "access denied to s3://bkt/repo/config (AccessDenied); check that the credentials from environment (AWS_ACCESS_KEY_ID) may use this bucket");
  EXPECT_EQ(msg(404, "NoSuchBucket"), "bucket bkt does not exist at 127.0.0.1:9000 (NoSuchBucket); create it or fix the repository location");
  auto missing = s3::classify(c, call, 0, "", 404, err_xml("NoSuchKey"));
  EXPECT_EQ(missing.code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.message, "object repo/config is missing from s3://bkt/repo");
  EXPECT_EQ(msg(301, "PermanentRedirect"),
            "bucket bkt is not in region us-east-1 (PermanentRedirect); set AWS_REGION or the s3 region option to the bucket's region");
  call.method = "PUT";
  call.headers = {{"If-None-Match", "*"}};
  EXPECT_EQ(msg(501, "NotImplemented"),
            "the S3 service at 127.0.0.1:9000 does not support conditional writes (If-None-Match: HTTP 501 NotImplemented: m & n); "
            "set the s3 option if_none_match=false to use the documented fallback (docs/S3.md)");
  call.accept = {404};
  EXPECT_EQ(s3::classify(c, call, 0, "", 404, "").verdict, s3::Verdict::kOk);
}

TEST(S3Parts, SizeGrowsToStayUnderTenThousandParts) {
  const uint64_t base = s3::S3Config{}.part_size;  // the default
  EXPECT_EQ(s3::part_size_for(base, 1), base);
  EXPECT_EQ(s3::part_size_for(base, 1000), base);
  EXPECT_EQ(s3::part_size_for(base, 1001), 2 * base);
  EXPECT_EQ(s3::part_size_for(base, 10000), std::min<uint64_t>(base << 9, 5ull << 30));
  uint64_t total = 0;
  for (uint64_t n = 1; n <= 10000; ++n) total += s3::part_size_for(base, n);
  EXPECT_GE(total, 5ull << 40);  // S3's 5 TiB object limit comes first
  EXPECT_EQ(s3::part_size_for(5ull << 30, 5000), 5ull << 30);  // never above S3's 5 GiB part limit
}

TEST(S3Xml, ValuesAndEntities) {
  std::string xml = "<R><Key>a&lt;b&gt;&amp;&#233;</Key><Key>second</Key></R>";
  size_t pos = 0;
  EXPECT_EQ(s3::xml_value(xml, "Key", &pos), "a<b>&\xC3\xA9");
  EXPECT_EQ(s3::xml_value(xml, "Key", &pos), "second");
  EXPECT_EQ(s3::xml_value(xml, "Missing"), "");
  EXPECT_EQ(s3::md5_base64(as_bytes("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(s3::crc32(as_bytes("123456789")), 0xCBF43926u);  // the standard check value
  EXPECT_EQ(s3::crc32(as_bytes("")), 0u);
  std::string long_text(1000, 'x');
  EXPECT_EQ(s3::crc32_base64(as_bytes(long_text)), s3::crc32_base64(as_bytes(std::string(long_text))));
}

TEST(S3Xml, DeleteObjectsBodyAndFailures) {
  EXPECT_EQ(s3::delete_objects_xml({"p/a&b", "p/<c>'\""}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>"
            "<Object><Key>p/a&amp;b</Key></Object><Object><Key>p/&lt;c&gt;&apos;&quot;</Key></Object></Delete>");
  EXPECT_EQ(s3::xml_value(s3::delete_objects_xml({"x&<y"}), "Key"), "x&<y");  // what the server will read
  // A quiet answer lists only what failed; Deleted entries (there are none in quiet mode) are not failures.
  std::string answer =
      "<?xml version=\"1.0\"?><DeleteResult><Deleted><Key>p/ok</Key></Deleted>"
      "<Error><Key>p/a&amp;b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
      "<Error><Key>p/c</Key><Code>InternalError</Code></Error></DeleteResult>";
  auto f = s3::delete_failures(answer);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].key, "p/a&b");
  EXPECT_EQ(f[0].code, "AccessDenied");
  EXPECT_EQ(f[0].message, "Access Denied");
  EXPECT_EQ(f[1].key, "p/c");
  EXPECT_EQ(f[1].code, "InternalError");
  EXPECT_EQ(f[1].message, "");
  EXPECT_TRUE(s3::delete_failures("<DeleteResult></DeleteResult>").empty());
}

TEST(Throttle, RateLimiterHoldsTheRate) {
  RateLimiter r(8u << 20, std::chrono::milliseconds(100));  // 8 MiB/s
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 32; ++i) r.consume(128u << 10);  // 4 MiB: 0.5 s minus the 0.1 s burst
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(secs, 0.38);
  EXPECT_LT(secs, 2.0);
}

TEST(Throttle, ParseRate) {
  EXPECT_EQ(parse_rate("50MiB/s"), 50u << 20);
  EXPECT_EQ(parse_rate("1048576"), 1u << 20);
  EXPECT_THROW(parse_rate("fast"), StrataError);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST(Throttle, DecoratorCapsUploadAndDownload) {
  StorageLimits limits;
  limits.upload_bytes_per_second = 8u << 20;
  limits.download_bytes_per_second = 8u << 20;
  limits.max_requests = 2;
  auto s = apply_limits(std::make_unique<MemoryStorage>(), limits);
  Bytes piece(256u << 10, 7);
  auto t0 = std::chrono::steady_clock::now();
  auto w = s->open_write("k");
  for (int i = 0; i < 16; ++i) w->write(piece);  // 4 MiB at 8 MiB/s
  w->commit();
  double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(up, 0.2);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(s->get("k", uint64_t(i) << 18, 256u << 10), piece);
  double down = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(down, 0.2);
  EXPECT_EQ(s->stat("k")->size, 4u << 20);
  EXPECT_EQ(apply_limits(std::make_unique<MemoryStorage>(), StorageLimits{})->describe(), "mem://") << "no limits, no decorator";
}

}  // namespace
}  // namespace strata
