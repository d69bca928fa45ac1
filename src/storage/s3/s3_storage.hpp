#pragma once
// S3-compatible object storage (AWS, MinIO, Ceph, OSS, COS, moto). Objects that fit in one part go up as one PUT;
// larger ones by multipart upload, parts sent concurrently from a bounded, process-wide buffer budget while the
// pipeline keeps writing. Create-only writes use If-None-Match: * (or a documented HEAD check where unsupported).
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/s3/s3_client.hpp"
#include "storage/storage.hpp"

namespace strata::s3 {

// Bytes of part buffers in use, across all writers: write() waits here, which is the back-pressure that keeps
// memory bounded by settings instead of by the speed of the network.
class BufferBudget {
 public:
  explicit BufferBudget(uint64_t limit) : limit_(limit) {}
  void acquire(uint64_t n);
  void release(uint64_t n);
  uint64_t peak() const { return peak_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t limit_, used_ = 0, peak_ = 0;
};

class TaskPool {
 public:
  explicit TaskPool(unsigned threads);
  ~TaskPool();
  void submit(std::function<void()> task);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

// Part n (1-based) of a multipart upload: part_size for the first 1,000 parts, then doubling every 1,000, so a
// stream of unknown length reaches S3's 5 TiB object limit before the 10,000-part limit.
uint64_t part_size_for(uint64_t base, uint64_t part_number);
// Extra bytes a part buffer holds beyond its part size (an eighth). An object up to part_size + this is one PUT,
// and a tail up to this joins the last part: fewer requests, and no multipart upload at all for data objects of
// --object-size = part_size, whose frame headers and tags make them a few KiB larger than the round size.
uint64_t part_tail_allowance(uint64_t part_size);

// The body of a quiet DeleteObjects request for these full keys (the answer then lists only the failures), and the
// failures of an answer. Pure, so both are unit-tested without a server.
std::string delete_objects_xml(const std::vector<std::string>& full_keys);
struct DeleteFailure {
  std::string key, code, message;
};
std::vector<DeleteFailure> delete_failures(const std::string& answer);

class S3Storage final : public Storage {
 public:
  explicit S3Storage(S3Config config);
  ~S3Storage() override;
  uint32_t capabilities() const override;
  // 8 MiB: each data object is one PUT (a 64 MiB one is a multipart upload of ~10 requests that the service must
  // reassemble), and restores read more objects in parallel (docs/BENCHMARKS.md, S3).
  uint64_t object_size_hint() const override { return 8u << 20; }
  std::string describe() const override { return client_.config().describe(); }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override;
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  // DeleteObjects, 1,000 keys a request; a service that answers it with 501 (some S3-compatible stores) gets one
  // DELETE per key from then on.
  void remove_many(const std::vector<std::string>& keys) override;
  // Multipart uploads never completed nor aborted. The key reads "KEY?uploadId=ID" so that remove_incomplete()
  // can abort exactly that upload.
  std::vector<ObjectInfo> list_incomplete(const std::string& prefix) override;
  void remove_incomplete(const ObjectInfo& info) override;

  Client& client() { return client_; }
  BufferBudget& budget() { return budget_; }
  TaskPool& pool() { return pool_; }
  std::string full_key(const std::string& key) const { return client_.config().prefix + key; }

 private:
  // One DeleteObjects request for keys[from, to); false when the service answers 501 (then never asked again).
  bool delete_objects(const std::vector<std::string>& keys, size_t from, size_t to);

  Client client_;
  std::atomic<bool> no_multi_delete_{false};
  BufferBudget budget_;
  TaskPool pool_;
};

}  // namespace strata::s3
