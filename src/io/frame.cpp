#include "io/frame.hpp"

#include <algorithm>
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

size_t max_encoded_frame(const Compression& compression, size_t plain_len) {
  return kFrameHeaderSize + std::max(plain_len, compress_bound(compression, plain_len)) + kTagSize;
}

size_t encode_frame(const Compression& compression, const FrameContext& ctx, uint64_t frame_index, bool last,
                    ByteView plain, uint8_t* out) {
  uint8_t* payload = out + kFrameHeaderSize;
  size_t packed = compress_into(compression, plain, payload, compress_bound(compression, plain.size()));
  Codec used = packed ? compression.codec : Codec::kNone;
  size_t body = packed ? packed : plain.size();
  uint8_t* header = out;
  std::memset(header, 0, kFrameHeaderSize);
  std::memcpy(header, kFrameMagic, 4);
  put_u32le(header + 4, static_cast<uint32_t>(body + kTagSize));
  put_u32le(header + 8, static_cast<uint32_t>(plain.size()));
  header[12] = static_cast<uint8_t>(used);
  header[13] = last ? kFrameFlagLast : 0;
  uint8_t nonce[kNonceSize];
  frame_nonce(frame_index, nonce);
  Bytes aad = frame_aad(ctx, frame_index, header);
  // A raw frame is sealed straight from the caller's plaintext; a compressed one in place.
  aead_seal(ctx.cipher, ctx.key, nonce, aad, packed ? ByteView(payload, packed) : plain, payload);
  return kFrameHeaderSize + body + kTagSize;
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

bool decode_frame_into(const FrameContext& ctx, uint64_t frame_index, const uint8_t* header_bytes, ByteView payload,
                       uint8_t* out) {
  auto h = parse_frame_header(header_bytes);
  if (!h || payload.size() != h->stored_len) return false;
  uint8_t nonce[kNonceSize];
  frame_nonce(frame_index, nonce);
  Bytes aad = frame_aad(ctx, frame_index, header_bytes);
  if (h->codec == Codec::kNone) {
    // Raw frames open straight into the destination.
    return payload.size() - kTagSize == h->plain_len && aead_open(ctx.cipher, ctx.key, nonce, aad, payload, out);
  }
  thread_local FrameBuffer opened;
  opened.resize(payload.size() - kTagSize);
  if (!aead_open(ctx.cipher, ctx.key, nonce, aad, payload, opened.data())) return false;
  return decompress_frame(h->codec, ByteView(opened.data(), opened.size()), out, h->plain_len);
}

bool decode_frame(const FrameContext& ctx, uint64_t frame_index, const uint8_t* header_bytes, ByteView payload,
                  Bytes& out) {
  auto h = parse_frame_header(header_bytes);
  if (!h) return false;
  out.resize(h->plain_len);
  return decode_frame_into(ctx, frame_index, header_bytes, payload, out.data());
}

Bytes object_header() {
  Bytes h(kObjectHeaderSize, 0);
  std::memcpy(h.data(), kObjectMagic, 8);
  put_u32le(h.data() + 8, 1);
  return h;
}

FrameSplitter::Status FrameSplitter::feed(std::shared_ptr<const Bytes> block, const OnFrame& on_frame) {
  const uint8_t* p = block->data();
  size_t left = block->size();
  // Moves bytes into carry_ until it holds `want`; true once it does.
  auto fill_carry = [&](size_t want) {
    size_t take = std::min(want - carry_.size(), left);
    carry_.insert(carry_.end(), p, p + take);
    p += take;
    left -= take;
    return carry_.size() == want;
  };
  if (!header_seen_) {
    if (!fill_carry(kObjectHeaderSize)) return Status::kMore;
    if (!is_object_header(carry_)) return Status::kBadObjectHeader;
    carry_.clear();
    header_seen_ = true;
  }
  if (!carry_.empty()) {
    if (carry_.size() < kFrameHeaderSize && !fill_carry(kFrameHeaderSize)) return Status::kMore;
    auto h = parse_frame_header(carry_.data());
    if (!h) return Status::kDamagedFrameHeader;
    if (!fill_carry(kFrameHeaderSize + h->stored_len)) return Status::kMore;
    auto whole = std::make_shared<const Bytes>(std::move(carry_));
    carry_ = Bytes();
    if (!on_frame(Frame{whole, whole->data(), *h})) return Status::kStopped;
  }
  while (left >= kFrameHeaderSize) {
    auto h = parse_frame_header(p);
    if (!h) return Status::kDamagedFrameHeader;
    size_t total = kFrameHeaderSize + h->stored_len;
    if (left < total) break;
    if (!on_frame(Frame{block, p, *h})) return Status::kStopped;
    p += total;
    left -= total;
  }
  carry_.assign(p, p + left);
  return Status::kMore;
}

bool is_object_header(ByteView b) {
  // The reserved word must be zero (docs/FORMAT.md), as in frame headers: the object header is not authenticated.
  return b.size() >= kObjectHeaderSize && std::memcmp(b.data(), kObjectMagic, 8) == 0 && get_u32le(b.data() + 8) == 1 &&
         get_u32le(b.data() + 12) == 0;
}

}  // namespace strata
