// Tests of the bundled reproducer, qemu/reproducer/dio_check.c: its comparison and formatting
// functions (compiled in with DIO_CHECK_NO_MAIN), and the real static fb-dio-check binary run on
// real files, on /dev/zero (which discards writes and reads back zeros: a real mismatch, the
// seed's exact symptom) and on bad command lines.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

// The functions of dio_check.c that the tests call (it is one C file with no header).
extern "C" {
unsigned char dio_pattern_byte(unsigned long child, unsigned long iteration);
int dio_compare_block(const unsigned char* buf, size_t len, unsigned char expected,
                      uint64_t file_offset, char* line, size_t line_capacity);
int dio_exit_status(unsigned long mismatches, unsigned long io_errors);
int dio_parse_number(const char* text, unsigned long long* out);
}

namespace flakebisect::reproducer {
namespace {

using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr size_t kLineCapacity = 96;  // DIO_LINE_CAPACITY in dio_check.c

std::string CompareBlock(const std::vector<unsigned char>& block, unsigned char expected,
                         uint64_t file_offset) {
  char line[kLineCapacity];
  int len = dio_compare_block(block.data(), block.size(), expected, file_offset, line, sizeof line);
  return len > 0 ? std::string(line, static_cast<size_t>(len)) : std::string();
}

TEST(DioCompare, AMatchingBlockReportsNothing) {
  std::vector<unsigned char> block(4096, 0x01);
  char line[kLineCapacity] = "untouched";
  EXPECT_EQ(dio_compare_block(block.data(), block.size(), 0x01, 0, line, sizeof line), 0);
  EXPECT_STREQ(line, "untouched");
}

TEST(DioCompare, ReportsAMismatchInTheDocumentedFormat) {
  std::vector<unsigned char> block(1024, 0x00);
  EXPECT_EQ(CompareBlock(block, 0x01, 3072), "cmpbuf: offset 3072: Expected 0x01, got 0x00\n");
}

TEST(DioCompare, MismatchOffsetIsTheFirstDifferingByte) {
  std::vector<unsigned char> block(4096, 0x5a);
  block[700] = 0xab;
  block[900] = 0x00;
  EXPECT_EQ(CompareBlock(block, 0x5a, 8192), "cmpbuf: offset 8892: Expected 0x5a, got 0xab\n");
}

TEST(DioCompare, OnlyTheLastByteDifferingIsStillAMismatch) {
  std::vector<unsigned char> block(512, 0x07);
  block.back() = 0x08;
  EXPECT_EQ(CompareBlock(block, 0x07, 0), "cmpbuf: offset 511: Expected 0x07, got 0x08\n");
}

TEST(DioCompare, ByteValuesAreTwoLowerCaseHexDigits) {
  std::vector<unsigned char> block(512, 0x0c);
  EXPECT_EQ(CompareBlock(block, 0xfe, 512), "cmpbuf: offset 512: Expected 0xfe, got 0x0c\n");
}

TEST(DioCompare, OffsetsBeyondFourGigabytesArePrintedInFull) {
  std::vector<unsigned char> block(512, 0xff);
  EXPECT_EQ(CompareBlock(block, 0x01, UINT64_C(0x100000000)),
            "cmpbuf: offset 4294967296: Expected 0x01, got 0xff\n");
}

TEST(DioPattern, ChildZeroWritesOneFirstLikeTheSeedFailure) {
  EXPECT_EQ(dio_pattern_byte(0, 0), 0x01);
}

TEST(DioPattern, IsNeverZeroNorThePrefillByte) {
  for (unsigned long child = 0; child < 1024; child++) {
    for (unsigned long iteration = 0; iteration < 600; iteration++) {
      unsigned char byte = dio_pattern_byte(child, iteration);
      ASSERT_NE(byte, 0x00) << child << " " << iteration;
      ASSERT_NE(byte, 0xff) << child << " " << iteration;
    }
  }
}

TEST(DioPattern, ChangesEveryIterationSoStaleDataIsCaught) {
  for (unsigned long child = 0; child < 1024; child++) {
    for (unsigned long iteration = 0; iteration < 600; iteration++) {
      ASSERT_NE(dio_pattern_byte(child, iteration), dio_pattern_byte(child, iteration + 1))
          << child << " " << iteration;
    }
  }
}

TEST(DioPattern, NeighbouringChildrenWriteDifferentBytes) {
  for (unsigned long child = 0; child + 1 < 1024; child++) {
    ASSERT_NE(dio_pattern_byte(child, 5), dio_pattern_byte(child + 1, 5)) << child;
  }
}

TEST(DioExitStatus, IsZeroWhenEverythingMatched) { EXPECT_EQ(dio_exit_status(0, 0), 0); }

TEST(DioExitStatus, IsOneForAnyMismatchEvenAfterAnIoError) {
  EXPECT_EQ(dio_exit_status(1, 0), 1);
  EXPECT_EQ(dio_exit_status(300, 0), 1);  // not a count that could wrap to 0 or 44
  EXPECT_EQ(dio_exit_status(2, 1), 1);
}

TEST(DioExitStatus, IsThreeForAnIoErrorWithoutMismatch) { EXPECT_EQ(dio_exit_status(0, 2), 3); }

TEST(DioParseNumber, AcceptsPlainDecimalOnly) {
  unsigned long long value = 0;
  EXPECT_EQ(dio_parse_number("4096", &value), 0);
  EXPECT_EQ(value, 4096u);
  EXPECT_EQ(dio_parse_number("0", &value), 0);
  EXPECT_EQ(value, 0u);
  for (const char* bad :
       {"", "-1", "+1", " 1", "1 ", "4k", "0x10", "1.5", "99999999999999999999"}) {
    EXPECT_EQ(dio_parse_number(bad, &value), -1) << "'" << bad << "'";
  }
}

// The real binary.

struct RunResult {
  int exit_status = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

RunResult RunDioCheck(const std::vector<std::string>& args) {
  TempDir capture;
  const std::string out_path = capture.file("stdout");
  const std::string err_path = capture.file("stderr");
  std::vector<std::string> words = {FB_DIO_CHECK_BIN};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  RunResult result;
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return result;
  }
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(err, STDERR_FILENO) < 0) {
      ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid failed";
      return result;
    }
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// A TempDir on a disk filesystem: O_DIRECT needs one, and /tmp may be a tmpfs (which rejects
// O_DIRECT before Linux 6.6). A run that cannot use O_DIRECT there fails the test, loudly.
std::unique_ptr<TempDir> MakeDiskTempDir() {
  const char* previous = ::getenv("TMPDIR");
  const std::string saved = previous != nullptr ? previous : "";
  ::setenv("TMPDIR", "/var/tmp", 1);
  auto dir = std::make_unique<TempDir>();
  if (previous != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  return dir;
}

std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(FbDioCheck, PassesOnAHealthyFilesystemWithDirectWritesReadsAndTruncation) {
  auto dir = MakeDiskTempDir();
  RunResult run = RunDioCheck({"-w", "-r", "-t", "-n", "4", "-i", "20", dir->file("data")});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(run.err, "fb-dio-check: 0 mismatches in 80 blocks\n");
}

TEST(FbDioCheck, BufferedOnlyModePasses) {
  auto dir = MakeDiskTempDir();
  RunResult run = RunDioCheck({"-t", "-n", "3", "-i", "10", "-b", "512", dir->file("data")});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(run.err, "fb-dio-check: 0 mismatches in 30 blocks\n");
}

TEST(FbDioCheck, PreallocatedAndPrefilledOneKilobyteBlocksPass) {
  auto dir = MakeDiskTempDir();
  RunResult run =
      RunDioCheck({"-w", "-t", "-p", "-F", "-b", "1024", "-n", "8", "-i", "5", dir->file("data")});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(run.err, "fb-dio-check: 0 mismatches in 40 blocks\n");
}

TEST(FbDioCheck, LeavesTheLastIterationsPatternInEachChildsBlock) {
  auto dir = MakeDiskTempDir();
  const std::string path = dir->file("data");
  RunResult run = RunDioCheck({"-w", "-r", "-n", "4", "-i", "3", "-b", "512", "-o", "1024", path});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  const std::string data = ReadFile(path);
  ASSERT_EQ(data.size(), 1024u + 4 * 512);
  EXPECT_EQ(data.substr(0, 1024), std::string(1024, '\0'));  // the hole before the offset
  for (unsigned long child = 0; child < 4; child++) {
    const char byte = static_cast<char>(dio_pattern_byte(child, 2));
    EXPECT_EQ(data.substr(1024 + 512 * child, 512), std::string(512, byte)) << "child " << child;
  }
}

TEST(FbDioCheck, ReportsEveryBlockThatReadsBackAsZeros) {
  RunResult run = RunDioCheck({"-n", "2", "-i", "3", "-b", "512", "-o", "1024", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 1);
  // The children run concurrently, so the order of their lines is not fixed.
  EXPECT_EQ(SortedLines(run.out), (std::vector<std::string>{
                                      "cmpbuf: offset 1024: Expected 0x01, got 0x00",
                                      "cmpbuf: offset 1024: Expected 0x02, got 0x00",
                                      "cmpbuf: offset 1024: Expected 0x03, got 0x00",
                                      "cmpbuf: offset 1536: Expected 0x02, got 0x00",
                                      "cmpbuf: offset 1536: Expected 0x03, got 0x00",
                                      "cmpbuf: offset 1536: Expected 0x04, got 0x00",
                                  }));
  EXPECT_EQ(run.err, "fb-dio-check: 6 mismatches in 6 blocks\n");
}

TEST(FbDioCheck, ASingleMismatchIsSummarisedInTheSingular) {
  RunResult run = RunDioCheck({"-n", "1", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(run.out, "cmpbuf: offset 0: Expected 0x01, got 0x00\n");
  EXPECT_EQ(run.err, "fb-dio-check: 1 mismatch in 1 block\n");
}

TEST(FbDioCheck, AFileThatRejectsDirectIoIsAnIoErrorNotAMismatch) {
  // Character devices have no direct I/O: open(O_DIRECT) fails with EINVAL.
  RunResult run = RunDioCheck({"-w", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 3);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(run.err, "fb-dio-check: /dev/zero: open with O_DIRECT: Invalid argument\n");
}

TEST(FbDioCheck, AFileThatCannotBeCreatedIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("missing/data");
  RunResult run = RunDioCheck({path});
  EXPECT_EQ(run.exit_status, 3);
  EXPECT_EQ(run.err, "fb-dio-check: " + path + ": open: No such file or directory\n");
}

TEST(FbDioCheck, AFailedTruncateStopsEveryChildWithAnIoError) {
  // /dev/zero cannot be truncated; all children must stop rather than wait at a barrier.
  RunResult run = RunDioCheck({"-t", "-n", "4", "-i", "5", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 3);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: /dev/zero: truncate at offset 0: "));
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: 0 mismatches in 0 blocks\n"));
}

TEST(FbDioCheck, RejectsABlockSizeThatIsNotAPowerOfTwo) {
  RunResult run = RunDioCheck({"-b", "1000", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: -b: block size must be a power of two from 512 to "
                                 "1048576, got 1000\n"));
  EXPECT_THAT(run.err, HasSubstr("usage: fb-dio-check "));
}

TEST(FbDioCheck, RejectsBlockSizesOutsideFiveHundredTwelveToOneMebibyte) {
  for (const char* size : {"256", "2097152", "0", "4k"}) {
    RunResult run = RunDioCheck({"-b", size, "/dev/zero"});
    EXPECT_EQ(run.exit_status, 2) << size;
    EXPECT_THAT(run.err, HasSubstr(std::string("-b: block size must be a power of two from 512 to "
                                               "1048576, got ") +
                                   size + "\n"));
  }
}

TEST(FbDioCheck, RejectsChildCountsOutsideOneToOneThousandTwentyFour) {
  for (const char* count : {"0", "1025", "4x", "-1", ""}) {
    RunResult run = RunDioCheck({"-n", count, "/dev/zero"});
    EXPECT_EQ(run.exit_status, 2) << count;
    EXPECT_THAT(run.err,
                HasSubstr(std::string("-n: children must be a number from 1 to 1024, got ") +
                          count + "\n"));
  }
}

TEST(FbDioCheck, RejectsZeroIterations) {
  RunResult run = RunDioCheck({"-i", "0", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("-i: iterations must be a number of at least 1, got 0\n"));
}

TEST(FbDioCheck, RejectsAnOffsetThatIsNotAMultipleOf512WithDirectIo) {
  auto dir = MakeDiskTempDir();
  RunResult run = RunDioCheck({"-r", "-o", "100", dir->file("data")});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err,
              HasSubstr("-o: offset must be a multiple of 512 with direct I/O, got 100\n"));
  EXPECT_FALSE(std::filesystem::exists(dir->file("data")));  // rejected before touching the file
}

TEST(FbDioCheck, AcceptsAnyOffsetWithBufferedIo) {
  auto dir = MakeDiskTempDir();
  RunResult run = RunDioCheck({"-o", "100", "-b", "512", "-n", "2", dir->file("data")});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(std::filesystem::file_size(dir->file("data")), 100u + 2 * 512);
}

TEST(FbDioCheck, RejectsAMissingFileArgument) {
  RunResult run = RunDioCheck({"-w", "-r"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: missing FILE argument\n"));
}

TEST(FbDioCheck, RejectsASecondFileArgument) {
  RunResult run = RunDioCheck({"/dev/zero", "/dev/null"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: unexpected argument '/dev/null' after FILE\n"));
}

TEST(FbDioCheck, RejectsAnUnknownOption) {
  RunResult run = RunDioCheck({"-x", "/dev/zero"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: unknown option -x\n"));
}

TEST(FbDioCheck, RejectsAnOptionWithoutItsValue) {
  RunResult run = RunDioCheck({"-n"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("fb-dio-check: -n: missing value\n"));
}

TEST(FbDioCheck, HelpGoesToStdoutWithStatusZero) {
  RunResult run = RunDioCheck({"-h"});
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_THAT(run.out, HasSubstr("usage: fb-dio-check [-w] [-r] [-t] [-p] [-F] [-b blocksize]"));
  EXPECT_THAT(run.err, IsEmpty());
}

}  // namespace
}  // namespace flakebisect::reproducer
