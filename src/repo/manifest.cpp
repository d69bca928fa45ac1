#include "repo/manifest.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

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
  ByteView aad;     // magic .. end of public JSON
  ByteView pub;     // public JSON
  ByteView sealed;  // sealed part
};

Parts split(ByteView data, const std::string& where) {
  if (data.size() < 16 || std::memcmp(data.data(), kMagic, 8) != 0) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (bad header); restore it from a copy or delete the backup");
  }
  uint32_t version = get_u32le(data.data() + 8);
  if (version > kManifestVersion) {
    fail(ErrorCode::kUnsupportedVersion, "manifest " + where + " has format version " + std::to_string(version) +
                                             "; this strata reads up to " + std::to_string(kManifestVersion) +
                                             ": upgrade strata");
  }
  uint64_t pub_len = get_u32le(data.data() + 12);
  if (16 + pub_len + 4 > data.size()) fail(ErrorCode::kCorrupt, "manifest " + where + " is truncated");
  uint64_t sealed_len = get_u32le(data.data() + 16 + pub_len);
  if (16 + pub_len + 4 + sealed_len != data.size()) fail(ErrorCode::kCorrupt, "manifest " + where + " is truncated or has trailing bytes");
  return {data.subspan(0, 16 + pub_len), data.subspan(16, pub_len), data.subspan(16 + pub_len + 4, sealed_len)};
}

constexpr uint8_t kManifestNonce[kNonceSize] = {};  // the manifest key is unique per backup and used once

}  // namespace

Bytes encode_manifest(const Manifest& m, Cipher cipher, const Key32& manifest_key) {
  std::string pub = public_json(m).dump();
  std::string sealed_plain = sealed_json(m).dump();
  Bytes out(16);
  std::memcpy(out.data(), kMagic, 8);
  put_u32le(out.data() + 8, kManifestVersion);
  put_u32le(out.data() + 12, static_cast<uint32_t>(pub.size()));
  out.insert(out.end(), pub.begin(), pub.end());
  Bytes aad = out;
  size_t len_at = out.size();
  out.resize(out.size() + 4 + sealed_plain.size() + kTagSize);
  put_u32le(out.data() + len_at, static_cast<uint32_t>(sealed_plain.size() + kTagSize));
  aead_seal(cipher, manifest_key, kManifestNonce, aad, as_bytes(sealed_plain), out.data() + len_at + 4);
  return out;
}

Manifest decode_manifest_public(ByteView data, const std::string& where) {
  Parts p = split(data, where);
  Manifest m;
  try {
    json j = json::parse(p.pub.begin(), p.pub.end());
    m.id = j.at("id").get<std::string>();
    m.source = j.at("source").get<std::string>();
    m.type = j.value("type", "stream");
    m.parent = j.value("parent", "");
    m.started = j.value("started", "");
    m.finished = j.value("finished", "");
    m.started_epoch = j.value("started_epoch", int64_t{0});
    m.finished_epoch = j.value("finished_epoch", int64_t{0});
    m.host = j.value("host", "");
    m.tool_version = j.value("tool_version", "");
    m.labels = j.value("labels", std::map<std::string, std::string>{});
    m.compression = j.value("compression", "");
    m.cipher = j.at("cipher").get<std::string>();
    m.writer = j.value("writer", "");
    m.frame_size = j.at("frame_size").get<uint32_t>();
    m.frames_per_object = j.at("frames_per_object").get<uint32_t>();
    m.wrapped_data_key = base64_decode(j.value("wrapped_data_key", ""));
    m.stream.plain_bytes = j.at("plain_bytes").get<uint64_t>();
    m.stream.stored_bytes = j.at("stored_bytes").get<uint64_t>();
    m.stream.frames = j.at("frames").get<uint64_t>();
    m.engine_json = j.value("engine", json::object()).dump();
    for (const auto& o : j.at("objects")) {
      ObjectRecord r;
      r.key = o.at("key").get<std::string>();
      r.size = o.at("size").get<uint64_t>();
      r.digest = to_digest16(o.at("xxh3_128").get<std::string>(), where);
      m.stream.objects.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (" + e.what() + ")");
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
  try {
    json j = json::parse(plain.begin(), plain.end());
    m.stream.plain_sha256 = to_digest(j.at("plain_sha256").get<std::string>(), where);
    const auto& layout = j.at("layout");
    if (layout.size() != m.stream.objects.size()) fail(ErrorCode::kCorrupt, "manifest " + where + " is inconsistent");
    for (size_t i = 0; i < layout.size(); ++i) {
      auto& r = m.stream.objects[i];
      r.name = layout[i].at("name").get<std::string>();
      r.offset = layout[i].at("offset").get<uint64_t>();
      r.length = layout[i].at("length").get<uint64_t>();
      r.first_frame = layout[i].at("first_frame").get<uint64_t>();
      r.frame_count = layout[i].at("frame_count").get<uint64_t>();
      r.plain_bytes = layout[i].at("plain_bytes").get<uint64_t>();
    }
  } catch (const json::exception& e) {
    fail(ErrorCode::kCorrupt, "manifest " + where + " is damaged (" + e.what() + ")");
  }
  m.sealed_loaded = true;
}

std::string manifest_to_json(const Manifest& m, bool with_layout, int indent) {
  json j = public_json(m);
  j.erase("wrapped_data_key");
  if (with_layout && m.sealed_loaded) {
    j["plain_sha256"] = digest_hex(m.stream.plain_sha256);
    j["layout"] = sealed_json(m)["layout"];
  }
  if (!with_layout) j.erase("objects");
  return j.dump(indent);
}

}  // namespace strata
