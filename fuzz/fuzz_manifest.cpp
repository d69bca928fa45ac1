// Fuzzes manifest parsing: the raw file as a reader gets it (public part, framing, signature block), and, for an
// input that starts with '{', a sealed part whose plaintext is the input, sealed under the key the harness knows so the fuzzer
// reaches the layout parser past authentication (what a forger holding the public key can produce).
#include <cstdint>
#include <cstring>
#include <string>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "io/crypto.hpp"
#include "repo/manifest.hpp"

using namespace strata;

namespace {

// A valid public part for one object of one frame; the sealed part comes from the input.
Manifest base_manifest() {
  Manifest m;
  m.id = "20261121T053300Z-0a1b2c3d";
  m.source = "s";
  m.cipher = "none";
  m.frame_size = 65536;
  m.frames_per_object = 4;
  m.stream.frames = 1;
  m.stream.plain_bytes = 10;
  m.stream.stored_bytes = 42;
  ObjectRecord o;
  o.name = m.id + "/000000";
  o.key = "data/" + o.name;
  o.size = 58;
  m.stream.objects.push_back(o);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Key32 key{};
  if (size > 0 && data[0] == '{') {
    static const Bytes prefix = [] {
      Bytes enc = encode_manifest(base_manifest(), Cipher::kNone, Key32{});
      return Bytes(enc.begin(), enc.begin() + 16 + get_u32le(enc.data() + 12));  // magic .. public JSON
    }();
    Bytes blob = prefix;
    size_t at = blob.size();
    blob.resize(at + 4 + size + kTagSize);
    put_u32le(blob.data() + at, static_cast<uint32_t>(size + kTagSize));
    uint8_t nonce[kNonceSize] = {};
    aead_seal(Cipher::kNone, key, nonce, ByteView(prefix), ByteView(data, size), blob.data() + at + 4);
    try {
      Manifest m = decode_manifest_public(blob, "f");
      decode_manifest_sealed(blob, m, key, "f");
      (void)manifest_to_json(m, true, 2);
    } catch (const StrataError&) {
    }
    return 0;
  }
  try {
    Manifest m = decode_manifest_public(ByteView(data, size), "f");
    (void)manifest_to_json(m, false, -1);
    check_manifest_cipher(m, true, "f");
    decode_manifest_sealed(ByteView(data, size), m, key, "f");
  } catch (const StrataError&) {
  }
  return 0;
}
