// UniqueFd: sole owner of a file descriptor, closed when the owner goes away; plus write_all().
//
// Thread rules: a UniqueFd is used by one thread at a time, like the descriptor it owns.
#pragma once

#include <unistd.h>

#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace flakebisect::base {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  // Closes the owned descriptor (errors ignored) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }
  // Closes the owned descriptor and returns close()'s errno, or 0. Use after writing a file whose
  // write errors may surface only at close (NFS).
  int close_checked();

 private:
  int fd_ = -1;
};

// Writes all of `data` to a blocking `fd`, retrying on EINTR and short writes. Errors name `what`.
Status write_all(int fd, std::string_view data, const std::string& what);

}  // namespace flakebisect::base
