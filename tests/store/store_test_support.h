// Helpers shared by the store tests: a private temporary directory and sample rows.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/records.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace flakebisect::store::testing {

using TempDir = ::flakebisect::test_support::TempDir;

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes;
  char buffer[65536];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    bytes.append(buffer, static_cast<size_t>(in.gcount()));
  }
  return bytes;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline OpenMode create_mode(int busy_timeout_ms = 5000) {
  OpenMode mode;
  mode.create_if_missing = true;
  mode.busy_timeout_ms = busy_timeout_ms;
  return mode;
}

inline BisectionSpec sample_spec(const std::string& test_identity = "identity-1") {
  BisectionSpec spec;
  spec.repo = "/src/linux";
  spec.bad_sha = std::string(40, 'b');
  spec.good_shas = {std::string(40, 'a'), std::string(40, 'c')};
  spec.config_toml = "[reproducer]\nruns = 8\n";
  spec.config_hash = "cfg-hash";
  spec.test_identity = test_identity;
  return spec;
}

inline RunRecord sample_run(int64_t bisection_id, const std::string& test_identity,
                            const std::string& sha, RunOutcome outcome = RunOutcome::kPass) {
  RunRecord run;
  run.test_identity = test_identity;
  run.sha = sha;
  run.bisection_id = bisection_id;
  run.boot_id = "boot-1";
  run.run_index = 0;
  run.outcome = outcome;
  run.duration_ms = 1234;
  run.created_at_ms = 1700000000000;
  return run;
}

// Unwraps a Result in a test, failing with the error's message when it holds an error. `decl` is a
// declaration or an lvalue, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSERT_OK_AND_ASSIGN(decl, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(FB_CONCAT(store_test_result_, __LINE__), decl, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, decl, expr)       \
  auto tmp = (expr);                                     \
  ASSERT_TRUE(tmp.has_value()) << tmp.error().message(); \
  decl = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
#define ASSERT_OK(expr)                                                                  \
  do {                                                                                   \
    auto store_test_status_ = (expr);                                                    \
    ASSERT_TRUE(store_test_status_.has_value()) << store_test_status_.error().message(); \
  } while (0)

}  // namespace flakebisect::store::testing
