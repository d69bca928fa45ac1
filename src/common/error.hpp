#pragma once
// One error type for everything that ends an operation. The message is the one line an on-call engineer reads;
// the code decides the process exit status (docs/CLI.md lists them).
#include <stdexcept>
#include <string>

namespace strata {

enum class ErrorCode : int {
  kGeneric = 1,
  kUsage = 2,
  kNotARepository = 3,
  kWrongKey = 4,
  kCorrupt = 5,
  kLocked = 6,
  kSourceFailed = 7,
  kStorage = 8,
  kNotFound = 9,
  kUnsupportedVersion = 10,
  kInterrupted = 11,
  kAlreadyExists = 12,
  // The command ran to its end but found problems it reports (check, list with damaged manifests, gaps).
  kProblemsFound = 13,
  // A restore could not reach the point that was asked for (target past the archive, recovery ended early).
  kTargetNotReached = 14,
};

class StrataError : public std::runtime_error {
 public:
  StrataError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  int exit_code() const { return static_cast<int>(code_); }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw StrataError(code, message); }

// errno -> the message fragment and code we show (ENOSPC and EDQUOT become "disk full").
[[noreturn]] void fail_errno(const std::string& what, int err);

const char* error_code_name(ErrorCode code);

}  // namespace strata
