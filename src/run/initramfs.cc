#include "run/initramfs.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include "base/paths.h"

namespace flakebisect::run {
namespace {

constexpr uint32_t kMtime = 1;  // fixed, so that equal content gives equal bytes

void pad4(std::string& out) {
  while (out.size() % 4 != 0) {
    out.push_back('\0');
  }
}

}  // namespace

void CpioWriter::add_entry(std::string_view path, uint32_t mode, std::string_view data,
                           uint32_t rdev_major, uint32_t rdev_minor) {
  const uint32_t inode = next_inode_++;
  const bool directory = (mode & S_IFMT) == S_IFDIR;
  // newc header: magic + 13 eight-digit hex fields.
  out_ += fmt::format("070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}"
                      "{:08x}",
                      inode, mode, 0, 0, directory ? 2 : 1, kMtime, data.size(), 0, 0, rdev_major,
                      rdev_minor, path.size() + 1, 0);
  out_.append(path);
  out_.push_back('\0');
  pad4(out_);
  out_.append(data);
  pad4(out_);
}

void CpioWriter::add_directory(std::string_view path, uint32_t mode) {
  add_entry(path, S_IFDIR | (mode & 07777), {}, 0, 0);
}

void CpioWriter::add_file(std::string_view path, std::string_view contents, uint32_t mode) {
  add_entry(path, S_IFREG | (mode & 07777), contents, 0, 0);
}

void CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  add_entry(path, S_IFLNK | 0777, target, 0, 0);
}

void CpioWriter::add_char_device(std::string_view path, uint32_t major, uint32_t minor,
                                 uint32_t mode) {
  add_entry(path, S_IFCHR | (mode & 07777), {}, major, minor);
}

base::Status CpioWriter::add_host_file(std::string_view path, const std::string& host_path,
                                       uint32_t mode) {
  struct stat st {};
  if (::stat(host_path.c_str(), &st) != 0) {
    return base::make_error(base::ErrorCode::kNotFound, "{}: not found", host_path);
  }
  if (!S_ISREG(st.st_mode)) {
    return base::make_error(base::ErrorCode::kInvalidInput, "{}: not a regular file", host_path);
  }
  // Kernel images, busybox and modules are a few MB; a guest file above 512 MiB is a mistake.
  FB_ASSIGN_OR_RETURN(std::string contents, base::read_file(host_path, size_t{512} << 20));
  add_file(path, contents, mode != 0 ? mode : (st.st_mode & 07777));
  return {};
}

std::string CpioWriter::finish() {
  add_entry("TRAILER!!!", 0, {}, 0, 0);
  std::string done = std::move(out_);
  out_.clear();
  next_inode_ = 1;
  return done;
}

}  // namespace flakebisect::run
