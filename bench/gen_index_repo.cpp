// Generator for bench/run_index_bench.sh: a repository of N user backups spread over S sources, written directly
// (config, manifests and source index entries, the same bytes Repository::backup writes for them) instead of
// running N backups. The backups have no data objects: `list` reads manifests only, and restoring one would
// fail — this repository is for timing listings, nothing else.
//
//   strata_gen_index_repo LOCATION BACKUPS SOURCES [THREADS]     (LOCATION: a path or s3://bucket/prefix)
//
// Sources are src-0000 ... ; backup i belongs to source i % SOURCES and started i microseconds after a fixed
// epoch, so every source's backups are interleaved with all others' under backups/ (as a fleet's are).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "io/crypto.hpp"
#include "io/frame.hpp"
#include "repo/index.hpp"
#include "repo/layout.hpp"
#include "repo/manifest.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

using namespace strata;

namespace {

Manifest make_manifest(uint64_t i, uint64_t sources) {
  constexpr int64_t kEpochUs = 1796000000ll * 1000000;
  char id[64], source[32];
  std::snprintf(id, sizeof id, "20261128T000000Z-%08llx", static_cast<unsigned long long>(i));
  std::snprintf(source, sizeof source, "src-%04llu", static_cast<unsigned long long>(i % sources));
  Manifest m;
  m.id = id;
  m.source = source;
  m.started_us = kEpochUs + static_cast<int64_t>(i);
  m.started_epoch = m.started_us / 1000000;
  m.finished_epoch = m.started_epoch + 1;
  m.started = "2026-11-28T00:00:00Z";
  m.finished = "2026-11-28T00:00:01Z";
  m.host = "bench";
  m.tool_version = "bench";
  m.compression = "zstd:3";
  m.cipher = "none";
  m.writer = "unencrypted";
  m.frame_size = 1u << 20;
  m.frames_per_object = 64;
  ObjectRecord o;
  o.name = m.id + "/000000";
  o.key = layout::kData + o.name;
  o.offset = kObjectHeaderSize;
  o.length = kFrameHeaderSize + 1000 + 16;
  o.size = o.offset + o.length;
  o.frame_count = 1;
  o.plain_bytes = 4000;
  m.stream.objects.push_back(o);
  m.stream.frames = 1;
  m.stream.plain_bytes = o.plain_bytes;
  m.stream.stored_bytes = o.length;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s LOCATION BACKUPS SOURCES [THREADS]\n", argv[0]);
    return 2;
  }
  const std::string location = argv[1];
  const uint64_t backups = std::strtoull(argv[2], nullptr, 10), sources = std::strtoull(argv[3], nullptr, 10);
  const unsigned threads = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 8;
  try {
    auto storage = open_storage(location);
    InitOptions init;
    init.encrypted = false;
    Repository::init(*storage, init);
    // An unencrypted repository's data keys are all zero (repo/repository.cpp), and so is what seals manifests.
    const Key32 manifest_key = derive_key(Key32{}, "strata/manifest/v1");
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        auto s = open_storage(location);
        try {
          for (uint64_t i; !failed && (i = next++) < backups;) {
            Manifest m = make_manifest(i, sources);
            // As Repository::backup: the entry, then the manifest.
            s->put(index_entry_key(m), as_bytes(encode_index_entry(m)), PutMode::kCreateOnly);
            s->put(layout::manifest_key("", m.id), encode_manifest(m, Cipher::kNone, manifest_key), PutMode::kCreateOnly);
          }
        } catch (const std::exception& e) {
          std::fprintf(stderr, "strata_gen_index_repo: %s\n", e.what());
          failed = true;
        }
      });
    }
    for (auto& t : pool) t.join();
    if (failed) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_gen_index_repo: %s\n", e.what());
    return 1;
  }
  return 0;
}
