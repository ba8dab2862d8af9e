// FakeProcessRunner: a ProcessRunner for tests that runs nothing. It records every ProcessOptions
// it is asked to run and answers from a script, so a test can assert on the exact argv a module ran
// and feed it any exit code, output, timeout or tool error.
//
//   base::FakeProcessRunner runner;
//   runner.on({"make", "olddefconfig"}, base::FakeProcessRunner::exited(0));
//   runner.on({"make"}, base::FakeProcessRunner::exited(2, "", "error: foo.c"), 1);
//   runner.on({}, base::Error("sh: not found", base::ErrorCode::kNotFound));
//   ... code under test calls runner.run(...) ...
//   EXPECT_THAT(runner.argvs(), ElementsAre(ElementsAre("make", "olddefconfig"), ...));
//
// Rules are tried in the order they were added; the first whose argv prefix matches answers. A rule
// added with times = N answers N calls and is then spent; times = 0 answers forever. Several
// one-shot rules with an empty prefix therefore answer successive calls in order. A call no rule
// answers is recorded and gets an error (kFailed) naming its argv, so unexpected commands fail the
// test instead of passing silently.
//
// Thread rules: all methods may be called from any thread (a mutex guards the state); handlers run
// under that mutex, so they must not call back into the runner.
#pragma once

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/process.h"
#include "base/result.h"

namespace flakebisect::base {

class FakeProcessRunner final : public ProcessRunner {
 public:
  using Handler = std::function<Result<ProcessResult>(const ProcessOptions&)>;

  // Answers matching calls with whatever `handler` returns (it sees the call's options).
  FakeProcessRunner& on(std::vector<std::string> argv_prefix, Handler handler, int times = 0) {
    std::lock_guard lock(mutex_);
    rules_.push_back(Rule{std::move(argv_prefix), std::move(handler), times});
    return *this;
  }
  // Answers matching calls with `result`.
  FakeProcessRunner& on(std::vector<std::string> argv_prefix, ProcessResult result, int times = 0) {
    return on(
        std::move(argv_prefix),
        [result = std::move(result)](const ProcessOptions&) -> Result<ProcessResult> {
          return result;
        },
        times);
  }
  // Answers matching calls with a tool error (as if the program could not be run at all).
  FakeProcessRunner& on(std::vector<std::string> argv_prefix, Error error, int times = 0) {
    return on(
        std::move(argv_prefix),
        [error = std::move(error)](const ProcessOptions&) -> Result<ProcessResult> {
          return error;
        },
        times);
  }

  Result<ProcessResult> run(const ProcessOptions& options) override {
    std::lock_guard lock(mutex_);
    calls_.push_back(options);
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
      if (!starts_with(options.argv, it->argv_prefix)) {
        continue;
      }
      Handler handler = it->handler;
      if (it->times > 0 && --it->times == 0) {
        rules_.erase(it);
      }
      return handler(options);
    }
    std::string joined;
    for (const auto& arg : options.argv) {
      joined += joined.empty() ? "" : " ";
      joined += arg;
    }
    return Error("FakeProcessRunner: no scripted result for: " + joined, ErrorCode::kFailed);
  }

  // Every call so far, in order, including unanswered ones.
  std::vector<ProcessOptions> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  // Just the argv of every call, for ElementsAre-style assertions.
  std::vector<std::vector<std::string>> argvs() const {
    std::lock_guard lock(mutex_);
    std::vector<std::vector<std::string>> argvs;
    argvs.reserve(calls_.size());
    for (const auto& call : calls_) {
      argvs.push_back(call.argv);
    }
    return argvs;
  }
  size_t call_count() const {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }
  // How many one-shot rules have not been used up (to check a script ran to its end).
  size_t pending_one_shot_rules() const {
    std::lock_guard lock(mutex_);
    size_t pending = 0;
    for (const auto& rule : rules_) {
      pending += rule.times > 0 ? 1 : 0;
    }
    return pending;
  }

  // Canned results.
  static ProcessResult exited(int exit_code, std::string out = "", std::string err = "") {
    ProcessResult result;
    result.exit_code = exit_code;
    result.out = std::move(out);
    result.err = std::move(err);
    return result;
  }
  static ProcessResult signalled(int signal) {
    ProcessResult result;
    result.exit_code = -1;
    result.term_signal = signal;
    return result;
  }
  // Killed with SIGKILL because ProcessOptions::timeout ran out.
  static ProcessResult timed_out(std::string out = "") {
    ProcessResult result = signalled(SIGKILL);
    result.timed_out = true;
    result.out = std::move(out);
    return result;
  }

 private:
  struct Rule {
    std::vector<std::string> argv_prefix;
    Handler handler;
    int times;  // calls left to answer; 0 = unlimited
  };

  static bool starts_with(const std::vector<std::string>& argv,
                          const std::vector<std::string>& prefix) {
    return prefix.size() <= argv.size() && std::equal(prefix.begin(), prefix.end(), argv.begin());
  }

  mutable std::mutex mutex_;
  std::vector<Rule> rules_;
  std::vector<ProcessOptions> calls_;
};

}  // namespace flakebisect::base
