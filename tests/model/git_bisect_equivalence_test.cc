// A bug with theta = 1 and eps = 0 (every run at a bad commit fails, none at a good one) must be
// found as git bisect finds it: on real repositories with merges and nested topic branches, the
// model with its default grids (it is not told the rates) names the same first bad commit as `git
// bisect run`, at a confidence of 0.99 or more.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "base/process.h"
#include "model/planner.h"
#include "model/stop_rule.h"

namespace flakebisect::model {
namespace {

namespace fs = std::filesystem;

std::string git(const fs::path& repo, std::vector<std::string> args,
                const std::optional<std::string>& stdin_data = std::nullopt) {
  base::ProcessOptions options;
  options.argv = {"git", "-C", repo.string()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdin_data = stdin_data;
  options.timeout = std::chrono::seconds(60);
  options.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"HOME", repo.string()},
                     {"GIT_AUTHOR_NAME", "t"}, {"GIT_AUTHOR_EMAIL", "t@example.com"},
                     {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@example.com"}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result.has_value()) << result.error().message();
  if (!result) return "";
  EXPECT_EQ(result->exit_code, 0) << "git " << args[0] << ": " << result->err;
  return result->out;
}

struct GeneratedRepo {
  fs::path path;
  int culprit_mark = 0;
};

// A kernel-like history through git fast-import: a mainline with topic branches of 2-6 commits
// forked from recent mainline commits and merged back, some with a nested sub-branch. The culprit
// (a non-merge commit) adds the file BUG, which every descendant then carries.
GeneratedRepo make_repo(const fs::path& dir, uint64_t seed) {
  std::mt19937_64 rng(seed);
  GeneratedRepo repo{dir, 0};
  fs::create_directories(dir);
  git(dir, {"init", "-q", "-b", "main"});
  // Shape first (marks are 1-based indices into nodes), then the culprit, then the stream.
  struct Node {
    std::string ref;
    int from = 0;
    int merge = 0;
  };
  std::vector<Node> nodes;
  auto add = [&](const std::string& ref, int from, int merge) {
    nodes.push_back({ref, from, merge});
    return static_cast<int>(nodes.size());
  };
  std::vector<int> mainline = {add("refs/heads/main", 0, 0)};  // the good root
  for (int step = 0; step < 30; ++step) {
    const int tip = mainline.back();
    if (rng() % 3 == 0) {
      mainline.push_back(add("refs/heads/main", tip, 0));
      continue;
    }
    int branch = mainline[mainline.size() - 1 - rng() % std::min<size_t>(4, mainline.size())];
    const int length = 2 + static_cast<int>(rng() % 5);
    for (int k = 0; k < length; ++k) {
      branch = add("refs/heads/topic", branch, 0);
      if (k == 1 && rng() % 3 == 0) {
        int sub = branch;
        for (int j = 0; j < 2; ++j) sub = add("refs/heads/sub", sub, 0);
        branch = add("refs/heads/topic", branch, sub);
      }
    }
    mainline.push_back(add("refs/heads/main", tip, branch));
  }
  std::vector<int> non_merges;
  for (int m = 2; m <= static_cast<int>(nodes.size()); ++m) {
    if (nodes[m - 1].merge == 0) non_merges.push_back(m);
  }
  repo.culprit_mark = non_merges[rng() % non_merges.size()];
  // BUG is in the culprit and every descendant. fast-import gives a merge its first parent's tree,
  // so a merge whose first parent lacks BUG but whose other parent has it adds it explicitly.
  std::vector<bool> has_bug(nodes.size() + 1, false);
  std::ostringstream stream;
  int time = 1000000000;
  for (int m = 1; m <= static_cast<int>(nodes.size()); ++m) {
    const Node& node = nodes[m - 1];
    has_bug[m] = m == repo.culprit_mark || has_bug[node.from] || has_bug[node.merge];
    stream << "commit " << node.ref << "\nmark :" << m << "\ncommitter t <t@example.com> "
           << ++time << " +0000\ndata 3\nc" << (m % 10) << "\n";
    if (node.from) stream << "from :" << node.from << "\n";
    if (node.merge) stream << "merge :" << node.merge << "\n";
    if (!node.merge) stream << "M 644 inline f" << m << "\ndata 2\nx\n";
    if (has_bug[m] && !has_bug[node.from]) stream << "M 644 inline BUG\ndata 4\nbug\n";
  }
  git(dir, {"fast-import", "--quiet", "--export-marks=" + (dir / "marks").string()}, stream.str());
  git(dir, {"checkout", "-q", "-f", "main"});
  return repo;
}

std::map<int, std::string> read_marks(const fs::path& dir) {
  std::map<int, std::string> marks;
  std::ifstream in(dir / "marks");
  std::string mark, sha;
  while (in >> mark >> sha) marks[std::stoi(mark.substr(1))] = sha;
  return marks;
}

TEST(GitBisectEquivalence, DeterministicBugNamesTheSameCommitAsGitBisectRun) {
  const fs::path root = fs::temp_directory_path() / ("fb-gitbisect-" + std::to_string(getpid()));
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const fs::path dir = root / std::to_string(seed);
    GeneratedRepo repo = make_repo(dir, seed);
    auto marks = read_marks(dir);
    const std::string good = marks.at(1);
    const std::string bad = git(dir, {"rev-parse", "main"}).substr(0, 40);

    // git bisect run, with a test that fails iff BUG exists.
    git(dir, {"bisect", "start", bad, good});
    std::string out = git(dir, {"bisect", "run", "sh", "-c", "test ! -e BUG"});
    size_t at = out.find(" is the first bad commit");
    ASSERT_NE(at, std::string::npos) << out;
    const std::string git_answer = out.substr(at - 40, 40);
    git(dir, {"bisect", "reset"});

    // The model on the same candidate set (parents before children, bad last).
    std::istringstream list(git(dir, {"rev-list", "--topo-order", "--reverse", "--parents", bad,
                                      "^" + good}));
    std::vector<std::string> shas;
    std::vector<std::vector<std::string>> parent_shas;
    std::string line;
    while (std::getline(list, line)) {
      std::istringstream words(line);
      std::string sha, parent;
      words >> sha;
      shas.push_back(sha);
      parent_shas.emplace_back();
      while (words >> parent) parent_shas.back().push_back(parent);
    }
    std::map<std::string, CommitIndex> index;
    for (CommitIndex i = 0; i < shas.size(); ++i) index[shas[i]] = i;
    std::vector<std::vector<CommitIndex>> parents(shas.size());
    for (size_t i = 0; i < shas.size(); ++i)
      for (const auto& p : parent_shas[i])
        if (index.count(p)) parents[i].push_back(index[p]);
    auto dag = CandidateDag::create(parents);
    ASSERT_TRUE(dag.has_value()) << dag.error().message();
    const CommitIndex culprit = index.at(marks.at(repo.culprit_mark));

    Posterior post(*dag, ModelOptions{});
    Planner planner(PlannerOptions{});
    std::vector<bool> built(shas.size(), false);
    int steps = 0;
    while (evaluate_stop(post, {}) == Verdict::kContinue && steps < 500) {
      Step step = planner.plan(post, built);
      built[step.commit] = true;
      const bool fail = dag->is_ancestor_or_self(culprit, step.commit);
      post.record(step.commit, fail ? 1 : 0, fail ? 0 : 1);
      ++steps;
    }
    EXPECT_EQ(shas[post.most_likely()], git_answer) << "seed " << seed;
    EXPECT_GE(post.max_probability(), 0.99);
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace flakebisect::model
