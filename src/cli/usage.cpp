#include "cli/usage.hpp"

#include <CLI/CLI.hpp>

#include "common/suggest.hpp"

namespace strata {
namespace {

// Global options that take a value: their value is not a command name.
bool global_takes_value(const std::string& a) {
  static const char* kWithValue[] = {"--repo",         "--config",       "--passphrase-file", "--log-level",
                                     "--log-format",   "--limit-upload", "--limit-download",  "--max-requests"};
  for (const char* o : kWithValue) {
    if (a == o) return true;
  }
  return false;
}

// The deepest subcommand CLI11 got to, e.g. `key add`.
CLI::App* deepest(CLI::App& app) {
  CLI::App* at = &app;
  for (;;) {
    auto subs = at->get_subcommands();
    if (subs.empty()) return at;
    at = subs.front();
  }
}

std::string path_of(CLI::App* a) {
  std::string p;
  for (; a; a = a->get_parent()) p = a->get_parent() ? " " + a->get_name() + p : "strata" + p;
  return p;
}

std::vector<std::string> subcommand_names(CLI::App* a) {
  std::vector<std::string> out;
  for (auto* s : a->get_subcommands([](CLI::App*) { return true; })) out.push_back(s->get_name());
  return out;
}

std::vector<std::string> option_names(CLI::App* a) {
  std::vector<std::string> out;
  for (; a; a = a->get_parent()) {  // fallthrough: the parents' options are valid here too
    for (const auto* o : a->get_options()) {
      for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    }
  }
  return out;
}

// CLI11 messages start with a capital letter; ours continue a sentence.
std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

}  // namespace

std::vector<std::string> rewrite_help(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (global_takes_value(a)) {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    if (a != "help") return args;
    std::vector<std::string> out(args.begin(), args.begin() + static_cast<ptrdiff_t>(i));
    out.insert(out.end(), args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
    out.push_back("--help");
    return out;
  }
  return args;
}

// "; did you mean 'X'? (HINT)" when something is close, else "; HINT".
std::string suggest_or(const std::string& word, const std::vector<std::string>& candidates, const std::string& hint) {
  std::string m = closest_match(word, candidates);
  return m.empty() ? "; " + hint : "; did you mean '" + m + "'? (" + hint + ")";
}

std::string usage_message(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& /*args*/) {
  CLI::App* at = deepest(app);
  const std::string where = path_of(at);
  const std::string help = "see '" + where + " --help'";
  // What CLI11 left over: the first word (a command it did not know) and the first option it did not know.
  std::string word, option;
  for (const auto& t : app.remaining(true)) {
    if (!t.empty() && t[0] == '-') {
      if (option.empty()) option = t.substr(0, t.find('='));
    } else if (word.empty()) {
      word = t;
    }
  }
  const bool no_command = at == &app;
  const bool wants_command = no_command || (at->get_require_subcommand_min() > 0 && at->get_subcommands().empty());
  if (no_command && word.empty() && option.empty()) return "no command given; run 'strata --help' to see the commands";
  if (!word.empty() && wants_command) {
    return "unknown command '" + word + "'" + (no_command ? "" : " for '" + where + "'") +
           suggest_or(word, subcommand_names(at), no_command ? "run 'strata --help' to see the commands" : help);
  }
  if (!option.empty()) return "unknown option '" + option + "' for '" + where + "'" + suggest_or(option, option_names(at), help);
  if (!word.empty()) return "unexpected argument '" + word + "' for '" + where + "'; " + help;
  if (dynamic_cast<const CLI::RequiredError*>(&e) && at->get_require_subcommand_min() > 0 && at->get_subcommands().empty()) {
    return "'" + where + "' needs a subcommand (" + [&] {
      std::string list;
      for (const auto& n : subcommand_names(at)) list += (list.empty() ? "" : ", ") + n;
      return list;
    }() + "); " + help;
  }
  return where + ": " + lower_first(e.what()) + "; " + help;
}

}  // namespace strata
