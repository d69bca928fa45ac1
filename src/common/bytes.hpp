#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Leaves bytes that a resize adds uninitialised. std::vector zero-fills them, which for the pipeline's frame
// buffers — resized to a bound, then overwritten by read(), compression or decryption — was a memset of every
// byte that streams through a backup or restore.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
// For buffers whose every byte is written before it is read; use Bytes everywhere else.
using FrameBuffer = std::vector<uint8_t, UninitAllocator<uint8_t>>;

// Bytes that stay valid while `owner` lives: how restored frames reach the hasher and sinks that write in the
// background, without copies.
struct SharedView {
  std::shared_ptr<const void> owner;
  ByteView bytes;
};

inline ByteView as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline std::string to_string(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string hex_encode(ByteView data);
Bytes hex_decode(std::string_view hex);  // throws StrataError(kCorrupt) on bad input
std::string base64_encode(ByteView data);
Bytes base64_decode(std::string_view text);  // throws StrataError(kCorrupt) on bad input

// Little-endian fixed-width helpers for the on-disk format (docs/FORMAT.md).
inline void put_u32le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put_u64le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t get_u32le(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t get_u64le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// "64MiB", "1M", "512k", "1048576" -> bytes. Throws StrataError(kUsage).
uint64_t parse_size(std::string_view text);
std::string format_size(uint64_t bytes);  // "1.5 GiB"

}  // namespace strata
