#pragma once
// JSON read from a repository is written by whoever can write to the storage, a write-only host included, so it is
// parsed with limits: a size cap, a nesting cap (nlohmann's dump() and engine code recurse per level, and 100,000
// levels overflow the stack), and error messages that never echo the bytes they could not read (docs/FORMAT.md
// "Limits").
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace strata {

inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text`. Throws StrataError(kCorrupt) "<what> is damaged (<reason>)" if it is longer than `max_bytes`,
// nests deeper than kMaxJsonDepth, or is not JSON; the reason names a byte offset, never the bytes.
nlohmann::json parse_bounded_json(std::string_view text, size_t max_bytes, const std::string& what);

// The same, returning the reason instead of throwing: "" once `out` holds the document.
std::string try_parse_bounded_json(std::string_view text, size_t max_bytes, nlohmann::json& out);

// A nlohmann exception's message, made safe to print: escaped and at most 200 characters.
std::string json_error_text(const std::exception& e);

// `s` as a bounded, escaped excerpt for an error message (at most `max` characters of it).
std::string excerpt(std::string_view s, size_t max = 64);

}  // namespace strata
