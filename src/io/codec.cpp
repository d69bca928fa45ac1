#include "io/codec.hpp"

#include <lz4.h>
#include <zstd.h>

#include <cstring>

#include "common/error.hpp"

namespace strata {
namespace {

struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
// One context per worker thread: creating a zstd context per frame costs more than compressing it at level 1.
ZstdContexts& zstd_ctx() {
  thread_local ZstdContexts ctx;
  return ctx;
}

}  // namespace

std::string codec_name(Codec c) {
  switch (c) {
    case Codec::kNone: return "none";
    case Codec::kZstd: return "zstd";
    case Codec::kLz4: return "lz4";
  }
  return "unknown";
}

std::string Compression::to_string() const {
  if (codec == Codec::kZstd) return "zstd:" + std::to_string(level);
  return codec_name(codec);
}

Compression parse_compression(std::string_view text) {
  Compression c;
  std::string_view name = text, level;
  auto colon = text.find(':');
  if (colon != std::string_view::npos) {
    name = text.substr(0, colon);
    level = text.substr(colon + 1);
  }
  if (name == "zstd") {
    c.codec = Codec::kZstd;
    c.level = 3;
    if (!level.empty()) {
      try {
        c.level = std::stoi(std::string(level));
      } catch (...) {
        fail(ErrorCode::kUsage, "invalid zstd level in '" + std::string(text) + "'");
      }
      if (c.level < 1 || c.level > ZSTD_maxCLevel()) {
        fail(ErrorCode::kUsage, "zstd level must be 1.." + std::to_string(ZSTD_maxCLevel()));
      }
    }
  } else if (name == "lz4" && level.empty()) {
    c.codec = Codec::kLz4;
    c.level = 0;
  } else if (name == "none" && level.empty()) {
    c.codec = Codec::kNone;
    c.level = 0;
  } else {
    fail(ErrorCode::kUsage, "unknown compression '" + std::string(text) + "': use zstd[:LEVEL], lz4 or none");
  }
  return c;
}

size_t compress_bound(const Compression& c, size_t in_len) {
  switch (c.codec) {
    case Codec::kZstd: return ZSTD_compressBound(in_len);
    case Codec::kLz4: return static_cast<size_t>(LZ4_compressBound(static_cast<int>(in_len)));
    case Codec::kNone: break;
  }
  return 0;
}

namespace {

size_t compress_raw(const Compression& c, const uint8_t* in, size_t len, uint8_t* out, size_t cap) {
  if (c.codec == Codec::kZstd) {
    size_t n = ZSTD_compressCCtx(zstd_ctx().c, out, cap, in, len, c.level);
    if (ZSTD_isError(n)) fail(ErrorCode::kGeneric, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    return n;
  }
  int r = LZ4_compress_default(reinterpret_cast<const char*>(in), reinterpret_cast<char*>(out), static_cast<int>(len),
                               static_cast<int>(cap));
  if (r <= 0) fail(ErrorCode::kGeneric, "lz4 compression failed");
  return static_cast<size_t>(r);
}

constexpr size_t kSample = 8u << 10;
constexpr size_t kSampledFrame = 64u << 10;

// Whether any of three samples (start, middle, end) shrinks by 3% or more.
bool samples_compress(const Compression& c, ByteView in, uint8_t* scratch, size_t cap) {
  const size_t starts[3] = {0, in.size() / 2 - kSample / 2, in.size() - kSample};
  size_t packed = 0;
  for (size_t at : starts) packed += compress_raw(c, in.data() + at, kSample, scratch, cap);
  return packed * 100 < 3 * kSample * 97;
}

}  // namespace

size_t compress_into(const Compression& c, ByteView in, uint8_t* out, size_t cap) {
  if (c.codec == Codec::kNone || in.empty()) return 0;
  // An incompressible frame costs a whole failed compression (zstd: as much CPU as a compressible one). So once a
  // worker has met one, it first compresses three 8 KiB samples of the next frame and stores the frame raw if none
  // shrinks. Streams that compress never pay for the samples; already-compressed or encrypted stretches (archives,
  // media, encrypted columns) cost ~3% of a compression attempt per frame instead of 100%.
  thread_local bool previous_raw = false;
  if (previous_raw && in.size() >= kSampledFrame && !samples_compress(c, in, out, cap)) return 0;
  size_t n = compress_raw(c, in.data(), in.size(), out, cap);
  previous_raw = n >= in.size();
  return previous_raw ? 0 : n;
}

Codec compress_frame(const Compression& c, ByteView in, Bytes& out) {
  out.resize(compress_bound(c, in.size()));
  size_t n = out.empty() ? 0 : compress_into(c, in, out.data(), out.size());
  if (n == 0) {
    out.assign(in.begin(), in.end());
    return Codec::kNone;
  }
  out.resize(n);
  return c.codec;
}

bool decompress_frame(Codec codec, ByteView in, uint8_t* out, size_t plain_len) {
  switch (codec) {
    case Codec::kNone:
      if (in.size() != plain_len) return false;
      if (plain_len) std::memcpy(out, in.data(), plain_len);
      return true;
    case Codec::kZstd: {
      size_t n = ZSTD_decompressDCtx(zstd_ctx().d, out, plain_len, in.data(), in.size());
      return !ZSTD_isError(n) && n == plain_len;
    }
    case Codec::kLz4: {
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()), reinterpret_cast<char*>(out),
                                  static_cast<int>(in.size()), static_cast<int>(plain_len));
      return n >= 0 && static_cast<size_t>(n) == plain_len;
    }
  }
  return false;
}

}  // namespace strata
