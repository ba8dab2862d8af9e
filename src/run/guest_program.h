// Whether a reproducer can run in the guest at all, checked on the host before any boot.
//
// The guest's userland is busybox-static alone (its applets in /bin, no libc, no other
// interpreter). A script for bash or python, or a dynamically linked binary, cannot start there:
// busybox's `timeout` exits 127 or 126, which would be counted as a failure of every commit, good
// ones included, and the bisection would name the oldest candidate with confidence. So such a
// reproducer is an error that names why, before any run is recorded.
//
// Thread rules: pure functions.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace flakebisect::run {

// What `head` (the first bytes of the program, at least 4 KiB when the file is longer) says the
// program needs: the "#!" interpreter's path (without its argument), or nullopt when it is no
// script.
std::optional<std::string> script_interpreter(std::string_view head);

// Why the program at `path` cannot run in the guest, or nullopt when it can (or cannot be told):
//   - a script whose interpreter is not /bin/<a name in `applets`> ("/bin/sh" always is);
//   - an ELF executable for another machine than x86-64 or i386, or one that is dynamically
//     linked (it has a PT_INTERP program header).
// `applets` are busybox's applet names (`busybox --list`); only asked for when needed, through
// `list_applets`, which may fail (then only /bin/sh and /bin/busybox are known).
template <typename ListApplets>
std::optional<std::string> guest_cannot_run(const std::string& path, ListApplets list_applets);

// Reads the program's interpreter and ELF facts; kept separate so the template above stays small.
struct ProgramFacts {
  std::optional<std::string> interpreter;  // a script's
  bool elf = false;
  bool foreign_machine = false;  // ELF for neither x86-64 nor i386
  bool dynamic = false;          // ELF with PT_INTERP
};
ProgramFacts read_program_facts(const std::string& path);

// Why a program with these facts cannot run in a guest with these applets.
std::optional<std::string> why_guest_cannot_run(const ProgramFacts& facts,
                                                const std::set<std::string>& applets);

template <typename ListApplets>
std::optional<std::string> guest_cannot_run(const std::string& path, ListApplets list_applets) {
  const ProgramFacts facts = read_program_facts(path);
  std::set<std::string> applets;
  if (facts.interpreter && *facts.interpreter != "/bin/sh" &&
      *facts.interpreter != "/bin/busybox") {
    applets = list_applets();
  }
  return why_guest_cannot_run(facts, applets);
}

}  // namespace flakebisect::run
