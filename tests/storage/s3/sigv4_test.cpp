// The signer against AWS's published SigV4 vectors (tests/data/aws-sigv4-test-suite, from awslabs/aws-c-auth):
// every case, header and query-string signing, canonical request, string to sign and signature byte for byte.
#include "storage/s3/sigv4.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

// STRATA_TEST_DATA_DIR is absolute (tests/CMakeLists.txt): __FILE__ is relative to the build directory once ccache
// rewrites paths under its base_dir, and the tests run from another directory.
fs::path suite_dir() { return fs::path(STRATA_TEST_DATA_DIR) / "aws-sigv4-test-suite"; }

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  sigv4::Request request;
  sigv4::Credentials credentials;
  sigv4::Options options;
  bool sign_body = false;
};

// request.txt: "METHOD TARGET HTTP/1.1", header lines (a line starting with whitespace continues the previous
// value), a blank line, then the body.
Case load_case(const fs::path& dir) {
  Case c;
  std::string raw = slurp(dir / "request.txt");
  std::string head = raw, body;
  if (auto blank = raw.find("\n\n"); blank != std::string::npos) {
    head = raw.substr(0, blank);
    body = raw.substr(blank + 2);
  }
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  size_t sp = line.find(' ');
  size_t http = line.rfind(" HTTP/");
  c.request.method = line.substr(0, sp);
  std::string target = line.substr(sp + 1, http - sp - 1);
  size_t q = target.find('?');
  c.request.path = sigv4::uri_decode(target.substr(0, q));
  if (q != std::string::npos) c.request.query = sigv4::parse_query(target.substr(q + 1));
  while (std::getline(lines, line)) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      c.request.headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    c.request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  c.request.payload_sha256 = sigv4::sha256_hex(body.data(), body.size());

  auto j = nlohmann::json::parse(slurp(dir / "context.json"));
  c.credentials.access_key_id = j["credentials"]["access_key_id"];
  c.credentials.secret_access_key = j["credentials"]["secret_access_key"];
  c.credentials.session_token = j["credentials"].value("token", "");
  c.options.region = j["region"];
  c.options.service = j["service"];
  c.options.normalize_path = j["normalize"];
  c.options.expires_seconds = j["expiration_in_seconds"];
  c.sign_body = j["sign_body"];
  c.options.omit_session_token = j.value("omit_session_token", false);
  std::string ts = j["timestamp"];  // 2015-08-30T12:36:00Z
  c.options.amz_date = ts.substr(0, 4) + ts.substr(5, 2) + ts.substr(8, 2) + "T" + ts.substr(11, 2) + ts.substr(14, 2) +
                       ts.substr(17, 2) + "Z";
  return c;
}

std::vector<std::string> case_names() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(suite_dir())) {
    if (e.is_directory()) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SigV4Vectors : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4Vectors, HeaderSigningMatches) {
  fs::path dir = suite_dir() / GetParam();
  Case c = load_case(dir);
  c.options.add_content_sha256_header = c.sign_body;
  auto s = sigv4::sign(c.request, c.credentials, c.options);
  EXPECT_EQ(s.canonical_request, slurp(dir / "header-canonical-request.txt"));
  EXPECT_EQ(s.string_to_sign, slurp(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(s.signature, slurp(dir / "header-signature.txt"));
  std::string auth = s.added_headers.back().second;
  EXPECT_NE(slurp(dir / "header-signed-request.txt").find("Authorization:" + auth + "\n"), std::string::npos) << auth;
}

TEST_P(SigV4Vectors, QuerySigningMatches) {
  fs::path dir = suite_dir() / GetParam();
  Case c = load_case(dir);
  c.options.presign = true;
  auto s = sigv4::sign(c.request, c.credentials, c.options);
  EXPECT_EQ(s.canonical_request, slurp(dir / "query-canonical-request.txt"));
  EXPECT_EQ(s.string_to_sign, slurp(dir / "query-string-to-sign.txt"));
  EXPECT_EQ(s.signature, slurp(dir / "query-signature.txt"));
}

INSTANTIATE_TEST_SUITE_P(Aws, SigV4Vectors, ::testing::ValuesIn(case_names()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

TEST(SigV4, SuiteIsPresent) { EXPECT_GE(case_names().size(), 30u) << suite_dir(); }

// S3 specifics the generic vectors do not cover: a bare "?uploads" canonicalises to "uploads=", keys are encoded
// once with '/' kept, and the payload hash is sent as x-amz-content-sha256.
TEST(SigV4, S3BareSubresourceAndKeyEncoding) {
  sigv4::Request r;
  r.method = "POST";
  r.path = "/bucket/data/a b+c/000001";
  r.query = sigv4::parse_query("uploads");
  r.headers = {{"Host", "127.0.0.1:9000"}};
  r.payload_sha256 = "UNSIGNED-PAYLOAD";
  sigv4::Options o;
  o.region = "us-east-1";
  o.amz_date = "20240101T000000Z";
  auto s = sigv4::sign(r, {"AKID", "SECRET", ""}, o);
  EXPECT_EQ(s.canonical_request,
            "POST\n/bucket/data/a%20b%2Bc/000001\nuploads=\nhost:127.0.0.1:9000\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
            "x-amz-date:20240101T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD");
  EXPECT_EQ(compact_utc(1704067200), "20240101T000000Z");  // what the client puts in x-amz-date
}

}  // namespace
}  // namespace strata
