// Fuzzes the key-like files a repository or host holds: passphrase-wrapped keys (keys/<id>), writer records
// (writers/<id>) and writer key files. A wrapped key whose KDF cost is tiny is also unwrapped, so the bounds and the
// decryption path both run; larger (but in-bounds) costs are parsed only, to keep executions fast.
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "repo/keys.hpp"
#include "repo/writer.hpp"

using namespace strata;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    WrappedKey w = wrapped_key_from_json(text, "keys/f");
    if (w.kdf.opslimit == 1 && w.kdf.memlimit <= 16384) (void)unwrap_secret_key(w, "pw", "repo");
    (void)wrapped_key_to_json(w);
  } catch (const StrataError&) {
  }
  try {
    WriterRecord r = writer_record_from_json(text, "writers/f");
    (void)writer_record_authentic(r, "repo", Key32{});
  } catch (const StrataError&) {
  }
  try {
    WriterKey k = writer_key_from_text(text, "f.key");
    (void)writer_key_to_text(k);
  } catch (const StrataError&) {
  }
  return 0;
}
