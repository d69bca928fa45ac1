#pragma once
// Named points where a crash matters (after a pack's data object, before an index rename, before and after a
// commit, ...). The library only marks them: failpoint(name) does nothing unless a handler has been installed. The
// crash handler the tests drive through the strata binary (STRATA_TIER_FAILPOINT) lives outside the library, in
// tiering/support/crash_failpoint.hpp, installed by the CLI.
namespace strata::tiering {

using FailpointHandler = void (*)(const char* name);

// Installs (or, with nullptr, removes) the process-wide handler. Call before any tiering work starts.
void set_failpoint_handler(FailpointHandler handler);

void failpoint(const char* name);

}  // namespace strata::tiering
