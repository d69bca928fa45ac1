#pragma once
// Authenticated metadata records (retention tombstones, repo/expiry.hpp; drill records, platform/drill/record.hpp):
// an HMAC-SHA256 under Repository::metadata_key(domain) over the domain tag, the repository id and the record's JSON
// without its "mac" field, dumped by nlohmann (keys sorted, numbers printed one way), so a reader recomputes exactly
// the bytes the writer signed. Only a passphrase holder can make one; whoever can merely write to the storage cannot.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace strata {

class Repository;

// The hex MAC of `body` (which must not hold "mac"), or nullopt when the repository has no key here (no passphrase
// given, or an unencrypted repository).
std::optional<std::string> record_mac(const Repository& repo, const std::string& domain, const nlohmann::json& body);

// Whether `mac` is the MAC of `body` (without "mac"). False without the key: nothing can be authenticated then.
bool record_mac_ok(const Repository& repo, const std::string& domain, const nlohmann::json& body, const std::string& mac);

}  // namespace strata
