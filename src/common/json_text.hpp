#pragma once
// JSON string literals written by hand where building a json tree costs too much (tiering's row documents, log
// lines). The escapes are the ones nlohmann::json writes, so either parser reads back the same string.
#include <string>
#include <string_view>

namespace strata {

enum class BadUtf8 {
  kFail,         // stop: the caller must not store text it could not read back unchanged
  kEscapeBytes,  // write each byte of an invalid sequence as \u00XX: a log line stays valid JSON whatever it quotes
};

// Appends `s` as a quoted JSON string. With kFail returns false at the first invalid UTF-8 sequence (overlong
// forms, surrogates, past U+10FFFF), leaving a partial literal in `out`; otherwise returns true.
bool append_json_string(std::string& out, std::string_view s, BadUtf8 bad = BadUtf8::kFail);

// `s` escaped for use between quotes, invalid UTF-8 as \u00XX.
std::string json_escape(std::string_view s);

}  // namespace strata
