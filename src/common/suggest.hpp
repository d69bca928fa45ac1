#pragma once
// "Did you mean ...?" for typed names: config keys, commands, options. One edit-distance rule for all of them.
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// Optimal-string-alignment distance (insertions, deletions, substitutions and swaps of two neighbours each cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be what was meant (at most 1 edit for short words,
// up to a third of the word's length for longer ones), else "". Ties go to the earlier candidate.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// "; did you mean 'X'?" or "" — ready to append to a message.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace strata
