#include "history.h"

#include <algorithm>
#include <optional>

#include "rng.h"

namespace flakebisect::bench {

using model::CommitIndex;

std::string_view history_name(HistoryKind kind) {
  return kind == HistoryKind::kLinear ? "linear" : "dag";
}

Parents linear_parents(uint32_t n) {
  Parents parents(n);
  for (uint32_t i = 1; i < n; ++i) {
    parents[i] = {i - 1};
  }
  return parents;
}

namespace {

// Appends commits in creation order, which is a topological order because a commit is only created
// after its parents.
class HistoryWriter {
 public:
  explicit HistoryWriter(uint32_t n) { parents_.reserve(n); }

  CommitIndex commit(std::optional<CommitIndex> parent) {
    parents_.emplace_back();
    if (parent) {
      parents_.back().push_back(*parent);
    }
    return static_cast<CommitIndex>(parents_.size() - 1);
  }
  CommitIndex merge(CommitIndex first, CommitIndex second) {
    parents_.push_back({first, second});
    return static_cast<CommitIndex>(parents_.size() - 1);
  }
  // A chain of `length` >= 1 commits on top of `base`; returns its tip.
  CommitIndex chain(std::optional<CommitIndex> base, uint64_t length) {
    std::optional<CommitIndex> tip = base;
    for (uint64_t i = 0; i < length; ++i) {
      tip = commit(tip);
    }
    return *tip;
  }
  uint32_t size() const { return static_cast<uint32_t>(parents_.size()); }
  Parents take() { return std::move(parents_); }

 private:
  Parents parents_;
};

// A topic branch of exactly `length` >= 1 commits (its sub-branch and sub-merge included) forked
// from `fork` (nullopt: forked from outside the range); returns its tip.
CommitIndex topic_branch(HistoryWriter& out, RandomStream& rng, const KernelShape& shape,
                         std::optional<CommitIndex> fork, uint64_t length) {
  std::vector<CommitIndex> own;  // this branch's commits so far, for the sub-branch fork point
  // The sub-branch is merged after `nest_at` >= 1 own commits (0: no sub-branch); it needs room for
  // >= 1 commit and the merge.
  uint64_t nest_at = 0;
  if (length >= 4 && rng.bernoulli(shape.nested_p)) {
    nest_at = 1 + rng.below(length - 2);
  }
  std::optional<CommitIndex> tip = fork;
  uint64_t made = 0;
  while (made < length) {
    if (nest_at != 0 && made == nest_at && length - made >= 2) {
      const uint64_t sub_length =
          std::min(rng.geometric(shape.mean_nested_length), length - made - 1);
      // Fork the sub-branch from the branch's own fork point or any of its commits so far.
      const uint64_t pick = rng.below(own.size() + 1);
      const std::optional<CommitIndex> sub_fork = pick == 0 ? fork : std::optional(own[pick - 1]);
      const CommitIndex sub_tip = out.chain(sub_fork, sub_length);
      tip = out.merge(*tip, sub_tip);  // *tip exists: nest_at >= 1 own commit was made
      made += sub_length + 1;
      nest_at = 0;
    } else {
      tip = out.commit(tip);
      own.push_back(*tip);
      ++made;
    }
  }
  return *tip;
}

}  // namespace

Parents kernel_parents(uint32_t n, uint64_t seed, const KernelShape& shape) {
  RandomStream rng(seed);
  HistoryWriter out(n);
  std::vector<CommitIndex> mainline;  // first-parent chain from commit 0
  mainline.push_back(out.commit(std::nullopt));
  while (out.size() < n) {
    const uint64_t remaining = n - out.size();
    if (remaining <= 2 || rng.bernoulli(shape.direct_commit_p)) {
      mainline.push_back(out.commit(mainline.back()));
      continue;
    }
    // Leave room for the merge commit so that the last commit is always on the mainline, which
    // makes it a descendant of everything.
    const uint64_t length = std::min(rng.geometric(shape.mean_topic_length), remaining - 1);
    const uint64_t back = rng.below(shape.fork_window);
    const std::optional<CommitIndex> fork =
        back < mainline.size() ? std::optional(mainline[mainline.size() - 1 - back]) : std::nullopt;
    const CommitIndex branch_tip = topic_branch(out, rng, shape, fork, length);
    mainline.push_back(out.merge(mainline.back(), branch_tip));
  }
  return out.take();
}

Parents make_parents(HistoryKind kind, uint32_t n, uint64_t seed) {
  return kind == HistoryKind::kLinear ? linear_parents(n) : kernel_parents(n, seed);
}

std::vector<CommitIndex> non_merge_commits(const Parents& parents) {
  std::vector<CommitIndex> out;
  for (CommitIndex x = 0; x < parents.size(); ++x) {
    if (parents[x].size() <= 1) {
      out.push_back(x);
    }
  }
  return out;
}

}  // namespace flakebisect::bench
