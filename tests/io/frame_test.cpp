#include "io/frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

FrameContext context(Cipher c, uint8_t key_seed, std::string name) {
  FrameContext ctx;
  ctx.cipher = c;
  for (size_t i = 0; i < ctx.key.size(); ++i) ctx.key[i] = static_cast<uint8_t>(key_seed * 31 + i);
  ctx.object_name = std::move(name);
  return ctx;
}

struct Encoded {
  Bytes bytes;
  const uint8_t* header() const { return bytes.data(); }
  ByteView payload() const { return ByteView(bytes).subspan(kFrameHeaderSize); }
};

Encoded encode(const FrameContext& ctx, uint64_t index, bool last, ByteView plain,
               Compression comp = Compression{Codec::kZstd, 3}) {
  Encoded e;
  e.bytes.resize(max_encoded_frame(comp, plain.size()));
  e.bytes.resize(encode_frame(comp, ctx, index, last, plain, e.bytes.data()));
  return e;
}

bool decode(const FrameContext& ctx, uint64_t index, const Bytes& bytes, Bytes* out = nullptr) {
  Bytes tmp;
  bool ok = decode_frame(ctx, index, bytes.data(), ByteView(bytes).subspan(kFrameHeaderSize), tmp);
  if (out) *out = tmp;
  return ok;
}

class FrameTest : public ::testing::TestWithParam<Cipher> {};

TEST_P(FrameTest, RoundTripWithHeaderFields) {
  FrameContext ctx = context(GetParam(), 1, "backup-1/000000");
  for (bool compressible : {true, false}) {
    for (size_t n : {0u, 1u, 1000u, 70000u}) {
      Bytes plain = compressible ? testing::compressible(n) : testing::pseudo_random(n, n);
      Encoded e = encode(ctx, 5, n == 1000, plain);
      auto h = parse_frame_header(e.header());
      ASSERT_TRUE(h);
      EXPECT_EQ(h->plain_len, n);
      EXPECT_EQ(h->stored_len, e.bytes.size() - kFrameHeaderSize);
      EXPECT_EQ(h->last(), n == 1000);
      EXPECT_EQ(std::memcmp(e.header(), "SFR1", 4), 0);
      if (compressible && n >= 1000) {
        EXPECT_EQ(h->codec, Codec::kZstd);
      }
      if (!compressible || n == 0) {
        EXPECT_EQ(h->codec, Codec::kNone);
      }
      Bytes out;
      ASSERT_TRUE(decode(ctx, 5, e.bytes, &out)) << n;
      EXPECT_EQ(out, plain);
    }
  }
}

TEST_P(FrameTest, EncodedSizeStaysWithinTheBoundAndRawFramesCostOnlyHeaderAndTag) {
  FrameContext ctx = context(GetParam(), 1, "o");
  for (Compression comp : {Compression{Codec::kZstd, 1}, Compression{Codec::kLz4, 0}, Compression{Codec::kNone, 0}}) {
    for (const Bytes& plain : {testing::pseudo_random(70000, 3), testing::compressible(70000), Bytes{}}) {
      Encoded e = encode(ctx, 2, true, plain, comp);
      ASSERT_LE(e.bytes.size(), max_encoded_frame(comp, plain.size())) << comp.to_string();
      auto h = parse_frame_header(e.header());
      ASSERT_TRUE(h);
      if (h->codec == Codec::kNone) {
        EXPECT_EQ(e.bytes.size(), kFrameHeaderSize + plain.size() + kTagSize);
      }
      Bytes out;
      ASSERT_TRUE(decode(ctx, 2, e.bytes, &out)) << comp.to_string();
      EXPECT_EQ(out, plain);
    }
  }
}

TEST_P(FrameTest, WrongFrameIndexFails) {
  FrameContext ctx = context(GetParam(), 1, "obj");
  Encoded e = encode(ctx, 7, false, testing::compressible(5000));
  EXPECT_TRUE(decode(ctx, 7, e.bytes));
  EXPECT_FALSE(decode(ctx, 6, e.bytes));
  EXPECT_FALSE(decode(ctx, 8, e.bytes));
  EXPECT_FALSE(decode(ctx, 7 + (1ull << 32), e.bytes));
}

TEST_P(FrameTest, WrongObjectNameFails) {
  FrameContext ctx = context(GetParam(), 1, "backup-1/000000");
  Encoded e = encode(ctx, 0, false, testing::compressible(5000));
  EXPECT_FALSE(decode(context(GetParam(), 1, "backup-1/000001"), 0, e.bytes));
  EXPECT_FALSE(decode(context(GetParam(), 1, "backup-2/000000"), 0, e.bytes));
  EXPECT_FALSE(decode(context(GetParam(), 1, ""), 0, e.bytes));
}

TEST_P(FrameTest, EveryFlippedByteFails) {
  FrameContext ctx = context(GetParam(), 1, "obj");
  Encoded e = encode(ctx, 3, false, testing::compressible(300));
  ASSERT_TRUE(decode(ctx, 3, e.bytes));
  for (size_t i = 0; i < e.bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      Bytes bad = e.bytes;
      bad[i] ^= mask;
      EXPECT_FALSE(decode(ctx, 3, bad)) << "byte " << i << " mask " << int(mask);
    }
  }
}

TEST_P(FrameTest, FlippedLastFlagFails) {
  FrameContext ctx = context(GetParam(), 1, "obj");
  for (bool last : {false, true}) {
    Encoded e = encode(ctx, 2, last, testing::pseudo_random(64, 1));
    Bytes flipped = e.bytes;
    flipped[13] ^= kFrameFlagLast;
    auto h = parse_frame_header(flipped.data());
    ASSERT_TRUE(h) << "the flipped flag still parses";
    EXPECT_EQ(h->last(), !last);
    EXPECT_FALSE(decode(ctx, 2, flipped)) << "last=" << last;
  }
}

TEST_P(FrameTest, PayloadLengthMustMatchHeader) {
  FrameContext ctx = context(GetParam(), 1, "obj");
  Encoded e = encode(ctx, 0, true, testing::pseudo_random(64, 1));
  Bytes out;
  EXPECT_FALSE(decode_frame(ctx, 0, e.header(), e.payload().first(e.payload().size() - 1), out));
  Bytes longer = e.bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode(ctx, 0, longer));
}

INSTANTIATE_TEST_SUITE_P(Ciphers, FrameTest,
                         ::testing::Values(Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305, Cipher::kNone),
                         [](const auto& info) {
                           std::string n = cipher_name(info.param);
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

TEST(Frame, WrongKeyFails) {
  for (Cipher c : {Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305}) {
    Encoded e = encode(context(c, 1, "obj"), 0, true, testing::compressible(5000));
    EXPECT_TRUE(decode(context(c, 1, "obj"), 0, e.bytes));
    EXPECT_FALSE(decode(context(c, 2, "obj"), 0, e.bytes)) << cipher_name(c);
  }
}

TEST(Frame, ParseHeaderRejectsImpossibleFields) {
  Encoded e = encode(context(Cipher::kNone, 0, "o"), 0, false, testing::pseudo_random(10, 1));
  ASSERT_TRUE(parse_frame_header(e.header()));
  auto with = [&](size_t at, uint8_t value) {
    Bytes h(e.bytes.begin(), e.bytes.begin() + kFrameHeaderSize);
    h[at] = value;
    return parse_frame_header(h.data()).has_value();
  };
  EXPECT_FALSE(with(0, 'X'));     // magic
  EXPECT_FALSE(with(12, 3));      // unknown codec
  EXPECT_FALSE(with(13, 0x02));   // unknown flag
  EXPECT_FALSE(with(14, 1));      // reserved
  EXPECT_FALSE(with(15, 1));      // reserved
  Bytes h(e.bytes.begin(), e.bytes.begin() + kFrameHeaderSize);
  put_u32le(h.data() + 4, kTagSize - 1);  // no room for a tag
  EXPECT_FALSE(parse_frame_header(h.data()));
  put_u32le(h.data() + 4, 100);
  put_u32le(h.data() + 8, kMaxFramePlain + 1);
  EXPECT_FALSE(parse_frame_header(h.data()));
}

TEST(ObjectHeader, MagicAndVersion) {
  Bytes h = object_header();
  ASSERT_EQ(h.size(), kObjectHeaderSize);
  EXPECT_EQ(std::memcmp(h.data(), "STRATAD1", 8), 0);
  EXPECT_TRUE(is_object_header(h));
  EXPECT_FALSE(is_object_header(ByteView(h).first(kObjectHeaderSize - 1)));
  Bytes bad = h;
  bad[3] ^= 1;
  EXPECT_FALSE(is_object_header(bad));
  bad = h;
  put_u32le(bad.data() + 8, 2);  // a newer object format
  EXPECT_FALSE(is_object_header(bad));
}

// An object of three frames (an object header, then the frames back to back), as backup_stream writes it.
struct ObjectBytes {
  FrameContext ctx = context(Cipher::kChaCha20Poly1305, 4, "backup-9/000000");
  std::vector<Bytes> plains = {testing::compressible(5000), testing::pseudo_random(300, 1), testing::compressible(70)};
  Bytes bytes = object_header();
  ObjectBytes() {
    for (size_t i = 0; i < plains.size(); ++i) {
      Encoded e = encode(ctx, 10 + i, i + 1 == plains.size(), plains[i]);
      bytes.insert(bytes.end(), e.bytes.begin(), e.bytes.end());
    }
  }
};

// Feeds `bytes` in blocks of `block` bytes; returns the frames' plaintexts and how many came out of a block in place.
std::vector<Bytes> split_all(const ObjectBytes& o, size_t block, size_t* in_place, FrameSplitter::Status* last_status,
                             bool* partial) {
  FrameSplitter split;
  std::vector<Bytes> out;
  *in_place = 0;
  *last_status = FrameSplitter::Status::kMore;
  for (size_t at = 0; at < o.bytes.size() && *last_status == FrameSplitter::Status::kMore; at += block) {
    auto blk = std::make_shared<const Bytes>(o.bytes.begin() + static_cast<ptrdiff_t>(at),
                                             o.bytes.begin() + static_cast<ptrdiff_t>(std::min(at + block, o.bytes.size())));
    *last_status = split.feed(blk, [&](const FrameSplitter::Frame& f) {
      if (f.owner == blk) ++*in_place;
      Bytes plain;
      EXPECT_TRUE(decode_frame(o.ctx, 10 + out.size(), f.bytes, f.payload(), plain));
      EXPECT_EQ(f.header.last(), out.size() + 1 == o.plains.size());
      out.push_back(std::move(plain));
      return true;
    });
  }
  *partial = split.has_partial();
  return out;
}

TEST(FrameSplitter, SameFramesWhateverTheBlockSize) {
  ObjectBytes o;
  for (size_t block : {size_t{1}, size_t{7}, size_t{16}, size_t{17}, size_t{1000}, o.bytes.size()}) {
    size_t in_place = 0;
    FrameSplitter::Status st;
    bool partial = true;
    auto frames = split_all(o, block, &in_place, &st, &partial);
    EXPECT_EQ(st, FrameSplitter::Status::kMore) << block;
    EXPECT_FALSE(partial) << block;
    EXPECT_EQ(frames, o.plains) << "block " << block;
    if (block == o.bytes.size()) EXPECT_EQ(in_place, 3u) << "frames inside one block are not copied";
    if (block == 1) EXPECT_EQ(in_place, 0u);
  }
}

TEST(FrameSplitter, DamageIsNamedAndATruncatedObjectLeavesAPartialFrame) {
  ObjectBytes o;
  size_t in_place;
  FrameSplitter::Status st;
  bool partial;
  ObjectBytes bad_object;
  bad_object.bytes[0] ^= 1;
  split_all(bad_object, 100, &in_place, &st, &partial);
  EXPECT_EQ(st, FrameSplitter::Status::kBadObjectHeader);

  ObjectBytes bad_frame;
  bad_frame.bytes[kObjectHeaderSize] ^= 1;  // the first frame's magic
  auto frames = split_all(bad_frame, 100, &in_place, &st, &partial);
  EXPECT_EQ(st, FrameSplitter::Status::kDamagedFrameHeader);
  EXPECT_TRUE(frames.empty());

  ObjectBytes truncated;
  truncated.bytes.resize(truncated.bytes.size() - 5);
  frames = split_all(truncated, 64, &in_place, &st, &partial);
  EXPECT_EQ(st, FrameSplitter::Status::kMore);
  EXPECT_EQ(frames.size(), 2u);
  EXPECT_TRUE(partial);

  FrameSplitter stop;
  int calls = 0;
  EXPECT_EQ(stop.feed(std::make_shared<const Bytes>(o.bytes), [&](const FrameSplitter::Frame&) { return ++calls < 2; }),
            FrameSplitter::Status::kStopped);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace strata
