#include "repo/record_mac.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "common/bytes.hpp"
#include "repo/repository.hpp"

namespace strata {

namespace {

std::string mac_hex(const Key32& key, const std::string& repo_id, const std::string& domain, const nlohmann::json& body) {
  std::string m = domain + '\0' + repo_id + '\0' + body.dump();
  uint8_t out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(out, reinterpret_cast<const uint8_t*>(m.data()), m.size(), key.data());
  return hex_encode(ByteView(out, sizeof out));
}

}  // namespace

std::optional<std::string> record_mac(const Repository& repo, const std::string& domain, const nlohmann::json& body) {
  auto k = repo.metadata_key(domain);
  if (!k) return std::nullopt;
  return mac_hex(*k, repo.config().id, domain, body);
}

bool record_mac_ok(const Repository& repo, const std::string& domain, const nlohmann::json& body, const std::string& mac) {
  auto k = repo.metadata_key(domain);
  if (!k) return false;
  std::string want = mac_hex(*k, repo.config().id, domain, body);
  return mac.size() == want.size() && sodium_memcmp(want.data(), mac.data(), mac.size()) == 0;
}

}  // namespace strata
