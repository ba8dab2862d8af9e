// The subcommands that only read or mark the store, run as the real binary on a store prepared by
// hand, with stdout and stderr on pipes.
#include "cli/commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/process.h"
#include "engine/fakes.h"

namespace flakebisect::cli {
namespace {

namespace fs = std::filesystem;
using store::BisectionState;
using ::testing::HasSubstr;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    history_ = testing::make_history(dir_ / "repo", testing::sized(30, 3));
    db_ = dir_ / "state" / "flakebisect.db";
    store::OpenMode mode;
    mode.create_if_missing = true;
    auto opened = store::Store::open(db_.native(), mode);
    ASSERT_TRUE(opened.has_value()) << opened.error().message();
    store_.emplace(std::move(opened).value());
  }

  // A bisection of the history, running under `owner_pid` (none: queued).
  int64_t create(std::optional<int64_t> owner_pid) {
    engine::BisectRequest request{
        history_.repo.native(), {history_.root}, history_.tip, testing::test_config()};
    auto spec = engine::prepare_bisection(request);
    EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
    auto id = store_->create_bisection(*spec, 1000, owner_pid);
    EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message());
    return id.value_or(0);
  }

  // `flakebisect --db <db_> args...`, killed after `limit`.
  base::ProcessResult flakebisect(const std::vector<std::string>& args,
                                  std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    base::ProcessOptions options;
    options.argv = {FLAKEBISECT_BINARY_DIR "/bin/flakebisect", "--db", db_.native()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.timeout = limit;
    auto result = base::run_process(options);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
    return result ? *result : base::ProcessResult{};
  }

  testing::TempDir dir_;
  testing::History history_;
  fs::path db_;
  std::optional<store::Store> store_;
};

TEST_F(CommandsTest, WatchRefusesAnIntervalOutsideItsRange) {
  const int64_t id = create(std::nullopt);
  ASSERT_TRUE(store_->set_state(id, BisectionState::kPaused, 2000).has_value());
  // 0.0004 s used to become a 0 ms busy loop; 1e30 s an undefined conversion.
  for (const std::string interval : {"0.0004", "0.049", "3601", "1e30"}) {
    const base::ProcessResult watch =
        flakebisect({"watch", std::to_string(id), "--interval", interval});
    EXPECT_EQ(watch.exit_code, kExitUsage) << interval << ": " << watch.err;
    EXPECT_THAT(watch.err, HasSubstr("--interval must be between 0.05 and 3600 seconds, got "))
        << interval;
    EXPECT_EQ(watch.out, "") << interval;
  }
  for (const std::string interval : {"0.05", "3600"}) {
    const base::ProcessResult watch =
        flakebisect({"watch", std::to_string(id), "--interval", interval});
    EXPECT_EQ(watch.exit_code, kExitOk) << interval << ": " << watch.err;
    EXPECT_THAT(watch.out, HasSubstr(fmt::format("bisection {}: paused\n", id))) << interval;
  }
}

}  // namespace
}  // namespace flakebisect::cli
