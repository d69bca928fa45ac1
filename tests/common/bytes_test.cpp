#include "common/bytes.hpp"

#include <gtest/gtest.h>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

TEST(Hex, EncodesLowercaseAndRoundTrips) {
  Bytes b = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(hex_encode(b), "00017f80abff");
  EXPECT_EQ(hex_decode("00017f80abff"), b);
  EXPECT_EQ(hex_decode("00017F80ABFF"), b);  // upper case accepted on input
  EXPECT_EQ(hex_encode({}), "");
  EXPECT_TRUE(hex_decode("").empty());
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(hex_decode(hex_encode(all)), all);
}

TEST(Hex, RejectsOddLengthAndNonHexDigits) {
  EXPECT_STRATA_ERROR(hex_decode("abc"), ErrorCode::kCorrupt, "odd length");
  EXPECT_STRATA_ERROR(hex_decode("0g"), ErrorCode::kCorrupt, "invalid hex");
  EXPECT_STRATA_ERROR(hex_decode("g0"), ErrorCode::kCorrupt, "invalid hex");
  EXPECT_STRATA_ERROR(hex_decode("12 4"), ErrorCode::kCorrupt, "invalid hex");
}

TEST(Base64, KnownVectorsAndRoundTrip) {
  // RFC 4648 section 10.
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(as_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(to_string(base64_decode("Zm9vYmE=")), "fooba");
  EXPECT_TRUE(base64_decode("").empty());
  for (size_t n : {1u, 2u, 3u, 4u, 31u, 32u, 33u, 1000u}) {
    Bytes b = testing::pseudo_random(n, n);
    EXPECT_EQ(base64_decode(base64_encode(b)), b) << n;
  }
}

TEST(Base64, RejectsInvalidInput) {
  EXPECT_STRATA_ERROR(base64_decode("Zm9"), ErrorCode::kCorrupt, "invalid base64");   // missing padding
  EXPECT_STRATA_ERROR(base64_decode("Zm9v!"), ErrorCode::kCorrupt, "invalid base64");  // not in the alphabet
  EXPECT_STRATA_ERROR(base64_decode("Zm-_"), ErrorCode::kCorrupt, "invalid base64");   // URL-safe variant
  EXPECT_STRATA_ERROR(base64_decode("Zg==Zg=="), ErrorCode::kCorrupt, "invalid base64");
}

TEST(LittleEndian, FixedWidthHelpers) {
  uint8_t b[8];
  put_u32le(b, 0x11223344);
  EXPECT_EQ(b[0], 0x44);
  EXPECT_EQ(b[3], 0x11);
  EXPECT_EQ(get_u32le(b), 0x11223344u);
  put_u64le(b, 0x0102030405060708ull);
  EXPECT_EQ(b[0], 0x08);
  EXPECT_EQ(b[7], 0x01);
  EXPECT_EQ(get_u64le(b), 0x0102030405060708ull);
}

TEST(ParseSize, AcceptsBinaryUnits) {
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512k"), 512u << 10);
  EXPECT_EQ(parse_size("512K"), 512u << 10);
  EXPECT_EQ(parse_size("1M"), 1u << 20);
  EXPECT_EQ(parse_size("64MiB"), 64u << 20);
  EXPECT_EQ(parse_size("64mb"), 64u << 20);
  EXPECT_EQ(parse_size("2 GiB"), 2ull << 30);
  EXPECT_EQ(parse_size("3T"), 3ull << 40);
  EXPECT_EQ(parse_size("7B"), 7u);
}

TEST(ParseSize, RejectsGarbageWithUsageError) {
  EXPECT_STRATA_ERROR(parse_size(""), ErrorCode::kUsage, "expected a number");
  EXPECT_STRATA_ERROR(parse_size("MiB"), ErrorCode::kUsage, "expected a number");
  EXPECT_STRATA_ERROR(parse_size("-1"), ErrorCode::kUsage, "expected a number");
  EXPECT_STRATA_ERROR(parse_size("10x"), ErrorCode::kUsage, "invalid size unit");
  EXPECT_STRATA_ERROR(parse_size("1.5G"), ErrorCode::kUsage, "invalid size unit");
  EXPECT_STRATA_ERROR(parse_size("1Pi"), ErrorCode::kUsage, "invalid size unit");
}

TEST(ParseSize, RejectsValuesThatDoNotFitIn64Bits) {
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
  EXPECT_STRATA_ERROR(parse_size("18446744073709551616"), ErrorCode::kUsage, "too large");
  EXPECT_STRATA_ERROR(parse_size("99999999999999999999999"), ErrorCode::kUsage, "too large");
  EXPECT_STRATA_ERROR(parse_size("16777216T"), ErrorCode::kUsage, "too large");  // 2^64 exactly
  EXPECT_EQ(parse_size("16777215T"), 16777215ull << 40);
}

TEST(FormatSize, HumanReadableBinaryUnits) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1024), "1.0 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(64ull << 20), "64.0 MiB");
  EXPECT_EQ(format_size(3ull << 30), "3.0 GiB");
  EXPECT_EQ(format_size(5ull << 40), "5.0 TiB");
  EXPECT_EQ(format_size(2ull << 50), "2.0 PiB");
  EXPECT_EQ(format_size(UINT64_MAX), "16384.0 PiB");
}

TEST(FormatSize, ParseOfFormattedWholeUnitsRoundTrips) {
  for (uint64_t v : {1ull << 10, 1ull << 20, 5ull << 30}) {
    std::string s = format_size(v);  // "1.0 KiB"
    s.erase(s.find(".0"), 2);
    EXPECT_EQ(parse_size(s), v) << s;
  }
}

}  // namespace
}  // namespace strata
