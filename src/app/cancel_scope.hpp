#pragma once
// Inside app/: a use case's work under the job's cancel token. Every child process started on this thread meanwhile
// (engine tools, a `command` source's shell) is bound to the token (common/process.hpp ChildCancelScope), and what
// fails after the token was cancelled — a tool killed by the cancel exits non-zero, a read sees EOF — is reported
// as the cancel (kInterrupted), as main.cpp does for a signal.
#include <utility>

#include "app/services.hpp"
#include "common/cancel.hpp"
#include "common/error.hpp"
#include "common/process.hpp"

namespace strata::app {

template <class Fn>
auto run_cancellable(const Services& services, Fn&& work) -> decltype(work()) {
  const CancelToken& token = services.cancel_token();
  ChildCancelScope scope(&token);
  try {
    return std::forward<Fn>(work)();
  } catch (const StrataError& e) {
    if (token.cancelled() && e.code() != ErrorCode::kInterrupted) {
      throw StrataError(ErrorCode::kInterrupted, interrupted_message(token.reason()));
    }
    throw;
  }
}

}  // namespace strata::app
