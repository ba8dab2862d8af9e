// Fakes for engine tests: a Builder and a Runner answered by test functions, and the pieces to
// start a bisection of a generated history in a store.
#pragma once

#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "engine/bisection_request.h"
#include "engine/bisector.h"
#include "engine/git_history.h"
#include "store/store.h"

namespace flakebisect::testing {

// FNV-1a of "<sha>-<index>": a pseudo-random draw that is the same on every platform.
inline uint32_t draw(const std::string& sha, uint32_t index) {
  uint32_t hash = 2166136261U;
  for (char c : sha + "-" + std::to_string(index)) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

// The commits that have the planted commit as an ancestor-or-self.
inline std::set<std::string> bad_commits(const History& history) {
  std::vector<bool> bad(history.shas.size(), false);
  std::set<std::string> out;
  for (size_t i = 0; i < history.shas.size(); ++i) {  // parents come first
    bad[i] = i == history.planted;
    for (size_t p : history.parents[i]) bad[i] = bad[i] || bad[p];
    if (bad[i]) out.insert(history.shas[i]);
  }
  return out;
}

class FakeBuilder final : public build::Builder {
 public:
  using Fn = std::function<base::Result<build::BuildOutcome>(const build::CommitCheckout&)>;
  bool needs = true;
  bool keeps = false;  // as build.command's builder: a build lives in the worktree
  Fn fn = [](const build::CommitCheckout&) -> base::Result<build::BuildOutcome> {
    return build::BuildOutcome{};
  };
  std::vector<std::string> built;  // SHAs, in order

  bool needs_build() const override { return needs; }
  bool keeps_builds() const override { return keeps; }
  base::Result<build::BuildOutcome> build(const build::CommitCheckout& checkout) override {
    built.push_back(checkout.sha);
    return fn(checkout);
  }
};

struct RunCall {
  std::string sha;
  uint32_t index;
  std::string worktree;
};

class FakeRunner final : public run::Runner {
 public:
  using Fn =
      std::function<base::Result<run::RunResult>(const build::CommitCheckout&, uint32_t)>;
  Fn fn;
  std::vector<RunCall> calls;

  base::Result<run::RunResult> run(const build::CommitCheckout& checkout,
                                       uint32_t index) override {
    calls.push_back({checkout.sha, index, checkout.worktree});
    return fn(checkout, index);
  }

  // Fails with probability percent/100 on bad commits, never on good ones.
  static Fn flaky(std::set<std::string> bad, uint32_t percent) {
    return [bad = std::move(bad), percent](const build::CommitCheckout& checkout,
                                           uint32_t index) -> base::Result<run::RunResult> {
      run::RunResult outcome;
      const bool fails = bad.count(checkout.sha) > 0 && draw(checkout.sha, index) % 100 < percent;
      outcome.outcome = fails ? store::RunOutcome::kFail : store::RunOutcome::kPass;
      outcome.detail = fails ? "exit 1" : "exit 0";
      outcome.duration = std::chrono::milliseconds(5);
      return outcome;
    };
  }
};

// Forwards to test-owned fakes, so tests can inspect them after the engine drops its executors.
class ForwardingBuilder final : public build::Builder {
 public:
  explicit ForwardingBuilder(FakeBuilder* target) : target_(target) {}
  bool needs_build() const override { return target_->needs_build(); }
  bool keeps_builds() const override { return target_->keeps_builds(); }
  base::Result<build::BuildOutcome> build(const build::CommitCheckout& c) override {
    return target_->build(c);
  }

 private:
  FakeBuilder* target_;
};
class ForwardingRunner final : public run::Runner {
 public:
  explicit ForwardingRunner(FakeRunner* target) : target_(target) {}
  base::Result<run::RunResult> run(const build::CommitCheckout& c, uint32_t i) override {
    return target_->run(c, i);
  }

 private:
  FakeRunner* target_;
};

inline engine::ExecutorFactory fake_executors(FakeBuilder& builder, FakeRunner& runner) {
  return [&builder, &runner](const config::Config&) -> base::Result<engine::Executors> {
    engine::Executors executors;
    executors.builder = std::make_unique<ForwardingBuilder>(&builder);
    executors.runner = std::make_unique<ForwardingRunner>(&runner);
    return executors;
  };
}

// A configuration with a test command (the fakes ignore it). An absolute path that exists: a
// relative one must be in the range's tree unless a build command may make it.
inline config::Config test_config() {
  config::Config config;
  config.test.command = {"/bin/true", "--iterations", "1"};
  return config;
}

inline int64_t create_running(store::Store& store, const History& history,
                              const config::Config& config) {
  engine::BisectRequest request{history.repo.native(), {history.root}, history.tip, config};
  auto spec = engine::prepare_bisection(request);
  EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
  auto id = store.create_bisection(*spec, 1000, ::getpid());
  EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message());
  return id.value_or(0);
}

inline nlohmann::json result_of(store::Store& store, int64_t id) {
  auto bisection = store.get_bisection(id);
  EXPECT_TRUE(bisection.has_value());
  if (!bisection || !bisection->result_json) return nullptr;
  return nlohmann::json::parse(*bisection->result_json);
}

inline store::Store memory_store() {
  auto store = store::Store::open(":memory:");
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message());
  return std::move(store).value();
}

}  // namespace flakebisect::testing
