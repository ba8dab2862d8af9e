// Bundled kernel config fragments: the files configs/kernel/<name>.config, compiled into the
// binary at build time (src/build/CMakeLists.txt generates the table), so that KernelConfig can
// name them ("qemu-guest") without any data file installed next to the tool.
//
// A fragment is text in .config syntax: `CONFIG_FOO=y|"string"|123|0x1f`, `# CONFIG_FOO is not
// set`, other `#` comments and blank lines. KernelBuilder merges them over the base config. `=m`
// is refused (load_kernel_fragments() in kernel_builder.h): the image boots without modules.
//
// Thread rules: pure functions over constant data.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flakebisect::build {

// The text of the bundled fragment `name` (the file name without ".config"), or nullopt.
std::optional<std::string_view> bundled_fragment(std::string_view name);

// Every bundled fragment's name, sorted.
std::vector<std::string> bundled_fragment_names();

namespace internal {
// The generated table (name, text), sorted by name. Defined in kernel_fragments_table.cc, which
// CMake writes into the build directory.
const std::vector<std::pair<std::string_view, std::string_view>>& bundled_fragment_table();
}  // namespace internal

}  // namespace flakebisect::build
