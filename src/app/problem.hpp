#pragma once
// A use case that did its work but found something wrong (a gap in an archive, damage, leftovers) returns the
// problem in its result instead of throwing, so the caller can show the whole result first (the report, the GAP
// lines) and then fail with it. An agent records it as the job's error.
#include <optional>
#include <string>

#include "common/error.hpp"

namespace strata::app {

struct Problem {
  ErrorCode code = ErrorCode::kProblemsFound;
  std::string message;
};

// Throws the problem as a StrataError when there is one.
inline void raise(const std::optional<Problem>& problem) {
  if (problem) fail(problem->code, problem->message);
}

}  // namespace strata::app
