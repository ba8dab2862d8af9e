#include "base/unique_fd.h"

#include <cerrno>

#include "base/paths.h"

namespace flakebisect::base {

int UniqueFd::close_checked() {
  if (fd_ < 0) {
    return 0;
  }
  // Linux closes the descriptor even when close() fails, so it must not be retried.
  const int rc = ::close(std::exchange(fd_, -1));
  return rc == 0 ? 0 : errno;
}

Status write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return os_error(what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace flakebisect::base
