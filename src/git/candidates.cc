#include "git/candidates.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "git/libgit2.h"
#include "git/shallow.h"

namespace flakebisect::git {
namespace {

using base::ErrorCode;
using base::make_error;

using OidIndex = std::unordered_map<git_oid, uint32_t, OidHash, OidEqual>;

// The candidate set as libgit2 walks it: ancestors-or-self(bad) minus ancestors-or-self(goods), in
// no particular order.
base::Result<std::vector<git_oid>> walk_candidates(git_repository* repo, const git_oid& bad,
                                                   const std::vector<git_oid>& goods) {
  git_revwalk* raw = nullptr;
  FB_TRY(check(git_revwalk_new(&raw, repo), "revision walk"));
  RevwalkHandle walk(raw);
  FB_TRY(check(git_revwalk_sorting(walk.get(), GIT_SORT_NONE), "revision walk"));
  FB_TRY(check(git_revwalk_push(walk.get(), &bad), fmt::format("bad {}", to_hex(bad))));
  for (const git_oid& good : goods) {
    FB_TRY(check(git_revwalk_hide(walk.get(), &good), fmt::format("good {}", to_hex(good))));
  }
  std::vector<git_oid> oids;
  git_oid oid;
  int rc = 0;
  while ((rc = git_revwalk_next(&oid, walk.get())) == 0) {
    oids.push_back(oid);
  }
  if (rc != GIT_ITEROVER) {
    return libgit2_error(rc, "revision walk");
  }
  return oids;
}

struct Node {
  std::vector<uint32_t> parents;  // indices into the walk order, in parent order
  std::string subject;
};

base::Result<Node> read_node(git_repository* repo, const git_oid& oid, const OidIndex& index,
                             bool first_parent_only) {
  FB_ASSIGN_OR_RETURN(CommitHandle commit, lookup_commit(repo, oid));
  Node node;
  const unsigned count = first_parent_only ? std::min(1U, git_commit_parentcount(commit.get()))
                                           : git_commit_parentcount(commit.get());
  for (unsigned i = 0; i < count; ++i) {
    auto it = index.find(*git_commit_parent_id(commit.get(), i));
    if (it == index.end()) {
      continue;  // an ancestor of a good: not a candidate
    }
    // git allows the same parent twice in one commit; the model does not.
    bool duplicate = false;
    for (uint32_t p : node.parents) {
      duplicate = duplicate || p == it->second;
    }
    if (!duplicate) {
      node.parents.push_back(it->second);
    }
  }
  node.subject = commit_subject(commit.get());
  return node;
}

// Post-order depth-first walk from `root` over parent edges: every node after all its parents, a
// merge's first-parent history before its other parents' histories. Iterative, since a linear
// history of thousands of commits would overflow the stack.
std::vector<uint32_t> parents_first_order(const std::vector<Node>& nodes, uint32_t root) {
  std::vector<uint32_t> order;
  order.reserve(nodes.size());
  std::vector<bool> seen(nodes.size(), false);
  std::vector<std::pair<uint32_t, size_t>> stack;  // (node, next parent to visit)
  stack.emplace_back(root, 0);
  seen[root] = true;
  while (!stack.empty()) {
    auto [node, next] = stack.back();
    if (next < nodes[node].parents.size()) {
      ++stack.back().second;
      uint32_t parent = nodes[node].parents[next];
      if (!seen[parent]) {
        seen[parent] = true;
        stack.emplace_back(parent, 0);
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

}  // namespace

base::Result<CandidateGraph> build_candidates(const Repository& repo, std::string_view bad_sha,
                                              const std::vector<std::string>& good_shas,
                                              CandidateOptions options) {
  git_repository* raw = repo.raw();
  auto bad = parse_sha(bad_sha);
  if (!bad) {
    return std::move(bad).error().context("bad");
  }
  if (auto commit = lookup_commit(raw, *bad); !commit) {
    return std::move(commit).error().context("bad");
  }
  if (good_shas.empty()) {
    return make_error(ErrorCode::kInvalidInput, "no good commit given (need at least one)");
  }
  std::vector<git_oid> goods;
  for (const std::string& good_sha : good_shas) {
    auto good = parse_sha(good_sha);
    if (!good) {
      return std::move(good).error().context("good");
    }
    if (auto commit = lookup_commit(raw, *good); !commit) {
      return std::move(commit).error().context("good");
    }
    goods.push_back(*good);
  }

  // libgit2's walk is the fast one (commit dates bound how far below the goods it looks), but it
  // cannot walk a shallow clone.
  FB_ASSIGN_OR_RETURN(const ShallowBoundary shallow, ShallowBoundary::read(raw));
  std::vector<git_oid> oids;
  if (shallow.empty()) {
    FB_ASSIGN_OR_RETURN(oids, walk_candidates(raw, *bad, goods));
  } else {
    FB_ASSIGN_OR_RETURN(oids, shallow.candidates(raw, repo.path(), *bad, goods));
  }
  if (oids.empty()) {
    return make_error(ErrorCode::kInvalidInput,
                      "bad {} is an ancestor of a good commit: no commits to bisect", to_hex(*bad));
  }
  OidIndex index;
  index.reserve(oids.size());
  for (uint32_t i = 0; i < oids.size(); ++i) {
    index.emplace(oids[i], i);
  }
  const uint32_t root = index.at(*bad);

  CandidateGraph graph;
  if (options.first_parent_only) {
    // Follow first parents from bad while they are candidates; every ancestor of the first
    // non-candidate is an ancestor of a good too, so the chain cannot resume below it.
    std::vector<std::pair<uint32_t, std::string>> chain;  // bad first
    uint32_t at = root;
    while (true) {
      FB_ASSIGN_OR_RETURN(Node node, read_node(raw, oids[at], index, /*first_parent_only=*/true));
      chain.emplace_back(at, std::move(node.subject));
      if (node.parents.empty()) {
        break;
      }
      at = node.parents.front();
    }
    graph.commits.reserve(chain.size());
    for (size_t i = chain.size(); i-- > 0;) {
      Candidate candidate{to_hex(oids[chain[i].first]), {}, std::move(chain[i].second)};
      if (!graph.commits.empty()) {
        candidate.parents.push_back(graph.size() - 1);
      }
      graph.commits.push_back(std::move(candidate));
    }
    return graph;
  }

  std::vector<Node> nodes;
  nodes.reserve(oids.size());
  for (const git_oid& oid : oids) {
    FB_ASSIGN_OR_RETURN(Node node, read_node(raw, oid, index, /*first_parent_only=*/false));
    nodes.push_back(std::move(node));
  }
  const std::vector<uint32_t> order = parents_first_order(nodes, root);
  if (order.size() != nodes.size()) {
    // Every candidate lies on a candidate-only path to bad (a node on the path that is an ancestor
    // of a good would make the candidate one too), so this means a corrupt or grafted history.
    return make_error(ErrorCode::kCorrupt,
                      "candidate walk from bad {} reached {} of {} commits (corrupt history?)",
                      to_hex(*bad), order.size(), nodes.size());
  }
  std::vector<uint32_t> position(nodes.size());
  for (uint32_t i = 0; i < order.size(); ++i) {
    position[order[i]] = i;
  }
  graph.commits.reserve(order.size());
  for (uint32_t walk_index : order) {
    Node& node = nodes[walk_index];
    Candidate candidate{to_hex(oids[walk_index]), {}, std::move(node.subject)};
    candidate.parents.reserve(node.parents.size());
    for (uint32_t parent : node.parents) {
      candidate.parents.push_back(position[parent]);
    }
    graph.commits.push_back(std::move(candidate));
  }
  return graph;
}

std::vector<std::vector<uint32_t>> dag_parents(const CandidateGraph& graph) {
  std::vector<std::vector<uint32_t>> parents;
  parents.reserve(graph.commits.size());
  for (const Candidate& candidate : graph.commits) {
    parents.push_back(candidate.parents);
  }
  return parents;
}

}  // namespace flakebisect::git
