// Small text helpers shared by the modules that talk to users.
//
// Thread rules: free functions without state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace flakebisect::base {

// Levenshtein distance: insertions, deletions and substitutions of one byte each.
size_t edit_distance(std::string_view a, std::string_view b);

// The word of `known` nearest to `typed` within an edit distance of `max_distance`, or "" (the
// first of equally near ones). For "did you mean" hints.
std::string nearest_word(std::string_view typed, const std::vector<std::string>& known,
                         size_t max_distance = 2);

}  // namespace flakebisect::base
