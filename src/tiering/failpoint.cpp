#include "tiering/failpoint.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace strata::tiering {

void failpoint(const char* name) {
  static const char* armed = std::getenv("STRATA_TIER_FAILPOINT");
  if (armed && std::strcmp(armed, name) == 0) ::_exit(86);
}

}  // namespace strata::tiering
