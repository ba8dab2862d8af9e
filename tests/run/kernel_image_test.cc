// Unpacking a bzImage for a direct (PVH) boot (run/kernel_image.h), on images made here: a setup
// header, an XZ, gzip or zstd payload (made with liblzma, zlib and libzstd, as kbuild makes them)
// and inside it an ELF kernel with or without the PVH note. tests/qemu/qemu_boot_test.cc boots
// Debian's packaged kernel that way.
#include "run/kernel_image.h"

#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>

#include "base/paths.h"
#include "run/test_images.h"
#include "support/temp_dir.h"

namespace flakebisect::run {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;
using ::testing::HasSubstr;

using test_images::bzimage;
using test_images::elf_with_note;
using test_images::gzip;
using test_images::with_size;
using test_images::xz;
using test_images::zstd;

TEST(KernelImage, FindsThePayloadThroughTheSetupHeader) {
  const std::string elf = elf_with_note("Xen", 18);
  const std::string payload = with_size(xz(elf), elf.size());
  const std::string image = bzimage(payload);
  const auto found = bzimage_payload(image);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->offset, 4u * 512 + 1000);
  EXPECT_EQ(image.substr(found->offset, found->length), payload);
  EXPECT_FALSE(bzimage_payload(bzimage(payload, 0x207)).has_value());  // no payload fields
  EXPECT_FALSE(bzimage_payload("\x7f"
                               "ELF not a bzImage")
                   .has_value());
  std::string cut = image.substr(0, image.size() - 400);  // the payload runs past the end
  EXPECT_FALSE(bzimage_payload(cut).has_value());
}

TEST(KernelImage, UnpacksXzGzipAndZstdAndLeavesOtherCompressionsAlone) {
  const std::string elf = elf_with_note("Xen", 18);
  for (const std::string& payload : {xz(elf), gzip(elf), zstd(elf)}) {
    auto unpacked = unpack_payload(with_size(payload, elf.size()));
    ASSERT_TRUE(unpacked) << unpacked.error().message();
    ASSERT_TRUE(unpacked->has_value());
    EXPECT_EQ(**unpacked, elf);
  }
  // lz4's legacy frame, as kbuild's "lz4 -l" writes it.
  auto lz4 = unpack_payload(with_size(std::string("\x02\x21\x4c\x18", 4) + "frame", 100));
  ASSERT_TRUE(lz4);
  EXPECT_FALSE(lz4->has_value());
  std::string corrupt = xz(elf);
  corrupt[corrupt.size() / 2] ^= 0x55;
  auto bad = unpack_payload(corrupt);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("xz: corrupt payload"));
  // Cut short, as a truncated copy of a kernel would be.
  const std::string whole = gzip(elf);
  auto short_gzip = unpack_payload(whole.substr(0, whole.size() / 2));
  ASSERT_FALSE(short_gzip);
  EXPECT_THAT(short_gzip.error().message(), HasSubstr("gzip: corrupt payload"));
  const std::string whole_xz = xz(elf);
  EXPECT_FALSE(unpack_payload(whole_xz.substr(0, whole_xz.size() - 10)));
  const std::string whole_zstd = zstd(elf);
  auto short_zstd = unpack_payload(whole_zstd.substr(0, whole_zstd.size() - 10));
  ASSERT_FALSE(short_zstd);
  EXPECT_THAT(short_zstd.error().message(), HasSubstr("zstd: corrupt payload"));
  std::string corrupt_zstd = whole_zstd;
  corrupt_zstd[corrupt_zstd.size() / 2] ^= 0x55;
  auto bad_zstd = unpack_payload(with_size(corrupt_zstd, elf.size()));
  ASSERT_FALSE(bad_zstd);
  EXPECT_THAT(bad_zstd.error().message(), HasSubstr("zstd: corrupt payload"));
}

TEST(KernelImage, ThePvhEntryIsTheXenNoteOfType18) {
  EXPECT_TRUE(has_pvh_entry(elf_with_note("Xen", 18)));
  EXPECT_FALSE(has_pvh_entry(elf_with_note("Xen", 17)));
  EXPECT_FALSE(has_pvh_entry(elf_with_note("Linux", 18)));
  EXPECT_FALSE(
      has_pvh_entry("\x7f"
                    "ELF"));
  std::string truncated = elf_with_note("Xen", 18).substr(0, sizeof(Elf64_Ehdr) + 20);
  EXPECT_FALSE(has_pvh_entry(truncated));
}

TEST(KernelImage, PvhVmlinuxUnpacksOnceIntoTheCacheAndOnlyAKernelThatCanBootDirectly) {
  TempDir dir;
  const std::string cache = dir.file("kernels");
  const std::string elf = elf_with_note("Xen", 18);
  const std::string path = dir.file("vmlinuz-pvh");
  ASSERT_TRUE(base::write_file_atomic(path, bzimage(with_size(xz(elf), elf.size()))));
  auto direct = pvh_vmlinux(path, cache);
  ASSERT_TRUE(direct) << direct.error().message();
  ASSERT_TRUE(direct->has_value());
  EXPECT_EQ(fs::path(**direct).parent_path(), fs::path(cache));
  EXPECT_EQ(*base::read_file(**direct), elf);
  // Cached: the same file, not unpacked again.
  fs::last_write_time(**direct, fs::file_time_type{});
  auto again = pvh_vmlinux(path, cache);
  ASSERT_TRUE(again && again->has_value());
  EXPECT_EQ(**again, **direct);
  EXPECT_EQ(fs::last_write_time(**again), fs::file_time_type{});
  // A temporary file a killed writer left an hour ago goes at the next unpack; a fresh one (a
  // writer still at work) stays.
  const std::string stale = cache + "/vmlinux-0123.tmp.AbCdEf";
  const std::string fresh = cache + "/vmlinux-0123.tmp.GhIjKl";
  ASSERT_TRUE(base::write_file_atomic(stale, "partial"));
  ASSERT_TRUE(base::write_file_atomic(fresh, "partial"));
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));
  // A cached file cut short (a full disk, an interrupted copy) is unpacked again.
  fs::resize_file(**direct, 1000);
  again = pvh_vmlinux(path, cache);
  ASSERT_TRUE(again && again->has_value());
  EXPECT_EQ(*base::read_file(**again), elf);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  // So is one of the right size without the note (tampered with): the check reads the file's
  // notes, not only its size.
  std::string tampered = elf;
  const size_t note = tampered.find(std::string("Xen\0", 4));
  ASSERT_NE(note, std::string::npos);
  tampered[note] = 'Y';
  ASSERT_TRUE(base::write_file_atomic(**again, tampered));
  again = pvh_vmlinux(path, cache);
  ASSERT_TRUE(again && again->has_value());
  EXPECT_EQ(*base::read_file(**again), elf);

  // A zstd kernel (Ubuntu's, Fedora's, Arch's) boots directly too.
  const std::string zstd_path = dir.file("vmlinuz-zstd");
  ASSERT_TRUE(base::write_file_atomic(zstd_path, bzimage(with_size(zstd(elf), elf.size()))));
  auto from_zstd = pvh_vmlinux(zstd_path, cache);
  ASSERT_TRUE(from_zstd) << from_zstd.error().message();
  ASSERT_TRUE(from_zstd->has_value());
  EXPECT_NE(**from_zstd, **direct);
  EXPECT_EQ(*base::read_file(**from_zstd), elf);

  const std::string no_pvh = dir.file("vmlinuz-no-pvh");
  const std::string no_pvh_elf = elf_with_note("Xen", 17);
  ASSERT_TRUE(
      base::write_file_atomic(no_pvh, bzimage(with_size(gzip(no_pvh_elf), no_pvh_elf.size()))));
  auto plain = pvh_vmlinux(no_pvh, dir.file("other-cache"));
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_FALSE(plain->has_value());
  // Only a mark that it cannot boot directly is kept, which the next call goes by.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.file("other-cache"))) {
    EXPECT_THAT(entry.path().filename().native(), ::testing::EndsWith(".none"));
    EXPECT_EQ(fs::file_size(entry.path()), 0u);
    ++files;
  }
  EXPECT_EQ(files, 1u);
  plain = pvh_vmlinux(no_pvh, dir.file("other-cache"));
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_FALSE(plain->has_value());

  auto missing = pvh_vmlinux(dir.file("nope"), cache);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("nope"));
}

}  // namespace
}  // namespace flakebisect::run
