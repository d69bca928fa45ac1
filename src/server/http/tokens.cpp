#include "server/http/tokens.hpp"

#include <dirent.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <fstream>

#include "common/error.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

std::optional<std::string> first_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  size_t b = line.find_first_not_of(" \t\r");
  size_t e = line.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : line.substr(b, e - b + 1);
}

bool valid_agent_id(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

}  // namespace

std::string read_token_file(const std::string& path) {
  auto t = first_line(path);
  if (!t) fail(ErrorCode::kUsage, "cannot read the token file " + path + "; give the agent's token file with --token-file");
  if (t->size() < kMinTokenLength) {
    fail(ErrorCode::kUsage, "the token in " + path + " is " + (t->empty() ? "empty" : "shorter than 32 characters") +
                                "; write a long random token there (e.g. openssl rand -hex 32)");
  }
  return *t;
}

TokenStore::TokenStore(std::string dir) : dir_(std::move(dir)) {
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fail(ErrorCode::kUsage, "--token-dir " + dir_ + " is not a directory; create it with one file per agent (named "
                            "by the agent, holding its token)");
  }
  std::lock_guard lock(mu_);
  load();
}

void TokenStore::load() {
  std::map<std::string, std::string> next;
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (!valid_agent_id(name)) continue;
      auto t = first_line(dir_ + "/" + name);
      if (!t) continue;
      if (t->size() < kMinTokenLength) {
        log::warn("agent_token_ignored", {{"agent", name}, {"reason", "shorter than 32 characters"}});
        continue;
      }
      next[name] = *t;
    }
    ::closedir(d);
  }
  by_agent_ = std::move(next);
  loaded_ = std::chrono::steady_clock::now();
}

std::optional<std::string> TokenStore::agent_of(const std::string& token) {
  std::lock_guard lock(mu_);
  for (int pass = 0; pass < 2; ++pass) {
    std::optional<std::string> found;
    for (const auto& [agent, t] : by_agent_) {  // every entry, in constant time each: no early exit to time
      if (t.size() == token.size() && CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0) found = agent;
    }
    if (found) {
      // A file removed since the last read revokes its agent: checked on every success at most once a second.
      if (std::chrono::steady_clock::now() - loaded_ < std::chrono::seconds(1)) return found;
      load();
      if (by_agent_.count(*found) && by_agent_[*found] == token) return found;
      return std::nullopt;
    }
    if (pass == 0 && std::chrono::steady_clock::now() - loaded_ >= std::chrono::seconds(1)) load();
    else break;
  }
  return std::nullopt;
}

size_t TokenStore::size() {
  std::lock_guard lock(mu_);
  return by_agent_.size();
}

}  // namespace strata
