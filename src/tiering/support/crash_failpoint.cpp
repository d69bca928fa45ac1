#include "tiering/support/crash_failpoint.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "tiering/failpoint.hpp"

namespace strata::tiering {
namespace {

const char* g_armed = nullptr;

void crash_at(const char* name) {
  if (g_armed && std::strcmp(g_armed, name) == 0) ::_exit(86);
}

}  // namespace

void install_crash_failpoint_from_env() {
  g_armed = std::getenv("STRATA_TIER_FAILPOINT");
  if (g_armed && *g_armed) set_failpoint_handler(&crash_at);
}

}  // namespace strata::tiering
