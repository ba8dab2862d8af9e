// Kernel images: booting a prebuilt kernel without its decompressor (qemu.direct_boot).
//
// A bzImage is a small decompressor plus the compressed kernel. Under TCG (software emulation)
// the decompressor is slow: Debian's 6.1 kernel (an 8 MB bzImage, XZ inside) spends about 6 s of
// host time emulating its own unpacking before the kernel's clock starts, two thirds of a boot to
// a ready guest. QEMU can also start the uncompressed kernel (an ELF vmlinux) directly through
// its PVH entry point (the "Xen" ELF note XEN_ELFNOTE_PHYS32_ENTRY, built with CONFIG_PVH=y, as
// Debian's and most distributions' kernels are). pvh_vmlinux() unpacks the bzImage once on the
// host (its payload, found through the boot protocol's setup header: XZ through liblzma, gzip
// through zlib, zstd through libzstd) into a cache, checks for the PVH note, and returns that file;
// QEMU then boots the same kernel code with the same command line in a third of the time
// (qemu/README.md). The guest is not quite the same (no VGA text console, the firmware's memory
// map), so it is opt-in and part of the test identity. A kernel it cannot unpack, or without the
// note, is booted as before.
//
// Thread rules: free functions; the cache file is written atomically, so concurrent callers are
// safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace flakebisect::run {

// Where a bzImage keeps its compressed kernel, from the setup header (boot protocol 2.08 or
// later), kbuild's 4 bytes of unpacked size at its end included; nullopt for anything else.
struct BzImagePayload {
  size_t offset = 0;  // from the start of the file
  size_t length = 0;
};
std::optional<BzImagePayload> bzimage_payload(std::string_view image);

// The payload unpacked, when it is XZ, gzip or zstd (the kernel's own trailing size bytes ignored);
// nullopt for another compression; an error for a payload that does not unpack.
base::Result<std::optional<std::string>> unpack_payload(std::string_view payload);

// Whether `elf` is a 64-bit ELF image with a PVH entry note ("Xen", type 18) in a PT_NOTE segment.
bool has_pvh_entry(std::string_view elf);

// The uncompressed, PVH-bootable vmlinux of the bzImage at `path`, unpacked into
// `cache_dir`/vmlinux-<hash of the bzImage> unless a file of the recorded size with the PVH note
// is already there (only its ELF header and notes are read to tell). nullopt when the image is no
// bzImage, its compression is not one of those above, or the kernel has no PVH entry. Errors: the
// image cannot be read, its payload is corrupt, or the cache cannot be written.
base::Result<std::optional<std::string>> pvh_vmlinux(const std::string& path,
                                                     const std::string& cache_dir);

}  // namespace flakebisect::run
