#include "build/kernel_fragments.h"

namespace flakebisect::build {

std::optional<std::string_view> bundled_fragment(std::string_view name) {
  for (const auto& [fragment_name, text] : internal::bundled_fragment_table()) {
    if (fragment_name == name) {
      return text;
    }
  }
  return std::nullopt;
}

std::vector<std::string> bundled_fragment_names() {
  std::vector<std::string> names;
  for (const auto& entry : internal::bundled_fragment_table()) {
    names.emplace_back(entry.first);
  }
  return names;
}

}  // namespace flakebisect::build
