#pragma once
// For commands that need no passphrase but use one when it is given (STRATA_PASSPHRASE or a passphrase file, never
// a prompt): drill records are authenticated with the repository key, so only then can a drill's pass count
// (drill list, status, forget --dry-run; docs/DRILLS.md).
#include <cstdlib>

#include "cli/context.hpp"
#include "repo/repository.hpp"

namespace strata {

inline void unlock_if_given(CliContext& ctx, Repository& repo) {
  if (!repo.config().encrypted || repo.unlocked()) return;
  const char* env = std::getenv("STRATA_PASSPHRASE");
  if ((env && *env) || !ctx.settings.passphrase_file.empty()) repo.unlock(ctx.passphrase());
}

}  // namespace strata
