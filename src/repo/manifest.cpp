#include "repo/manifest.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "io/frame.hpp"
#include "repo/bounded_json.hpp"
#include "repo/layout.hpp"

namespace strata {
namespace {

using nlohmann::json;
constexpr char kMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'M', '1'};

json public_json(const Manifest& m) {
  json objects = json::array();
  for (const auto& o : m.stream.objects) {
    objects.push_back({{"key", o.key}, {"size", o.size}, {"xxh3_128", digest_hex(o.digest)}});
  }
  return {{"format_version", kManifestVersion},
          {"id", m.id},
          {"source", m.source},
          {"type", m.type},
          {"parent", m.parent},
          {"started", m.started},
          {"finished", m.finished},
          {"started_epoch", m.started_epoch},
          {"started_us", m.started_us},
          {"finished_epoch", m.finished_epoch},
          {"host", m.host},
          {"tool_version", m.tool_version},
          {"labels", m.labels},
          {"compression", m.compression},
          {"cipher", m.cipher},
          {"writer", m.writer},
          {"frame_size", m.frame_size},
          {"frames_per_object", m.frames_per_object},
          {"wrapped_data_key", base64_encode(m.wrapped_data_key)},
          {"plain_bytes", m.stream.plain_bytes},
          {"stored_bytes", m.stream.stored_bytes},
          {"frames", m.stream.frames},
          {"engine", json::parse(m.engine_json)},
          {"objects", objects}};
}

json public_json_signed(const Manifest& m) {
  json j = public_json(m);
  if (!m.writer_id.empty()) {
    j["format_version"] = kManifestVersion;
    j["writer_id"] = m.writer_id;
    j["writer_name"] = m.writer_name;
  } else {
    j["format_version"] = kManifestVersionUnsigned;
  }
  return j;
}

json sealed_json(const Manifest& m) {
  json layout = json::array();
  for (const auto& o : m.stream.objects) {
    layout.push_back({{"name", o.name},
                      {"offset", o.offset},
                      {"length", o.length},
                      {"first_frame", o.first_frame},
                      {"frame_count", o.frame_count},
                      {"plain_bytes", o.plain_bytes}});
  }
  return {{"plain_sha256", digest_hex(m.stream.plain_sha256)}, {"layout", layout}};
}

Digest32 to_digest(const std::string& hex, const std::string& where) {
  Bytes b = hex_decode(hex);
  if (b.size() != 32) fail(ErrorCode::kCorrupt, "manifest " + where + " has a malformed digest");
  Digest32 d;
  std::memcpy(d.data(), b.data(), 32);
  return d;
}

Digest16 to_digest16(const std::string& hex, const std::string& where) {
  Bytes b = hex_decode(hex);
  if (b.size() != 16) fail(ErrorCode::kCorrupt, "manifest " + where + " has a malformed object digest");
  Digest16 d;
  std::memcpy(d.data(), b.data(), 16);
  return d;
}

struct Parts {
  uint32_t version = 0;
  ByteView aad;        // magic .. end of public JSON
  ByteView pub;        // public JSON
  ByteView sealed;     // sealed part
  ByteView signature;  // version 2: the writer's signature
  uint64_t signed_size = 0;
};

Parts split(ByteView data, const std::string& where) {
  if (data.size() < 16 || std::memcmp(data.data(), kMagic, 8) != 0) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (bad header); restore it from a copy or delete the backup");
  }
  Parts p;
  p.version = get_u32le(data.data() + 8);
  if (p.version > kManifestVersion) {
    fail(ErrorCode::kUnsupportedVersion, "manifest " + where + " has format version " + std::to_string(p.version) +
                                             "; this strata reads up to " + std::to_string(kManifestVersion) +
                                             ": upgrade strata");
  }
  if (p.version == 0) fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (format version 0)");
  uint64_t pub_len = get_u32le(data.data() + 12);
  if (pub_len > kMaxManifestPublicBytes) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (public part of " + std::to_string(pub_len) + " bytes)");
  }
  if (16 + pub_len + 4 > data.size()) fail(ErrorCode::kCorrupt, "manifest " + where + " is truncated");
  uint64_t sealed_len = get_u32le(data.data() + 16 + pub_len);
  if (sealed_len > kMaxManifestSealedBytes) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (sealed part of " + std::to_string(sealed_len) + " bytes)");
  }
  uint64_t end = 16 + pub_len + 4 + sealed_len;
  uint64_t expect = p.version >= 2 ? end + 4 + kManifestSignatureSize : end;
  if (expect > data.size()) fail(ErrorCode::kCorrupt, "manifest " + where + " is truncated");
  if (expect < data.size()) fail(ErrorCode::kCorrupt, "manifest " + where + " has trailing bytes");
  if (p.version >= 2) {
    if (get_u32le(data.data() + end) != kManifestSignatureSize) {
      fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (bad signature length)");
    }
    p.signature = data.subspan(end + 4, kManifestSignatureSize);
    p.signed_size = end;
  }
  p.aad = data.subspan(0, 16 + pub_len);
  p.pub = data.subspan(16, pub_len);
  p.sealed = data.subspan(16 + pub_len + 4, sealed_len);
  return p;
}

std::string_view text_of(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A string field, bounded (all of them end up in tables, logs and file names).
std::string bounded_string(const json& j, const char* name, const std::string& where, bool required,
                           size_t max = kMaxManifestText) {
  if (!j.contains(name)) {
    if (required) fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (field '" + name + "' is missing)");
    return "";
  }
  std::string v = j.at(name).get<std::string>();
  if (v.size() > max) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (field '" + name + "' is " + std::to_string(v.size()) +
                                  " bytes long, more than " + std::to_string(max) + ")");
  }
  return v;
}

bool is_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The public part must describe a stream this strata could have written: object keys under the backup's own
// prefix in sequence, frame counts that fit the frame and object sizes, sizes that add up. Everything later code
// trusts (object count, offsets, sizes) is checked here, once.
void validate_public(const Manifest& m, const std::string& where) {
  auto bad = [&](const std::string& what) { fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (" + what + ")"); };
  if (m.frame_size == 0 || m.frame_size > kMaxFramePlain) bad("frame_size " + std::to_string(m.frame_size) + " is out of range");
  if (m.frames_per_object == 0 || m.frames_per_object > kMaxFramesPerObject) {
    bad("frames_per_object " + std::to_string(m.frames_per_object) + " is out of range");
  }
  if (m.stream.frames == 0 || m.stream.frames > (uint64_t{1} << 36)) bad(std::to_string(m.stream.frames) + " frames");
  uint64_t objects = (m.stream.frames - 1) / m.frames_per_object + 1;
  if (objects != m.stream.objects.size()) {
    bad(std::to_string(m.stream.frames) + " frames need " + std::to_string(objects) + " objects, it lists " +
        std::to_string(m.stream.objects.size()));
  }
  if (m.stream.plain_bytes > m.stream.frames * static_cast<uint64_t>(m.frame_size)) {
    bad("plain_bytes exceed frames times frame_size");
  }
  if (m.labels.size() > kMaxManifestLabels) bad(std::to_string(m.labels.size()) + " labels");
  for (const auto& [k, v] : m.labels) {
    if (k.size() > kMaxManifestText || v.size() > kMaxManifestText) bad("a label is too long");
  }
  if (!m.writer_id.empty() && (m.writer_id.size() != 16 || !is_hex(m.writer_id))) bad("malformed writer_id");
  uint64_t stored = 0;
  for (size_t i = 0; i < m.stream.objects.size(); ++i) {
    const auto& o = m.stream.objects[i];
    char seq[24];
    std::snprintf(seq, sizeof seq, "%06llu", static_cast<unsigned long long>(i));
    if (o.key != layout::data_prefix(m.id) + seq) bad("object " + std::to_string(i) + " has key '" + excerpt(o.key) + "'");
    // An object holds its header, then frames of at most 16 + frame_size + 16 (tag) bytes; small streams less.
    uint64_t frames_here = std::min<uint64_t>(m.frames_per_object, m.stream.frames - i * m.frames_per_object);
    uint64_t max_size = kObjectHeaderSize + frames_here * (kFrameHeaderSize + 2 * static_cast<uint64_t>(m.frame_size) + 1024);
    if (o.size < kObjectHeaderSize + frames_here * kFrameHeaderSize || o.size > max_size) {
      bad("object " + o.key + " size " + std::to_string(o.size) + " cannot hold " + std::to_string(frames_here) + " frames");
    }
    stored += o.size - kObjectHeaderSize;
  }
  if (stored != m.stream.stored_bytes) bad("stored_bytes do not add up to the object sizes");
}

// The sealed layout must match the public objects exactly: frames start after the object header and run to the
// object's end (format version 1 and 2), frame numbers are contiguous, counts and byte totals add up. Restore and
// check then never read outside an object or trust a count the bytes cannot hold.
void validate_layout(const Manifest& m, const std::string& where) {
  auto bad = [&](const std::string& what) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " has an impossible layout (" + what +
                                  "); it was forged or damaged: do not trust this backup");
  };
  uint64_t plain = 0;
  for (size_t i = 0; i < m.stream.objects.size(); ++i) {
    const auto& o = m.stream.objects[i];
    std::string n = std::to_string(i);
    if (layout::kData + o.name != o.key) bad("object " + n + " is named '" + excerpt(o.name) + "'");
    if (o.offset != kObjectHeaderSize) bad("object " + n + " offset " + std::to_string(o.offset));
    if (o.length != o.size - kObjectHeaderSize) bad("object " + n + " length " + std::to_string(o.length));
    uint64_t first = i * static_cast<uint64_t>(m.frames_per_object);
    uint64_t count = std::min<uint64_t>(m.frames_per_object, m.stream.frames - first);
    if (o.first_frame != first || o.frame_count != count) bad("object " + n + " frame range");
    if (o.plain_bytes > count * static_cast<uint64_t>(m.frame_size)) bad("object " + n + " plain_bytes");
    plain += o.plain_bytes;
  }
  if (plain != m.stream.plain_bytes) bad("plain_bytes do not add up");
}

constexpr uint8_t kManifestNonce[kNonceSize] = {};  // the manifest key is unique per backup and used once

}  // namespace

Bytes encode_manifest(const Manifest& m, Cipher cipher, const Key32& manifest_key) {
  std::string pub = public_json_signed(m).dump();
  std::string sealed_plain = sealed_json(m).dump();
  Bytes out(16);
  std::memcpy(out.data(), kMagic, 8);
  put_u32le(out.data() + 8, m.writer_id.empty() ? kManifestVersionUnsigned : kManifestVersion);
  put_u32le(out.data() + 12, static_cast<uint32_t>(pub.size()));
  out.insert(out.end(), pub.begin(), pub.end());
  Bytes aad = out;
  size_t len_at = out.size();
  out.resize(out.size() + 4 + sealed_plain.size() + kTagSize);
  put_u32le(out.data() + len_at, static_cast<uint32_t>(sealed_plain.size() + kTagSize));
  aead_seal(cipher, manifest_key, kManifestNonce, aad, as_bytes(sealed_plain), out.data() + len_at + 4);
  return out;
}

void append_manifest_signature(Bytes& encoded, ByteView signature) {
  size_t at = encoded.size();
  encoded.resize(at + 4 + signature.size());
  put_u32le(encoded.data() + at, static_cast<uint32_t>(signature.size()));
  std::memcpy(encoded.data() + at + 4, signature.data(), signature.size());
}

Bytes manifest_signed_message(ByteView encoded, uint64_t signed_size) {
  static constexpr std::string_view kDomain("strata/manifest-signature/v1", 29);  // with its NUL
  Bytes msg(kDomain.begin(), kDomain.end());
  msg.insert(msg.end(), encoded.begin(), encoded.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(signed_size, encoded.size())));
  return msg;
}

void check_manifest_cipher(const Manifest& m, bool repo_encrypted, const std::string& where) {
  if (repo_encrypted && (m.cipher == "none" || m.wrapped_data_key.size() != 80)) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " records cipher '" + excerpt(m.cipher) +
                                  "' without a sealed data key, but the repository is encrypted: it was not written "
                                  "to this repository (copied in or forged); do not trust it, remove it with 'strata delete " +
                                  m.id + "'");
  }
  if (!repo_encrypted && (m.cipher != "none" || !m.wrapped_data_key.empty())) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " records cipher '" + excerpt(m.cipher) +
                                  "' but the repository is not encrypted: it was not written to this repository");
  }
}

Manifest decode_manifest_public(ByteView data, const std::string& where) {
  Parts p = split(data, where);
  Manifest m;
  json j = parse_bounded_json(text_of(p.pub), kMaxManifestPublicBytes, "manifest " + where);
  try {
    if (!j.is_object()) fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (not a JSON object)");
    m.id = bounded_string(j, "id", where, true, 128);
    m.source = bounded_string(j, "source", where, true);
    m.type = j.contains("type") ? bounded_string(j, "type", where, true) : "stream";
    m.parent = bounded_string(j, "parent", where, false);
    m.started = bounded_string(j, "started", where, false);
    m.finished = bounded_string(j, "finished", where, false);
    m.started_epoch = j.value("started_epoch", int64_t{0});
    m.started_us = j.value("started_us", int64_t{0});
    m.finished_epoch = j.value("finished_epoch", int64_t{0});
    m.host = bounded_string(j, "host", where, false);
    m.tool_version = bounded_string(j, "tool_version", where, false);
    m.labels = j.value("labels", std::map<std::string, std::string>{});
    m.compression = bounded_string(j, "compression", where, false);
    m.cipher = bounded_string(j, "cipher", where, true);
    m.writer = bounded_string(j, "writer", where, false);
    m.frame_size = j.at("frame_size").get<uint32_t>();
    m.frames_per_object = j.at("frames_per_object").get<uint32_t>();
    m.wrapped_data_key = base64_decode(bounded_string(j, "wrapped_data_key", where, false));
    m.stream.plain_bytes = j.at("plain_bytes").get<uint64_t>();
    m.stream.stored_bytes = j.at("stored_bytes").get<uint64_t>();
    m.stream.frames = j.at("frames").get<uint64_t>();
    m.engine_json = j.value("engine", json::object()).dump();
    if (m.engine_json.size() > kMaxEngineJsonBytes) {
      fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (engine metadata of " +
                                    std::to_string(m.engine_json.size()) + " bytes)");
    }
    m.writer_id = bounded_string(j, "writer_id", where, p.version >= 2, 16);
    m.writer_name = bounded_string(j, "writer_name", where, false, 128);
    if (p.version < 2 && !m.writer_id.empty()) {
      fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (names a writer but carries no signature)");
    }
    const json& objects = j.at("objects");
    if (!objects.is_array()) fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged ('objects' is not a list)");
    m.stream.objects.reserve(std::min<size_t>(objects.size(), 1u << 20));
    for (const auto& o : objects) {
      ObjectRecord r;
      r.key = bounded_string(o, "key", where, true);
      r.size = o.at("size").get<uint64_t>();
      r.digest = to_digest16(o.at("xxh3_128").get<std::string>(), where);
      m.stream.objects.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (" + json_error_text(e) + ")");
  }
  validate_public(m, where);
  if (p.version >= 2) {
    m.signature.assign(p.signature.begin(), p.signature.end());
    m.signed_size = p.signed_size;
  }
  return m;
}

void decode_manifest_sealed(ByteView data, Manifest& m, const Key32& manifest_key, const std::string& where) {
  Parts p = split(data, where);
  if (p.sealed.size() < kTagSize) fail(ErrorCode::kCorrupt, "manifest " + where + " is truncated");
  Bytes plain(p.sealed.size() - kTagSize);
  if (!aead_open(parse_cipher(m.cipher), manifest_key, kManifestNonce, p.aad, p.sealed, plain.data())) {
    fail(ErrorCode::kCorrupt, "manifest " + where +
                                  " failed authentication: it was modified after it was written; do not trust this backup");
  }
  // Authenticated, yet written by whoever holds the repository's public key: parsed with the same bounds.
  json j = parse_bounded_json(text_of(plain), kMaxManifestSealedBytes, "manifest " + where);
  try {
    m.stream.plain_sha256 = to_digest(j.at("plain_sha256").get<std::string>(), where);
    const auto& layout = j.at("layout");
    if (!layout.is_array() || layout.size() != m.stream.objects.size()) {
      fail(ErrorCode::kCorrupt, "manifest " + where + " is inconsistent");
    }
    for (size_t i = 0; i < layout.size(); ++i) {
      auto& r = m.stream.objects[i];
      r.name = bounded_string(layout[i], "name", where, true);
      r.offset = layout[i].at("offset").get<uint64_t>();
      r.length = layout[i].at("length").get<uint64_t>();
      r.first_frame = layout[i].at("first_frame").get<uint64_t>();
      r.frame_count = layout[i].at("frame_count").get<uint64_t>();
      r.plain_bytes = layout[i].at("plain_bytes").get<uint64_t>();
    }
  } catch (const json::exception& e) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (" + json_error_text(e) + ")");
  }
  validate_layout(m, where);
  m.sealed_loaded = true;
}

std::string manifest_to_json(const Manifest& m, bool with_layout, int indent) {
  json j = public_json_signed(m);
  j.erase("wrapped_data_key");
  if (!m.writer_status.empty()) j["writer_status"] = m.writer_status;
  if (with_layout && m.sealed_loaded) {
    j["plain_sha256"] = digest_hex(m.stream.plain_sha256);
    j["layout"] = sealed_json(m)["layout"];
  }
  if (!with_layout) j.erase("objects");
  return j.dump(indent);
}

}  // namespace strata
