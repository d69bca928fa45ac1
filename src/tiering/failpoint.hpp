#pragma once
// Crash injection for the crash-safety tests: when STRATA_TIER_FAILPOINT names this point, the process ends on the
// spot with _exit(86) — no destructors, no rollback, no flush — exactly like a kill at that instant.
namespace strata::tiering {
void failpoint(const char* name);
}
