#include "io/codec.hpp"

#include <gtest/gtest.h>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

class CodecRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CodecRoundTrip, CompressibleDataShrinksAndRoundTrips) {
  const Compression c = GetParam();
  for (size_t n : {1u, 4096u, 200000u}) {
    Bytes plain = testing::compressible(n);
    Bytes packed;
    Codec used = compress_frame(c, plain, packed);
    if (c.codec == Codec::kNone || n == 1) {
      // "none" copies; tiny inputs do not shrink and fall back to raw storage.
      EXPECT_EQ(used, Codec::kNone);
      EXPECT_EQ(packed, plain);
    } else {
      EXPECT_EQ(used, c.codec) << n;
      EXPECT_LT(packed.size(), plain.size() / 2) << n;
    }
    Bytes out(n);
    ASSERT_TRUE(decompress_frame(used, packed, out.data(), n)) << n;
    EXPECT_EQ(out, plain);
  }
}

TEST_P(CodecRoundTrip, EmptyInputIsStoredRaw) {
  Bytes packed = {1, 2, 3};
  EXPECT_EQ(compress_frame(GetParam(), {}, packed), Codec::kNone);
  EXPECT_TRUE(packed.empty());
  EXPECT_TRUE(decompress_frame(Codec::kNone, packed, nullptr, 0));
}

TEST_P(CodecRoundTrip, IncompressibleDataFallsBackToNone) {
  Bytes plain = testing::pseudo_random(65536, 3);
  Bytes packed;
  EXPECT_EQ(compress_frame(GetParam(), plain, packed), Codec::kNone);
  EXPECT_EQ(packed, plain);
}

// After an incompressible frame the next one is sampled first: a run of random frames stays raw, and compressible
// data right after it is still compressed (and every frame round-trips either way).
TEST_P(CodecRoundTrip, SamplingAfterARawFrameStillCompressesWhatShrinks) {
  if (GetParam().codec == Codec::kNone) GTEST_SKIP();
  const size_t n = 256u << 10;
  std::vector<std::pair<Bytes, Codec>> frames = {
      {testing::pseudo_random(n, 11), Codec::kNone},
      {testing::pseudo_random(n, 12), Codec::kNone},
      {testing::compressible(n), GetParam().codec},
      {testing::pseudo_random(n, 13), Codec::kNone},
      {testing::compressible(n + 1), GetParam().codec},
  };
  for (const auto& [plain, want] : frames) {
    Bytes packed;
    Codec used = compress_frame(GetParam(), plain, packed);
    EXPECT_EQ(used, want);
    Bytes out(plain.size());
    ASSERT_TRUE(decompress_frame(used, packed, out.data(), out.size()));
    EXPECT_EQ(out, plain);
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecRoundTrip,
                         ::testing::Values(Compression{Codec::kZstd, 1}, Compression{Codec::kZstd, 19},
                                           Compression{Codec::kLz4, 0}, Compression{Codec::kNone, 0}),
                         [](const auto& info) {
                           std::string n = info.param.to_string();
                           for (char& ch : n) if (ch == ':') ch = '_';
                           return n;
                         });

class CodecMalformed : public ::testing::TestWithParam<Codec> {};

TEST_P(CodecMalformed, WrongLengthsAndGarbageFail) {
  const Codec codec = GetParam();
  Bytes plain = testing::compressible(10000);
  Bytes packed;
  ASSERT_EQ(compress_frame(Compression{codec, 3}, plain, packed), codec);
  Bytes out(plain.size() + 16);
  EXPECT_TRUE(decompress_frame(codec, packed, out.data(), plain.size()));
  EXPECT_FALSE(decompress_frame(codec, packed, out.data(), plain.size() - 1)) << "shorter than recorded";
  EXPECT_FALSE(decompress_frame(codec, packed, out.data(), plain.size() + 1)) << "longer than recorded";
  EXPECT_FALSE(decompress_frame(codec, ByteView(packed).first(packed.size() / 2), out.data(), plain.size()))
      << "truncated";
  Bytes garbage = testing::pseudo_random(packed.size(), 77);
  EXPECT_FALSE(decompress_frame(codec, garbage, out.data(), plain.size())) << "garbage";
  EXPECT_FALSE(decompress_frame(codec, {}, out.data(), plain.size())) << "empty";
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecMalformed, ::testing::Values(Codec::kZstd, Codec::kLz4));

TEST(CodecNone, LengthMustMatchExactly) {
  Bytes in = {1, 2, 3, 4};
  Bytes out(8);
  EXPECT_TRUE(decompress_frame(Codec::kNone, in, out.data(), 4));
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 4), in);
  EXPECT_FALSE(decompress_frame(Codec::kNone, in, out.data(), 3));
  EXPECT_FALSE(decompress_frame(Codec::kNone, in, out.data(), 5));
}

TEST(CodecNone, UnknownCodecValueFails) {
  Bytes in = {1, 2, 3};
  Bytes out(3);
  EXPECT_FALSE(decompress_frame(static_cast<Codec>(9), in, out.data(), 3));
}

TEST(ParseCompression, AcceptsDocumentedForms) {
  Compression c = parse_compression("zstd");
  EXPECT_EQ(c.codec, Codec::kZstd);
  EXPECT_EQ(c.level, 3);
  c = parse_compression("zstd:1");
  EXPECT_EQ(c.level, 1);
  EXPECT_EQ(c.to_string(), "zstd:1");
  EXPECT_EQ(parse_compression("zstd:19").level, 19);
  EXPECT_EQ(parse_compression("lz4").codec, Codec::kLz4);
  EXPECT_EQ(parse_compression("lz4").to_string(), "lz4");
  EXPECT_EQ(parse_compression("none").codec, Codec::kNone);
  EXPECT_EQ(parse_compression("none").to_string(), "none");
  EXPECT_EQ(codec_name(Codec::kZstd), "zstd");
}

TEST(ParseCompression, RejectsUnknownAndOutOfRange) {
  EXPECT_STRATA_ERROR(parse_compression("zstd:0"), ErrorCode::kUsage, "zstd level must be 1..");
  EXPECT_STRATA_ERROR(parse_compression("zstd:99"), ErrorCode::kUsage, "zstd level must be 1..");
  EXPECT_STRATA_ERROR(parse_compression("zstd:fast"), ErrorCode::kUsage, "invalid zstd level");
  EXPECT_STRATA_ERROR(parse_compression("lz4:9"), ErrorCode::kUsage, "unknown compression 'lz4:9'");
  EXPECT_STRATA_ERROR(parse_compression("gzip"), ErrorCode::kUsage, "use zstd[:LEVEL], lz4 or none");
  EXPECT_STRATA_ERROR(parse_compression(""), ErrorCode::kUsage, "unknown compression");
}

}  // namespace
}  // namespace strata
