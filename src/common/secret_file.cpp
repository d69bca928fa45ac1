#include "common/secret_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace strata {

SecretFile read_secret_file(const std::string& path, SecretTrim trim) {
  SecretFile r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = errno;
      ::close(fd);
      r.value.clear();
      return r;
    }
    if (n == 0) break;
    r.value.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  r.read = true;
  auto space = [&](char c) {
    return trim == SecretTrim::kWhitespace ? std::isspace(static_cast<unsigned char>(c)) != 0 : c == '\n' || c == '\r';
  };
  while (!r.value.empty() && space(r.value.back())) r.value.pop_back();
  if (trim == SecretTrim::kWhitespace) {
    size_t i = 0;
    while (i < r.value.size() && space(r.value[i])) ++i;
    r.value.erase(0, i);
  }
  return r;
}

}  // namespace strata
