#include "common/bytes.hpp"

#include <sodium.h>

#include <cctype>
#include <cstdio>

#include "common/error.hpp"

namespace strata {

std::string hex_encode(ByteView data) {
  static const char* digits = "0123456789abcdef";
  std::string out(data.size() * 2, '0');
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Bytes hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) fail(ErrorCode::kCorrupt, "invalid hex string of odd length");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) fail(ErrorCode::kCorrupt, "invalid hex string");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string base64_encode(ByteView data) {
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL sodium counts
  return out;
}

Bytes base64_decode(std::string_view text) {
  Bytes out(text.size() * 3 / 4 + 3);
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    fail(ErrorCode::kCorrupt, "invalid base64 data");
  }
  out.resize(len);
  return out;
}

uint64_t parse_size(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) fail(ErrorCode::kUsage, "invalid size '" + std::string(text) + "': expected a number like 64MiB");
  // Accumulate by hand: std::stoull would escape as std::out_of_range instead of a usage error.
  uint64_t n = 0;
  for (size_t k = 0; k < i; ++k) {
    uint64_t digit = static_cast<uint64_t>(text[k] - '0');
    if (n > (UINT64_MAX - digit) / 10) fail(ErrorCode::kUsage, "size '" + std::string(text) + "' is too large");
    n = n * 10 + digit;
  }
  std::string unit;
  for (char c : text.substr(i)) {
    if (!std::isspace(static_cast<unsigned char>(c))) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  uint64_t mult = 1;
  if (unit.empty()) mult = 1;
  else if (unit == "k") mult = 1ULL << 10;
  else if (unit == "m") mult = 1ULL << 20;
  else if (unit == "g") mult = 1ULL << 30;
  else if (unit == "t") mult = 1ULL << 40;
  else fail(ErrorCode::kUsage, "invalid size unit in '" + std::string(text) + "': use k, M, G or T (binary)");
  if (n > UINT64_MAX / mult) fail(ErrorCode::kUsage, "size '" + std::string(text) + "' is too large");
  return n * mult;
}

std::string format_size(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace strata
