#include "common/error.hpp"

#include <cerrno>
#include <cstring>

namespace strata {

void fail_errno(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    fail(ErrorCode::kStorage, what + ": disk full (" + std::strerror(err) + "); free space and run the command again");
  }
  if (err == EACCES || err == EPERM) {
    fail(ErrorCode::kStorage, what + ": permission denied; check ownership and mode of the repository path");
  }
  if (err == ENOENT) {
    fail(ErrorCode::kNotFound, what + ": no such file or directory");
  }
  fail(ErrorCode::kStorage, what + ": " + std::strerror(err));
}

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kGeneric: return "error";
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kNotARepository: return "not_a_repository";
    case ErrorCode::kWrongKey: return "wrong_key";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kLocked: return "locked";
    case ErrorCode::kSourceFailed: return "source_failed";
    case ErrorCode::kStorage: return "storage";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kUnsupportedVersion: return "unsupported_version";
    case ErrorCode::kInterrupted: return "interrupted";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kProblemsFound: return "problems_found";
    case ErrorCode::kTargetNotReached: return "target_not_reached";
  }
  return "error";
}

}  // namespace strata
