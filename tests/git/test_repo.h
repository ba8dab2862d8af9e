// Test fixtures for the git module: temporary directories, real repositories built commit by commit
// with libgit2, and a runner for the real git CLI (argv only, through base::run_process) to compare
// against.
//
// Header-only: the test binary is built from tests/git/*_test.cc alone.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/paths.h"
#include "base/process.h"
#include "git/libgit2.h"

namespace flakebisect::git::testing {

namespace fs = std::filesystem;

// A fresh directory under the test temp dir, removed with everything in it on destruction. `name`
// (may hold spaces and shell metacharacters) becomes part of the path.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "git") {
    std::string pattern = (fs::path(::testing::TempDir()) / "flakebisect-XXXXXX").native();
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
    path_ = fs::path(pattern) / name;
    fs::create_directories(path_);
    root_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& child) const { return path_ / child; }

 private:
  fs::path root_;
  fs::path path_;
};

// Runs the git CLI with `args` (no shell) and returns stdout; fails the test on a non-zero exit.
inline std::string run_git(const fs::path& repo, const std::vector<std::string>& args,
                           std::optional<std::string> stdin_data = std::nullopt) {
  base::ProcessOptions options;
  options.argv = {"git", "-C", repo.native()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdin_data = std::move(stdin_data);
  options.output_cap = size_t{256} << 20;
  options.timeout = std::chrono::seconds(120);
  // Keep the user's and the system's git configuration out of the comparison.
  options.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}};
  auto result = base::run_process(options);
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message());
  if (!result) return "";
  EXPECT_TRUE(result->succeeded())
      << "git " << ::testing::PrintToString(args) << ": " << result->err;
  return result->out;
}

// `git clone -q <options...> file://<source> <target>` with the real git CLI: shallow
// (--depth N) and partial (--filter=blob:none) clones are what real users bisect in.
inline void clone(const fs::path& source, const fs::path& target,
                  const std::vector<std::string>& options) {
  std::vector<std::string> args = {"clone", "-q"};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("file://" + source.native());
  args.push_back(target.native());
  run_git(target.parent_path(), args);
}

// Splits `text` into non-empty lines.
inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

inline std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

inline git_oid oid_of(const std::string& sha) {
  git_oid oid;
  EXPECT_EQ(git_oid_fromstr(&oid, sha.c_str()), 0) << sha;
  return oid;
}

// The files of a commit: path ("dir/sub/file.c") -> content.
using Files = std::map<std::string, std::string>;
// Changes to the first parent's files: a value sets the file, nullopt deletes it.
using Changes = std::map<std::string, std::optional<std::string>>;

// The contents of a file the test expects to exist.
inline std::string read(const fs::path& path) {
  auto text = base::read_file(path.native());
  EXPECT_TRUE(text.has_value()) << path;
  return text.value_or("");
}

// The regular files under `dir` (relative paths -> content), .git excluded.
inline Files files_in(const fs::path& dir) {
  Files out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) {
      out[fs::relative(it->path(), dir).native()] = read(it->path());
    }
  }
  return out;
}

struct CommitSpec {
  std::string message = "commit\n";
  Changes changes;
  std::vector<std::string> parents;  // full SHAs, first parent first
  std::optional<std::string> ref;    // e.g. "refs/heads/main": updated to the new commit
  std::string author_name = "A U Thor";
  std::string author_email = "author@example.com";
  int64_t time = 0;  // 0: the repository's clock (one minute per commit)
  int offset_minutes = 0;
};

// A non-bare repository on disk whose history is written directly with libgit2 (commits, trees,
// branches, tags), so tests control every object and can build any DAG.
class TestRepo {
 public:
  explicit TestRepo(const fs::path& dir) : dir_(dir) {
    init_libgit2();
    git_repository* raw = nullptr;
    int rc = git_repository_init(&raw, dir.c_str(), /*is_bare=*/0);
    EXPECT_GE(rc, 0) << (git_error_last() ? git_error_last()->message : "?");
    repo_.reset(raw);
    // HEAD -> refs/heads/main whatever init.defaultBranch says.
    EXPECT_GE(git_repository_set_head(raw, "refs/heads/main"), 0);
  }

  const fs::path& path() const { return dir_; }
  git_repository* raw() const { return repo_.get(); }

  std::string commit(const CommitSpec& spec) {
    Files files;
    if (!spec.parents.empty()) files = files_.at(spec.parents.front());
    for (const auto& [path, content] : spec.changes) {
      if (content) {
        files[path] = *content;
      } else {
        files.erase(path);
      }
    }
    git_oid tree_oid = write_tree(files, "");
    git_tree* tree = nullptr;
    EXPECT_GE(git_tree_lookup(&tree, raw(), &tree_oid), 0);
    TreeHandle tree_handle(tree);

    const int64_t when = spec.time != 0 ? spec.time : (clock_ += 60);
    git_signature* author = nullptr;
    EXPECT_GE(git_signature_new(&author, spec.author_name.c_str(), spec.author_email.c_str(), when,
                                spec.offset_minutes),
              0);
    SignatureHandle author_handle(author);
    git_signature* committer = nullptr;
    EXPECT_GE(git_signature_new(&committer, "C O Mitter", "committer@example.com", when, 0), 0);
    SignatureHandle committer_handle(committer);

    std::vector<CommitHandle> parent_handles;
    std::vector<const git_commit*> parents;
    for (const std::string& sha : spec.parents) {
      git_oid oid = oid_of(sha);
      git_commit* parent = nullptr;
      EXPECT_GE(git_commit_lookup(&parent, raw(), &oid), 0) << sha;
      parent_handles.emplace_back(parent);
      parents.push_back(parent);
    }
    git_oid oid;
    int rc = git_commit_create(&oid, raw(), nullptr, author, committer, nullptr,
                               spec.message.c_str(), tree, parents.size(), parents.data());
    EXPECT_GE(rc, 0) << (git_error_last() ? git_error_last()->message : "?");
    std::string sha = to_hex(oid);
    files_[sha] = std::move(files);
    if (spec.ref) set_ref(*spec.ref, sha);
    return sha;
  }

  // A commit on `branch` (its tip as the parent, none for a new branch) that moves the branch.
  std::string commit_on(const std::string& branch, const std::string& message,
                        Changes changes = {}) {
    CommitSpec spec;
    spec.message = message + "\n";
    spec.changes = std::move(changes);
    if (auto parent = tip(branch)) spec.parents.push_back(*parent);
    spec.ref = "refs/heads/" + branch;
    return commit(spec);
  }

  // A merge on `branch` of the given other commits (the branch tip is the first parent).
  std::string merge_on(const std::string& branch, const std::vector<std::string>& others,
                       const std::string& message) {
    CommitSpec spec;
    spec.message = message + "\n";
    spec.parents.push_back(*tip(branch));
    spec.parents.insert(spec.parents.end(), others.begin(), others.end());
    spec.ref = "refs/heads/" + branch;
    return commit(spec);
  }

  std::optional<std::string> tip(const std::string& branch) const {
    auto it = refs_.find("refs/heads/" + branch);
    if (it == refs_.end()) return std::nullopt;
    return it->second;
  }

  void set_ref(const std::string& name, const std::string& sha) {
    git_oid oid = oid_of(sha);
    git_reference* ref = nullptr;
    int rc = git_reference_create(&ref, raw(), name.c_str(), &oid, /*force=*/1, "test");
    EXPECT_GE(rc, 0) << name << ": " << (git_error_last() ? git_error_last()->message : "?");
    git_reference_free(ref);
    refs_[name] = sha;
  }

  // An annotated tag named `name` pointing at object `sha` (any type); returns the tag object id.
  std::string annotated_tag(const std::string& name, const std::string& sha) {
    git_oid target_oid = oid_of(sha);
    git_object* target = nullptr;
    EXPECT_GE(git_object_lookup(&target, raw(), &target_oid, GIT_OBJECT_ANY), 0);
    ObjectHandle target_handle(target);
    git_signature* tagger = nullptr;
    EXPECT_GE(git_signature_new(&tagger, "Tagger", "tagger@example.com", clock_, 0), 0);
    SignatureHandle tagger_handle(tagger);
    git_oid tag_oid;
    int rc = git_tag_create(&tag_oid, raw(), name.c_str(), target, tagger, "tag message\n", 0);
    EXPECT_GE(rc, 0) << (git_error_last() ? git_error_last()->message : "?");
    return to_hex(tag_oid);
  }

  std::string tree_of(const std::string& commit_sha) {
    git_oid oid = oid_of(commit_sha);
    git_commit* commit = nullptr;
    EXPECT_GE(git_commit_lookup(&commit, raw(), &oid), 0);
    std::string tree = to_hex(*git_commit_tree_id(commit));
    git_commit_free(commit);
    return tree;
  }

  std::string write_blob(const std::string& content) {
    git_oid oid;
    EXPECT_GE(git_blob_create_from_buffer(&oid, raw(), content.data(), content.size()), 0);
    return to_hex(oid);
  }

  const Files& files(const std::string& sha) const { return files_.at(sha); }

 private:
  // Writes the tree for the files under `prefix` (which ends in '/' unless empty).
  git_oid write_tree(const Files& files, const std::string& prefix) {
    git_treebuilder* raw_builder = nullptr;
    EXPECT_GE(git_treebuilder_new(&raw_builder, raw(), nullptr), 0);
    TreebuilderHandle builder(raw_builder);
    std::set<std::string> subdirs;
    for (auto it = files.lower_bound(prefix); it != files.end(); ++it) {
      const std::string& path = it->first;
      if (path.compare(0, prefix.size(), prefix) != 0) break;
      std::string rest = path.substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash != std::string::npos) {
        subdirs.insert(rest.substr(0, slash));
        continue;
      }
      git_oid blob = oid_of(write_blob(it->second));
      EXPECT_GE(
          git_treebuilder_insert(nullptr, builder.get(), rest.c_str(), &blob, GIT_FILEMODE_BLOB),
          0);
    }
    for (const std::string& sub : subdirs) {
      git_oid subtree = write_tree(files, prefix + sub + "/");
      EXPECT_GE(
          git_treebuilder_insert(nullptr, builder.get(), sub.c_str(), &subtree, GIT_FILEMODE_TREE),
          0);
    }
    git_oid oid;
    EXPECT_GE(git_treebuilder_write(&oid, builder.get()), 0);
    return oid;
  }

  fs::path dir_;
  RepositoryHandle repo_;
  int64_t clock_ = 1700000000;
  std::map<std::string, Files> files_;       // by commit SHA
  std::map<std::string, std::string> refs_;  // ref name -> SHA
};

}  // namespace flakebisect::git::testing
