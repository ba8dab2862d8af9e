#include "engine/identity.h"

#include <fmt/core.h>

#include "config/sha256.h"

namespace flakebisect::engine {
namespace {

// Length-prefixed so that no argument can imitate a separator or a neighbouring argument.
void append_argv(std::string& out, std::string_view key, const std::vector<std::string>& argv) {
  out += fmt::format("{}={}", key, argv.size());
  for (const std::string& arg : argv) {
    out += fmt::format(" {}:{}", arg.size(), arg);
  }
  out += '\n';
}

}  // namespace

std::string test_identity(const config::Config& config) {
  std::string out = "flakebisect test identity v1\n";
  append_argv(out, "build.command", config.build.command);
  append_argv(out, "test.command", config.test.command);
  out += fmt::format("test.timeout={}\n", config.test.timeout.count());
  out += fmt::format("test.no_output_timeout={}\n", config.test.no_output_timeout.count());
  return config::sha256_hex(out);
}

std::string build_key(const config::Config& config) {
  std::string out = "flakebisect build key v1\n";
  append_argv(out, "build.command", config.build.command);
  out += fmt::format("build.timeout={}\n", config.build.timeout.count());
  return config::sha256_hex(out);
}

}  // namespace flakebisect::engine
