#include "io/pipeline.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <thread>

#include "common/cancel.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/ordered_pool.hpp"
#include "io/stream.hpp"
#include "storage/storage.hpp"

namespace strata {

unsigned PipelineSettings::worker_count() const {
  if (threads) return threads;
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 2;
}

namespace {

struct PlainFrame {
  uint64_t index = 0;
  bool last = false;
  FrameBuffer data;
};

struct SealedFrame {
  uint64_t index = 0;
  uint64_t plain_len = 0;
  FrameBuffer data;
};

// Caches the derived frame context per worker: every frame of an object shares it.
const FrameContext& context_for(const ObjectKeying& keying, const std::string& name) {
  thread_local std::string cached_name;
  thread_local FrameContext cached;
  thread_local const ObjectKeying* cached_keying = nullptr;
  if (cached_keying != &keying || cached_name != name) {
    cached = keying.frame_context(name);
    cached_name = name;
    cached_keying = &keying;
  }
  return cached;
}

// Commits finished objects in the background so the writer can fill the next one meanwhile; at most `limit`
// commits are outstanding.
class CommitQueue {
 public:
  explicit CommitQueue(size_t limit) : limit_(limit) {}
  ~CommitQueue() {
    for (auto& f : pending_) {
      if (f.valid()) f.wait();
    }
  }
  void push(std::unique_ptr<ObjectWriter> writer) {
    while (pending_.size() >= limit_) pop();
    std::shared_ptr<ObjectWriter> w(std::move(writer));
    pending_.push_back(std::async(std::launch::async, [w] { w->commit(); }));
  }
  void drain() {
    while (!pending_.empty()) pop();
  }

 private:
  void pop() {
    auto f = std::move(pending_.front());
    pending_.pop_front();
    f.get();  // rethrows the commit's error
  }
  size_t limit_;
  std::deque<std::future<void>> pending_;
};

}  // namespace

StreamResult backup_stream(ByteSource& source, Storage& storage, const ObjectKeying& keying,
                           const PipelineSettings& settings, const ProgressFn& progress,
                           std::vector<std::string>* written, const WriteGate* gate) {
  if (settings.frame_size == 0 || settings.frame_size > kMaxFramePlain) {
    fail(ErrorCode::kUsage, "frame size must be between 1 byte and 64 MiB");
  }
  if (settings.frames_per_object == 0) fail(ErrorCode::kUsage, "object size must be at least one frame");
  const unsigned workers = settings.worker_count();
  const uint32_t fpo = settings.frames_per_object;

  OrderedPool<PlainFrame, SealedFrame> pool(
      workers, workers * 4, [&](PlainFrame& f, uint64_t) {
        SealedFrame out;
        out.index = f.index;
        out.plain_len = f.data.size();
        out.data.resize(max_encoded_frame(settings.compression, f.data.size()));
        const std::string name = keying.object_name(f.index / fpo);
        out.data.resize(encode_frame(settings.compression, context_for(keying, name), f.index, f.last,
                                     ByteView(f.data.data(), f.data.size()), out.data.data()));
        return out;
      });

  // Cancellation stops the producer and the queue; the checks below turn what follows into kInterrupted.
  CancelHook cancel_hook(settings.cancel, [&] {
    pool.cancel();
    source.abort();
  });
  auto throw_if_cancelled = [&] {
    if (settings.cancel) settings.cancel->throw_if_cancelled();
  };

  StreamResult result;
  std::exception_ptr reader_error;
  // Set before the writer side stops the source: a source error after that (a killed command exits non-zero) is a
  // consequence of the writer's failure and must not replace it.
  std::atomic<bool> stopping_source{false};
  Sha256 plain_hash;
  std::thread reader([&] {
    try {
      uint64_t index = 0;
      FrameBuffer cur(settings.frame_size);
      cur.resize(source.read_full(cur.data(), cur.size()));
      for (;;) {
        FrameBuffer next;
        if (cur.size() == settings.frame_size) {
          next.resize(settings.frame_size);
          next.resize(source.read_full(next.data(), next.size()));
        }
        // The stream is only complete if the source also ended cleanly: check before the last frame is sealed.
        bool last = next.empty();
        if (last) source.finish();
        plain_hash.update(ByteView(cur.data(), cur.size()));
        result.plain_bytes += cur.size();
        if (!pool.submit(PlainFrame{index++, last, std::move(cur)})) break;
        if (last) break;
        cur = std::move(next);
      }
    } catch (...) {
      if (!stopping_source) reader_error = std::current_exception();
      source.abort();
    }
    pool.close();
  });

  CommitQueue commits(settings.io_threads ? settings.io_threads : 1);
  std::unique_ptr<ObjectWriter> writer;
  std::unique_ptr<Xxh128> object_hash;
  ObjectRecord* current = nullptr;
  uint64_t plain_done = 0;

  auto finish_object = [&] {
    if (!writer) return;
    current->digest = object_hash->finish();
    commits.push(std::move(writer));
    if (written) written->push_back(current->key);
  };

  auto store = [&](SealedFrame& sealed) {
    uint64_t seq = sealed.index / fpo;
    if (sealed.index % fpo == 0) {
      finish_object();
      ObjectRecord rec;
      rec.name = keying.object_name(seq);
      rec.key = keying.storage_key(rec.name);
      rec.offset = kObjectHeaderSize;
      rec.first_frame = sealed.index;
      result.objects.push_back(std::move(rec));
      current = &result.objects.back();
      writer = storage.open_write(current->key, PutMode::kCreateOnly);
      object_hash = std::make_unique<Xxh128>();
      Bytes header = object_header();
      writer->write(header);
      object_hash->update(header);
      current->size = header.size();
    }
    ByteView sealed_bytes(sealed.data.data(), sealed.data.size());
    writer->write(sealed_bytes);
    object_hash->update(sealed_bytes);
    current->size += sealed.data.size();
    current->length += sealed.data.size();
    current->frame_count++;
    current->plain_bytes += sealed.plain_len;
    result.stored_bytes += sealed.data.size();
    result.frames++;
    plain_done += sealed.plain_len;
    if (progress) progress(plain_done, result.stored_bytes);
    // Test hook (common/cancel.hpp): park here, with the source still producing, until a signal cancels us.
    if (result.frames == 1 && settings.cancel) test_pause_point("backup_first_frame", *settings.cancel);
  };
  std::deque<SealedFrame> held;  // sealed while the gate was closed
  uint64_t held_bytes = 0;
  bool gate_open = gate == nullptr;
  auto open_gate = [&] {
    gate->open();
    gate_open = true;
    for (auto& f : held) store(f);
    held.clear();
  };

  try {
    for (;;) {
      // A source that pauses (a dump waiting on a lock) must not keep what is already sealed out of storage: while
      // frames are held, look at the gate again every few milliseconds instead of only when the next frame comes.
      while (!gate_open && !held.empty() && !pool.wait_for_next(std::chrono::milliseconds(5))) {
        if (gate->ready()) open_gate();
      }
      auto sealed = pool.next();
      if (!sealed) break;
      if (!gate_open) {
        if (gate->ready() || held_bytes + sealed->data.size() > WriteGate::kBudget) {
          open_gate();
        } else {
          held_bytes += sealed->data.size();
          held.push_back(std::move(*sealed));
          continue;
        }
      }
      store(*sealed);
    }
    throw_if_cancelled();  // a cancelled queue ends early: that is not the end of the stream
    if (!gate_open) open_gate();
    reader.join();
    throw_if_cancelled();  // the source's death was our doing
    if (reader_error) std::rethrow_exception(reader_error);
    if (result.frames == 0) fail(ErrorCode::kGeneric, "backup produced no frames");
    finish_object();
    commits.drain();
  } catch (...) {
    stopping_source = true;
    pool.cancel();
    source.abort();
    if (reader.joinable()) reader.join();
    if (writer) writer->abort();
    try {
      commits.drain();
    } catch (...) {
      // The first error is the one worth reporting.
    }
    throw_if_cancelled();  // whatever failed after a cancel is its consequence
    // Prefer the source's error: a storage failure after the source died is a consequence, not the cause.
    if (reader_error) std::rethrow_exception(reader_error);
    throw;
  }
  result.plain_sha256 = plain_hash.finish();
  return result;
}

namespace {

struct BlockRequest {
  size_t object = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// One sealed frame (header + payload). It points into the fetched block that holds it, which `owner` keeps alive,
// so frames are not copied out of blocks; only a frame split across two blocks gets a buffer of its own.
struct FrameJob {
  size_t object = 0;
  uint64_t index = 0;
  FrameHeader header;  // as the parser read it
  std::shared_ptr<const Bytes> owner;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
};

struct PlainOut {
  uint64_t index = 0;
  bool last = false;
  FrameBuffer data;
};

// Hashes restored frames on its own thread, in order, so the SHA-256 of the plaintext overlaps with writing it:
// on a restore into a file those are the two sequential costs left once decoding runs in parallel.
class BackgroundHasher {
 public:
  explicit BackgroundHasher(size_t max_queued) : max_(max_queued), thread_([this] { run(); }) {}
  ~BackgroundHasher() { stop(); }
  void push(SharedView frame) {
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return queue_.size() < max_; });
    queue_.push_back(std::move(frame));
    work_cv_.notify_one();
  }
  Digest32 finish() {
    stop();
    return hash_.finish();
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      work_cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }
  void run() {
    for (;;) {
      SharedView frame;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        frame = std::move(queue_.front());
        queue_.pop_front();
        space_cv_.notify_one();
      }
      hash_.update(frame.bytes);
    }
  }
  Sha256 hash_;
  size_t max_;
  std::mutex mu_;
  std::condition_variable work_cv_, space_cv_;
  std::deque<SharedView> queue_;
  bool done_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

[[noreturn]] void corrupt(const ObjectRecord& obj, const std::string& what) {
  fail(ErrorCode::kCorrupt, "object " + obj.key + " is corrupt: " + what +
                                "; run 'strata check --read-data' to find every damaged backup");
}

}  // namespace

void restore_stream(Storage& storage, const ObjectKeying& keying, const StreamResult& expected, ByteSink& sink,
                    const PipelineSettings& settings, const ProgressFn& progress) {
  const unsigned workers = settings.worker_count();
  const unsigned io = settings.io_threads ? settings.io_threads : 1;
  const uint64_t block = settings.read_block ? settings.read_block : (4u << 20);
  const auto& objects = expected.objects;

  OrderedPool<BlockRequest, Bytes> fetch(io, io * 2, [&](BlockRequest& r, uint64_t) {
    const ObjectRecord& obj = objects[r.object];
    Bytes b;
    try {
      b = storage.get(obj.key, r.offset, r.length);
    } catch (const StrataError& e) {
      // An object the stream records but storage lacks is damage to the backup, like a truncated one.
      if (e.code() != ErrorCode::kNotFound) throw;
      corrupt(obj, "it is missing");
    }
    if (b.size() != r.length) {
      corrupt(obj, "it is truncated (" + std::to_string(r.offset + b.size()) + " of " + std::to_string(obj.size) +
                       " bytes present)");
    }
    return b;
  });

  OrderedPool<FrameJob, PlainOut> decode(workers, workers * 4, [&](FrameJob& job, uint64_t) {
    const ObjectRecord& obj = objects[job.object];
    const FrameContext& ctx = context_for(keying, obj.name);
    PlainOut out;
    out.index = job.index;
    out.last = job.header.last();
    out.data.resize(job.header.plain_len);
    if (!decode_frame_into(ctx, job.index, job.bytes, ByteView(job.bytes + kFrameHeaderSize, job.size - kFrameHeaderSize),
                           out.data.data())) {
      corrupt(obj, "frame " + std::to_string(job.index) + " failed authentication (damaged or tampered data, or a key "
                   "that does not belong to this backup)");
    }
    return out;
  });

  std::thread producer([&] {
    for (size_t i = 0; i < objects.size(); ++i) {
      uint64_t end = objects[i].offset + objects[i].length;
      for (uint64_t off = 0; off < end; off += block) {
        if (!fetch.submit(BlockRequest{i, off, std::min(block, end - off)})) {
          fetch.close();
          return;
        }
      }
    }
    fetch.close();
  });

  std::exception_ptr parser_error;
  std::thread parser([&] {
    try {
      FrameSplitter split;  // of the current object
      size_t obj_index = 0;
      uint64_t consumed = 0;  // bytes of the current object consumed, including its header
      uint64_t frame = objects.empty() ? 0 : objects[0].first_frame;
      uint64_t frames_in_obj = 0;
      auto end_of_object = [&] {
        const ObjectRecord& obj = objects[obj_index];
        if (split.has_partial() || frames_in_obj != obj.frame_count) {
          corrupt(obj, "it holds " + std::to_string(frames_in_obj) + " whole frames where the manifest records " +
                           std::to_string(obj.frame_count));
        }
      };
      // Hands a whole frame on to the decoders. Returns false once they are cancelled.
      auto emit = [&](const FrameSplitter::Frame& f) {
        ++frames_in_obj;
        if (frames_in_obj > objects[obj_index].frame_count) {
          corrupt(objects[obj_index], "it holds more frames than the manifest records");
        }
        return decode.submit(FrameJob{obj_index, frame++, f.header, f.owner, f.bytes, f.size()});
      };
      while (auto fetched = fetch.next()) {
        // Blocks arrive in order; a block at offset 0 starts the next object.
        if (consumed > 0 && consumed == objects[obj_index].offset + objects[obj_index].length) {
          end_of_object();
          ++obj_index;
          consumed = 0;
          frames_in_obj = 0;
          split = FrameSplitter();
          frame = objects[obj_index].first_frame;
        }
        const ObjectRecord& obj = objects[obj_index];
        consumed += fetched->size();
        switch (split.feed(std::make_shared<const Bytes>(std::move(*fetched)), emit)) {
          case FrameSplitter::Status::kMore: break;
          case FrameSplitter::Status::kStopped: return;
          case FrameSplitter::Status::kBadObjectHeader: corrupt(obj, "bad object header");
          case FrameSplitter::Status::kDamagedFrameHeader:
            corrupt(obj, "frame " + std::to_string(frame) + " has a damaged header");
        }
      }
      if (!objects.empty()) end_of_object();
    } catch (...) {
      parser_error = std::current_exception();
      fetch.cancel();
    }
    decode.close();
  });

  CancelHook cancel_hook(settings.cancel, [&] {
    decode.cancel();
    fetch.cancel();
  });
  auto throw_if_cancelled = [&] {
    if (settings.cancel) settings.cancel->throw_if_cancelled();
  };

  BackgroundHasher hash(workers * 2);
  uint64_t plain = 0, frames = 0;
  try {
    bool saw_last = false;
    while (auto out = decode.next()) {
      if (saw_last) fail(ErrorCode::kCorrupt, "backup data continues after its last frame; the manifest or objects were tampered with");
      saw_last = out->last;
      auto data = std::make_shared<const FrameBuffer>(std::move(out->data));
      SharedView frame{data, ByteView(data->data(), data->size())};
      hash.push(frame);
      plain += data->size();
      sink.write_shared(std::move(frame));
      ++frames;
      if (progress) progress(plain, 0);
      if (frames == 1 && settings.cancel) test_pause_point("restore_first_frame", *settings.cancel);
      throw_if_cancelled();
    }
    throw_if_cancelled();  // cancelled queues end early: not a truncated backup
    parser.join();
    producer.join();
    if (parser_error) std::rethrow_exception(parser_error);
    if (frames != expected.frames || !saw_last) {
      fail(ErrorCode::kCorrupt, "backup is truncated: " + std::to_string(frames) + " of " +
                                    std::to_string(expected.frames) + " frames present");
    }
    if (plain != expected.plain_bytes) {
      fail(ErrorCode::kCorrupt, "restored size " + std::to_string(plain) + " differs from the recorded " +
                                    std::to_string(expected.plain_bytes) + " bytes");
    }
    Digest32 got = hash.finish();
    if (!equal_ct(ByteView(got.data(), 32), ByteView(expected.plain_sha256.data(), 32))) {
      fail(ErrorCode::kCorrupt, "restored data has SHA-256 " + digest_hex(got) + " but the backup recorded " +
                                    digest_hex(expected.plain_sha256));
    }
    sink.finish();
  } catch (...) {
    decode.cancel();
    fetch.cancel();
    if (parser.joinable()) parser.join();
    if (producer.joinable()) producer.join();
    sink.abort();
    throw_if_cancelled();
    if (parser_error) {
      try {
        std::rethrow_exception(parser_error);
      } catch (const StrataError&) {
        throw;
      } catch (...) {
      }
    }
    throw;
  }
}

}  // namespace strata
