#include "engines/postgres/tar_observer.hpp"

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

TarObserver::TarObserver(ByteSource& inner, std::map<std::string, size_t> keep) : inner_(inner), keep_(std::move(keep)) {}

size_t TarObserver::read(uint8_t* buf, size_t n) {
  size_t got = inner_.read(buf, n);
  consume(buf, got);
  return got;
}

void TarObserver::consume(const uint8_t* p, size_t n) {
  while (n) {
    if (data_left_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(data_left_, n));
      auto k = keep_.find(current_);
      if (k != keep_.end()) {
        std::string& m = members_[current_];
        m.append(reinterpret_cast<const char*>(p), take);
        if (m.size() > k->second) m.erase(0, m.size() - k->second);
      }
      data_left_ -= take;
      p += take;
      n -= take;
      continue;
    }
    if (pad_left_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(pad_left_, n));
      pad_left_ -= take;
      p += take;
      n -= take;
      continue;
    }
    size_t take = std::min<size_t>(512 - header_.size(), n);
    header_.append(reinterpret_cast<const char*>(p), take);
    p += take;
    n -= take;
    if (header_.size() == 512) {
      parse_header();
      header_.clear();
    }
  }
}

void TarObserver::parse_header() {
  const char* h = header_.data();
  if (h[0] == 0) return;  // end-of-archive zero blocks
  std::string name = tar_string(h, 100);
  if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345]) name = tar_string(h + 345, 155) + "/" + name;
  uint64_t size = tar_number(h + 124, 12);
  char type = h[156];
  current_ = name;
  ++count_;
  if (type == '5') size = 0;  // directories carry no data
  data_left_ = size;
  pad_left_ = (512 - size % 512) % 512;
  if (keep_.count(name)) members_[name];
}

}  // namespace strata::pg
