#pragma once
// The streaming pipeline: source -> frames -> compress -> seal (parallel, order kept) -> data objects -> storage,
// and back. It knows nothing of manifests or passphrases: the repository supplies object names and frame keys.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/codec.hpp"
#include "io/crypto.hpp"
#include "io/frame.hpp"

namespace strata {

class Storage;
class CancelToken;
class Logger;
class ByteSource;
class ByteSink;

struct PipelineSettings {
  uint32_t frame_size = 1u << 20;
  uint32_t frames_per_object = 64;  // object_size / frame_size
  Compression compression;
  unsigned threads = 0;       // compression/encryption workers; 0 = one per core
  unsigned io_threads = 4;    // concurrent object reads/commits
  uint32_t read_block = 4u << 20;  // restore fetches objects in blocks of this size
  // Set: a cancelled token stops the stream (the source's process group, the queues) and the call throws
  // StrataError(kInterrupted); nothing half-done is reported as a result.
  const CancelToken* cancel = nullptr;
  // The job's logger (common/logger.hpp): what the repository and the engines log for this stream carries its
  // fields. Null: the process's logger (logger_or_default).
  const Logger* log = nullptr;
  unsigned worker_count() const;
};

// One data object's place in a stream. offset/length delimit the frames inside the object, so a later pack format
// (many streams' frames per object) uses the same record.
struct ObjectRecord {
  std::string name;    // bound into every frame's AAD
  std::string key;     // storage key
  uint64_t size = 0;   // whole stored object
  Digest16 digest{};   // XXH3-128 of the whole stored object: checkable without keys
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t first_frame = 0;
  uint64_t frame_count = 0;
  uint64_t plain_bytes = 0;
};

struct StreamResult {
  uint64_t plain_bytes = 0;
  uint64_t stored_bytes = 0;
  uint64_t frames = 0;
  Digest32 plain_sha256{};
  std::vector<ObjectRecord> objects;
};

// Supplied by the repository: naming and keys of the objects of one stream.
class ObjectKeying {
 public:
  virtual ~ObjectKeying() = default;
  virtual std::string object_name(uint64_t seq) const = 0;
  virtual std::string storage_key(const std::string& object_name) const = 0;
  virtual FrameContext frame_context(const std::string& object_name) const = 0;
};

using ProgressFn = std::function<void(uint64_t plain_bytes, uint64_t stored_bytes)>;

// Holds a backup's writes until the caller may store anything (the repository key check of unlock_async): sealed
// frames wait in memory, at most kBudget bytes, then the writer blocks in open() until it returns or throws.
struct WriteGate {
  static constexpr uint64_t kBudget = 32u << 20;
  std::function<bool()> ready;  // non-blocking
  std::function<void()> open;   // blocks; throws when nothing may be written
};

// Streams `source` into objects. On failure every object already committed is listed in `written` (so the caller
// can remove it) and the exception propagates.
StreamResult backup_stream(ByteSource& source, Storage& storage, const ObjectKeying& keying,
                           const PipelineSettings& settings, const ProgressFn& progress,
                           std::vector<std::string>* written, const WriteGate* gate = nullptr);

// Streams the objects back into `sink`, verifying every frame, the frame count, the size and the SHA-256 before
// calling sink.finish(). On any mismatch sink.abort() is called and StrataError(kCorrupt) thrown.
void restore_stream(Storage& storage, const ObjectKeying& keying, const StreamResult& expected, ByteSink& sink,
                    const PipelineSettings& settings, const ProgressFn& progress);

}  // namespace strata
