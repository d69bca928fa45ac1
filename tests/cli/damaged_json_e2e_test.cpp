// Damaged JSON in the repository (issue 13 item 21): error messages quote a bounded, escaped excerpt, never the
// raw bytes (kilobytes of them, terminal escapes, invalid UTF-8).
#include <gtest/gtest.h>

#include <filesystem>

#include <cstdint>

#include "support/cli_harness.hpp"

namespace strata::test {
namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void expect_bounded_printable(const std::string& err) {
  size_t line_start = 0;
  for (size_t i = 0; i < err.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(err[i]);
    if (c == '\n') {
      EXPECT_LT(i - line_start, 600u) << "an unbounded line: " << err.substr(line_start, 200);
      line_start = i + 1;
      continue;
    }
    ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte 0x" << std::hex << int(c) << " at " << std::dec << i;
  }
}

TEST(DamagedJson, ManifestErrorsQuoteABoundedEscapedExcerpt) {
  TempDir tmp;
  Env env = {{"STRATA_REPO", tmp / "repo"}, {"STRATA_PASSPHRASE", "json-pass"}, {"HOME", tmp.path()}};
  ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env).code, 0);
  // A long string, then invalid UTF-8 and a terminal escape: the parser's message quotes everything it read.
  std::string pub = "{\"id\": \"" + std::string(5000, 'A') + "\xff\xfe\x1b[31m";
  std::string m = "STRATAM1";
  put_u32(m, 1);
  put_u32(m, static_cast<uint32_t>(pub.size()));
  m += pub;
  put_u32(m, 16);
  m += std::string(16, '\0');
  std::filesystem::create_directories(tmp / "repo/backups");
  write_file(tmp / "repo/backups/20261201T000000Z-0badf00d", m);
  for (std::vector<std::string> args : {std::vector<std::string>{"list"}, {"show", "20261201T000000Z-0badf00d"}}) {
    auto r = run_strata(args, env);
    EXPECT_NE(r.err.find("is damaged"), std::string::npos) << args[0] << ": " << r.err.substr(0, 300);
    expect_bounded_printable(r.err);
  }
}

TEST(DamagedJson, KeyFileErrorsQuoteABoundedEscapedExcerpt) {
  TempDir tmp;
  Env env = {{"STRATA_REPO", tmp / "repo"}, {"STRATA_PASSPHRASE", "json-pass"}, {"HOME", tmp.path()}};
  ASSERT_EQ(run_strata({"repo", "init", "--kdf-memory", "8MiB", "--kdf-ops", "1"}, env).code, 0);
  write_file(tmp / "repo/keys/0000000000000000", "{\"id\": \"" + std::string(5000, 'k') + "\xff\x1b]0;title\x07");
  auto r = run_strata({"key", "list"}, env);
  EXPECT_NE(r.err.find("is not a valid key file"), std::string::npos) << r.err.substr(0, 300);
  expect_bounded_printable(r.err);
}

}  // namespace
}  // namespace strata::test
