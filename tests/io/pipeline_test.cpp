#include "io/pipeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../common/test_helpers.hpp"
#include "io/stream.hpp"
#include "storage/fault/fault_storage.hpp"
#include "storage/memory/memory_storage.hpp"

namespace strata {
namespace {

using testing::BufferSource;
using testing::VectorSink;

// Names objects "<stream>/000000" under "data/". By default every object gets its own derived key (as the
// repository does); with shared_key every object of every stream uses the master key, so only the name bound
// into each frame tells them apart.
class TestKeying final : public ObjectKeying {
 public:
  TestKeying(std::string stream, Cipher cipher, uint8_t key_seed = 1, bool shared_key = false)
      : stream_(std::move(stream)), cipher_(cipher), shared_key_(shared_key) {
    for (size_t i = 0; i < master_.size(); ++i) master_[i] = static_cast<uint8_t>(key_seed * 13 + i);
  }
  std::string object_name(uint64_t seq) const override {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(seq));
    return stream_ + "/" + buf;
  }
  std::string storage_key(const std::string& name) const override { return "data/" + name; }
  FrameContext frame_context(const std::string& name) const override {
    FrameContext ctx;
    ctx.cipher = cipher_;
    ctx.key = shared_key_ ? master_ : derive_key(master_, "test/object/" + name);
    ctx.object_name = name;
    return ctx;
  }

 private:
  std::string stream_;
  Cipher cipher_;
  Key32 master_{};
  bool shared_key_;
};

PipelineSettings tiny_settings(uint32_t frame_size, uint32_t frames_per_object, unsigned threads = 2,
                               unsigned io_threads = 2, uint32_t read_block = 4u << 20) {
  PipelineSettings s;
  s.frame_size = frame_size;
  s.frames_per_object = frames_per_object;
  s.compression = Compression{Codec::kNone, 0};
  s.threads = threads;
  s.io_threads = io_threads;
  s.read_block = read_block;
  return s;
}

std::vector<std::string> data_keys(Storage& s) {
  std::vector<std::string> out;
  for (const auto& o : s.list("data/")) out.push_back(o.key);
  return out;
}

struct Frame {
  FrameHeader header;
  size_t offset;  // inside the object
};

// Walks the frames of one stored object by their headers.
std::vector<Frame> frames_of(const Bytes& object) {
  std::vector<Frame> out;
  size_t pos = kObjectHeaderSize;
  while (pos < object.size()) {
    auto h = parse_frame_header(object.data() + pos);
    if (!h) throw std::runtime_error("bad frame header at " + std::to_string(pos));
    out.push_back({*h, pos});
    pos += kFrameHeaderSize + h->stored_len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Round trips over sizes at every boundary, thread counts and block sizes.

struct RoundTripCase {
  size_t size;
  uint32_t frame_size;
  uint32_t frames_per_object;
  unsigned threads;
  unsigned io_threads;
  uint32_t read_block;
  Cipher cipher;
  Compression compression;
  bool compressible;
};

std::string case_name(const RoundTripCase& c) {
  std::string n = "size" + std::to_string(c.size) + "_frame" + std::to_string(c.frame_size) + "x" +
                  std::to_string(c.frames_per_object) + "_t" + std::to_string(c.threads) + "_io" +
                  std::to_string(c.io_threads) + "_blk" + std::to_string(c.read_block) + "_" + cipher_name(c.cipher) +
                  "_" + c.compression.to_string();
  for (char& ch : n) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

std::vector<RoundTripCase> round_trip_cases() {
  std::vector<RoundTripCase> out;
  const uint32_t fs = 16, fpo = 4, obj = fs * fpo;
  const Compression none{Codec::kNone, 0};
  // 0, 1, frame-1, frame, frame+1, one object exactly, object+1, two objects, many objects (+ a partial frame).
  for (size_t size : {size_t{0}, size_t{1}, size_t{fs - 1}, size_t{fs}, size_t{fs + 1}, size_t{obj}, size_t{obj + 1},
                      size_t{2 * obj}, size_t{37 * obj + 5}}) {
    out.push_back({size, fs, fpo, 1, 1, 4u << 20, Cipher::kAes256Gcm, none, false});
    out.push_back({size, fs, fpo, 2, 3, 7, Cipher::kChaCha20Poly1305, none, false});  // blocks split every frame
    out.push_back({size, fs, fpo, 4, 2, 48, Cipher::kNone, none, false});
  }
  // One frame per object, and a single byte per frame.
  out.push_back({100, 16, 1, 3, 4, 4u << 20, Cipher::kAes256Gcm, none, false});
  out.push_back({33, 1, 8, 2, 2, 5, Cipher::kAes256Gcm, none, false});
  // Real compression through the pipeline.
  for (Compression c : {Compression{Codec::kZstd, 3}, Compression{Codec::kLz4, 0}}) {
    out.push_back({300000, 4096, 8, 2, 2, 10000, Cipher::kAes256Gcm, c, true});
    out.push_back({8 * 4096, 4096, 8, 3, 1, 4u << 20, Cipher::kChaCha20Poly1305, c, true});
    out.push_back({50000, 4096, 8, 2, 2, 4u << 20, Cipher::kNone, c, false});  // incompressible: stored raw
  }
  return out;
}

class PipelineRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(PipelineRoundTrip, RestoresExactBytesAndRecordsTheLayout) {
  const RoundTripCase& c = GetParam();
  PipelineSettings settings = tiny_settings(c.frame_size, c.frames_per_object, c.threads, c.io_threads, c.read_block);
  settings.compression = c.compression;
  MemoryStorage storage;
  TestKeying keying("s1", c.cipher);
  Bytes data = c.compressible ? testing::compressible(c.size) : testing::pseudo_random(c.size, c.size);
  BufferSource source(data, 13);
  std::vector<std::string> written;
  uint64_t last_progress = 0;
  bool progress_monotonic = true;
  StreamResult r = backup_stream(
      source, storage, keying, settings,
      [&](uint64_t plain, uint64_t) {
        progress_monotonic = progress_monotonic && plain >= last_progress;
        last_progress = plain;
      },
      &written);

  const uint64_t frames = std::max<uint64_t>(1, (c.size + c.frame_size - 1) / c.frame_size);
  const uint64_t objects = (frames + c.frames_per_object - 1) / c.frames_per_object;
  EXPECT_EQ(r.plain_bytes, c.size);
  EXPECT_EQ(r.frames, frames);
  ASSERT_EQ(r.objects.size(), objects);
  EXPECT_EQ(r.plain_sha256, Sha256::of(data));
  EXPECT_EQ(source.finished, 1);
  EXPECT_EQ(source.aborted, 0);
  EXPECT_TRUE(progress_monotonic);
  EXPECT_EQ(last_progress, c.size);

  // Every object is stored whole, described exactly, and only the stream's very last frame is flagged last.
  std::vector<std::string> expected_keys;
  uint64_t stored = 0, plain = 0, last_flags = 0;
  for (size_t i = 0; i < r.objects.size(); ++i) {
    const ObjectRecord& o = r.objects[i];
    EXPECT_EQ(o.name, keying.object_name(i));
    EXPECT_EQ(o.key, "data/" + o.name);
    expected_keys.push_back(o.key);
    Bytes bytes = storage.get(o.key, 0, Storage::kToEnd);
    EXPECT_EQ(o.size, bytes.size());
    EXPECT_EQ(o.digest, Xxh128::of(bytes));
    EXPECT_TRUE(is_object_header(bytes));
    EXPECT_EQ(o.offset, kObjectHeaderSize);
    EXPECT_EQ(o.length, bytes.size() - kObjectHeaderSize);
    EXPECT_EQ(o.first_frame, i * c.frames_per_object);
    auto fr = frames_of(bytes);
    EXPECT_EQ(o.frame_count, fr.size());
    EXPECT_EQ(o.frame_count, i + 1 < objects ? c.frames_per_object : frames - i * c.frames_per_object);
    uint64_t obj_plain = 0;
    for (size_t k = 0; k < fr.size(); ++k) {
      obj_plain += fr[k].header.plain_len;
      bool is_last = i + 1 == objects && k + 1 == fr.size();
      EXPECT_EQ(fr[k].header.last(), is_last) << "object " << i << " frame " << k;
      last_flags += fr[k].header.last();
      if (c.compression.codec == Codec::kNone || !c.compressible) {
        EXPECT_EQ(fr[k].header.codec, Codec::kNone);
      }
    }
    EXPECT_EQ(o.plain_bytes, obj_plain);
    stored += o.length;
    plain += o.plain_bytes;
  }
  EXPECT_EQ(last_flags, 1u);
  EXPECT_EQ(r.stored_bytes, stored);
  EXPECT_EQ(plain, c.size);
  if (c.compressible && c.compression.codec != Codec::kNone) {
    EXPECT_LT(r.stored_bytes, c.size / 2);
  }
  EXPECT_EQ(data_keys(storage), expected_keys);
  EXPECT_EQ(written, expected_keys);

  VectorSink sink;
  uint64_t restored_progress = 0;
  restore_stream(storage, keying, r, sink, settings, [&](uint64_t p, uint64_t) { restored_progress = p; });
  EXPECT_EQ(sink.finished, 1);
  EXPECT_EQ(sink.aborted, 0);
  EXPECT_EQ(sink.data(), data);
  EXPECT_EQ(restored_progress, c.size);

  // Restore with different thread counts than the backup used: the format does not depend on them.
  VectorSink sink2;
  restore_stream(storage, keying, r, sink2, tiny_settings(c.frame_size, c.frames_per_object, 1, 1, 3), nullptr);
  EXPECT_EQ(sink2.data(), data);
}

INSTANTIATE_TEST_SUITE_P(Boundaries, PipelineRoundTrip, ::testing::ValuesIn(round_trip_cases()),
                         [](const auto& info) { return case_name(info.param); });

TEST(Pipeline, RejectsImpossibleSettings) {
  MemoryStorage storage;
  TestKeying keying("s", Cipher::kNone);
  BufferSource source(Bytes(10));
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(0, 4), nullptr, nullptr), ErrorCode::kUsage,
                      "frame size");
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(kMaxFramePlain + 1, 4), nullptr, nullptr),
                      ErrorCode::kUsage, "frame size");
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 0), nullptr, nullptr), ErrorCode::kUsage,
                      "object size");
  EXPECT_TRUE(storage.list("").empty());
}

TEST(Pipeline, ExistingObjectIsNeverOverwritten) {
  MemoryStorage storage;
  TestKeying keying("s", Cipher::kAes256Gcm);
  storage.put("data/s/000001", testing::bytes_of("someone else's"));
  BufferSource source(testing::pseudo_random(200, 1));
  std::vector<std::string> written;
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 4), nullptr, &written),
                      ErrorCode::kAlreadyExists, "data/s/000001");
  EXPECT_EQ(to_string(storage.get("data/s/000001", 0, Storage::kToEnd)), "someone else's");
}

// A closed gate keeps every byte from storage: frames wait in memory until the budget is used up or the stream
// ends, and the writer opens the gate exactly once before its first write.
TEST(Pipeline, ClosedWriteGateKeepsStorageEmptyUntilItOpens) {
  for (size_t size : {size_t{300}, size_t{WriteGate::kBudget + (3u << 20)}}) {
    MemoryStorage storage;
    TestKeying keying("s", Cipher::kAes256Gcm);
    Bytes data = testing::pseudo_random(size, 4);
    BufferSource source(data);
    int opened = 0;
    size_t keys_when_opened = SIZE_MAX;
    WriteGate gate;
    gate.ready = [] { return false; };
    gate.open = [&] {
      ++opened;
      keys_when_opened = storage.list("").size();
    };
    StreamResult r = backup_stream(source, storage, keying, tiny_settings(1u << 20, 4), nullptr, nullptr, &gate);
    EXPECT_EQ(opened, 1) << size;
    EXPECT_EQ(keys_when_opened, 0u) << size;
    EXPECT_EQ(r.plain_bytes, data.size());
    VectorSink sink;
    restore_stream(storage, keying, r, sink, tiny_settings(1u << 20, 4), nullptr);
    EXPECT_EQ(sink.data(), data) << size;
  }
}

// Serves `data`, then blocks (like a dump waiting on a lock) until released, then ends.
class PausingSource final : public ByteSource {
 public:
  explicit PausingSource(Bytes data) : data_(std::move(data)) {}
  size_t read(uint8_t* buf, size_t n) override {
    if (pos_ == data_.size()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return released_; });
      return 0;
    }
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  void abort() noexcept override { release(); }
  std::string describe() const override { return "pausing source"; }

 private:
  Bytes data_;
  size_t pos_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

// Frames sealed while the gate was closed reach storage once it opens, even while the source is paused.
TEST(Pipeline, HeldFramesAreStoredWhenTheGateOpensWhileTheSourcePauses) {
  MemoryStorage storage;
  TestKeying keying("s", Cipher::kAes256Gcm);
  Bytes data = testing::pseudo_random(1u << 20, 8);
  PausingSource source(data);
  std::atomic<bool> ready{false};
  std::atomic<int> polls{0};
  WriteGate gate;
  gate.ready = [&] {
    ++polls;
    return ready.load();
  };
  gate.open = [] {};
  StreamResult r;
  std::exception_ptr error;
  std::thread backup([&] {
    try {
      r = backup_stream(source, storage, keying, tiny_settings(64u << 10, 4), nullptr, nullptr, &gate);
    } catch (...) {
      error = std::current_exception();
    }
  });
  // The gate is asked once per arriving frame: after 16 asks all 16 frames (1 MiB / 64 KiB) are held and the
  // source has paused, so only a writer that looks at the gate again on its own can store them now.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (polls < 16 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ready = true;
  bool stored = false;
  while (!stored && std::chrono::steady_clock::now() < deadline) {
    stored = !storage.list("data/").empty();
    if (!stored) std::this_thread::yield();
  }
  source.release();
  backup.join();
  ASSERT_FALSE(error);
  EXPECT_TRUE(stored) << "nothing was stored while the source paused";
  VectorSink sink;
  restore_stream(storage, keying, r, sink, tiny_settings(64u << 10, 4), nullptr);
  EXPECT_EQ(sink.data(), data);
}

TEST(Pipeline, GateThatFailsStoresNothingAndReportsItsError) {
  for (size_t size : {size_t{300}, size_t{WriteGate::kBudget + (3u << 20)}}) {
    MemoryStorage storage;
    TestKeying keying("s", Cipher::kAes256Gcm);
    BufferSource source(testing::pseudo_random(size, 5));
    WriteGate gate;
    gate.ready = [] { return false; };
    gate.open = [] { fail(ErrorCode::kWrongKey, "wrong passphrase: test"); };
    std::vector<std::string> written;
    EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(1u << 20, 4), nullptr, &written, &gate),
                        ErrorCode::kWrongKey, "wrong passphrase: test");
    EXPECT_TRUE(written.empty());
    EXPECT_TRUE(storage.list("").empty()) << size;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tampering: each case must end in StrataError(kCorrupt) with the sink aborted, never finished.

class PipelineCorruption : public ::testing::Test {
 protected:
  static constexpr uint32_t kFrame = 16, kPerObject = 4;
  static constexpr size_t kFrameBytes = kFrameHeaderSize + kFrame + kTagSize;  // no compression

  void SetUp() override {
    data_ = testing::pseudo_random(kFrame * kPerObject * 3 + 5, 99);  // 4 objects: 4 + 4 + 4 + 1 frames
    result_ = backup(storage_, keying_, data_);
    ASSERT_EQ(result_.objects.size(), 4u);
    ASSERT_EQ(result_.frames, 13u);
  }

  StreamResult backup(Storage& storage, const ObjectKeying& keying, const Bytes& data) {
    BufferSource source(data);
    return backup_stream(source, storage, keying, settings_, nullptr, nullptr);
  }

  Bytes object(size_t i) { return storage_.get(result_.objects[i].key, 0, Storage::kToEnd); }
  void replace(size_t i, const Bytes& bytes) { storage_.put(result_.objects[i].key, bytes); }

  // Restores `expected` and checks the outcome; returns the error message ("" if it succeeded).
  std::string restore(const StreamResult& expected, Storage* storage = nullptr) {
    VectorSink sink;
    try {
      restore_stream(storage ? *storage : storage_, keying_, expected, sink, settings_, nullptr);
    } catch (const StrataError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorrupt) << e.what();
      EXPECT_EQ(sink.aborted, 1) << e.what();
      EXPECT_EQ(sink.finished, 0) << e.what();
      return e.what();
    }
    EXPECT_EQ(sink.finished, 1);
    EXPECT_EQ(sink.data(), data_);
    return "";
  }

  PipelineSettings settings_ = tiny_settings(kFrame, kPerObject, 2, 2, 4u << 20);
  MemoryStorage storage_;
  TestKeying keying_{"s1", Cipher::kAes256Gcm};
  Bytes data_;
  StreamResult result_;
};

TEST_F(PipelineCorruption, IntactBackupRestores) { EXPECT_EQ(restore(result_), ""); }

TEST_F(PipelineCorruption, EveryFlippedByteOfAnObjectIsDetected) {
  for (size_t obj : {size_t{1}, size_t{3}}) {  // a full middle object and the short last one
    const Bytes original = object(obj);
    for (size_t i = 0; i < original.size(); ++i) {
      Bytes bad = original;
      bad[i] ^= 0x01;
      replace(obj, bad);
      std::string err = restore(result_);
      EXPECT_NE(err, "") << "object " << obj << " byte " << i;
      EXPECT_NE(err.find(result_.objects[obj].key), std::string::npos) << err;
    }
    replace(obj, original);
  }
  EXPECT_EQ(restore(result_), "");
}

TEST_F(PipelineCorruption, FlippedPayloadByteNamesTheFrame) {
  Bytes bad = object(2);
  bad[kObjectHeaderSize + kFrameBytes + kFrameHeaderSize + 3] ^= 0x40;  // second frame of object 2 = frame 9
  replace(2, bad);
  std::string err = restore(result_);
  EXPECT_NE(err.find("object data/s1/000002 is corrupt: frame 9 failed authentication"), std::string::npos) << err;
}

TEST_F(PipelineCorruption, TruncatedObjectIsDetected) {
  const Bytes original = object(1);
  for (size_t keep : {original.size() - 1, original.size() - kFrameBytes, kObjectHeaderSize, size_t{3}, size_t{0}}) {
    replace(1, Bytes(original.begin(), original.begin() + static_cast<ptrdiff_t>(keep)));
    std::string err = restore(result_);
    EXPECT_NE(err.find("data/s1/000001"), std::string::npos) << keep << ": " << err;
    EXPECT_NE(err.find("truncated"), std::string::npos) << keep << ": " << err;
  }
}

TEST_F(PipelineCorruption, MissingObjectIsCorruptNotJustNotFound) {
  for (size_t obj : {size_t{0}, size_t{2}, size_t{3}}) {
    Bytes original = object(obj);
    storage_.remove(result_.objects[obj].key);
    std::string err = restore(result_);
    EXPECT_NE(err.find(result_.objects[obj].key), std::string::npos) << err;
    EXPECT_NE(err.find("missing"), std::string::npos) << err;
    replace(obj, original);
  }
}

TEST_F(PipelineCorruption, SwappedObjectRecordsAreDetected) {
  StreamResult swapped = result_;
  std::swap(swapped.objects[0], swapped.objects[1]);
  EXPECT_NE(restore(swapped), "");
  swapped = result_;
  std::swap(swapped.objects[1], swapped.objects[2]);
  EXPECT_NE(restore(swapped), "");
  // Same records, but the stored bytes of two objects exchanged.
  Bytes a = object(0), b = object(1);
  replace(0, b);
  replace(1, a);
  EXPECT_NE(restore(result_).find("failed authentication"), std::string::npos);
}

TEST_F(PipelineCorruption, DroppedLastObjectIsTruncation) {
  StreamResult cut = result_;
  cut.objects.pop_back();
  EXPECT_NE(restore(cut).find("truncated"), std::string::npos);
  // Even when sizes, frame count and digest are made to agree with the shorter stream, the missing last-frame
  // flag gives the truncation away.
  uint64_t kept = 0;
  for (const auto& o : cut.objects) kept += o.plain_bytes;
  cut.frames = 12;
  cut.plain_bytes = kept;
  cut.plain_sha256 = Sha256::of(ByteView(data_).first(kept));
  std::string err = restore(cut);
  EXPECT_NE(err.find("backup is truncated: 12 of 12 frames present"), std::string::npos) << err;
}

TEST_F(PipelineCorruption, FrameSplicedFromAnotherObjectOfTheSameStreamIsDetected) {
  Bytes target = object(0), donor = object(1);
  // Frame 0 of object 1 (stream frame 4) over frame 1 of object 0: same size, different place.
  std::copy_n(donor.begin() + kObjectHeaderSize, kFrameBytes, target.begin() + kObjectHeaderSize + kFrameBytes);
  replace(0, target);
  EXPECT_NE(restore(result_).find("frame 1 failed authentication"), std::string::npos);
}

TEST_F(PipelineCorruption, FrameSplicedFromAnotherStreamIsDetectedByItsObjectName) {
  // Two streams of identical data under one key: their frames differ only in the object name bound into the tag.
  TestKeying k1("s1", Cipher::kAes256Gcm, 5, /*shared_key=*/true);
  TestKeying k2("s2", Cipher::kAes256Gcm, 5, /*shared_key=*/true);
  MemoryStorage storage;
  StreamResult r1 = backup(storage, k1, data_);
  StreamResult r2 = backup(storage, k2, data_);
  Bytes target = storage.get(r1.objects[1].key, 0, Storage::kToEnd);
  Bytes donor = storage.get(r2.objects[1].key, 0, Storage::kToEnd);
  const size_t at = kObjectHeaderSize + 2 * kFrameBytes;
  ASSERT_TRUE(std::equal(target.begin() + at, target.begin() + at + kFrameBytes - kTagSize, donor.begin() + at))
      << "same key, index and data: everything but the tag is identical";
  std::copy_n(donor.begin() + at, kFrameBytes, target.begin() + at);
  storage.put(r1.objects[1].key, target);
  VectorSink sink;
  EXPECT_STRATA_ERROR(restore_stream(storage, k1, r1, sink, settings_, nullptr), ErrorCode::kCorrupt,
                      "frame 6 failed authentication");
  EXPECT_EQ(sink.aborted, 1);
  EXPECT_EQ(sink.finished, 0);
}

TEST_F(PipelineCorruption, WrongKeyIsDetected) {
  TestKeying other("s1", Cipher::kAes256Gcm, 2);
  VectorSink sink;
  EXPECT_STRATA_ERROR(restore_stream(storage_, other, result_, sink, settings_, nullptr), ErrorCode::kCorrupt,
                      "failed authentication");
  EXPECT_EQ(sink.aborted, 1);
}

TEST_F(PipelineCorruption, WrongPlaintextDigestIsDetected) {
  StreamResult bad = result_;
  bad.plain_sha256[31] ^= 0x01;
  std::string err = restore(bad);
  EXPECT_NE(err.find("restored data has SHA-256 " + digest_hex(result_.plain_sha256)), std::string::npos) << err;
}

TEST_F(PipelineCorruption, WrongRecordedSizeOrFrameCountIsDetected) {
  StreamResult bad = result_;
  bad.plain_bytes += 1;
  EXPECT_NE(restore(bad).find("differs from the recorded"), std::string::npos);
  bad = result_;
  bad.frames += 1;
  EXPECT_NE(restore(bad).find("truncated"), std::string::npos);
  bad = result_;
  bad.objects[1].frame_count -= 1;
  bad.objects[1].length -= kFrameBytes;
  EXPECT_NE(restore(bad), "");
  bad = result_;
  bad.objects[2].first_frame += 1;
  EXPECT_NE(restore(bad), "");
}

TEST_F(PipelineCorruption, FlipOnReadFromFaultStorageIsDetected) {
  FaultPlan plan;
  plan.key_prefix = result_.objects[2].key;
  plan.flip_byte_on_read = static_cast<int64_t>(kObjectHeaderSize + kFrameHeaderSize + 1);
  FaultStorage faulty(std::make_unique<MemoryStorage>(std::shared_ptr<MemoryStorage::State>(
                                                          &storage_.state(), [](MemoryStorage::State*) {})),
                      plan);
  EXPECT_NE(restore(result_, &faulty).find("data/s1/000002"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------------
// Failures while backing up.

TEST(PipelineFailure, SourceErrorMidStreamPropagatesAndWrittenListsEveryCommittedObject) {
  for (size_t fail_at : {size_t{0}, size_t{20}, size_t{64 * 2 + 10}, size_t{64 * 5}, size_t{64 * 7 + 63}}) {
    MemoryStorage storage;
    TestKeying keying("s", Cipher::kAes256Gcm);
    BufferSource source(testing::pseudo_random(64 * 10, 3), 5);
    source.fail_after(fail_at);
    std::vector<std::string> written;
    EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 4, 2, 2), nullptr, &written),
                        ErrorCode::kSourceFailed, "test source failed at byte " + std::to_string(fail_at));
    EXPECT_EQ(source.finished, 0);
    EXPECT_GE(source.aborted, 1);
    std::vector<std::string> stored = data_keys(storage);
    std::sort(written.begin(), written.end());
    EXPECT_EQ(written, stored) << "fail at " << fail_at;
    // Whole objects before the failure point were committed: the caller must be told about them.
    EXPECT_GE(stored.size(), fail_at / 64 >= 1 ? fail_at / 64 - 1 : 0) << "fail at " << fail_at;
    EXPECT_LE(stored.size(), fail_at / 64);
  }
}

class FailingFinishSource final : public ByteSource {
 public:
  explicit FailingFinishSource(Bytes data) : inner_(std::move(data)) {}
  size_t read(uint8_t* buf, size_t n) override { return inner_.read(buf, n); }
  void finish() override { fail(ErrorCode::kSourceFailed, "source command exited with status 3"); }
  void abort() noexcept override { ++aborted; }
  std::string describe() const override { return "failing command"; }
  int aborted = 0;

 private:
  BufferSource inner_;
};

TEST(PipelineFailure, SourceThatFailsAtExitNeverSealsTheLastFrame) {
  MemoryStorage storage;
  TestKeying keying("s", Cipher::kAes256Gcm);
  FailingFinishSource source(testing::pseudo_random(64 * 3, 4));  // exactly 3 objects
  std::vector<std::string> written;
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 4), nullptr, &written),
                      ErrorCode::kSourceFailed, "exited with status 3");
  std::sort(written.begin(), written.end());
  EXPECT_EQ(written, data_keys(storage));
  EXPECT_FALSE(storage.stat("data/s/000002")) << "the object holding the last frame must not be committed";
}

TEST(PipelineFailure, CommitFailurePropagates) {
  FaultPlan plan;
  plan.fail_nth = 3;
  plan.ops = {StorageOp::kCommit};
  plan.error_text = "bucket unavailable";
  auto mem = std::make_unique<MemoryStorage>();
  MemoryStorage* inner = mem.get();
  FaultStorage storage(std::move(mem), plan);
  TestKeying keying("s", Cipher::kAes256Gcm);
  BufferSource source(testing::pseudo_random(64 * 10, 5));
  std::vector<std::string> written;
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 4, 2, 1), nullptr, &written),
                      ErrorCode::kStorage, "bucket unavailable on data/s/000002");
  EXPECT_EQ(storage.injected(), 1u);
  // Every object that did get committed is listed for removal.
  std::set<std::string> listed(written.begin(), written.end());
  for (const auto& key : data_keys(*inner)) EXPECT_TRUE(listed.count(key)) << key;
  EXPECT_FALSE(inner->stat("data/s/000002"));
}

TEST(PipelineFailure, WriteFailurePropagatesAndLeavesNothingHalfWritten) {
  FaultPlan plan;
  plan.fail_nth = 7;
  plan.ops = {StorageOp::kWrite};
  auto mem = std::make_unique<MemoryStorage>();
  MemoryStorage* inner = mem.get();
  FaultStorage storage(std::move(mem), plan);
  TestKeying keying("s", Cipher::kChaCha20Poly1305);
  BufferSource source(testing::pseudo_random(64 * 10, 6));
  std::vector<std::string> written;
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 4, 3, 2), nullptr, &written),
                      ErrorCode::kStorage, "injected fault on data/s/000001");
  std::sort(written.begin(), written.end());
  EXPECT_EQ(written, data_keys(*inner));
  EXPECT_EQ(written, (std::vector<std::string>{"data/s/000000"}));
}

// A command source in miniature: serves `bytes`, then blocks in read() like a slow producer until abort() kills it,
// after which finish() reports the kill as a command would (non-zero exit).
struct Rendezvous {
  std::mutex mu;
  std::condition_variable cv;
  bool source_blocked = false;
  bool aborted = false;
};

class StallingSource final : public ByteSource {
 public:
  StallingSource(Bytes data, Rendezvous& rv) : inner_(std::move(data)), rv_(rv) {}
  size_t read(uint8_t* buf, size_t n) override {
    if (size_t got = inner_.read(buf, n)) return got;
    std::unique_lock<std::mutex> lock(rv_.mu);
    rv_.source_blocked = true;
    rv_.cv.notify_all();
    rv_.cv.wait(lock, [&] { return rv_.aborted; });
    return 0;
  }
  void finish() override { fail(ErrorCode::kSourceFailed, "source command was killed by signal 15"); }
  void abort() noexcept override {
    std::lock_guard<std::mutex> lock(rv_.mu);
    rv_.aborted = true;
    rv_.cv.notify_all();
  }
  std::string describe() const override { return "stalling source"; }

 private:
  BufferSource inner_;
  Rendezvous& rv_;
};

// Fails the Nth write with "disk full", but only once the source is blocked waiting for more input.
class DiskFullWhileSourceWaits final : public Storage {
 public:
  DiskFullWhileSourceWaits(Rendezvous& rv, int fail_write) : rv_(rv), fail_write_(fail_write) {}
  uint32_t capabilities() const override { return inner_.capabilities(); }
  std::string describe() const override { return "disk-full"; }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override {
    return std::make_unique<Writer>(*this, inner_.open_write(key, mode));
  }
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override {
    return inner_.get(key, offset, length);
  }
  std::optional<ObjectInfo> stat(const std::string& key) override { return inner_.stat(key); }
  std::vector<ObjectInfo> list(const std::string& prefix) override { return inner_.list(prefix); }
  void remove(const std::string& key) override { inner_.remove(key); }

 private:
  class Writer final : public ObjectWriter {
   public:
    Writer(DiskFullWhileSourceWaits& owner, std::unique_ptr<ObjectWriter> inner)
        : owner_(owner), inner_(std::move(inner)) {}
    void write(ByteView data) override {
      if (++owner_.writes_ == owner_.fail_write_) {
        std::unique_lock<std::mutex> lock(owner_.rv_.mu);
        owner_.rv_.cv.wait(lock, [&] { return owner_.rv_.source_blocked; });
        fail(ErrorCode::kStorage, "cannot write data: disk full");
      }
      inner_->write(data);
    }
    void commit() override { inner_->commit(); }
    void abort() noexcept override { inner_->abort(); }

   private:
    DiskFullWhileSourceWaits& owner_;
    std::unique_ptr<ObjectWriter> inner_;
  };

  MemoryStorage inner_;
  Rendezvous& rv_;
  int fail_write_;
  int writes_ = 0;  // writes happen on the pipeline's writer thread only
};

TEST(PipelineFailure, StorageErrorIsNotMaskedByTheSourceItStopped) {
  // The writer fails while the source waits for input; stopping the source makes it fail too ("killed"), but
  // the error the user needs is the storage one.
  Rendezvous rv;
  StallingSource source(testing::pseudo_random(16 * 6, 7), rv);
  DiskFullWhileSourceWaits storage(rv, 3);  // object 0: header, frame 0, frame 1 <- fails
  TestKeying keying("s", Cipher::kAes256Gcm);
  std::vector<std::string> written;
  EXPECT_STRATA_ERROR(backup_stream(source, storage, keying, tiny_settings(16, 4, 2, 1), nullptr, &written),
                      ErrorCode::kStorage, "disk full");
  EXPECT_TRUE(rv.aborted);
  EXPECT_TRUE(written.empty());
  EXPECT_TRUE(storage.list("").empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Memory stays bounded by the settings, never by the stream's size.

struct Accounting {
  std::atomic<uint64_t> produced{0};           // plaintext bytes handed out by the source
  std::atomic<uint64_t> committed_objects{0};  // objects made durable
  std::atomic<int64_t> open_bytes{0};          // bytes held by writers not yet committed
  std::atomic<int64_t> peak_open_bytes{0};
  std::atomic<int64_t> peak_in_flight{0};
  uint64_t plain_per_object = 0;

  static void raise(std::atomic<int64_t>& peak, int64_t v) {
    int64_t p = peak.load();
    while (v > p && !peak.compare_exchange_weak(p, v)) {
    }
  }
  // Plaintext read from the source but not yet inside a committed object: every byte the pipeline holds.
  void sample() {
    raise(peak_in_flight, static_cast<int64_t>(produced.load()) -
                              static_cast<int64_t>(committed_objects.load() * plain_per_object));
  }
};

// Generates `total` bytes on demand; never holds more than the caller's buffer.
class LazySource final : public ByteSource {
 public:
  LazySource(uint64_t total, Accounting& acct) : left_(total), acct_(acct) {}
  size_t read(uint8_t* buf, size_t n) override {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, left_));
    std::memset(buf, static_cast<int>(++counter_), take);
    left_ -= take;
    acct_.produced += take;
    acct_.sample();
    return take;
  }
  std::string describe() const override { return "lazy source"; }

 private:
  uint64_t left_;
  uint8_t counter_ = 0;
  Accounting& acct_;
};

// Keeps only sizes: a storage that costs no memory, so the pipeline's own footprint is what is measured. Commits
// go through one lane and take `commit_delay` each, like a slow remote backend: if the pipeline did not wait for
// its commits, finished objects would pile up in memory. (The delay only slows the backend down; no result of the
// test depends on timing.)
class CountingStorage final : public Storage {
 public:
  CountingStorage(Accounting& acct, std::chrono::milliseconds commit_delay)
      : acct_(acct), commit_delay_(commit_delay) {}
  uint32_t capabilities() const override { return 0; }
  std::string describe() const override { return "counting"; }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode) override {
    return std::make_unique<Writer>(*this, key);
  }
  Bytes get(const std::string& key, uint64_t, uint64_t) override { fail(ErrorCode::kNotFound, key); }
  std::optional<ObjectInfo> stat(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sizes_.find(key);
    if (it == sizes_.end()) return std::nullopt;
    return ObjectInfo{key, it->second};
  }
  std::vector<ObjectInfo> list(const std::string&) override { return {}; }
  void remove(const std::string&) override {}

 private:
  class Writer final : public ObjectWriter {
   public:
    Writer(CountingStorage& owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    ~Writer() override { abort(); }
    void write(ByteView data) override {
      size_ += data.size();
      Accounting::raise(owner_.acct_.peak_open_bytes, owner_.acct_.open_bytes += static_cast<int64_t>(data.size()));
      owner_.acct_.sample();
    }
    void commit() override {
      {
        std::lock_guard<std::mutex> lane(owner_.commit_mu_);
        std::this_thread::sleep_for(owner_.commit_delay_);
      }
      {
        std::lock_guard<std::mutex> lock(owner_.mu_);
        owner_.sizes_[key_] = size_;
      }
      owner_.acct_.open_bytes -= static_cast<int64_t>(size_);
      owner_.acct_.committed_objects++;
      size_ = 0;
    }
    void abort() noexcept override {
      owner_.acct_.open_bytes -= static_cast<int64_t>(size_);
      size_ = 0;
    }

   private:
    CountingStorage& owner_;
    std::string key_;
    uint64_t size_ = 0;
  };

  Accounting& acct_;
  std::chrono::milliseconds commit_delay_;
  std::mutex mu_, commit_mu_;
  std::map<std::string, uint64_t> sizes_;
};

TEST(PipelineMemory, BytesInFlightAreBoundedBySettingsNotStreamSize) {
#if defined(__SANITIZE_ADDRESS__)
  const uint64_t total = 64ull << 20;  // keep the sanitizer run fast; the bound is the same
#else
  const uint64_t total = 256ull << 20;
#endif
  PipelineSettings s = tiny_settings(64u << 10, 16, 2, 2);  // 64 KiB frames, 1 MiB objects
  const uint64_t object_size = uint64_t{s.frame_size} * s.frames_per_object;
  Accounting acct;
  acct.plain_per_object = object_size;
  LazySource source(total, acct);
  CountingStorage storage(acct, std::chrono::milliseconds(2));
  TestKeying keying("big", Cipher::kNone);
  StreamResult r = backup_stream(source, storage, keying, s, nullptr, nullptr);
  ASSERT_EQ(r.plain_bytes, total);
  ASSERT_EQ(r.objects.size(), total / object_size);
  EXPECT_EQ(acct.committed_objects.load(), total / object_size);
  EXPECT_EQ(acct.open_bytes.load(), 0);

  // The reader holds two frames, the pool a window of a few frames per worker (4 today), the writer one object, and
  // at most io_threads objects wait for their commit. Allow one more object and a few frames of slack; a leak of
  // back-pressure shows up as tens or hundreds of MiB (a commit queue without its limit measured 15 MiB at 256 MiB).
  const int64_t bound = static_cast<int64_t>((s.io_threads + 2) * object_size + (4 * s.threads + 4) * s.frame_size);
  EXPECT_LE(acct.peak_in_flight.load(), bound) << "peak " << acct.peak_in_flight.load() << " bytes";
  EXPECT_LE(acct.peak_open_bytes.load(), static_cast<int64_t>((s.io_threads + 1) * (object_size + object_size / 8)));
  EXPECT_GT(acct.peak_in_flight.load(), static_cast<int64_t>(s.frame_size)) << "the measurement saw nothing";
}

}  // namespace
}  // namespace strata
