#include "run/guest_program.h"

#include <elf.h>
#include <fmt/core.h>

#include <cstring>
#include <fstream>

namespace flakebisect::run {
namespace {

constexpr size_t kHeadBytes = 4096;

template <typename Header, typename ProgramHeader>
void read_elf(std::ifstream& in, std::string_view head, ProgramFacts& facts) {
  if (head.size() < sizeof(Header)) {
    return;
  }
  Header header;
  std::memcpy(&header, head.data(), sizeof header);
  facts.foreign_machine = header.e_machine != EM_X86_64 && header.e_machine != EM_386;
  if (header.e_phentsize != sizeof(ProgramHeader)) {
    return;
  }
  for (unsigned i = 0; i < header.e_phnum && i < 4096; ++i) {
    ProgramHeader program;
    in.clear();
    in.seekg(static_cast<std::streamoff>(header.e_phoff + uint64_t{i} * sizeof program));
    if (!in.read(reinterpret_cast<char*>(&program), sizeof program)) {
      return;
    }
    if (program.p_type == PT_INTERP) {
      facts.dynamic = true;
      return;
    }
  }
}

}  // namespace

std::optional<std::string> script_interpreter(std::string_view head) {
  if (!head.starts_with("#!")) {
    return std::nullopt;
  }
  std::string_view line = head.substr(
      2, head.find('\n') == std::string_view::npos ? std::string_view::npos : head.find('\n') - 2);
  const size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    return std::string();
  }
  line.remove_prefix(start);
  return std::string(line.substr(0, line.find_first_of(" \t\r")));
}

ProgramFacts read_program_facts(const std::string& path) {
  ProgramFacts facts;
  std::ifstream in(path, std::ios::binary);
  std::string head(kHeadBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  facts.interpreter = script_interpreter(head);
  if (head.size() >= EI_NIDENT && std::memcmp(head.data(), ELFMAG, SELFMAG) == 0 &&
      head[EI_DATA] == ELFDATA2LSB) {
    facts.elf = true;
    if (head[EI_CLASS] == ELFCLASS64) {
      read_elf<Elf64_Ehdr, Elf64_Phdr>(in, head, facts);
    } else if (head[EI_CLASS] == ELFCLASS32) {
      read_elf<Elf32_Ehdr, Elf32_Phdr>(in, head, facts);
    }
  }
  return facts;
}

std::optional<std::string> why_guest_cannot_run(const ProgramFacts& facts,
                                                const std::set<std::string>& applets) {
  if (facts.interpreter) {
    const std::string& interpreter = *facts.interpreter;
    const std::string name =
        interpreter.starts_with("/bin/") ? interpreter.substr(5) : std::string();
    if (name == "sh" || name == "busybox" ||
        (!name.empty() && name.find('/') == std::string::npos && applets.count(name) > 0)) {
      return std::nullopt;
    }
    return fmt::format(
        "its interpreter '{}' is not in the guest, whose userland is busybox alone (its "
        "applets in /bin): start it with #!/bin/sh, or use a static binary",
        interpreter);
  }
  if (facts.foreign_machine) {
    return std::string("it is an ELF executable for another machine than the x86-64 guest");
  }
  if (facts.dynamic) {
    return std::string(
        "it is dynamically linked, and the guest has no shared libraries (busybox alone): link "
        "it statically (-static)");
  }
  return std::nullopt;
}

std::optional<std::string> guest_cannot_run(
    const std::string& path, const std::function<std::set<std::string>()>& list_applets) {
  const ProgramFacts facts = read_program_facts(path);
  std::set<std::string> applets;
  if (facts.interpreter && *facts.interpreter != "/bin/sh" &&
      *facts.interpreter != "/bin/busybox") {
    applets = list_applets();
  }
  return why_guest_cannot_run(facts, applets);
}

}  // namespace flakebisect::run
