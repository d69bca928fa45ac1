// Fuzzes data objects: object and frame headers, frame framing and decoding, through the restore pipeline that
// reads them. The input is one stored object of an unencrypted stream; the first byte picks how many frames the
// manifest claims, so counts that disagree with the bytes are covered too.
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "io/frame.hpp"
#include "io/pipeline.hpp"
#include "io/stream.hpp"
#include "storage/memory/memory_storage.hpp"

using namespace strata;

namespace {

class Keying final : public ObjectKeying {
 public:
  std::string object_name(uint64_t) const override { return "f/000000"; }
  std::string storage_key(const std::string& name) const override { return "data/" + name; }
  FrameContext frame_context(const std::string& name) const override {
    FrameContext c;
    c.object_name = name;
    return c;
  }
};

class NullSink final : public ByteSink {
 public:
  void write(ByteView) override {}
  void finish() override {}
  void abort() noexcept override {}
  std::string describe() const override { return "null"; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  for (size_t i = 1; i + kFrameHeaderSize <= size; ++i) (void)parse_frame_header(data + i);
  (void)is_object_header(ByteView(data + 1, size - 1));
  ByteView object(data + 1, size - 1);
  if (object.size() < kObjectHeaderSize) return 0;
  MemoryStorage storage;
  storage.state().objects["data/f/000000"] = Bytes(object.begin(), object.end());
  StreamResult expected;
  ObjectRecord o;
  o.name = "f/000000";
  o.key = "data/f/000000";
  o.size = object.size();
  o.offset = kObjectHeaderSize;
  o.length = object.size() - kObjectHeaderSize;
  o.frame_count = 1 + data[0] % 4;
  expected.objects.push_back(o);
  expected.frames = o.frame_count;
  PipelineSettings settings;
  settings.threads = 1;
  settings.io_threads = 1;
  settings.read_block = 64;  // small blocks: frames and headers split across reads
  Keying keying;
  NullSink sink;
  try {
    restore_stream(storage, keying, expected, sink, settings, nullptr);
  } catch (const StrataError&) {
  }
  return 0;
}
