#include "engines/postgres/tar_stream.hpp"

#include <algorithm>
#include <cstring>

namespace strata::pg {
namespace {

uint64_t tar_number(const char* p, size_t n) {
  // GNU base-256 for members over 8 GiB: high bit of the first byte set.
  if (static_cast<unsigned char>(p[0]) & 0x80) {
    uint64_t v = static_cast<unsigned char>(p[0]) & 0x7f;
    for (size_t i = 1; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n && p[i]; ++i) {
    if (p[i] >= '0' && p[i] <= '7') v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  }
  return v;
}

std::string tar_string(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

}  // namespace

void TarStreamParser::feed(ByteView data) {
  while (!data.empty()) {
    if (data_left_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(data_left_, data.size()));
      data_left_ -= take;  // before the callback, so a visitor that throws leaves a consistent count
      visitor_.member_data(data.first(take));
      data = data.subspan(take);
      if (data_left_ == 0) visitor_.member_end();
      continue;
    }
    if (pad_left_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(pad_left_, data.size()));
      pad_left_ -= take;
      data = data.subspan(take);
      continue;
    }
    size_t take = std::min(header_.size() - header_len_, data.size());
    std::memcpy(header_.data() + header_len_, data.data(), take);
    header_len_ += take;
    data = data.subspan(take);
    if (header_len_ == header_.size()) {
      header_len_ = 0;
      parse_header();
    }
  }
}

void TarStreamParser::parse_header() {
  const char* h = header_.data();
  if (h[0] == 0) return;  // end-of-archive zero blocks
  TarMember m;
  m.name = tar_string(h, 100);
  if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345]) m.name = tar_string(h + 345, 155) + "/" + m.name;
  m.mode = static_cast<uint32_t>(tar_number(h + 100, 8) & 07777);
  m.size = tar_number(h + 124, 12);
  m.type = h[156];
  if (m.type == '1' || m.type == '2') m.link = tar_string(h + 157, 100);
  uint64_t data = m.type == '5' ? 0 : m.size;  // directories carry no data whatever the size field says
  visitor_.member_start(m);
  data_left_ = data;
  pad_left_ = (512 - data % 512) % 512;
  if (data == 0) visitor_.member_end();
}

}  // namespace strata::pg
