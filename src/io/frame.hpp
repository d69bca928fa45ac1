#pragma once
// The frame: Strata's unit of compression, encryption and parallelism. Byte layout is in docs/FORMAT.md.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "io/codec.hpp"
#include "io/crypto.hpp"

namespace strata {

inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr size_t kObjectHeaderSize = 16;
inline constexpr uint8_t kFrameFlagLast = 0x01;
inline constexpr uint32_t kMaxFramePlain = 64u << 20;
inline constexpr char kFrameMagic[4] = {'S', 'F', 'R', '1'};
inline constexpr char kObjectMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'D', '1'};

struct FrameHeader {
  uint32_t stored_len = 0;  // bytes after the header: compressed-then-sealed payload including the tag
  uint32_t plain_len = 0;
  Codec codec = Codec::kNone;
  uint8_t flags = 0;
  bool last() const { return flags & kFrameFlagLast; }
};

// Everything that binds a frame to its place: the object it lives in and the key derived for that object.
struct FrameContext {
  Cipher cipher = Cipher::kNone;
  Key32 key{};
  std::string object_name;
};

// The most encode_frame can write for a frame of `plain_len` bytes (header, payload, tag).
size_t max_encoded_frame(const Compression& compression, size_t plain_len);
// Compresses and seals `plain` as frame number `frame_index` into out[0, max_encoded_frame()): header + payload.
// Returns the bytes written. Compression and encryption share the buffer: the payload is sealed in place.
size_t encode_frame(const Compression& compression, const FrameContext& ctx, uint64_t frame_index, bool last,
                    ByteView plain, uint8_t* out);

// Parses a header. Returns nullopt if the magic or a field is impossible.
std::optional<FrameHeader> parse_frame_header(const uint8_t* p);

// Verifies and opens one frame into `out` (resized to plain_len). Returns false on a bad tag or bad compressed data.
[[nodiscard]] bool decode_frame(const FrameContext& ctx, uint64_t frame_index, const uint8_t* header_bytes,
                                ByteView payload, Bytes& out);
// The same into out[0, header's plain_len), which the caller sized from parse_frame_header().
[[nodiscard]] bool decode_frame_into(const FrameContext& ctx, uint64_t frame_index, const uint8_t* header_bytes,
                                     ByteView payload, uint8_t* out);

Bytes object_header();
bool is_object_header(ByteView b);

// The one reader of a data object's frames (restore and `check --read-data` both use it): the object's stored bytes
// go in, in order, in blocks of any size; its header is checked and each whole frame comes out. A frame inside one
// block comes out in place, owned by that block (no copy: a decoder on another thread keeps the block alive); one
// that spans blocks is assembled first. One splitter per object.
class FrameSplitter {
 public:
  struct Frame {
    std::shared_ptr<const Bytes> owner;  // keeps `bytes` alive
    const uint8_t* bytes = nullptr;      // the header, then header.stored_len bytes of payload
    FrameHeader header;
    size_t size() const { return kFrameHeaderSize + header.stored_len; }
    ByteView payload() const { return ByteView(bytes + kFrameHeaderSize, header.stored_len); }
  };
  enum class Status {
    kMore,                // every byte taken: feed the next block
    kStopped,             // on_frame returned false
    kBadObjectHeader,     // the object does not start with the object header
    kDamagedFrameHeader,  // the next frame's header is impossible
  };
  // Returns false to stop (a cancelled decoder, a frame that failed to verify).
  using OnFrame = std::function<bool(const Frame&)>;

  Status feed(std::shared_ptr<const Bytes> block, const OnFrame& on_frame);
  // Bytes taken that are not part of a whole frame yet; at the end of the object, a truncated header or frame.
  bool has_partial() const { return !carry_.empty(); }

 private:
  Bytes carry_;  // the start of the object header or of a frame that continues in the next block
  bool header_seen_ = false;
};

}  // namespace strata
