#pragma once
// Per-agent tokens (issue 15 part 5): a directory with one file per agent, named by the agent's id, holding its
// token (one line, at least 32 characters). The server checks the token on every call and the agent is who its token
// says: an agent cannot act as another, and what it may claim follows from that agent's registered tags. Tokens are
// read from files only — never from argv or the environment — and compared in constant time. A token that is not
// known makes the directory be read again (at most once a second), so an agent added by dropping in a file is
// accepted without a restart; a removed file revokes its agent.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace strata {

constexpr size_t kMinTokenLength = 32;

// Reads a token file: the first line, trimmed. Throws StrataError(kUsage) for a missing, unreadable, empty or too
// short file (naming it; never quoting it).
std::string read_token_file(const std::string& path);

class TokenStore {
 public:
  // Throws StrataError(kUsage) if `dir` is not a readable directory.
  explicit TokenStore(std::string dir);
  // The agent id `token` belongs to, or none.
  std::optional<std::string> agent_of(const std::string& token);
  size_t size();

 private:
  void load();
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, std::string> by_agent_;  // agent id -> token
  std::chrono::steady_clock::time_point loaded_{};
};

}  // namespace strata
