// Synthetic kernel images for the tests of run/kernel_image.h and QemuRunner: a bzImage with a
// setup header, an XZ, gzip or zstd payload (made with liblzma, zlib and libzstd, as kbuild's xz,
// gzip and zstd make them) and inside it an ELF kernel with or without the PVH note.
#pragma once

#include <elf.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <string>

namespace flakebisect::run::test_images {

template <typename T>
inline void put(std::string& out, size_t at, const T& value) {
  if (out.size() < at + sizeof value) out.resize(at + sizeof value);
  std::memcpy(out.data() + at, &value, sizeof value);
}

// A 64-bit ELF with one PT_NOTE segment holding a note `name` of `type`, and some code bytes.
inline std::string elf_with_note(const std::string& name, uint32_t type) {
  std::string elf;
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_phoff = sizeof header;
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = 1;
  put(elf, 0, header);
  std::string notes;
  // An unrelated note first, as vmlinux has ("Linux" notes, "GNU" build id).
  for (const auto& [note_name, note_type] :
       {std::pair<std::string, uint32_t>{"GNU", 3}, {name, type}}) {
    Elf64_Nhdr note{};
    note.n_namesz = static_cast<uint32_t>(note_name.size() + 1);
    note.n_descsz = 4;
    note.n_type = note_type;
    std::string entry(sizeof note, '\0');
    std::memcpy(entry.data(), &note, sizeof note);
    std::string padded_name = note_name + '\0';
    padded_name.resize((padded_name.size() + 3) & ~size_t{3}, '\0');
    entry += padded_name + std::string("\x00\x00\x00\x01", 4);
    notes += entry;
  }
  Elf64_Phdr program{};
  program.p_type = PT_NOTE;
  program.p_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
  program.p_filesz = notes.size();
  put(elf, sizeof header, program);
  elf += notes;
  elf += std::string(100000, '\x90');  // "code", compressible
  return elf;
}

inline std::string xz(const std::string& data) {
  std::string out(data.size() + 4096, '\0');
  size_t written = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr,
                                    reinterpret_cast<const uint8_t*>(data.data()), data.size(),
                                    reinterpret_cast<uint8_t*>(out.data()), &written, out.size()),
            LZMA_OK);
  out.resize(written);
  return out;
}

inline std::string gzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// With the frame's checksum, which the zstd program (kbuild's "zstd -22 --ultra") adds by default.
inline std::string zstd(const std::string& data) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 19);
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t written = ZSTD_compress2(context, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(context);
  EXPECT_FALSE(ZSTD_isError(written));
  out.resize(ZSTD_isError(written) ? 0 : written);
  return out;
}

// A payload as kbuild makes it: the compressed kernel, then its unpacked size (4 bytes).
inline std::string with_size(const std::string& compressed, size_t unpacked) {
  std::string out = compressed;
  put(out, out.size(), static_cast<uint32_t>(unpacked));
  return out;
}

// A bzImage: setup_sects 3 (so 4 sectors of setup), then the protected-mode code: a stand-in
// decompressor of 1000 bytes, the payload (payload_length covers its size bytes), and padding.
inline std::string bzimage(const std::string& payload, uint16_t version = 0x20f) {
  std::string image(4 * 512, '\0');
  image[0x1f1] = 3;
  std::memcpy(image.data() + 0x202, "HdrS", 4);
  put(image, 0x206, version);
  put(image, 0x248, uint32_t{1000});
  put(image, 0x24c, static_cast<uint32_t>(payload.size()));
  image += std::string(1000, '\xcc') + payload + std::string(300, '\0');
  return image;
}

}  // namespace flakebisect::run::test_images
