#include "run/kernel_image.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>

#include "base/paths.h"
#include "base/unique_fd.h"
#include "config/sha256.h"

namespace flakebisect::run {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxImageBytes = size_t{256} << 20;   // a bzImage
constexpr size_t kMaxUnpackedBytes = size_t{1} << 30;  // a vmlinux with debug info can be large
constexpr uint32_t kXenElfnotePhys32Entry = 18;        // xen/interface/elfnote.h
constexpr size_t kMaxNotesBytes = size_t{1} << 20;     // a PT_NOTE segment read from a file

template <typename T>
T read_le(std::string_view data, size_t at) {
  T value{};
  std::memcpy(&value, data.data() + at, sizeof value);
  return value;  // x86: little-endian, like the image
}

// kbuild appends the unpacked size (4 bytes, little-endian) to the compressed kernel, inside
// payload_length: room for it up front, within the cap.
size_t size_hint(std::string_view payload) {
  if (payload.size() < 4) return 0;
  return std::min<size_t>(read_le<uint32_t>(payload, payload.size() - 4), kMaxUnpackedBytes);
}

base::Result<std::string> unxz(std::string_view payload) {
  lzma_stream stream = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&stream, UINT64_MAX, 0) != LZMA_OK) {
    return base::Error("xz: cannot start the decoder");
  }
  std::string out;
  out.reserve(size_hint(payload) + 1);
  stream.next_in = reinterpret_cast<const uint8_t*>(payload.data());
  stream.avail_in = payload.size();
  lzma_ret ret = LZMA_OK;
  while (ret == LZMA_OK) {
    if (out.size() >= kMaxUnpackedBytes) {
      lzma_end(&stream);
      return base::Error(fmt::format("xz: more than {} bytes unpacked", kMaxUnpackedBytes));
    }
    const size_t before = out.size();
    out.resize(before + (size_t{8} << 20));
    stream.next_out = reinterpret_cast<uint8_t*>(out.data() + before);
    stream.avail_out = out.size() - before;
    // LZMA_FINISH: all input is there; the kernel's 4 size bytes after the stream are left unread.
    ret = lzma_code(&stream, LZMA_FINISH);
    out.resize(out.size() - stream.avail_out);
  }
  lzma_end(&stream);
  if (ret != LZMA_STREAM_END) {
    return base::Error(
        fmt::format("xz: corrupt payload (liblzma error {})", static_cast<int>(ret)));
  }
  return out;
}

base::Result<std::string> gunzip(std::string_view payload) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {  // 16: a gzip header
    return base::Error("gzip: cannot start the decoder");
  }
  std::string out;
  out.reserve(size_hint(payload) + 1);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  stream.avail_in = static_cast<uInt>(payload.size());
  int ret = Z_OK;
  while (ret == Z_OK) {
    if (out.size() >= kMaxUnpackedBytes) {
      inflateEnd(&stream);
      return base::Error(fmt::format("gzip: more than {} bytes unpacked", kMaxUnpackedBytes));
    }
    const size_t before = out.size();
    out.resize(before + (size_t{8} << 20));
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream.avail_out = static_cast<uInt>(out.size() - before);
    ret = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  if (ret != Z_STREAM_END) {
    return base::Error(fmt::format("gzip: corrupt payload (zlib error {})", ret));
  }
  return out;
}

base::Result<std::string> unzstd(std::string_view payload) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!context) {
    return base::Error("zstd: cannot start the decoder");
  }
  // kbuild compresses with "zstd -22 --ultra", a window of up to 2^27 bytes: zstd's default
  // limit. Allow a larger one rather than fail on a kernel made with other options.
  ZSTD_DCtx_setParameter(context.get(), ZSTD_d_windowLogMax, 30);
  std::string out;
  out.reserve(size_hint(payload) + 1);
  ZSTD_inBuffer input{payload.data(), payload.size(), 0};
  size_t ret = 1;
  while (ret != 0) {  // 0: the frame is whole and flushed; the kernel's 4 size bytes stay unread
    if (out.size() >= kMaxUnpackedBytes) {
      return base::Error(fmt::format("zstd: more than {} bytes unpacked", kMaxUnpackedBytes));
    }
    const size_t before = out.size();
    out.resize(before + (size_t{8} << 20));
    ZSTD_outBuffer output{out.data() + before, out.size() - before, 0};
    ret = ZSTD_decompressStream(context.get(), &output, &input);
    out.resize(before + output.pos);
    if (ZSTD_isError(ret)) {
      return base::Error(fmt::format("zstd: corrupt payload ({})", ZSTD_getErrorName(ret)));
    }
    if (ret != 0 && input.pos == input.size && output.pos < output.size) {
      return base::Error("zstd: corrupt payload (it ends inside a frame)");
    }
  }
  return out;
}

// Reads `length` bytes at `offset` of an ELF image, nullopt past its end.
using ElfReader = std::function<std::optional<std::string>(uint64_t offset, uint64_t length)>;

// has_pvh_entry() on an image read piece by piece: the header, the program headers, and the
// PT_NOTE segments (at most kMaxNotesBytes each), so a cached 65 MB vmlinux is not read whole.
bool pvh_entry_in(const ElfReader& read) {
  const auto head = read(0, sizeof(Elf64_Ehdr));
  if (!head || head->substr(0, 4) != ELFMAG || (*head)[EI_CLASS] != ELFCLASS64 ||
      (*head)[EI_DATA] != ELFDATA2LSB) {
    return false;
  }
  const auto header = read_le<Elf64_Ehdr>(*head, 0);
  if (header.e_machine != EM_X86_64 || header.e_phentsize != sizeof(Elf64_Phdr)) {
    return false;
  }
  const auto programs = read(header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr));
  if (!programs) {
    return false;
  }
  for (size_t i = 0; i < header.e_phnum; ++i) {
    const auto program = read_le<Elf64_Phdr>(*programs, i * sizeof(Elf64_Phdr));
    if (program.p_type != PT_NOTE || program.p_filesz > kMaxNotesBytes) {
      continue;
    }
    const auto segment = read(program.p_offset, program.p_filesz);
    if (!segment) {
      continue;
    }
    std::string_view notes = *segment;
    while (notes.size() >= sizeof(Elf64_Nhdr)) {
      const auto note = read_le<Elf64_Nhdr>(notes, 0);
      const size_t name_size = (size_t{note.n_namesz} + 3) & ~size_t{3};
      const size_t desc_size = (size_t{note.n_descsz} + 3) & ~size_t{3};
      if (name_size > notes.size() - sizeof(Elf64_Nhdr) ||
          desc_size > notes.size() - sizeof(Elf64_Nhdr) - name_size) {
        break;
      }
      const std::string_view name = notes.substr(sizeof(Elf64_Nhdr), note.n_namesz);
      if (note.n_type == kXenElfnotePhys32Entry && name == std::string_view("Xen\0", 4)) {
        return true;
      }
      notes.remove_prefix(sizeof(Elf64_Nhdr) + name_size + desc_size);
    }
  }
  return false;
}

// Whether the file at `path` is a vmlinux with the PVH note, reading only what pvh_entry_in needs.
bool file_has_pvh_entry(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!fd.valid() || ::fstat(fd.get(), &info) != 0) {
    return false;
  }
  const auto size = static_cast<uint64_t>(info.st_size);
  return pvh_entry_in([&](uint64_t offset, uint64_t length) -> std::optional<std::string> {
    if (offset > size || length > size - offset) return std::nullopt;
    std::string out(length, '\0');
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t got = ::pread(fd.get(), out.data() + done, out.size() - done,
                                  static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;
      done += static_cast<size_t>(got);
    }
    return out;
  });
}

}  // namespace

std::optional<BzImagePayload> bzimage_payload(std::string_view image) {
  // The real-mode setup header (Documentation/x86/boot.rst): "HdrS" at 0x202, the protocol
  // version at 0x206, setup_sects at 0x1f1 (0 means 4), payload_offset and payload_length at
  // 0x248 and 0x24c (2.08+), the offset counted from the protected-mode code, which follows the
  // (setup_sects + 1) sectors of setup.
  if (image.size() < 0x250 || image.substr(0x202, 4) != "HdrS" ||
      read_le<uint16_t>(image, 0x206) < 0x208) {
    return std::nullopt;
  }
  size_t setup_sects = static_cast<uint8_t>(image[0x1f1]);
  if (setup_sects == 0) setup_sects = 4;
  const size_t offset = (setup_sects + 1) * 512 + read_le<uint32_t>(image, 0x248);
  const size_t length = read_le<uint32_t>(image, 0x24c);
  if (length < 8 || offset > image.size() || length > image.size() - offset) {
    return std::nullopt;
  }
  return BzImagePayload{offset, length};
}

base::Result<std::optional<std::string>> unpack_payload(std::string_view payload) {
  using Unpacked = std::optional<std::string>;
  if (payload.starts_with(std::string_view("\xfd"
                                           "7zXZ\0",
                                           6))) {
    FB_ASSIGN_OR_RETURN(std::string out, unxz(payload));
    return Unpacked(std::move(out));
  }
  if (payload.starts_with("\x1f\x8b")) {
    FB_ASSIGN_OR_RETURN(std::string out, gunzip(payload));
    return Unpacked(std::move(out));
  }
  if (payload.starts_with("\x28\xb5\x2f\xfd")) {
    FB_ASSIGN_OR_RETURN(std::string out, unzstd(payload));
    return Unpacked(std::move(out));
  }
  return Unpacked();  // lz4, lzo, bzip2, lzma: booted as a bzImage
}

bool has_pvh_entry(std::string_view elf) {
  return pvh_entry_in([elf](uint64_t offset, uint64_t length) -> std::optional<std::string> {
    if (offset > elf.size() || length > elf.size() - offset) return std::nullopt;
    return std::string(elf.substr(offset, length));
  });
}

base::Result<std::optional<std::string>> pvh_vmlinux(const std::string& path,
                                                     const std::string& cache_dir) {
  using Found = std::optional<std::string>;
  auto image = base::read_file(path, kMaxImageBytes);
  if (!image) {
    return std::move(image).error().context("kernel " + path);
  }
  const auto payload = bzimage_payload(*image);
  if (!payload) {
    return Found();
  }
  const std::string cached =
      (fs::path(cache_dir) / ("vmlinux-" + config::sha256_hex(*image).substr(0, 24))).native();
  const std::string_view compressed =
      std::string_view(*image).substr(payload->offset, payload->length);
  // A kernel found to have no PVH note leaves a mark, so that the next runner does not unpack it
  // again only to find the same.
  const std::string none_mark = cached + ".none";
  std::error_code error;
  if (fs::exists(none_mark, error)) {
    return Found();
  }
  // A file there is used when it is what unpacking gives: as long as the size kbuild recorded,
  // and bootable (a file cut short by a full disk, or tampered with, is made again).
  if (fs::is_regular_file(cached, error) &&
      fs::file_size(cached, error) == read_le<uint32_t>(compressed, compressed.size() - 4)) {
    if (file_has_pvh_entry(cached)) {
      return Found(cached);
    }
  }
  auto unpacked = unpack_payload(compressed);
  if (!unpacked) {
    return std::move(unpacked).error().context("kernel " + path);
  }
  if (!*unpacked) {
    return Found();  // a compression not unpacked here (no mark: a later version may)
  }
  if (!has_pvh_entry(**unpacked)) {
    if (base::make_private_dir(cache_dir)) (void)base::write_file_atomic(none_mark, "");
    return Found();
  }
  std::string().swap(*image);
  FB_TRY(base::make_private_dir(cache_dir));
  // A write cut short by kill -9 leaves its temporary file (write_file_atomic's "<name>.tmp.X"),
  // 65 MB for Debian's kernel: those an hour old belong to no live writer.
  for (const auto& entry : fs::directory_iterator(cache_dir, error)) {
    const std::string name = entry.path().filename().native();
    if (name.starts_with("vmlinux-") && name.find(".tmp.") != std::string::npos &&
        fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), error) >
            std::chrono::hours(1)) {
      fs::remove(entry.path(), error);
    }
  }
  FB_TRY(base::write_file_atomic(cached, **unpacked));
  return Found(cached);
}

}  // namespace flakebisect::run
