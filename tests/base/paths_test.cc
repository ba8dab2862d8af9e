#include "base/paths.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace flakebisect::base {
namespace {

using ::testing::ElementsAre;
using testing::read_whole_file;
using testing::TempDir;

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void write_plain(const std::string& path, const std::string& contents, mode_t mode) {
  std::ofstream(path) << contents;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Sets a umask for one test and restores the old one.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(PathsTest, DataHomePrefersAnAbsoluteXdgDataHome) {
  EXPECT_EQ(*data_home_for("/xdg/data", "/home/u"), "/xdg/data/flakebisect");
}

TEST(PathsTest, DataHomeFallsBackToLocalShareWhenXdgIsUnsetEmptyOrRelative) {
  EXPECT_EQ(*data_home_for(nullptr, "/home/u"), "/home/u/.local/share/flakebisect");
  EXPECT_EQ(*data_home_for("", "/home/u"), "/home/u/.local/share/flakebisect");
  EXPECT_EQ(*data_home_for("relative/dir", "/home/u"), "/home/u/.local/share/flakebisect");
}

TEST(PathsTest, DataHomeWithoutXdgOrHomeIsANotFoundError) {
  const auto home = data_home_for(nullptr, nullptr);
  ASSERT_FALSE(home);
  EXPECT_EQ(home.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(home.error().message(), ::testing::HasSubstr("HOME"));
}

TEST(PathsTest, DataHomeReadsTheEnvironment) {
  const auto home = data_home();
  if (std::getenv("XDG_DATA_HOME") == nullptr && std::getenv("HOME") == nullptr) {
    EXPECT_FALSE(home);
  } else {
    ASSERT_TRUE(home) << home.error().message();
    EXPECT_THAT(*home, ::testing::EndsWith("/flakebisect"));
  }
}

TEST(PathsTest, MakePrivateDirCreatesMissingParentsAllWithMode0700EvenUnderAWideUmask) {
  TempDir tmp;
  const ScopedUmask umask(0);
  const std::string dir = tmp.file("a/b/c");
  ASSERT_TRUE(make_private_dir(dir));
  EXPECT_EQ(mode_of(tmp.file("a")), 0700u);
  EXPECT_EQ(mode_of(tmp.file("a/b")), 0700u);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_TRUE(make_private_dir(dir)) << "an existing directory is fine";
}

TEST(PathsTest, MakePrivateDirTightensAnExistingWideDirectory) {
  TempDir tmp;
  const std::string dir = tmp.file("wide");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_TRUE(make_private_dir(dir));
  EXPECT_EQ(mode_of(dir), 0700u);
}

TEST(PathsTest, MakePrivateDirOnAFileIsAnError) {
  TempDir tmp;
  write_plain(tmp.file("file"), "x", 0600);
  const Status made = make_private_dir(tmp.file("file"));
  ASSERT_FALSE(made);
  EXPECT_THAT(made.error().message(), ::testing::HasSubstr("not a directory"));
}

TEST(PathsTest, WriteFileAtomicCreatesTheFileWithMode0600WhateverTheUmask) {
  TempDir tmp;
  const ScopedUmask umask(0);
  const std::string path = tmp.file("state.json");
  ASSERT_TRUE(write_file_atomic(path, "{\"v\": 1}\n"));
  EXPECT_EQ(read_whole_file(path), "{\"v\": 1}\n");
  EXPECT_EQ(mode_of(path), 0600u);
}

TEST(PathsTest, WriteFileAtomicReplacesTheOldFileAndLeavesNoTemporaryBehind) {
  TempDir tmp;
  const std::string path = tmp.file("config");
  write_plain(path, "old contents that are longer", 0644);
  ASSERT_TRUE(write_file_atomic(path, "new", 0640));
  EXPECT_EQ(read_whole_file(path), "new");
  EXPECT_EQ(mode_of(path), 0640u);
  EXPECT_THAT(names_in(tmp.path()), ElementsAre("config"));
}

TEST(PathsTest, WriteFileAtomicIntoAMissingDirectoryIsANotFoundError) {
  TempDir tmp;
  const auto written = write_file_atomic(tmp.file("missing/file"), "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(written.error().message(), ::testing::HasSubstr(tmp.file("missing/file")));
}

TEST(PathsTest, ReadFileReturnsTheWholeContentsIncludingNulBytes) {
  TempDir tmp;
  const std::string contents("a\0b\nc", 5);
  ASSERT_TRUE(write_file_atomic(tmp.file("f"), contents));
  const auto read = read_file(tmp.file("f"));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, contents);
}

TEST(PathsTest, ReadFileLargerThanTheLimitIsAnErrorNotATruncatedResult) {
  TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp.file("f"), std::string(100, 'x')));
  EXPECT_TRUE(read_file(tmp.file("f"), 100));
  const auto read = read_file(tmp.file("f"), 99);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), ErrorCode::kInvalidInput);
  EXPECT_THAT(read.error().message(), ::testing::HasSubstr("larger than 99 bytes"));
}

TEST(PathsTest, ReadFileOfAMissingFileIsANotFoundErrorNamingIt) {
  TempDir tmp;
  const auto read = read_file(tmp.file("nope"));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(read.error().message(), tmp.file("nope") + ": No such file or directory");
}

TEST(PathsTest, FindExecutableFindsAProgramOnPath) {
  const auto sh = find_executable("sh");
  ASSERT_TRUE(sh) << sh.error().message();
  EXPECT_EQ(sh->front(), '/');
  EXPECT_EQ(::access(sh->c_str(), X_OK), 0);
}

TEST(PathsTest, FindExecutableOfAMissingProgramIsANotFoundErrorNamingIt) {
  const auto missing = find_executable("flakebisect-no-such-program");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "flakebisect-no-such-program: not found");
}

TEST(PathsTest, FindSystemExecutableAlsoLooksInTheSbinDirectories) {
  // mkfs.ext4 (e2fsprogs, installed by scripts/install-deps.sh) lives in /usr/sbin or /sbin.
  const char* saved = std::getenv("PATH");
  const std::string old_path = saved != nullptr ? saved : "";
  ::setenv("PATH", "/usr/bin:/bin", 1);
  const auto plain = find_executable("mkfs.ext4");
  const auto system = find_system_executable("mkfs.ext4");
  ::setenv("PATH", old_path.c_str(), 1);
  EXPECT_FALSE(plain) << "mkfs.ext4 is expected outside /usr/bin and /bin: " << *plain;
  ASSERT_TRUE(system) << system.error().message();
  EXPECT_NE(system->find("sbin/mkfs.ext4"), std::string::npos) << *system;
}

TEST(PathsTest, FindExecutableSkipsDirectoriesNonExecutablesAndEmptyEntries) {
  TempDir tmp;
  ASSERT_TRUE(make_private_dir(tmp.file("first/tool")));  // a directory named like the program
  ASSERT_TRUE(make_private_dir(tmp.file("second")));
  write_plain(tmp.file("second/tool"), "#!/bin/sh\n", 0644);  // not executable
  ASSERT_TRUE(make_private_dir(tmp.file("third")));
  write_plain(tmp.file("third/tool"), "#!/bin/sh\n", 0755);
  const std::string search =
      "::" + tmp.file("first") + ":" + tmp.file("second") + ":" + tmp.file("third") + "/";
  const auto found = find_executable_in("tool", search);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(*found, tmp.file("third/tool"));
}

TEST(PathsTest, ARelativeSearchPathEntryGivesTheAbsolutePathOfTheFileItFound) {
  // The child runs the program after changing to its own directory, so a path relative to the
  // tool's directory would name another file there, or none.
  TempDir tmp;
  ASSERT_TRUE(make_private_dir(tmp.file("bin")));
  write_plain(tmp.file("bin/tool"), "#!/bin/sh\n", 0755);
  const std::string old_cwd = std::filesystem::current_path().string();
  std::filesystem::current_path(tmp.path());
  const auto found = find_executable_in("tool", "bin:/usr/bin");
  const auto dotted = find_executable_in("tool", "./bin/.");
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(*found, tmp.file("bin/tool"));
  ASSERT_TRUE(dotted) << dotted.error().message();
  EXPECT_EQ(*dotted, tmp.file("bin/tool"));
}

TEST(PathsTest, FindExecutableChecksANameWithASlashAsGiven) {
  TempDir tmp;
  write_plain(tmp.file("run.sh"), "#!/bin/sh\n", 0755);
  write_plain(tmp.file("data.txt"), "", 0644);
  EXPECT_EQ(*find_executable_in(tmp.file("run.sh"), ""), tmp.file("run.sh"));
  EXPECT_FALSE(find_executable_in(tmp.file("data.txt"), "/usr/bin"));
}

TEST(PathsTest, FindExecutableSaysAFileWithoutExecutePermissionIsNotExecutableAndGivesItsMode) {
  TempDir tmp;
  write_plain(tmp.file("noexec.sh"), "#!/bin/sh\n", 0644);
  const auto found = find_executable_in(tmp.file("noexec.sh"), "/usr/bin");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(found.error().message(),
            tmp.file("noexec.sh") + ": is not executable (mode 0644; chmod +x it)");
}

TEST(PathsTest, FindExecutableSaysADirectoryIsADirectory) {
  TempDir tmp;
  ASSERT_TRUE(make_private_dir(tmp.file("tests")));
  const auto found = find_executable_in(tmp.file("tests"), "/usr/bin");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().message(), tmp.file("tests") + ": is a directory");
}

TEST(PathsTest, FindExecutableStillSaysAMissingPathIsNotFound) {
  TempDir tmp;
  const auto found = find_executable_in(tmp.file("absent.sh"), "/usr/bin");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(found.error().message(), tmp.file("absent.sh") + ": not found");
}

TEST(PathsTest, FindExecutableNamesAHashBangInterpreterThatDoesNotExist) {
  TempDir tmp;
  write_plain(tmp.file("badinterp.sh"), "#! /nonexistent/interp -e\nexit 0\n", 0755);
  const auto found = find_executable_in(tmp.file("badinterp.sh"), "/usr/bin");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(found.error().message(),
            tmp.file("badinterp.sh") +
                ": its interpreter '/nonexistent/interp' (the #! line) does not exist");
  // Found by a search of PATH: refused the same way.
  const auto on_path =
      find_executable_in("badinterp.sh", "/nonexistent-dir:" + tmp.path());
  ASSERT_FALSE(on_path);
  EXPECT_EQ(on_path.error().message(),
            tmp.file("badinterp.sh") +
                ": its interpreter '/nonexistent/interp' (the #! line) does not exist");
}

TEST(PathsTest, FindExecutableSaysAHashBangLineWithDosLineEndingsNamesNoRealInterpreter) {
  TempDir tmp;
  write_plain(tmp.file("dos.sh"), "#!/bin/sh\r\nexit 0\r\n", 0755);
  const auto found = find_executable_in(tmp.file("dos.sh"), "/usr/bin");
  ASSERT_FALSE(found);
  EXPECT_THAT(found.error().message(), ::testing::HasSubstr("DOS line endings"));
  EXPECT_THAT(found.error().message(), ::testing::HasSubstr("'/bin/sh\\r'"));
}

TEST(PathsTest, FindExecutableSaysAHashBangInterpreterIsNotExecutable) {
  TempDir tmp;
  write_plain(tmp.file("interp"), "", 0644);
  write_plain(tmp.file("run.sh"), "#!" + tmp.file("interp") + "\n", 0755);
  const auto found = find_executable_in(tmp.file("run.sh"), "/usr/bin");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().message(), tmp.file("run.sh") + ": its interpreter '" +
                                         tmp.file("interp") +
                                         "' (the #! line) is not executable (mode 0644)");
}

TEST(PathsTest, FindExecutableOnPathNamesAFileItSkippedForWantOfExecutePermission) {
  TempDir tmp;
  write_plain(tmp.file("tool"), "#!/bin/sh\n", 0640);
  const auto found = find_executable_in("tool", tmp.path());
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(found.error().message(), "tool: not found; " + tmp.file("tool") +
                                         ": is not executable (mode 0640; chmod +x it)");
}

TEST(PathsTest, FindExecutableOfAnEmptyNameSaysTheProgramNameIsEmpty) {
  const auto found = find_executable("");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(found.error().message(), "the command's program name is empty");
}

TEST(PathsTest, CheckRunnableExplainsAnExecFailureFromTheFile) {
  TempDir tmp;
  write_plain(tmp.file("script"), "echo no hash-bang line\n", 0755);
  write_plain(tmp.file("empty"), "", 0755);
  write_plain(tmp.file("fine"), "#!/bin/sh\n", 0755);
  EXPECT_TRUE(check_runnable(tmp.file("fine")));
  EXPECT_EQ(check_runnable(tmp.file("script"), ENOEXEC, "./script").error().message(),
            "./script: has no #! line and is not a program for this machine (start a script "
            "with a line such as #!/bin/sh)");
  EXPECT_EQ(check_runnable(tmp.file("empty"), ENOEXEC).error().message(),
            tmp.file("empty") + ": is empty, not a program");
  // Nothing to see in the file: the errno speaks.
  EXPECT_EQ(check_runnable(tmp.file("fine"), E2BIG).error().message(),
            tmp.file("fine") + ": " + std::strerror(E2BIG));
}

}  // namespace
}  // namespace flakebisect::base
