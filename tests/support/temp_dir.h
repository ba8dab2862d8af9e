// TempDir: a fresh directory for one test (mkdtemp under $TMPDIR or /tmp), removed with everything
// in it at scope exit. Shared by the unit tests that need plain string paths.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace flakebisect::test_support {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "flakebisect-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `contents` to the file `name` in the directory and returns its path.
  std::string write(const std::string& name, std::string_view contents) const {
    const std::string target = file(name);
    std::ofstream(target, std::ios::binary) << contents;
    return target;
  }

 private:
  std::string path_;
};

}  // namespace flakebisect::test_support
