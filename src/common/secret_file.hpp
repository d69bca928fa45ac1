#pragma once
// The one reader of a secret kept in a file: a repository passphrase (--passphrase-file), a database password
// (password_file), a channel's shared secret or password (secret_file, password_file), a cloud token file. What
// the file is and which setting names it differ, so the caller words the error from what this returns.
#include <string>

namespace strata {

enum class SecretTrim {
  kLineEnd,     // trailing "\n" / "\r" only, what `echo` or an editor leaves: spaces may belong to a password
  kWhitespace,  // leading and trailing whitespace: tokens and shared secrets never hold any
};

struct SecretFile {
  bool read = false;  // false: the file could not be opened or read (`error`)
  int error = 0;      // errno when !read
  std::string value;  // trimmed; may be empty
};

// Never throws; never puts the content anywhere but `value`.
SecretFile read_secret_file(const std::string& path, SecretTrim trim = SecretTrim::kLineEnd);

}  // namespace strata
