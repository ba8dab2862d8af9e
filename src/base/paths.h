// Paths and small file operations: where flakebisect keeps its data, private directories, atomic
// writes, bounded reads, and PATH lookup.
//
// All functions work on the real file system (there is no Env indirection yet); tests use temporary
// directories. Errors name the path and the OS reason, for example
// "/var/lib/x/state.json: Permission denied"; ENOENT maps to ErrorCode::kNotFound, other OS errors
// to ErrorCode::kIo.
//
// Thread rules: free functions, safe to call from any thread. data_home() and find_executable(name)
// read the environment, which must not be modified concurrently (setenv is not thread-safe).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace flakebisect::base {

// The directory flakebisect keeps its data in: $XDG_DATA_HOME/flakebisect, or
// $HOME/.local/share/flakebisect when XDG_DATA_HOME is unset, empty or relative (the XDG spec says
// to ignore relative values). Does not create it. Error (kNotFound) if neither variable is usable.
Result<std::string> data_home();
// The same rule with the two variables passed in (nullptr = unset), for callers that already hold
// them and for tests.
Result<std::string> data_home_for(const char* xdg_data_home, const char* home);

// Creates `path` and any missing parents with mode 0700 (exactly, whatever the umask). An existing
// final directory is set to 0700; existing parents are left alone. Error if `path` exists and is
// not a directory.
Status make_private_dir(const std::string& path);

// Replaces `path` with `contents` so that a reader, or the file after a crash, sees either the old
// file or the complete new one: writes a temporary file in the same directory, fsyncs it, renames
// it over `path` and fsyncs the directory. The file gets exactly `mode` (not masked by the umask).
Result<void> write_file_atomic(const std::string& path, std::string_view contents,
                               mode_t mode = 0600);

// Upper bound for read_file() when the caller has no better one.
inline constexpr size_t kDefaultMaxReadBytes = size_t{64} << 20;

// Reads the whole file. Error (kInvalidInput) if it holds more than max_bytes, rather than a
// silently truncated result. Works on files whose size is not known in advance (/proc, pipes).
Result<std::string> read_file(const std::string& path, size_t max_bytes = kDefaultMaxReadBytes);

// Finds an executable the way execvp would, without running it. A name containing '/' is checked
// as given, with check_runnable(): an error says what is wrong with it (not found, a directory, not
// executable, a #! interpreter that does not exist). Otherwise each entry of `search_path`
// (colon-separated) is tried in order; empty entries are skipped (execvp would use the current
// directory, which is a trap). Only regular files with execute permission for us count. Error
// "<name>: not found" (kNotFound) otherwise, which names a file of that name that was skipped for
// want of execute permission. An empty name is kInvalidInput ("the command's program name is
// empty").
Result<std::string> find_executable_in(const std::string& name, std::string_view search_path);
// find_executable_in() with the tool's own $PATH (or "/usr/local/bin:/usr/bin:/bin" if unset).
Result<std::string> find_executable(const std::string& name);
// find_executable(), then /usr/local/sbin, /usr/sbin and /sbin, where system tools (mkfs.ext4,
// modprobe) live even when an ordinary user's $PATH lacks them.
Result<std::string> find_system_executable(const std::string& name);

// What a look at the file `path` can tell about why executing it fails or would fail, as an error
// whose message starts with "<shown>: " (shown: the name the user gave; `path` itself if empty):
//   "not found" (kNotFound), "is a directory", "is not executable (mode 0644; chmod +x it)",
//   "its interpreter '/x/y' (the #! line) does not exist" (kNotFound), "... is not executable",
//   "has no #! line and is not a program for this machine", "is on a file system mounted noexec".
// `exec_errno` is the errno of a failed execve of `path` (ENOENT, EACCES, ENOEXEC, ...), or 0 to
// check before running it. With 0 the result is success when nothing looks wrong; with an errno it
// is always an error, falling back to "<shown>: <strerror>" when the file shows no cause. A
// relative `path` (and a relative #! interpreter) is taken relative to the current directory.
Status check_runnable(const std::string& path, int exec_errno = 0, std::string_view shown = {});

// An Error for a failed OS call on `what` (usually a path): "<what>: <strerror(err)>", with
// kNotFound for ENOENT and kIo otherwise.
Error os_error(const std::string& what, int err);

}  // namespace flakebisect::base
