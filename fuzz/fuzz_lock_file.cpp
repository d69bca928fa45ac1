// Fuzzes lock files: the input is stored as one lock in an in-memory repository and read back the way every command
// that takes a lock reads all of them (RepoLock::list).
#include <cstdint>

#include "common/error.hpp"
#include "repo/lock.hpp"
#include "storage/memory/memory_storage.hpp"

using namespace strata;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemoryStorage storage;
  storage.state().objects["locks/20261121T053300Z-0011223344556677"] = Bytes(data, data + size);
  try {
    (void)RepoLock::list(storage);
  } catch (const StrataError&) {
  }
  return 0;
}
