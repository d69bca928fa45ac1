#pragma once
// Command-line mistakes in the one-line format every other error uses (`strata: error: <what>; <what to do>`),
// with "did you mean" for misspelt commands and options, and `strata help CMD...` as a synonym of `CMD... --help`.
#include <string>
#include <vector>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace strata {

// argv with `help [CMD...]` turned into `[CMD...] --help` (global options before it are kept).
std::vector<std::string> rewrite_help(const std::vector<std::string>& args);

// The message (without the "strata: error: " prefix) for a parse error of `app`.
std::string usage_message(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args);

}  // namespace strata
