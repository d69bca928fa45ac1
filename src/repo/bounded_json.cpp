#include "repo/bounded_json.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_text.hpp"

namespace strata {
namespace {

// The deepest nesting of `text`, scanning brackets outside strings; stops counting once past `limit`.
// O(n) and iterative, so it is safe on any input; the parser itself then only sees bounded documents.
bool nesting_within(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::string excerpt(std::string_view s, size_t max) {
  bool cut = s.size() > max;
  std::string out = json_escape(s.substr(0, max));
  return cut ? out + "..." : out;
}

std::string json_error_text(const std::exception& e) {
  // nlohmann's parse errors quote the last bytes read; they are reported by offset instead (parse_bounded_json).
  if (const auto* pe = dynamic_cast<const nlohmann::json::parse_error*>(&e)) {
    return "invalid JSON at byte " + std::to_string(pe->byte);
  }
  return excerpt(e.what(), 200);
}

std::string try_parse_bounded_json(std::string_view text, size_t max_bytes, nlohmann::json& out) {
  if (text.size() > max_bytes) {
    return std::to_string(text.size()) + " bytes of JSON, more than the " + std::to_string(max_bytes) + " allowed";
  }
  if (!nesting_within(text, kMaxJsonDepth)) {
    return "JSON nested too deeply: more than " + std::to_string(kMaxJsonDepth) + " levels";
  }
  try {
    out = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    return json_error_text(e);
  }
  return "";
}

nlohmann::json parse_bounded_json(std::string_view text, size_t max_bytes, const std::string& what) {
  nlohmann::json j;
  if (auto why = try_parse_bounded_json(text, max_bytes, j); !why.empty()) fail(ErrorCode::kCorrupt, what + " is damaged (" + why + ")");
  return j;
}

}  // namespace strata
