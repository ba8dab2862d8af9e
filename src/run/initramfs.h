// Initramfs: the guest's root filesystem, a cpio archive ("newc" format, uncompressed) that the
// kernel unpacks into its rootfs before running /init.
//
// CpioWriter builds an archive in memory from directories, files, symlinks and device nodes. The
// kernel accepts several archives concatenated in one initrd, later entries replacing earlier
// ones, so the runner keeps a cached base archive (busybox, init, modules: the same for every boot
// of a bisection) and appends a small per-boot one (reproducer, its arguments, the run count).
//
// Entries get fixed owners (root), fixed mtimes and sequential inode numbers, so the same content
// always gives the same bytes (cache keys are content hashes).
//
// Thread rules: a CpioWriter is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace flakebisect::run {

class CpioWriter {
 public:
  // Paths are archive paths without a leading '/', e.g. "bin/busybox"; parents must be added
  // first. Names must not be empty or contain NUL.
  void add_directory(std::string_view path, uint32_t mode = 0755);
  void add_file(std::string_view path, std::string_view contents, uint32_t mode = 0644);
  void add_symlink(std::string_view path, std::string_view target);
  void add_char_device(std::string_view path, uint32_t major, uint32_t minor, uint32_t mode = 0600);
  // Reads `host_path` whole and adds it with its permission bits (or `mode` when non-zero).
  base::Status add_host_file(std::string_view path, const std::string& host_path,
                             uint32_t mode = 0);

  // The archive with its trailer. The writer can be reused after finish() only by starting over.
  std::string finish();

 private:
  void add_entry(std::string_view path, uint32_t mode, std::string_view data, uint32_t rdev_major,
                 uint32_t rdev_minor);

  std::string out_;
  uint32_t next_inode_ = 1;
};

}  // namespace flakebisect::run
