#include "io/frame.hpp"

#include <cstring>

namespace strata {
namespace {

// AAD = "strata/frame/v1" || u32 len(object_name) || object_name || u64 frame_index || header.
// Binding the object name and index detects frames spliced in from another object, reordered or dropped.
Bytes frame_aad(const FrameContext& ctx, uint64_t frame_index, const uint8_t* header) {
  static constexpr std::string_view kLabel = "strata/frame/v1";
  Bytes aad(kLabel.size() + 4 + ctx.object_name.size() + 8 + kFrameHeaderSize);
  uint8_t* p = aad.data();
  std::memcpy(p, kLabel.data(), kLabel.size());
  p += kLabel.size();
  put_u32le(p, static_cast<uint32_t>(ctx.object_name.size()));
  p += 4;
  std::memcpy(p, ctx.object_name.data(), ctx.object_name.size());
  p += ctx.object_name.size();
  put_u64le(p, frame_index);
  p += 8;
  std::memcpy(p, header, kFrameHeaderSize);
  return aad;
}

void frame_nonce(uint64_t frame_index, uint8_t nonce[kNonceSize]) {
  // Keys are per object, so the frame index alone makes every nonce unique under its key.
  std::memset(nonce, 0, kNonceSize);
  put_u64le(nonce + 4, frame_index);
}

}  // namespace

void encode_frame(const Compression& compression, const FrameContext& ctx, uint64_t frame_index, bool last,
                  ByteView plain, Bytes& out) {
  thread_local Bytes compressed;
  Codec used = compress_frame(compression, plain, compressed);
  uint8_t header[kFrameHeaderSize] = {};
  std::memcpy(header, kFrameMagic, 4);
  put_u32le(header + 4, static_cast<uint32_t>(compressed.size() + kTagSize));
  put_u32le(header + 8, static_cast<uint32_t>(plain.size()));
  header[12] = static_cast<uint8_t>(used);
  header[13] = last ? kFrameFlagLast : 0;
  size_t start = out.size();
  out.resize(start + kFrameHeaderSize + compressed.size() + kTagSize);
  std::memcpy(out.data() + start, header, kFrameHeaderSize);
  uint8_t nonce[kNonceSize];
  frame_nonce(frame_index, nonce);
  Bytes aad = frame_aad(ctx, frame_index, header);
  aead_seal(ctx.cipher, ctx.key, nonce, aad, compressed, out.data() + start + kFrameHeaderSize);
}

std::optional<FrameHeader> parse_frame_header(const uint8_t* p) {
  if (std::memcmp(p, kFrameMagic, 4) != 0) return std::nullopt;
  FrameHeader h;
  h.stored_len = get_u32le(p + 4);
  h.plain_len = get_u32le(p + 8);
  uint8_t codec = p[12];
  h.flags = p[13];
  if (codec > static_cast<uint8_t>(Codec::kLz4) || (h.flags & ~kFrameFlagLast) || p[14] || p[15]) return std::nullopt;
  if (h.stored_len < kTagSize || h.plain_len > kMaxFramePlain || h.stored_len > kMaxFramePlain + (1u << 20)) {
    return std::nullopt;
  }
  h.codec = static_cast<Codec>(codec);
  return h;
}

bool decode_frame(const FrameContext& ctx, uint64_t frame_index, const uint8_t* header_bytes, ByteView payload,
                  Bytes& out) {
  auto h = parse_frame_header(header_bytes);
  if (!h || payload.size() != h->stored_len) return false;
  uint8_t nonce[kNonceSize];
  frame_nonce(frame_index, nonce);
  Bytes aad = frame_aad(ctx, frame_index, header_bytes);
  thread_local Bytes opened;
  opened.resize(payload.size() - kTagSize);
  if (!aead_open(ctx.cipher, ctx.key, nonce, aad, payload, opened.data())) return false;
  out.resize(h->plain_len);
  return decompress_frame(h->codec, opened, out.data(), h->plain_len);
}

Bytes object_header() {
  Bytes h(kObjectHeaderSize, 0);
  std::memcpy(h.data(), kObjectMagic, 8);
  put_u32le(h.data() + 8, 1);
  return h;
}

bool is_object_header(ByteView b) {
  // The reserved word must be zero (docs/FORMAT.md), as in frame headers: the object header is not authenticated.
  return b.size() >= kObjectHeaderSize && std::memcmp(b.data(), kObjectMagic, 8) == 0 && get_u32le(b.data() + 8) == 1 &&
         get_u32le(b.data() + 12) == 0;
}

}  // namespace strata
