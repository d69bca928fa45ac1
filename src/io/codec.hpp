#pragma once
// Frame compression. A frame that does not shrink is stored raw (Codec::kNone) so incompressible data costs
// nothing on restore.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.hpp"

namespace strata {

enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };

struct Compression {
  Codec codec = Codec::kZstd;
  int level = 3;
  std::string to_string() const;  // "zstd:3", "lz4", "none"
};

Compression parse_compression(std::string_view text);  // throws StrataError(kUsage)
std::string codec_name(Codec c);

// Compresses `in` into `out` (resized). Returns the codec actually used (kNone if compression did not help).
Codec compress_frame(const Compression& c, ByteView in, Bytes& out);
// The most compress_into can write for `in_len` bytes.
size_t compress_bound(const Compression& c, size_t in_len);
// Compresses `in` into out[0, cap) with cap >= compress_bound(). Returns the compressed size, or 0 when the frame
// is to be stored raw (codec none, empty input, or compression did not shrink it).
size_t compress_into(const Compression& c, ByteView in, uint8_t* out, size_t cap);
// Decompresses exactly `plain_len` bytes into out. Returns false on malformed input or a length mismatch.
[[nodiscard]] bool decompress_frame(Codec codec, ByteView in, uint8_t* out, size_t plain_len);

}  // namespace strata
