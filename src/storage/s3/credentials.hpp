#pragma once
// Where S3 credentials come from, in the AWS SDKs' order (docs/S3.md, "Credentials"): environment, the strata
// config file, web identity, the shared credentials file, credential_process and static keys of the config-file
// profile, the container credentials endpoint (ECS/EKS), and the EC2 instance metadata service (IMDSv2).
// Temporary credentials are refreshed before they expire. Secrets are never logged and never put on argv;
// every failure is one line naming the provider and the next step.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/s3/sigv4.hpp"

namespace strata::s3 {

struct TimedCredentials {
  sigv4::Credentials credentials;
  int64_t expiration = 0;  // Unix seconds; 0 = does not expire
};

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // "EC2 instance metadata (IMDSv2) at http://169.254.169.254": names the source in messages, never a secret.
  virtual std::string name() const = 0;
  // Throws StrataError with a one-line message naming the provider and what to do.
  virtual TimedCredentials fetch() = 0;
};

// Holds the current credentials of one provider and refreshes them `refresh_ahead_s` before they expire.
// Thread-safe: one request thread refreshes, the others keep signing with the still-valid credentials.
class CredentialCache {
 public:
  static constexpr int64_t kRefreshAheadSeconds = 600;
  explicit CredentialCache(std::unique_ptr<CredentialProvider> provider, std::function<int64_t()> now = {});
  sigv4::Credentials get();
  // After the service answered ExpiredToken: fetch fresh credentials now. False if the provider's cannot expire.
  bool force_refresh();
  const std::string& name() const { return name_; }
  bool refreshable() const;
  uint64_t fetches() const;

 private:
  void refresh_locked(bool must);
  std::unique_ptr<CredentialProvider> provider_;
  std::function<int64_t()> now_;
  std::string name_;
  mutable std::mutex mu_;
  TimedCredentials current_;
  bool have_ = false;
  uint64_t fetches_ = 0;
};

// Resolves the chain. `file_options` are the strata config file's [s3] keys (access_key_id, secret_access_key,
// session_token, profile). Returns the cache of the first provider that has credentials; throws StrataError(kUsage)
// listing what to set when none has.
std::shared_ptr<CredentialCache> resolve_credentials(const std::map<std::string, std::string>& file_options,
                                                     const std::string& what);

// Exposed for unit tests.
// "2026-11-21T08:00:00Z" (also with fractional seconds or a +00:00 offset) -> Unix seconds; -1 if unparsable.
int64_t parse_iso8601(const std::string& s);
// A credential_process command line split like a POSIX shell would split words (quotes, backslashes), without
// running a shell: no expansion, no redirection.
std::vector<std::string> split_command(const std::string& line);
// The process/container/IMDS JSON document -> credentials; throws StrataError naming `source` when malformed.
TimedCredentials parse_credentials_json(const std::string& json, const std::string& source);
// Whether an http:// container credentials URI may be used: only loopback and the ECS/EKS agent addresses.
bool container_host_allowed(const std::string& url);

}  // namespace strata::s3
