#include "base/paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

}  // namespace

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
    return Error("find_executable: empty name", ErrorCode::kInvalidInput);
  }
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) {
      return name;
    }
    return Error(name + ": not found", ErrorCode::kNotFound);
  }
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
    }
    if (colon == std::string_view::npos) {
      break;
    }
    search_path.remove_prefix(colon + 1);
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
