#include "repo/writer.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "repo/bounded_json.hpp"

namespace strata {
namespace {

void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) fail(ErrorCode::kGeneric, "libsodium failed to initialise");
}

std::string hex_of(const uint8_t* p, size_t n) { return hex_encode(ByteView(p, n)); }

// What the registry MAC covers: every field a reader relies on, bound to this repository.
Bytes writer_record_message(const WriterRecord& r, const std::string& repo_id) {
  std::string m = std::string("strata/writer/v1") + '\0' + repo_id + '\0' + r.id + '\0' + r.name + '\0' +
                  hex_of(r.public_key.data(), r.public_key.size()) + '\0' + r.created;
  return Bytes(m.begin(), m.end());
}

Bytes hmac(const Key32& key, ByteView msg) {
  Bytes out(crypto_auth_hmacsha256_BYTES);
  crypto_auth_hmacsha256(out.data(), msg.data(), msg.size(), key.data());
  return out;
}

}  // namespace

WriterKey::~WriterKey() { sodium_memzero(secret.data(), secret.size()); }

const char* writer_status_name(WriterStatus s) {
  switch (s) {
    case WriterStatus::kUnsigned: return "unsigned";
    case WriterStatus::kVerified: return "verified";
    case WriterStatus::kUnverifiedRegistry: return "signed (writer record not authenticated without the passphrase)";
    case WriterStatus::kUnknownWriter: return "unknown writer";
    case WriterStatus::kBadSignature: return "bad signature";
  }
  return "?";
}

std::string writer_id_of(const SignPublicKey& pk) {
  Digest32 d = Sha256::of(ByteView(pk.data(), pk.size()));
  return hex_of(d.data(), 8);
}

bool valid_writer_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

WriterKey generate_writer_key(const std::string& name) {
  ensure_sodium();
  if (!valid_writer_name(name)) {
    fail(ErrorCode::kUsage, "invalid writer name '" + excerpt(name) + "': use 1-64 letters, digits, '-', '_' or '.'");
  }
  WriterKey k;
  k.name = name;
  crypto_sign_keypair(k.public_key.data(), k.secret.data());
  k.id = writer_id_of(k.public_key);
  return k;
}

std::string writer_key_to_text(const WriterKey& k) {
  nlohmann::json j = {{"format", "strata-writer-key"},
                      {"version", 1},
                      {"id", k.id},
                      {"name", k.name},
                      {"public_key", hex_of(k.public_key.data(), k.public_key.size())},
                      {"secret_key", base64_encode(ByteView(k.secret.data(), k.secret.size()))}};
  return j.dump(2) + "\n";
}

SignPublicKey parse_writer_public_key(const std::string& hex) {
  Bytes b;
  try {
    b = hex_decode(hex);
  } catch (const StrataError&) {
  }
  if (b.size() != 32) fail(ErrorCode::kUsage, "a writer public key is 64 hex digits (from 'strata key gen-writer')");
  SignPublicKey pk;
  std::copy(b.begin(), b.end(), pk.begin());
  return pk;
}

WriterKey writer_key_from_text(const std::string& text, const std::string& where) {
  ensure_sodium();
  nlohmann::json j = parse_bounded_json(text, 16u << 10, "writer key file " + where);
  try {
    if (j.at("format") != "strata-writer-key") fail(ErrorCode::kUsage, where + " is not a strata writer key file");
    if (j.at("version").get<int>() != 1) fail(ErrorCode::kUnsupportedVersion, where + " has a newer format; upgrade strata");
    WriterKey k;
    k.name = j.at("name").get<std::string>();
    Bytes sk = base64_decode(j.at("secret_key").get<std::string>());
    if (sk.size() != k.secret.size() || !valid_writer_name(k.name)) fail(ErrorCode::kUsage, where + " is damaged");
    std::copy(sk.begin(), sk.end(), k.secret.begin());
    sodium_memzero(sk.data(), sk.size());
    // The public half is recomputed from the secret: a file whose halves disagree is damaged.
    crypto_sign_ed25519_sk_to_pk(k.public_key.data(), k.secret.data());
    k.id = writer_id_of(k.public_key);
    if (j.value("id", "") != k.id || j.value("public_key", "") != hex_of(k.public_key.data(), 32)) {
      fail(ErrorCode::kUsage, where + " is damaged (its public key does not match its secret key)");
    }
    return k;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kUsage, where + " is not a valid writer key file (" + json_error_text(e) + ")");
  }
}

WriterKey load_writer_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::kUsage, "cannot read writer key file " + path + ": " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    ::close(fd);
    fail(ErrorCode::kUsage, "writer key file " + path + " is accessible by other users; run 'chmod 600 " + path + "'");
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < (64u << 10)) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  WriterKey k = writer_key_from_text(text, path);
  sodium_memzero(text.data(), text.size());
  return k;
}

void save_writer_key_file(const std::string& path, const WriterKey& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) fail(ErrorCode::kAlreadyExists, "writer key file " + path + " already exists; it is not overwritten");
    fail(ErrorCode::kUsage, "cannot create writer key file " + path + ": " + std::strerror(errno));
  }
  std::string text = writer_key_to_text(key);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  sodium_memzero(text.data(), text.size());
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    fail(ErrorCode::kStorage, "cannot write writer key file " + path);
  }
}

std::array<uint8_t, 64> sign_message(const WriterKey& key, ByteView message) {
  ensure_sodium();
  std::array<uint8_t, 64> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.secret.data());
  return sig;
}

bool verify_message(const SignPublicKey& pk, ByteView message, ByteView signature) {
  ensure_sodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), pk.data()) == 0;
}

Key32 writer_registry_key(const Key32& repo_secret) { return derive_key(repo_secret, "strata/writers/v1"); }

WriterRecord make_writer_record(const std::string& name, const SignPublicKey& pk, const std::string& repo_id,
                                const Key32& registry_key) {
  if (!valid_writer_name(name)) {
    fail(ErrorCode::kUsage, "invalid writer name '" + excerpt(name) + "': use 1-64 letters, digits, '-', '_' or '.'");
  }
  WriterRecord r;
  r.id = writer_id_of(pk);
  r.name = name;
  r.public_key = pk;
  r.created = iso_utc(now_epoch());
  r.host = hostname();
  r.mac = hmac(registry_key, writer_record_message(r, repo_id));
  return r;
}

bool writer_record_authentic(const WriterRecord& r, const std::string& repo_id, const Key32& registry_key) {
  if (r.id != writer_id_of(r.public_key) || r.mac.size() != crypto_auth_hmacsha256_BYTES) return false;
  return crypto_auth_hmacsha256_verify(r.mac.data(), writer_record_message(r, repo_id).data(),
                                       writer_record_message(r, repo_id).size(), registry_key.data()) == 0;
}

std::string writer_record_to_json(const WriterRecord& r) {
  nlohmann::json j = {{"format", "strata-writer"},
                      {"version", 1},
                      {"id", r.id},
                      {"name", r.name},
                      {"public_key", hex_of(r.public_key.data(), r.public_key.size())},
                      {"created", r.created},
                      {"host", r.host},
                      {"mac", hex_encode(r.mac)}};
  return j.dump(2) + "\n";
}

WriterRecord writer_record_from_json(const std::string& text, const std::string& where) {
  nlohmann::json j = parse_bounded_json(text, 16u << 10, "writer record " + where);
  try {
    WriterRecord r;
    if (j.at("format") != "strata-writer" || j.at("version").get<int>() != 1) {
      fail(ErrorCode::kCorrupt, "writer record " + where + " has an unknown format");
    }
    r.id = j.at("id").get<std::string>();
    r.name = j.at("name").get<std::string>();
    r.created = j.value("created", "");
    r.host = j.value("host", "");
    Bytes pk = hex_decode(j.at("public_key").get<std::string>());
    r.mac = hex_decode(j.at("mac").get<std::string>());
    if (pk.size() != 32 || !valid_writer_name(r.name) || r.created.size() > 64 || r.host.size() > 1024) {
      fail(ErrorCode::kCorrupt, "writer record " + where + " is damaged");
    }
    std::copy(pk.begin(), pk.end(), r.public_key.begin());
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kCorrupt, "writer record " + where + " is damaged (" + json_error_text(e) + ")");
  }
}

}  // namespace strata
