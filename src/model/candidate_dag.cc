#include "model/candidate_dag.h"

#include <bit>
#include <utility>

namespace flakebisect::model {

base::Result<CandidateDag> CandidateDag::create(std::vector<std::vector<CommitIndex>> parents) {
  if (parents.empty()) {
    return base::Error("candidate set is empty", base::ErrorCode::kInvalidInput);
  }
  for (CommitIndex i = 0; i < parents.size(); ++i) {
    const auto& ps = parents[i];
    for (size_t k = 0; k < ps.size(); ++k) {
      if (ps[k] >= i) {
        return base::make_error(base::ErrorCode::kInvalidInput,
                                "candidate {} has parent {} that is not before it in topological order",
                                i, ps[k]);
      }
      for (size_t j = 0; j < k; ++j) {
        if (ps[j] == ps[k]) {
          return base::make_error(base::ErrorCode::kInvalidInput,
                                  "candidate {} lists parent {} twice", i, ps[k]);
        }
      }
    }
  }
  CandidateDag dag;
  dag.n_ = static_cast<CommitIndex>(parents.size());
  dag.parents_ = std::move(parents);
  dag.build_ancestry();
  if (dag.ancestor_count_[dag.bad()] != dag.n_) {
    return base::make_error(base::ErrorCode::kInvalidInput,
                            "{} of {} candidates are not ancestors of the bad commit",
                            dag.n_ - dag.ancestor_count_[dag.bad()], dag.n_);
  }
  return dag;
}

CandidateDag CandidateDag::linear(CommitIndex n) {
  std::vector<std::vector<CommitIndex>> parents(n);
  for (CommitIndex i = 1; i < n; ++i) parents[i] = {i - 1};
  auto dag = create(std::move(parents));
  return std::move(dag).value();
}

void CandidateDag::build_ancestry() {
  words_ = (n_ + 63) / 64;
  ancestors_.assign(static_cast<size_t>(n_) * words_, 0);
  ancestor_count_.assign(n_, 0);
  side_begin_.assign(n_ + 1, 0);
  side_.clear();
  std::vector<uint64_t> later(words_);
  for (CommitIndex x = 0; x < n_; ++x) {
    uint64_t* row = &ancestors_[static_cast<size_t>(x) * words_];
    const auto& ps = parents_[x];
    if (!ps.empty()) {
      const uint64_t* first = ancestor_bits(ps[0]);
      for (size_t w = 0; w < words_; ++w) row[w] = first[w];
    }
    side_begin_[x] = static_cast<uint32_t>(side_.size());
    if (ps.size() > 1) {
      // What the later parents bring in beyond the first parent: the commits of the merged branch.
      std::fill(later.begin(), later.end(), 0);
      for (size_t k = 1; k < ps.size(); ++k) {
        const uint64_t* bits = ancestor_bits(ps[k]);
        for (size_t w = 0; w < words_; ++w) later[w] |= bits[w];
      }
      for (size_t w = 0; w < words_; ++w) {
        uint64_t extra = later[w] & ~row[w];
        row[w] |= extra;
        while (extra != 0) {
          side_.push_back(static_cast<CommitIndex>(w * 64 + std::countr_zero(extra)));
          extra &= extra - 1;
        }
      }
    }
    row[x / 64] |= uint64_t{1} << (x % 64);
    CommitIndex count = 0;
    for (size_t w = 0; w < words_; ++w) count += static_cast<CommitIndex>(std::popcount(row[w]));
    ancestor_count_[x] = count;
  }
  side_begin_[n_] = static_cast<uint32_t>(side_.size());
}

std::vector<double> CandidateDag::ancestor_sums(const std::vector<double>& weight) const {
  std::vector<double> sums(n_);
  for (CommitIndex x = 0; x < n_; ++x) {
    const auto& ps = parents_[x];
    double s = weight[x];
    if (!ps.empty()) s += sums[ps[0]];
    for (uint32_t k = side_begin_[x]; k < side_begin_[x + 1]; ++k) s += weight[side_[k]];
    sums[x] = s;
  }
  return sums;
}

}  // namespace flakebisect::model
