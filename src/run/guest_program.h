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

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace flakebisect::run {

// What `head` (the first bytes of the program, at least 4 KiB when the file is longer) says the
// program needs: the "#!" interpreter's path (without its argument), or nullopt when it is no
// script.
std::optional<std::string> script_interpreter(std::string_view head);

// What the guest needs to know of a program: its interpreter if it is a script, and if it is ELF,
// whether it is for this machine and dynamically linked.
struct ProgramFacts {
  std::optional<std::string> interpreter;  // a script's
  bool elf = false;
  bool foreign_machine = false;  // ELF for neither x86-64 nor i386
  bool dynamic = false;          // ELF with PT_INTERP
};
ProgramFacts read_program_facts(const std::string& path);

// Why a program with these facts cannot run in a guest with these applets, or nullopt when it can:
//   - a script whose interpreter is not /bin/<a name in `applets`> ("/bin/sh" always is);
//   - an ELF executable for another machine than x86-64 or i386, or one that is dynamically
//     linked (it has a PT_INTERP program header).
std::optional<std::string> why_guest_cannot_run(const ProgramFacts& facts,
                                                const std::set<std::string>& applets);

// The same for the program at `path` (nullopt also when it cannot be told). `list_applets` gives
// busybox's applet names (`busybox --list`), and is called only for a script whose interpreter is
// neither /bin/sh nor /bin/busybox; it may return none (then only those two are known).
std::optional<std::string> guest_cannot_run(
    const std::string& path, const std::function<std::set<std::string>()>& list_applets);

}  // namespace flakebisect::run
