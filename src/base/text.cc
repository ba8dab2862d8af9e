#include "base/text.h"

#include <algorithm>

namespace flakebisect::base {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string nearest_word(std::string_view typed, const std::vector<std::string>& known,
                         size_t max_distance) {
  std::string best;
  size_t best_distance = max_distance + 1;
  for (const std::string& word : known) {
    // The distance is at least the length difference: a long typed word costs no quadratic work.
    const size_t gap =
        word.size() > typed.size() ? word.size() - typed.size() : typed.size() - word.size();
    if (gap >= best_distance) {
      continue;
    }
    const size_t distance = edit_distance(typed, word);
    if (distance < best_distance) {
      best = word;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace flakebisect::base
