#include "build/commit_checkout.h"

namespace flakebisect::build {

std::vector<std::pair<std::string, std::string>> command_environment(
    const CommitCheckout& checkout, std::optional<uint32_t> run_index) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"FLAKEBISECT_COMMIT", checkout.sha},
      {"FLAKEBISECT_REPO", checkout.repo},
      {"FLAKEBISECT_WORKTREE", checkout.worktree},
  };
  if (run_index) {
    env.emplace_back("FLAKEBISECT_RUN", std::to_string(*run_index));
  }
  return env;
}

const std::vector<std::string>& repository_environment() {
  static const std::vector<std::string> names = {
      "GIT_ALTERNATE_OBJECT_DIRECTORIES",
      "GIT_COMMON_DIR",
      "GIT_CONFIG",
      "GIT_CONFIG_COUNT",
      "GIT_CONFIG_PARAMETERS",
      "GIT_DIR",
      "GIT_GRAFT_FILE",
      "GIT_IMPLICIT_WORK_TREE",
      "GIT_INDEX_FILE",
      "GIT_NO_REPLACE_OBJECTS",
      "GIT_OBJECT_DIRECTORY",
      "GIT_PREFIX",
      "GIT_REPLACE_REF_BASE",
      "GIT_SHALLOW_FILE",
      "GIT_WORK_TREE",
  };
  return names;
}

std::string tail_of(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  size_t start = text.size() - max_bytes;
  // Prefer to start at a line, unless that throws away most of the tail.
  const size_t newline = text.find('\n', start);
  if (newline != std::string::npos && newline - start < max_bytes / 4) {
    start = newline + 1;
  }
  return text.substr(start);
}

}  // namespace flakebisect::build
