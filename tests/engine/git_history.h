// Test fixtures shared by the engine and integration tests: temporary directories, the git CLI
// (argv only, through base::run_process), and generated repositories whose history looks like a
// kernel's (a first-parent main line, merged topic branches, topics with nested sub-topics), with
// one planted commit that adds the file `bug/marker`. Every commit that has the planted commit as
// an ancestor-or-self has the marker in its tree, so a test script can tell "bad" from "good" by
// looking at its working directory, as a real reproducer would.
//
// Histories are written with one `git fast-import`, so a 150-commit repository takes
// milliseconds. Everything is deterministic for a given seed: same SHAs on every machine.
//
// Header-only, for tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/process.h"

namespace flakebisect::testing {

namespace fs = std::filesystem;

// A fresh directory (mkdtemp under the test temp dir) removed with its contents at scope exit.
// `name`, which may hold spaces and shell metacharacters, is a subdirectory that path() returns.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "work") {
    std::string pattern = (fs::path(::testing::TempDir()) / "flakebisect-engine-XXXXXX").native();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern;
    }
    root_ = pattern;
    path_ = root_ / name;
    fs::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& child) const { return path_ / child; }

 private:
  fs::path root_;
  fs::path path_;
};

inline void write_text(const fs::path& path, const std::string& text, bool executable = false) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (executable) {
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  }
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs `git -C repo args...` with the user's configuration kept out; fails the test on a non-zero
// exit and returns stdout.
inline std::string git(const fs::path& repo, const std::vector<std::string>& args,
                       std::optional<std::string> stdin_data = std::nullopt,
                       bool expect_success = true) {
  base::ProcessOptions options;
  options.argv = {"git", "-C", repo.native()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdin_data = std::move(stdin_data);
  options.output_cap = size_t{64} << 20;
  options.timeout = std::chrono::seconds(120);
  options.env_set = {
      {"GIT_CONFIG_NOSYSTEM", "1"},         {"GIT_CONFIG_GLOBAL", "/dev/null"},
      {"GIT_AUTHOR_NAME", "A U Thor"},      {"GIT_AUTHOR_EMAIL", "author@example.com"},
      {"GIT_COMMITTER_NAME", "C O Mitter"}, {"GIT_COMMITTER_EMAIL", "committer@example.com"}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
  if (!result) return "";
  if (expect_success) {
    EXPECT_TRUE(result->succeeded())
        << "git " << ::testing::PrintToString(args) << ": " << result->err;
  }
  return result->out;
}

inline std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

struct HistoryOptions {
  int commits = 150;  // about this many (the last topic may overshoot by a few)
  uint32_t seed = 1;
  double planted_at = 0.6;  // where the planted commit sits, as a fraction of the commits
  // The planted commit's message (default "fs: planted regression"); may be anything, including
  // 1 MB of text and non-ASCII.
  std::optional<std::string> planted_message;
  // Every other commit's message is "<prefix><n>\n" (with body text when body_bytes > 0).
  std::string subject_prefix = "commit ";
  size_t body_bytes = 0;
  // Blobs added in the root commit, to make short-SHA collisions (ambiguous revisions) certain.
  int extra_blobs = 0;
  // Files (path, content) that every commit has, unchanged: a tree's own scripts, say.
  std::vector<std::pair<std::string, std::string>> files_in_every_commit;
};

inline HistoryOptions sized(int commits, uint32_t seed = 1) {
  HistoryOptions options;
  options.commits = commits;
  options.seed = seed;
  return options;
}

inline HistoryOptions with_blobs(HistoryOptions options, int extra_blobs) {
  options.extra_blobs = extra_blobs;
  return options;
}

struct History {
  fs::path repo;
  std::vector<std::string> shas;             // every commit, creation order (parents first)
  std::vector<std::vector<size_t>> parents;  // per commit, indices into shas
  size_t planted = 0;                        // index of the planted commit
  std::string root;                          // the first commit: the good end
  std::string tip;                           // refs/heads/main: the bad end
  std::string planted_sha() const { return shas[planted]; }
};

namespace detail {

struct Node {
  std::vector<size_t> parents;
  std::string file;  // the file this commit adds (empty for merges)
  std::string message;
};

inline void append_data(std::string& stream, const std::string& data) {
  stream += "data " + std::to_string(data.size()) + "\n" + data + "\n";
}

}  // namespace detail

// Writes a kernel-like history into a new repository at `repo` (created) and returns it. The
// main line (refs/heads/main) advances with plain commits and merges of topic branches; a topic
// forks from main, has 2-6 commits and sometimes a nested sub-topic merged into it, and is merged
// back after main moved on. The planted commit is a topic commit when possible.
inline History make_history(const fs::path& repo, const HistoryOptions& options = {}) {
  using detail::Node;
  std::mt19937 rng(options.seed);
  auto pick = [&](int low, int high) {  // inclusive
    return low + static_cast<int>(rng() % static_cast<uint32_t>(high - low + 1));
  };
  std::vector<Node> nodes;
  std::vector<bool> on_topic;
  auto add = [&](std::vector<size_t> parents, bool topic) {
    Node node;
    node.parents = std::move(parents);
    const size_t n = nodes.size();
    if (node.parents.size() < 2) node.file = "src/file" + std::to_string(n) + ".c";
    nodes.push_back(std::move(node));
    on_topic.push_back(topic);
    return n;
  };
  size_t main_tip = add({}, false);
  while (static_cast<int>(nodes.size()) < options.commits) {
    if (pick(0, 9) < 5) {
      main_tip = add({main_tip}, false);
      continue;
    }
    size_t topic = add({main_tip}, true);
    const int length = pick(2, 6);
    for (int i = 1; i < length; ++i) {
      if (pick(0, 9) < 3) {
        size_t sub = add({topic}, true);
        const int sub_length = pick(1, 3);
        for (int j = 1; j < sub_length; ++j) sub = add({sub}, true);
        topic = add({topic, sub}, true);  // merge of the sub-topic
      }
      topic = add({topic}, true);
    }
    for (int i = pick(0, 2); i > 0; --i) main_tip = add({main_tip}, false);
    main_tip = add({main_tip, topic}, false);
  }
  // The planted commit: the first non-merge topic commit at or after the target position.
  const auto target = static_cast<size_t>(options.planted_at * static_cast<double>(nodes.size()));
  size_t planted = std::min(target, nodes.size() - 1);
  for (size_t i = target; i < nodes.size(); ++i) {
    if (on_topic[i] && nodes[i].parents.size() == 1) {
      planted = i;
      break;
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i == planted) {
      nodes[i].message = options.planted_message.value_or("fs: planted regression\n");
    } else {
      nodes[i].message = options.subject_prefix + std::to_string(i) + "\n";
      if (options.body_bytes > 0) {
        nodes[i].message += "\n" + std::string(options.body_bytes, 'x') + "\n";
      }
    }
  }

  // Trees: a commit has every file of its ancestors plus its own; the planted commit adds the
  // marker. A merge's tree is the union of its parents' (written in full after deleteall).
  std::vector<std::set<std::string>> files(nodes.size());
  std::string stream;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t p : nodes[i].parents) files[i].insert(files[p].begin(), files[p].end());
    if (!nodes[i].file.empty()) files[i].insert(nodes[i].file);
    if (i == planted) files[i].insert("bug/marker");

    const int64_t when = 1700000000 + static_cast<int64_t>(i) * 60;
    stream += "commit refs/heads/main\nmark :" + std::to_string(i + 1) + "\n";
    stream += "author A U Thor <author@example.com> " + std::to_string(when) + " +0000\n";
    stream += "committer C O Mitter <committer@example.com> " + std::to_string(when) + " +0000\n";
    detail::append_data(stream, nodes[i].message);
    if (!nodes[i].parents.empty()) {
      stream += "from :" + std::to_string(nodes[i].parents[0] + 1) + "\n";
      for (size_t k = 1; k < nodes[i].parents.size(); ++k) {
        stream += "merge :" + std::to_string(nodes[i].parents[k] + 1) + "\n";
      }
    }
    stream += "deleteall\n";
    for (const std::string& file : files[i]) {
      stream += "M 100644 inline " + file + "\n";
      detail::append_data(stream, file == "bug/marker" ? "planted\n" : "/* " + file + " */\n");
    }
    for (const auto& [path, content] : options.files_in_every_commit) {
      stream += "M 100644 inline " + path + "\n";
      detail::append_data(stream, content);
    }
    if (i == 0) {
      for (int b = 0; b < options.extra_blobs; ++b) {
        stream += "M 100644 inline blobs/" + std::to_string(b) + "\n";
        detail::append_data(stream, "blob " + std::to_string(b) + "\n");
      }
    }
    stream += "\n";
  }
  fs::create_directories(repo);
  git(repo, {"init", "-q", "-b", "main"});
  const fs::path marks = repo / ".git" / "flakebisect-test-marks";
  git(repo, {"fast-import", "--quiet", "--export-marks=" + marks.native()}, stream);
  // Leave the user's checkout on main (git bisect needs one; flakebisect does not care).
  git(repo, {"checkout", "-q", "-f", "main"});

  History history;
  history.repo = repo;
  history.shas.resize(nodes.size());
  std::istringstream lines(read_text(marks));
  for (std::string mark, sha; lines >> mark >> sha;) {
    history.shas[std::stoul(mark.substr(1)) - 1] = sha;
  }
  for (const Node& node : nodes) history.parents.push_back(node.parents);
  history.planted = planted;
  history.root = history.shas.front();
  history.tip = history.shas[main_tip];
  fs::remove(marks);
  return history;
}

// The tip's first-parent chain down to the root, oldest first, as indices into history.shas: what
// `git rev-list --first-parent` walks. Against the root as good, all but the first are the
// candidates of a first-parent bisection.
inline std::vector<size_t> first_parent_chain(const History& history) {
  size_t at = static_cast<size_t>(std::find(history.shas.begin(), history.shas.end(), history.tip) -
                                  history.shas.begin());
  std::vector<size_t> chain = {at};
  while (!history.parents[at].empty()) {
    at = history.parents[at].front();
    chain.push_back(at);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

// The first bad commit of a first-parent bisection: the oldest commit on the tip's first-parent
// chain that has the planted commit as an ancestor-or-self. When the planted commit is on a topic
// branch (make_history plants it there when it can), this is the merge that brought it in.
inline size_t first_parent_culprit(const History& history) {
  std::vector<bool> bad(history.shas.size(), false);
  for (size_t i = 0; i < history.shas.size(); ++i) {  // parents come first
    bad[i] = i == history.planted;
    for (size_t p : history.parents[i]) bad[i] = bad[i] || bad[p];
  }
  for (size_t i : first_parent_chain(history)) {
    if (bad[i]) return i;
  }
  ADD_FAILURE() << "the tip does not have the planted commit";
  return history.planted;
}

// A test script for git-bisect-run conventions: exits 1 ("fails") with probability
// `failure_percent`/100 when ./bug/marker exists in its working directory, else 0. The draw is a
// deterministic function of FLAKEBISECT_COMMIT and FLAKEBISECT_RUN (sha256 of both), so the same
// run of the same commit always gives the same outcome and the tests cannot flake. With 100 it
// needs neither variable, so `git bisect run` can use it too. Extra lines (e.g. `echo $$ >> f`)
// run first.
inline std::string flaky_script(int failure_percent, const std::string& extra = "") {
  std::string script = "#!/bin/sh\n" + extra + "\n";
  script += "[ -f bug/marker ] || exit 0\n";
  if (failure_percent >= 100) return script + "exit 1\n";
  script +=
      "h=$(printf '%s-%s' \"$FLAKEBISECT_COMMIT\" \"$FLAKEBISECT_RUN\" | sha256sum | cut -c1-8)\n";
  script += "[ $((0x$h % 100)) -lt " + std::to_string(failure_percent) + " ] && exit 1\n";
  script += "exit 0\n";
  return script;
}

}  // namespace flakebisect::testing
