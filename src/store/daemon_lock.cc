#include "store/daemon_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

namespace flakebisect::store {

using base::ErrorCode;
using base::Result;

namespace {

// The holder's pid as written in the lock file, or "" when unreadable. Best effort: only used to
// make the refusal message helpful.
std::string read_holder(int fd) {
  char buffer[32] = {};
  ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) {
    return {};
  }
  std::string_view text(buffer, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return {};
  }
  return std::string(text);
}

}  // namespace

std::string daemon_lock_path(const std::string& store_path) {
  // Named after the store's real path, so that a store reached through a symbolic link (to the
  // file or to a directory above it) has the same lock as the store named directly.
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::weakly_canonical(store_path, ec);
  return (ec || real.empty() ? store_path : real.native()) + ".daemon.lock";
}

Result<DaemonLock> acquire_daemon_lock(const std::string& store_path) {
  if (store_path.empty() || store_path == ":memory:") {
    return base::make_error(ErrorCode::kInvalidInput,
                            "store {}: an in-memory store has no daemon lock", store_path);
  }
  std::string path = daemon_lock_path(store_path);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return base::make_error(ErrorCode::kIo, "{}: cannot open daemon lock: {}", path,
                            std::strerror(errno));
  }
  DaemonLock lock(path, fd);  // closes fd on every return below
  // A lock file another user made (the store's directory is shared) could be held by them
  // forever; say so rather than "already served by a daemon".
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_uid != geteuid()) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "{}: owned by uid {}, not by this user (uid {}); remove it", path,
                            st.st_uid, geteuid());
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      std::string holder = read_holder(fd);
      return base::make_error(ErrorCode::kBusy, "store {} is already served by a daemon{}",
                              store_path, holder.empty() ? "" : " (pid " + holder + ")");
    }
    return base::make_error(ErrorCode::kIo, "{}: cannot lock: {}", path, std::strerror(errno));
  }
  // Owner-only even if the file was created by a process with a loose umask.
  (void)fchmod(fd, 0600);
  // The pid is informational (for the refusal message); holding the lock is what matters, so a
  // failed write is not an error.
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) {
    ssize_t written = pwrite(fd, pid.data(), pid.size(), 0);
    (void)written;
  }
  return lock;
}

DaemonLock::DaemonLock(DaemonLock&& other) noexcept
    : lock_path_(std::move(other.lock_path_)), fd_(std::exchange(other.fd_, -1)) {}

DaemonLock& DaemonLock::operator=(DaemonLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      close(fd_);
    }
    lock_path_ = std::move(other.lock_path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// Closing the last descriptor of the open file description releases the flock.
DaemonLock::~DaemonLock() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

}  // namespace flakebisect::store
