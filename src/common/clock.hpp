#pragma once
#include <cstdint>
#include <string>

namespace strata {
int64_t now_epoch();
std::string iso_utc(int64_t epoch);  // 2026-11-21T05:33:00Z
std::string compact_utc(int64_t epoch);  // 20261121T053300Z, sortable and path-safe; also SigV4's x-amz-date
std::string sql_utc(int64_t epoch);  // 2026-11-21 05:33:00, as mysqlbinlog and PostgreSQL read a timestamp
std::string hostname();
}  // namespace strata
