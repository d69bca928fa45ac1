#pragma once
// Small helpers shared by the unit tests: temp dirs, deterministic data, in-memory sources and sinks, and
// assertions on StrataError codes. Header-only so each test file stays self-contained.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <functional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "io/stream.hpp"

namespace strata::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "strata-unit-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Deterministic, incompressible bytes (xorshift64*), different per seed.
inline Bytes pseudo_random(size_t n, uint64_t seed) {
  Bytes out(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    out[i] = static_cast<uint8_t>((x * 0x2545F4914F6CDD1Dull) >> 56);
  }
  return out;
}

// Highly compressible bytes: repeated text with a counter.
inline Bytes compressible(size_t n) {
  Bytes out;
  out.reserve(n + 64);
  for (uint64_t i = 0; out.size() < n; ++i) {
    std::string row = "row " + std::to_string(i % 97) + ", status=ok, payload=aaaaaaaaaaaaaaaa\n";
    out.insert(out.end(), row.begin(), row.end());
  }
  out.resize(n);
  return out;
}

// Serves a buffer in reads of at most `chunk` bytes (uneven reads exercise read_full). Optionally throws once
// `fail_after` bytes have been served.
class BufferSource final : public ByteSource {
 public:
  explicit BufferSource(Bytes data, size_t chunk = 7) : data_(std::move(data)), chunk_(chunk) {}
  size_t read(uint8_t* buf, size_t n) override {
    if (fail_after_ && pos_ >= *fail_after_) fail(ErrorCode::kSourceFailed, "test source failed at byte " + std::to_string(pos_));
    size_t take = std::min({n, chunk_, data_.size() - pos_});
    if (fail_after_) take = std::min(take, *fail_after_ - pos_);
    std::copy_n(data_.begin() + static_cast<ptrdiff_t>(pos_), take, buf);
    pos_ += take;
    return take;
  }
  void finish() override { ++finished; }
  void abort() noexcept override { ++aborted; }
  std::string describe() const override { return "test buffer"; }
  void fail_after(size_t n) { fail_after_ = n; }

  int finished = 0;
  int aborted = 0;

 private:
  Bytes data_;
  size_t chunk_;
  size_t pos_ = 0;
  std::optional<size_t> fail_after_;
};

// Collects restored bytes and records whether the restore was finished or aborted.
class VectorSink final : public ByteSink {
 public:
  void write(ByteView data) override { data_.insert(data_.end(), data.begin(), data.end()); }
  void finish() override { ++finished; }
  void abort() noexcept override { ++aborted; }
  std::string describe() const override { return "test sink"; }
  const Bytes& data() const { return data_; }

  int finished = 0;
  int aborted = 0;

 private:
  Bytes data_;
};

// Runs fn, expects a StrataError with `code` whose message contains `fragment`.
inline ::testing::AssertionResult throws_strata(const std::function<void()>& fn, ErrorCode code,
                                                const std::string& fragment = "") {
  try {
    fn();
  } catch (const StrataError& e) {
    if (e.code() != code) {
      return ::testing::AssertionFailure() << "expected code " << error_code_name(code) << " but got "
                                           << error_code_name(e.code()) << ": " << e.what();
    }
    if (std::string(e.what()).find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure() << "message '" << e.what() << "' lacks '" << fragment << "'";
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "expected StrataError, got std::exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "expected StrataError(" << error_code_name(code) << "), nothing thrown";
}

}  // namespace strata::testing

#define EXPECT_STRATA_ERROR(stmt, code, fragment) \
  EXPECT_TRUE(::strata::testing::throws_strata([&] { stmt; }, (code), (fragment)))
#define ASSERT_STRATA_ERROR(stmt, code, fragment) \
  ASSERT_TRUE(::strata::testing::throws_strata([&] { stmt; }, (code), (fragment)))
