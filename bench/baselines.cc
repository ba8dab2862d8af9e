#include "baselines.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <optional>
#include <vector>

namespace flakebisect::bench {

namespace {

enum class Verdict { kGood, kBad, kSkip, kOutOfBudget };

// git's candidate set on a DAG, as a bitset so that a commit's reach is a popcount of
// (ancestors(x) & S): O(n/64) per commit, O(|S| n / 64) per step.
class CandidateSet {
 public:
  explicit CandidateSet(const CandidateDag& dag)
      : dag_(&dag), in_(dag.words(), 0), skipped_(dag.size(), false), bad_(dag.bad()) {
    const CommitIndex n = dag.size();
    for (CommitIndex x = 0; x < n; ++x) {
      in_[x / 64] |= uint64_t{1} << (x % 64);
    }
    count_ = n;
  }

  CommitIndex bad() const { return bad_; }
  CommitIndex count() const { return count_; }

  void mark_bad(CommitIndex x) {
    const uint64_t* ancestors = dag_->ancestor_bits(x);
    for (size_t w = 0; w < in_.size(); ++w) {
      in_[w] &= ancestors[w];
    }
    bad_ = x;
    recount();
  }
  void mark_good(CommitIndex x) {
    const uint64_t* ancestors = dag_->ancestor_bits(x);
    for (size_t w = 0; w < in_.size(); ++w) {
      in_[w] &= ~ancestors[w];
    }
    recount();
  }
  void skip(CommitIndex x) { skipped_[x] = true; }

  // git's next commit: the best split among testable commits; nullopt when none splits S.
  std::optional<CommitIndex> next() const {
    std::optional<CommitIndex> best;
    CommitIndex best_score = 0;
    for (size_t w = 0; w < in_.size(); ++w) {
      for (uint64_t bits = in_[w]; bits != 0; bits &= bits - 1) {
        const auto x =
            static_cast<CommitIndex>(w * 64 + static_cast<size_t>(std::countr_zero(bits)));
        if (x == bad_ || skipped_[x]) {
          continue;
        }
        const CommitIndex reach = this->reach(x);
        const CommitIndex score = std::min(reach, count_ - reach);
        if (score > best_score) {  // strict: ties keep the lower index
          best_score = score;
          best = x;
        }
      }
    }
    return best;
  }

 private:
  CommitIndex reach(CommitIndex x) const {
    const uint64_t* ancestors = dag_->ancestor_bits(x);
    CommitIndex total = 0;
    // Ancestors of x have indices <= x: the words above x's are empty.
    for (size_t w = 0; w <= x / 64; ++w) {
      total += static_cast<CommitIndex>(std::popcount(in_[w] & ancestors[w]));
    }
    return total;
  }
  void recount() {
    count_ = 0;
    for (uint64_t word : in_) {
      count_ += static_cast<CommitIndex>(std::popcount(word));
    }
  }

  const CandidateDag* dag_;
  std::vector<uint64_t> in_;
  std::vector<bool> skipped_;
  CommitIndex bad_;
  CommitIndex count_ = 0;
};

// git's search with `test` judging one built commit.
Answer classic_bisect(const CandidateDag& dag, Lab& lab,
                      const std::function<Verdict(CommitIndex)>& test) {
  CandidateSet set(dag);
  Answer answer;
  while (set.count() > 1) {
    const std::optional<CommitIndex> next = set.next();
    if (!next) {
      break;  // only skipped commits left to test
    }
    const CommitIndex x = *next;
    if (!lab.build(x)) {
      set.skip(x);
      continue;
    }
    switch (test(x)) {
      case Verdict::kGood:
        set.mark_good(x);
        break;
      case Verdict::kBad:
        set.mark_bad(x);
        break;
      case Verdict::kSkip:
        set.skip(x);
        break;
      case Verdict::kOutOfBudget:
        answer.cap_hit = true;
        answer.culprit = set.bad();
        return answer;
    }
  }
  answer.culprit = set.bad();
  return answer;
}

}  // namespace

Answer git_bisect(const CandidateDag& dag, Lab& lab) { return fixed_n_bisect(dag, lab, 1); }

Answer fixed_n_bisect(const CandidateDag& dag, Lab& lab, uint32_t passes_for_good) {
  return classic_bisect(dag, lab, [&lab, passes_for_good](CommitIndex x) {
    lab.boot();
    uint32_t passes = 0;
    while (passes < passes_for_good) {
      if (lab.exhausted()) {
        return Verdict::kOutOfBudget;
      }
      switch (lab.run(x)) {
        case RunOutcome::kFail:
          return Verdict::kBad;
        case RunOutcome::kPass:
          ++passes;
          break;
        case RunOutcome::kInfra:
          break;
      }
    }
    return Verdict::kGood;
  });
}

Answer syzkaller_bisect(const CandidateDag& dag, Lab& lab) {
  constexpr uint32_t kRuns = 10;
  bool flaky = false;
  struct Counts {
    uint32_t valid = 0;
    uint32_t crashes = 0;
    bool out_of_budget = false;
  };
  auto test_runs = [&lab, &flaky](CommitIndex x, uint32_t runs) {
    Counts counts;
    lab.boot();
    for (uint32_t i = 0; i < runs; ++i) {
      if (lab.exhausted()) {
        counts.out_of_budget = true;
        return counts;
      }
      const RunOutcome outcome = lab.run(x);
      if (outcome == RunOutcome::kInfra) {
        continue;
      }
      ++counts.valid;
      if (outcome == RunOutcome::kFail) {
        ++counts.crashes;
      }
    }
    if (counts.crashes > 0 && counts.crashes < counts.valid) {
      flaky = true;
    }
    return counts;
  };

  // The first test reproduces on the bad tip (which always builds) with twice the runs.
  const CommitIndex tip = dag.bad();
  lab.build(tip);
  const Counts first = test_runs(tip, 2 * kRuns);
  Answer answer;
  if (first.out_of_budget) {
    answer.cap_hit = true;
    answer.culprit = tip;
    return answer;
  }
  if (first.crashes == 0) {
    answer.not_reproduced = true;
    return answer;
  }
  return classic_bisect(dag, lab, [&](CommitIndex x) {
    const Counts counts = test_runs(x, flaky ? 2 * kRuns : kRuns);
    if (counts.out_of_budget) {
      return Verdict::kOutOfBudget;
    }
    if (counts.valid == 0) {
      return Verdict::kSkip;
    }
    if (counts.crashes == 0) {
      return Verdict::kGood;
    }
    if (counts.crashes >= std::max<uint32_t>(2, counts.valid / 6)) {
      return Verdict::kBad;
    }
    return Verdict::kSkip;
  });
}

}  // namespace flakebisect::bench
