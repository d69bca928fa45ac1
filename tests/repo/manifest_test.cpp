#include "repo/manifest.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

Manifest sample_manifest() {
  Manifest m;
  m.id = "20261121T053300Z-0a1b2c3d";
  m.source = "orders-db";
  m.type = "full";
  m.parent = "20261120T053300Z-00000000";
  m.started = "2026-11-21T05:33:00Z";
  m.finished = "2026-11-21T05:34:10Z";
  m.started_epoch = 1795239180;
  m.finished_epoch = 1795239250;
  m.host = "db1";
  m.tool_version = "0.1.0";
  m.labels = {{"env", "prod"}, {"team", "payments"}};
  m.compression = "zstd:3";
  m.cipher = "aes-256-gcm";
  m.writer = "public-key";
  m.frame_size = 1u << 20;
  m.frames_per_object = 64;
  m.wrapped_data_key = testing::pseudo_random(80, 1);
  m.engine_json = R"({"lsn":"0/3000028"})";
  m.stream.plain_bytes = 100 << 20;
  m.stream.stored_bytes = 2 * ((30 << 20) - 16);  // the object sizes less their headers
  m.stream.frames = 100;
  m.stream.plain_sha256 = Sha256::of(testing::bytes_of("plain"));
  for (uint64_t i = 0; i < 2; ++i) {
    ObjectRecord o;
    o.name = m.id + "/00000" + std::to_string(i);
    o.key = "data/" + o.name;
    o.size = 30 << 20;
    o.digest = Xxh128::of(testing::bytes_of(o.key));
    o.offset = 16;
    o.length = o.size - 16;
    o.first_frame = i * 64;
    o.frame_count = i == 0 ? 64 : 36;
    o.plain_bytes = o.frame_count << 20;
    m.stream.objects.push_back(o);
  }
  return m;
}

Key32 key_of(uint8_t seed) {
  Key32 k;
  k.fill(seed);
  return k;
}

struct Layout {
  size_t pub_begin = 16, pub_end = 0;
};

Layout layout_of(const Bytes& encoded) { return {16, 16 + get_u32le(encoded.data() + 12)}; }

TEST(Manifest, EncodeDecodeRoundTrip) {
  const Manifest m = sample_manifest();
  Bytes enc = encode_manifest(m, Cipher::kAes256Gcm, key_of(7));
  EXPECT_EQ(to_string(ByteView(enc).first(8)), "STRATAM1");
  // An unsigned manifest stays version 1, so older readers still read it; signed ones are version 2.
  EXPECT_EQ(get_u32le(enc.data() + 8), kManifestVersionUnsigned);

  Manifest pub = decode_manifest_public(enc, "backups/x");
  EXPECT_FALSE(pub.sealed_loaded);
  EXPECT_EQ(pub.id, m.id);
  EXPECT_EQ(pub.source, m.source);
  EXPECT_EQ(pub.type, "full");
  EXPECT_EQ(pub.parent, m.parent);
  EXPECT_EQ(pub.started, m.started);
  EXPECT_EQ(pub.finished, m.finished);
  EXPECT_EQ(pub.started_epoch, m.started_epoch);
  EXPECT_EQ(pub.finished_epoch, m.finished_epoch);
  EXPECT_EQ(pub.host, "db1");
  EXPECT_EQ(pub.tool_version, "0.1.0");
  EXPECT_EQ(pub.labels, m.labels);
  EXPECT_EQ(pub.compression, "zstd:3");
  EXPECT_EQ(pub.cipher, "aes-256-gcm");
  EXPECT_EQ(pub.writer, "public-key");
  EXPECT_EQ(pub.frame_size, m.frame_size);
  EXPECT_EQ(pub.frames_per_object, 64u);
  EXPECT_EQ(pub.wrapped_data_key, m.wrapped_data_key);
  EXPECT_EQ(nlohmann::json::parse(pub.engine_json), nlohmann::json::parse(m.engine_json));
  EXPECT_EQ(pub.stream.plain_bytes, m.stream.plain_bytes);
  EXPECT_EQ(pub.stream.stored_bytes, m.stream.stored_bytes);
  EXPECT_EQ(pub.stream.frames, 100u);
  ASSERT_EQ(pub.stream.objects.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    // Public: what check needs without keys. The frame layout stays sealed.
    EXPECT_EQ(pub.stream.objects[i].key, m.stream.objects[i].key);
    EXPECT_EQ(pub.stream.objects[i].size, m.stream.objects[i].size);
    EXPECT_EQ(pub.stream.objects[i].digest, m.stream.objects[i].digest);
    EXPECT_EQ(pub.stream.objects[i].name, "");
    EXPECT_EQ(pub.stream.objects[i].frame_count, 0u);
  }
  EXPECT_EQ(pub.stream.plain_sha256, Digest32{});

  decode_manifest_sealed(enc, pub, key_of(7), "backups/x");
  EXPECT_TRUE(pub.sealed_loaded);
  EXPECT_EQ(pub.stream.plain_sha256, m.stream.plain_sha256);
  for (size_t i = 0; i < 2; ++i) {
    const auto &got = pub.stream.objects[i], &want = m.stream.objects[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.offset, want.offset);
    EXPECT_EQ(got.length, want.length);
    EXPECT_EQ(got.first_frame, want.first_frame);
    EXPECT_EQ(got.frame_count, want.frame_count);
    EXPECT_EQ(got.plain_bytes, want.plain_bytes);
  }
}

TEST(Manifest, SealedPartIsSecretWhenEncrypted) {
  Manifest m = sample_manifest();
  Bytes enc = encode_manifest(m, Cipher::kChaCha20Poly1305, key_of(1));
  std::string text = to_string(enc);
  EXPECT_EQ(text.find(digest_hex(m.stream.plain_sha256)), std::string::npos);
  EXPECT_EQ(text.find("first_frame"), std::string::npos);
  EXPECT_NE(text.find("orders-db"), std::string::npos) << "the public part is readable";
}

TEST(Manifest, UnencryptedManifestRoundTrips) {
  Manifest m = sample_manifest();
  m.cipher = "none";
  m.wrapped_data_key.clear();
  Bytes enc = encode_manifest(m, Cipher::kNone, Key32{});
  Manifest d = decode_manifest_public(enc, "w");
  EXPECT_TRUE(d.wrapped_data_key.empty());
  decode_manifest_sealed(enc, d, Key32{}, "w");
  EXPECT_EQ(d.stream.plain_sha256, m.stream.plain_sha256);
  // Without encryption the tag is still checked.
  enc[enc.size() - 20] ^= 1;
  Manifest d2 = decode_manifest_public(enc, "w");
  EXPECT_STRATA_ERROR(decode_manifest_sealed(enc, d2, Key32{}, "w"), ErrorCode::kCorrupt, "failed authentication");
}

TEST(Manifest, WrongKeyFailsAuthentication) {
  Bytes enc = encode_manifest(sample_manifest(), Cipher::kAes256Gcm, key_of(7));
  Manifest m = decode_manifest_public(enc, "backups/x");
  EXPECT_STRATA_ERROR(decode_manifest_sealed(enc, m, key_of(8), "backups/x"), ErrorCode::kCorrupt,
                      "manifest backups/x failed authentication");
  EXPECT_FALSE(m.sealed_loaded);
}

// Decoding as restore does it: public part, then the sealed part with the key.
void decode_both(const Bytes& enc, const Key32& key) {
  Manifest m = decode_manifest_public(enc, "backups/x");
  decode_manifest_sealed(enc, m, key, "backups/x");
}

TEST(Manifest, AnyFlippedByteOfThePublicJsonIsDetected) {
  for (Cipher c : {Cipher::kAes256Gcm, Cipher::kNone}) {
    Manifest m = sample_manifest();
    m.cipher = cipher_name(c);
    Bytes enc = encode_manifest(m, c, key_of(3));
    Layout l = layout_of(enc);
    ASSERT_GT(l.pub_end, l.pub_begin + 100);
    for (size_t i = l.pub_begin; i < l.pub_end; ++i) {
      for (uint8_t mask : {0x01, 0x20}) {
        Bytes bad = enc;
        bad[i] ^= mask;
        EXPECT_STRATA_ERROR(decode_both(bad, key_of(3)), ErrorCode::kCorrupt, "")
            << cipher_name(c) << " byte " << i << " mask " << int(mask) << " ('" << char(enc[i]) << "')";
      }
    }
  }
}

TEST(Manifest, FlippedPublicByteThatStillParsesFailsOnlyInTheSealedCheck) {
  // "orders-db" -> "orders-eb": valid JSON, a plausible manifest; only the sealed part's AAD catches it.
  Manifest m = sample_manifest();
  Bytes enc = encode_manifest(m, Cipher::kAes256Gcm, key_of(3));
  std::string text = to_string(enc);
  size_t at = text.find("orders-db") + 7;
  enc[at] ^= 0x01;
  Manifest pub = decode_manifest_public(enc, "backups/x");
  EXPECT_EQ(pub.source, "orders-eb");
  EXPECT_STRATA_ERROR(decode_manifest_sealed(enc, pub, key_of(3), "backups/x"), ErrorCode::kCorrupt,
                      "modified after it was written");
}

TEST(Manifest, AnyFlippedByteOfTheHeaderOrSealedPartIsDetected) {
  Bytes enc = encode_manifest(sample_manifest(), Cipher::kAes256Gcm, key_of(3));
  Layout l = layout_of(enc);
  std::vector<size_t> positions;
  for (size_t i = 0; i < l.pub_begin; ++i) positions.push_back(i);
  for (size_t i = l.pub_end; i < enc.size(); ++i) positions.push_back(i);
  for (size_t i : positions) {
    Bytes bad = enc;
    bad[i] ^= 0x01;
    try {
      decode_both(bad, key_of(3));
      ADD_FAILURE() << "byte " << i << " flipped went unnoticed";
    } catch (const StrataError& e) {
      // Bytes 8..11 are the version: a larger one is refused as newer; 1 -> 0 parses as older but then fails
      // authentication, since the header is part of the AAD.
      bool version_raised = i >= 9 && i < 12;
      EXPECT_EQ(e.code(), version_raised ? ErrorCode::kUnsupportedVersion : ErrorCode::kCorrupt)
          << "byte " << i << ": " << e.what();
    }
  }
}

TEST(Manifest, NewerFormatVersionIsUnsupported) {
  Bytes enc = encode_manifest(sample_manifest(), Cipher::kAes256Gcm, key_of(3));
  put_u32le(enc.data() + 8, kManifestVersion + 1);
  EXPECT_STRATA_ERROR(decode_manifest_public(enc, "backups/x"), ErrorCode::kUnsupportedVersion,
                      "manifest backups/x has format version 3; this strata reads up to 2: upgrade strata");
}

TEST(Manifest, TruncatedAtAnyLengthIsCorrupt) {
  Bytes enc = encode_manifest(sample_manifest(), Cipher::kAes256Gcm, key_of(3));
  for (size_t len = 0; len < enc.size(); ++len) {
    Bytes cut(enc.begin(), enc.begin() + static_cast<ptrdiff_t>(len));
    EXPECT_STRATA_ERROR(decode_manifest_public(cut, "backups/x"), ErrorCode::kCorrupt, "manifest backups/x") << len;
  }
  Bytes longer = enc;
  longer.push_back(0);
  EXPECT_STRATA_ERROR(decode_manifest_public(longer, "backups/x"), ErrorCode::kCorrupt, "trailing bytes");
  EXPECT_STRATA_ERROR(decode_manifest_public(testing::bytes_of("STRATAM2 not a manifest"), "m"), ErrorCode::kCorrupt,
                      "bad header");
}

TEST(Manifest, SealedLayoutMustMatchThePublicObjects) {
  // The sealed layout is applied to the public object list only when both describe the same objects.
  Manifest m = sample_manifest();
  Bytes enc = encode_manifest(m, Cipher::kAes256Gcm, key_of(3));
  Manifest pub = decode_manifest_public(enc, "b");
  pub.stream.objects.pop_back();
  EXPECT_STRATA_ERROR(decode_manifest_sealed(enc, pub, key_of(3), "b"), ErrorCode::kCorrupt, "inconsistent");
}

TEST(Manifest, JsonForShowAndList) {
  Manifest m = sample_manifest();
  m.sealed_loaded = true;
  auto full = nlohmann::json::parse(manifest_to_json(m, true, -1));
  EXPECT_FALSE(full.contains("wrapped_data_key"));
  EXPECT_EQ(full["source"], "orders-db");
  EXPECT_EQ(full["labels"]["env"], "prod");
  EXPECT_EQ(full["plain_sha256"], digest_hex(m.stream.plain_sha256));
  ASSERT_EQ(full["layout"].size(), 2u);
  EXPECT_EQ(full["layout"][1]["first_frame"], 64);
  EXPECT_EQ(full["objects"].size(), 2u);
  auto brief = nlohmann::json::parse(manifest_to_json(m, false, 2));
  EXPECT_FALSE(brief.contains("objects"));
  EXPECT_FALSE(brief.contains("layout"));
  m.sealed_loaded = false;
  EXPECT_FALSE(nlohmann::json::parse(manifest_to_json(m, true, -1)).contains("layout"));
}

}  // namespace
}  // namespace strata
