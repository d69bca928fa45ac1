#pragma once
// Crash injection for the crash-safety tests (docs/TIERING.md "Crashes"): when the environment variable
// STRATA_TIER_FAILPOINT names a fail-point, the process ends on the spot there with _exit(86) — no destructors, no
// rollback, no flush — exactly like a kill at that instant. Not part of the tiering library; the CLI installs it.
namespace strata::tiering {

// Installs the handler if STRATA_TIER_FAILPOINT is set; otherwise leaves fail-points inert.
void install_crash_failpoint_from_env();

}  // namespace strata::tiering
