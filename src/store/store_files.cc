#include "store/store_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace flakebisect::store {

namespace {

std::string octal_mode(mode_t mode) { return fmt::format("{:04o}", mode & 07777); }

// Whether this user is refused writing `path`, which a stat just found. A file removed since
// (another process's last connection closing deletes the -wal and -shm) is no refusal: whoever
// opens the store next creates it again, and that needs only the directory.
bool refuses_write(const std::string& path, bool* vanished) {
  *vanished = false;
  if (::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0) {
    return false;
  }
  if (errno == ENOENT) {
    *vanished = true;
    return false;
  }
  return true;
}

}  // namespace

std::array<std::string, 2> side_file_paths(const std::string& db_path) {
  return {db_path + "-wal", db_path + "-shm"};
}

std::string store_directory(const std::string& db_path) {
  const auto slash = db_path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : db_path.substr(0, slash);
}

bool may_write(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return false;
  }
  // A directory also needs search permission for a file to be created in it.
  const int wanted = S_ISDIR(st.st_mode) ? W_OK | X_OK : W_OK;
  return ::faccessat(AT_FDCWD, path.c_str(), wanted, AT_EACCESS) == 0;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void repair_side_file_modes(const std::string& db_path) {
  for (const std::string& side : side_file_paths(db_path)) {
    struct stat st {};
    if (::lstat(side.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
        (st.st_mode & 0600) != 0600) {
      (void)::chmod(side.c_str(), (st.st_mode & 07777) | 0600);  // best effort: see the header
    }
  }
}

bool on_read_only_file_system(const std::string& path) {
  return ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) != 0 && errno == EROFS;
}

std::optional<std::string> why_not_writable(const std::string& db_path) {
  if (on_read_only_file_system(db_path)) {
    return fmt::format("{} is on a read-only file system", db_path);
  }
  struct stat st {};
  bool vanished = false;
  if (::stat(db_path.c_str(), &st) == 0 && refuses_write(db_path, &vanished)) {
    if (st.st_uid == ::geteuid() && (st.st_mode & S_IWUSR) == 0) {
      return fmt::format("this user cannot write {} (mode {}; chmod u+w {} to change the store)",
                         db_path, octal_mode(st.st_mode), db_path);
    }
    return fmt::format("this user cannot write {} (mode {}, owner uid {})", db_path,
                       octal_mode(st.st_mode), st.st_uid);
  }
  const std::string dir = store_directory(db_path);
  for (const std::string& side : side_file_paths(db_path)) {
    struct stat side_st {};
    if (::stat(side.c_str(), &side_st) == 0) {
      if (refuses_write(side, &vanished)) {
        return fmt::format("this user cannot write {} (mode {}, owner uid {})", side,
                           octal_mode(side_st.st_mode), side_st.st_uid);
      }
    } else {
      vanished = errno == ENOENT;
    }
    if (vanished && !may_write(dir)) {
      struct stat dir_st {};
      const std::string dir_mode =
          ::stat(dir.c_str(), &dir_st) == 0 ? octal_mode(dir_st.st_mode) : "unknown";
      return fmt::format("this user cannot create {} in {} (mode {})", side, dir, dir_mode);
    }
  }
  return std::nullopt;
}

}  // namespace flakebisect::store
