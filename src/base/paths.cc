#include "base/paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

#include "base/unique_fd.h"

namespace flakebisect::base {
namespace {

constexpr std::string_view kDefaultSearchPath = "/usr/local/bin:/usr/bin:/bin";

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// What a #! line names, as the kernel reads it: the first word after "#!", blanks skipped.
struct Shebang {
  bool present = false;     // the file starts with "#!"
  std::string interpreter;  // may be empty (a bare "#!") or end in '\r' (DOS line endings)
};

// The kernel reads at most this much of a file to decide how to execute it (BINPRM_BUF_SIZE).
constexpr size_t kExecHeaderBytes = 256;

// The first bytes of `path`, or nullopt if it cannot be read (execute-only is allowed for
// binaries).
std::optional<std::string> read_exec_header(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    return std::nullopt;
  }
  std::string header(kExecHeaderBytes, '\0');
  ssize_t n = 0;
  do {
    n = ::read(fd.get(), header.data(), header.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return std::nullopt;
  }
  header.resize(static_cast<size_t>(n));
  return header;
}

Shebang parse_shebang(std::string_view header) {
  Shebang shebang;
  if (!header.starts_with("#!")) {
    return shebang;
  }
  shebang.present = true;
  header.remove_prefix(2);
  header = header.substr(0, header.find('\n'));
  const auto start = header.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    return shebang;
  }
  header.remove_prefix(start);
  shebang.interpreter = std::string(header.substr(0, header.find_first_of(" \t")));
  return shebang;
}

std::string octal_mode(mode_t mode) { return fmt::format("{:04o}", mode & 07777); }

// Why the interpreter a #! line names cannot run the script, or nullopt if it looks fine.
std::optional<Error> interpreter_problem(const std::string& shown, const Shebang& shebang,
                                         int exec_errno) {
  if (shebang.interpreter.empty()) {
    return make_error(ErrorCode::kInvalidInput, "{}: its #! line names no interpreter", shown);
  }
  std::string interpreter = shebang.interpreter;
  if (interpreter.back() == '\r') {
    interpreter.pop_back();
    return make_error(ErrorCode::kInvalidInput,
                      "{}: its #! line ends with a carriage return (DOS line endings), so the "
                      "interpreter '{}\\r' does not exist; convert the file to Unix line endings",
                      shown, interpreter);
  }
  const auto missing = [&] {
    return make_error(ErrorCode::kNotFound, "{}: its interpreter '{}' (the #! line) does not exist",
                      shown, interpreter);
  };
  if (interpreter.front() != '/') {
    // Looked up from the program's working directory, which only the failed exec can speak for.
    return exec_errno == ENOENT ? std::optional<Error>(missing()) : std::nullopt;
  }
  struct stat st {};
  if (::stat(interpreter.c_str(), &st) != 0) {
    return errno == ENOENT ? std::optional<Error>(missing()) : std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kInvalidInput,
                      "{}: its interpreter '{}' (the #! line) is a directory", shown, interpreter);
  }
  if (!S_ISREG(st.st_mode) || ::access(interpreter.c_str(), X_OK) != 0) {
    return make_error(ErrorCode::kInvalidInput,
                      "{}: its interpreter '{}' (the #! line) is not executable (mode {})", shown,
                      interpreter, octal_mode(st.st_mode));
  }
  return std::nullopt;
}

}  // namespace

Status check_runnable(const std::string& path, int exec_errno, std::string_view shown) {
  // How the message names the file.
  const std::string label(shown.empty() ? std::string_view(path) : shown);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return Error(label + ": not found", ErrorCode::kNotFound);
    }
    return os_error(label, err);
  }
  if (S_ISDIR(st.st_mode)) {
    return Error(label + ": is a directory", ErrorCode::kInvalidInput);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(label + ": is not a regular file", ErrorCode::kInvalidInput);
  }
  if (::access(path.c_str(), X_OK) != 0) {
    if ((st.st_mode & 0111) == 0) {
      return make_error(ErrorCode::kInvalidInput, "{}: is not executable (mode {}; chmod +x it)",
                        label, octal_mode(st.st_mode));
    }
    return make_error(ErrorCode::kInvalidInput,
                      "{}: is not executable by this user (mode {}, owner uid {}, group gid {})",
                      label, octal_mode(st.st_mode), st.st_uid, st.st_gid);
  }
  if (const auto header = read_exec_header(path)) {
    const Shebang shebang = parse_shebang(*header);
    if (shebang.present) {
      if (auto problem = interpreter_problem(label, shebang, exec_errno)) {
        return *std::move(problem);
      }
    } else if (exec_errno == ENOEXEC) {
      if (header->empty()) {
        return Error(label + ": is empty, not a program", ErrorCode::kInvalidInput);
      }
      if (header->starts_with("\x7f"
                              "ELF")) {
        return Error(label + ": is an executable for another kind of machine",
                     ErrorCode::kInvalidInput);
      }
      return Error(label +
                       ": has no #! line and is not a program for this machine (start a script "
                       "with a line such as #!/bin/sh)",
                   ErrorCode::kInvalidInput);
    } else if (exec_errno == ENOENT && header->starts_with("\x7f"
                                                           "ELF")) {
      return Error(label +
                       ": its program loader (the ELF interpreter) does not exist; was it "
                       "built for another system?",
                   ErrorCode::kNotFound);
    }
  }
  if (exec_errno == EACCES) {
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_NOEXEC) != 0) {
      return Error(label + ": is on a file system mounted noexec", ErrorCode::kInvalidInput);
    }
  }
  if (exec_errno != 0) {
    return os_error(label, exec_errno);
  }
  return {};
}

Error os_error(const std::string& what, int err) {
  return Error(what + ": " + std::strerror(err),
               err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo);
}

Result<std::string> data_home_for(const char* xdg_data_home, const char* home) {
  if (xdg_data_home != nullptr && xdg_data_home[0] == '/') {
    return std::string(xdg_data_home) + "/flakebisect";
  }
  if (home != nullptr && home[0] == '/') {
    return std::string(home) + "/.local/share/flakebisect";
  }
  return Error("cannot find the data directory: neither XDG_DATA_HOME nor HOME is an absolute path",
               ErrorCode::kNotFound);
}

Result<std::string> data_home() {
  return data_home_for(std::getenv("XDG_DATA_HOME"), std::getenv("HOME"));
}

Status make_private_dir(const std::string& path) {
  if (path.empty()) {
    return Error("make_private_dir: empty path", ErrorCode::kInvalidInput);
  }
  // Create each missing component, shortest prefix first (mkdir -p).
  for (size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return os_error(prefix, errno);
    }
    if (pos == std::string::npos) {
      break;
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return os_error(path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error(path + ": exists and is not a directory", ErrorCode::kInvalidInput);
  }
  // mkdir's mode is masked by the umask, and an existing directory may be wider: set it exactly.
  if ((st.st_mode & 07777) != 0700 && ::chmod(path.c_str(), 0700) != 0) {
    return os_error(path, errno);
  }
  return {};
}

Result<void> write_file_atomic(const std::string& path, std::string_view contents, mode_t mode) {
  if (path.empty() || path.back() == '/') {
    return Error("write_file_atomic: not a file path: '" + path + "'", ErrorCode::kInvalidInput);
  }
  std::string temp = path + ".tmp.XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return os_error(path, errno);
  }
  bool renamed = false;
  // Removes the temporary file on every failure path.
  struct TempRemover {
    const std::string& temp;
    const bool& renamed;
    ~TempRemover() {
      if (!renamed) {
        ::unlink(temp.c_str());
      }
    }
  } remover{temp, renamed};

  if (::fchmod(fd.get(), mode) != 0) {
    return os_error(temp, errno);
  }
  FB_TRY(write_all(fd.get(), contents, temp));
  if (::fsync(fd.get()) != 0) {
    return os_error(temp, errno);
  }
  if (const int err = fd.close_checked(); err != 0) {
    return os_error(temp, err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return os_error(path, errno);
  }
  renamed = true;
  // The rename is durable only once the directory entry is.
  const std::string dir = parent_dir(path);
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    return os_error(dir, errno);
  }
  if (::fsync(dir_fd.get()) != 0) {
    return os_error(dir, errno);
  }
  return {};
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return os_error(path, errno);
  }
  std::string data;
  std::vector<char> buffer(size_t{64} * 1024);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return os_error(path, errno);
    }
    if (n == 0) {
      return data;
    }
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      return make_error(ErrorCode::kInvalidInput, "{}: larger than {} bytes", path, max_bytes);
    }
    data.append(buffer.data(), static_cast<size_t>(n));
  }
}

Result<std::string> find_executable_in(const std::string& name, std::string_view search_path) {
  if (name.empty()) {
    return Error("the command's program name is empty", ErrorCode::kInvalidInput);
  }
  if (name.find('/') != std::string::npos) {
    FB_TRY(check_runnable(name));
    return name;
  }
  // The first file of that name that is there but cannot be executed, to name in the error.
  std::optional<std::string> not_executable;
  while (true) {
    const auto colon = search_path.find(':');
    const std::string_view dir = search_path.substr(0, colon);
    if (!dir.empty()) {
      std::string candidate(dir);
      if (candidate.back() != '/') {
        candidate += '/';
      }
      candidate += name;
      if (is_executable_file(candidate)) {
        // Found, as execvp would; one it could still not run (a missing #! interpreter) is
        // refused here with the reason, like a name with a slash.
        FB_TRY(check_runnable(candidate));
        // A relative entry (".", "bin") was checked against the tool's directory; a child runs
        // it after changing to its own, so it gets the file that was checked, by absolute path.
        if (candidate.front() != '/') {
          std::error_code error;
          std::filesystem::path absolute = std::filesystem::absolute(candidate, error);
          if (!error) {
            return absolute.lexically_normal().string();
          }
        }
        return candidate;
      }
      if (!not_executable) {
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          not_executable = candidate;
        }
      }
    }
    if (colon == std::string_view::npos) {
      break;
    }
    search_path.remove_prefix(colon + 1);
  }
  if (not_executable) {
    auto why = check_runnable(*not_executable);
    if (!why) {
      return make_error(ErrorCode::kNotFound, "{}: not found; {}", name, why.error().message());
    }
  }
  return Error(name + ": not found", ErrorCode::kNotFound);
}

Result<std::string> find_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  return find_executable_in(name, path != nullptr ? std::string_view(path) : kDefaultSearchPath);
}

Result<std::string> find_system_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  return find_executable_in(
      name, std::string(path != nullptr ? std::string_view(path) : kDefaultSearchPath) +
                ":/usr/local/sbin:/usr/sbin:/sbin");
}

}  // namespace flakebisect::base
