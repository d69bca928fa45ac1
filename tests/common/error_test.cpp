#include "common/error.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include "../common/test_helpers.hpp"

namespace strata {
namespace {

TEST(Error, CodeIsTheExitStatus) {
  StrataError e(ErrorCode::kWrongKey, "wrong passphrase");
  EXPECT_EQ(e.code(), ErrorCode::kWrongKey);
  EXPECT_EQ(e.exit_code(), 4);
  EXPECT_STREQ(e.what(), "wrong passphrase");
  EXPECT_EQ(StrataError(ErrorCode::kAlreadyExists, "").exit_code(), 12);
}

TEST(Error, NamesForJsonOutput) {
  EXPECT_STREQ(error_code_name(ErrorCode::kCorrupt), "corrupt");
  EXPECT_STREQ(error_code_name(ErrorCode::kNotARepository), "not_a_repository");
  EXPECT_STREQ(error_code_name(ErrorCode::kUnsupportedVersion), "unsupported_version");
  EXPECT_STREQ(error_code_name(ErrorCode::kLocked), "locked");
}

TEST(Error, ErrnoBecomesACodeAndANextStep) {
  EXPECT_STRATA_ERROR(fail_errno("cannot write data/x", ENOSPC), ErrorCode::kStorage,
                      "cannot write data/x: disk full (");
  EXPECT_STRATA_ERROR(fail_errno("cannot write data/x", EDQUOT), ErrorCode::kStorage, "disk full");
  EXPECT_STRATA_ERROR(fail_errno("cannot create /r", EACCES), ErrorCode::kStorage,
                      "cannot create /r: permission denied; check ownership");
  EXPECT_STRATA_ERROR(fail_errno("cannot open f", ENOENT), ErrorCode::kNotFound, "cannot open f: no such file");
  EXPECT_STRATA_ERROR(fail_errno("cannot read f", EIO), ErrorCode::kStorage, "cannot read f: Input/output error");
}

}  // namespace
}  // namespace strata
