#include "git/worktree.h"

#include <fcntl.h>
#include <git2/sys/odb_backend.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "base/paths.h"
#include "git/libgit2.h"

namespace flakebisect::git {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using base::make_error;

constexpr const char* kMarkerFile = "flakebisect-worktree";  // in .git: the borrowed objects dir
constexpr const char* kLockFile = "flakebisect.lock";        // in .git: the flock
// .git/info/exclude: flakebisect's own directories at the top of the worktree (kPrivatePrefix).
constexpr std::string_view kPrivateExclude =
    "# flakebisect: its own build directories (a kernel's O=), kept by every checkout\n"
    "/.flakebisect-*/\n";
constexpr const char* kStagingSuffix = ".flakebisect-new";
constexpr const char* kCreationLockSuffix = ".flakebisect-lock";  // beside dir: the creation flock
// Lock files libgit2 or git leave behind when killed mid-write. Stale once we hold the flock.
constexpr const char* kStaleLocks[] = {"index.lock", "HEAD.lock", "config.lock"};

base::Error io_error(const fs::path& path, std::string_view what, const std::error_code& ec) {
  return make_error(ErrorCode::kIo, "{}: {}: {}", path.native(), what, ec.message());
}

// Builds a complete worktree repository at `staging`: init, settings, alternates, marker.
base::Status create_repository(const fs::path& staging, const std::string& objects_dir) {
  git_repository_init_options options;
  FB_TRY(check(git_repository_init_options_init(&options, GIT_REPOSITORY_INIT_OPTIONS_VERSION),
               "git init"));
  options.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
  git_repository* raw = nullptr;
  FB_TRY(check(git_repository_init_ext(&raw, staging.c_str(), &options), "git init"));
  RepositoryHandle repo(raw);
  git_config* config_raw = nullptr;
  FB_TRY(check(git_repository_config(&config_raw, repo.get()), "git config"));
  ConfigHandle config(config_raw);
  // Build inputs must be the tree's bytes, whatever the user's global config says.
  FB_TRY(check(git_config_set_bool(config.get(), "core.autocrlf", 0), "git config"));
  // git CLI runs inside the worktree (build scripts) must not repack or prune our tiny repository.
  FB_TRY(check(git_config_set_int32(config.get(), "gc.auto", 0), "git config"));
  config.reset();
  repo.reset();

  const fs::path git_dir = staging / ".git";
  // An absolute path: git and libgit2 read one path per line, and a line starting with '/' is never
  // taken as a comment ('#') or a quoted path ('"').
  FB_TRY(base::write_file_atomic(git_dir / "objects" / "info" / "alternates", objects_dir + "\n",
                                 0644));
  // Written last: its presence says the repository is complete and ours.
  FB_TRY(base::write_file_atomic(git_dir / kMarkerFile, objects_dir + "\n", 0644));
  return {};
}

fs::path with_suffix(const fs::path& path, const char* suffix) {
  fs::path out = path;
  out += suffix;
  return out;
}

// Takes the flock on "<dir>.flakebisect-lock" in dir's parent, which serialises the creation,
// opening and removal of the worktree at `dir` between processes. kBusy when another process holds
// it. The holder that removes the worktree unlinks the file while holding it; whoever then gets the
// lock on the unlinked file sees that the path names another file now, and tries again.
base::Result<base::UniqueFd> lock_creation(const fs::path& dir) {
  const fs::path lock_path = with_suffix(dir, kCreationLockSuffix);
  for (int attempt = 0; attempt < 8; ++attempt) {
    base::UniqueFd lock(
        ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
    if (!lock.valid()) {
      return base::os_error(lock_path, errno);
    }
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return make_error(ErrorCode::kBusy,
                          "{}: worktree is in use by another process (it holds {})", dir.native(),
                          lock_path.native());
      }
      return base::os_error(lock_path, errno);
    }
    struct stat held {};
    struct stat named {};
    if (::fstat(lock.get(), &held) != 0) {
      return base::os_error(lock_path, errno);
    }
    if (::lstat(lock_path.c_str(), &named) == 0 && named.st_dev == held.st_dev &&
        named.st_ino == held.st_ino) {
      return lock;
    }
  }
  return make_error(ErrorCode::kBusy, "{}: worktree is being created and removed by others",
                    dir.native());
}

// Makes "<git_dir>/shallow" a copy of the source repository's list of shallow clone boundary
// commits, or removes it when the source is a complete repository.
base::Status copy_shallow_file(const Repository& source, const fs::path& git_dir) {
  const fs::path from = fs::path(git_repository_commondir(source.raw())) / "shallow";
  const fs::path to = git_dir / "shallow";
  std::error_code ec;
  if (!fs::exists(from, ec)) {
    fs::remove(to, ec);
    return ec ? io_error(to, "remove", ec) : base::Status();
  }
  FB_ASSIGN_OR_RETURN(const std::string text, base::read_file(from.native(), size_t{256} << 20));
  auto current = base::read_file(to.native(), size_t{256} << 20);
  if (current && *current == text) {
    return {};
  }
  return base::write_file_atomic(to, text, 0644);
}

bool is_empty_directory(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

// Whether root/rel is a directory reached through directories only: no component of `rel` is a
// symbolic link (a tracked link to /somewhere, which the target replaces by a directory holding
// `rel`, must not lead the deletion below out of the worktree).
bool is_real_directory_inside(const fs::path& root, const fs::path& rel) {
  fs::path at = root;
  for (const fs::path& part : rel) {
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    at /= part;
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(at, ec)) || ec) {
      return false;
    }
  }
  return true;
}

// Deletes what git ignores under `rel` (a directory of the worktree, relative to `root`) and does
// not track, so that the directory can give way when the target tree has a file at its path.
// Tracked and untracked files are left to the checkout, which applies CheckoutOptions to them.
base::Status remove_ignored_under(git_repository* repo, git_index* index, const fs::path& root,
                                  const fs::path& rel) {
  std::error_code ec;
  for (fs::directory_iterator it(root / rel, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path child = rel / it->path().filename();
    const bool is_dir = it->is_directory(ec) && !it->is_symlink(ec);
    if (is_dir && git_index_find_prefix(nullptr, index, (child.native() + "/").c_str()) == 0) {
      FB_TRY(remove_ignored_under(repo, index, root, child));  // holds tracked files
      continue;
    }
    if (!is_dir && git_index_get_bypath(index, child.c_str(), 0) != nullptr) {
      continue;  // tracked
    }
    int ignored = 0;
    FB_TRY(check(git_ignore_path_is_ignored(&ignored, repo, child.c_str()),
                 fmt::format("is {} ignored", child.native())));
    if (ignored != 0) {
      fs::remove_all(root / child, ec);
      if (ec) {
        return io_error(root / child, "remove ignored", ec);
      }
    } else if (is_dir) {
      FB_TRY(remove_ignored_under(repo, index, root, child));
    }
  }
  if (ec) {
    return io_error(root / rel, "list directory", ec);
  }
  return {};
}

// libgit2 removes a directory that the target tree replaces by a file only when the directory
// holds nothing it must keep, and it keeps ignored files; the write of the file then fails ("Is a
// directory") on every try, with the tree half updated. `git checkout -f` treats ignored files
// as expendable there. Do the same, before the checkout: for every file of `tree` whose path is a
// directory in the worktree, delete the ignored files in that directory. The index says which
// paths may change (it lists what the last checkout wrote), so unchanged paths cost nothing.
base::Status clear_ignored_in_the_way(git_repository* repo, git_tree* tree, const fs::path& root) {
  git_index* index_raw = nullptr;
  FB_TRY(check(git_repository_index(&index_raw, repo), "index"));
  IndexHandle index(index_raw);
  git_diff* diff_raw = nullptr;
  // old: the target tree, new: the index.
  FB_TRY(check(git_diff_tree_to_index(&diff_raw, repo, tree, index.get(), nullptr), "diff index"));
  DiffHandle diff(diff_raw);
  const size_t count = git_diff_num_deltas(diff.get());
  for (size_t i = 0; i < count; ++i) {
    const git_diff_delta* delta = git_diff_get_delta(diff.get(), i);
    if (delta->status == GIT_DELTA_ADDED || delta->old_file.mode == GIT_FILEMODE_TREE) {
      continue;  // not in the target tree
    }
    const fs::path rel(delta->old_file.path);
    if (is_real_directory_inside(root, rel)) {
      FB_TRY(remove_ignored_under(repo, index.get(), root, rel));
    }
  }
  return {};
}

// Whether `name`, one component of a tree entry's path, names a child of its directory. A tree
// read from the repository may hold any name; libgit2's checkout refuses these ones, and the scan
// below must not follow them out of the worktree (".."), into a path of several components, or
// into the worktree's own .git first.
bool is_child_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return false;
  }
  return name.size() != 4 || !std::equal(name.begin(), name.end(), ".git", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// What a tree has at a path, as far as the checkout's writes are concerned.
enum class Kind { kNone, kDirectory, kFile, kLink, kSubmodule };

Kind kind_of(git_filemode_t mode) {
  switch (mode) {
    case GIT_FILEMODE_TREE:
      return Kind::kDirectory;
    case GIT_FILEMODE_LINK:
      return Kind::kLink;
    case GIT_FILEMODE_COMMIT:
      return Kind::kSubmodule;
    default:
      return Kind::kFile;
  }
}

Kind kind_at(git_tree* tree, const char* path) {
  git_tree_entry* raw = nullptr;
  if (tree == nullptr || git_tree_entry_bypath(&raw, tree, path) != 0) {
    return Kind::kNone;
  }
  const Handle<git_tree_entry, git_tree_entry_free> entry(raw);
  return kind_of(git_tree_entry_filemode(entry.get()));
}

// What unlink_links_in_the_way() carries through git_tree_walk.
struct LinkScan {
  std::string root;  // the worktree, with a trailing '/'
  std::string path;  // root + the entry's path: reused, a kernel tree has ~80k entries
  // The tree walked is the target, `other` the old one (HEAD's, the one libgit2 deletes from;
  // null before the first checkout); or, when `old_walk`, the reverse.
  git_tree* other = nullptr;
  bool old_walk = false;
  std::optional<base::Error> error;
};

// Returns 1 to skip a directory's entries (nothing of the worktree is below it), -1 to stop the
// walk on an error (in scan.error), 0 otherwise. The walk goes down from the worktree, so the
// directories above an entry are real ones by the time it is looked at.
int unlink_link_in_the_way(const char* dir, const git_tree_entry* entry, void* payload) {
  LinkScan& scan = *static_cast<LinkScan*>(payload);
  const Kind kind = kind_of(git_tree_entry_filemode(entry));
  if (scan.old_walk && kind != Kind::kDirectory) {
    return 0;  // libgit2 deletes a file with lstat and unlink, which do not follow a link
  }
  const char* name = git_tree_entry_name(entry);
  if (!is_child_name(name)) {
    return 1;  // the checkout fails on it, writing nothing there
  }
  scan.path.assign(scan.root).append(dir).append(name);
  struct stat st {};
  if (::lstat(scan.path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return 1;  // nothing there to write through
    }
    scan.error = make_error(ErrorCode::kIo, "{}: lstat: {}", scan.path, std::strerror(errno));
    return -1;
  }
  bool in_the_way = false;
  if (kind == Kind::kDirectory || kind == Kind::kSubmodule) {
    // Files are written or deleted below it: through a link to a directory, which libgit2 takes
    // for one. Anything else that is not a directory the checkout replaces by one itself.
    in_the_way = S_ISLNK(st.st_mode);
  } else if (kind == Kind::kFile) {
    // The file is opened with O_TRUNC and written: through a link, into the inode a hard link
    // shares, into a FIFO (blocking) or a device. A directory here is the checkout's to replace
    // (see clear_ignored_in_the_way()).
    in_the_way = S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1) ||
                 (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode));
  }
  // A link the tree has is made with symlink(2), which writes nothing through what is in its place.
  if (in_the_way) {
    const char* rel = scan.path.c_str() + scan.root.size();
    const Kind other = kind_at(scan.other, rel);
    // Unlinked, the path is missing, and libgit2 1.5 writes a missing path afresh only where the
    // old tree has the same kind of thing there, or nothing: it leaves a missing type-changed file
    // unwritten and fails on a missing type-changed directory. At a type change (a file becomes a
    // directory, a tracked link a file) it deletes what is there first, with lstat and unlink, so
    // that stays; except a link where the old tree has a directory and the target a file, which
    // it deletes without writing the file: that becomes an empty directory, which libgit2
    // replaces by the file. The old tree's walk deals only with the paths it alone has.
    // The same holds the other way: a link where the old tree has a directory and the target a
    // link is deleted and the target's link never written; as an empty directory it is replaced.
    const bool replace = scan.old_walk ? kind == Kind::kDirectory && other == Kind::kLink
                                       : kind == Kind::kFile && other == Kind::kDirectory;
    if (scan.old_walk ? other == Kind::kNone || replace
                      : (other == Kind::kNone || other == kind || replace)) {
      if (::unlink(scan.path.c_str()) != 0 && errno != ENOENT) {
        scan.error = make_error(ErrorCode::kIo, "{}: unlink: {}", scan.path, std::strerror(errno));
        return -1;
      }
      if (replace && ::mkdir(scan.path.c_str(), 0755) != 0) {
        scan.error = make_error(ErrorCode::kIo, "{}: mkdir: {}", scan.path, std::strerror(errno));
        return -1;
      }
    }
  }
  return kind == Kind::kDirectory && (in_the_way || !S_ISDIR(st.st_mode)) ? 1 : 0;
}

base::Status walk_for_links(git_tree* tree, LinkScan& scan) {
  const int rc = git_tree_walk(tree, GIT_TREEWALK_PRE, unlink_link_in_the_way, &scan);
  if (scan.error) {
    return std::move(*scan.error);
  }
  return check(rc, "look for links in the way");
}

// Makes sure that the checkout of `tree` writes and deletes nothing outside the worktree. libgit2
// 1.5 writes a file by opening its path with O_TRUNC, makes the directories above it with a mkdir
// that accepts a link to a directory, and deletes the old tree's (HEAD's) files by their paths: a
// link that a test or build left where a tree has a file or directory (ln -sf
// "$FLAKEBISECT_REPO/x" x) would lead it to rewrite or delete the user's own files, and a hard
// link to rewrite a shared inode. `git checkout -f` replaces them; so does this, before the
// checkout: it walks `tree`, unlinking a link in place of one of its directories and a link, hard
// link or other non-file in place of one of its files, then walks the old tree, unlinking a link
// in place of a directory that `tree` lacks. Links the trees have stay, and so does build output
// (paths no tree has, ccache's hard links included). Costs an lstat per file of `tree` and per
// directory of both: 130 ms for 80k files in 5k directories, of the 370 ms a no-op checkout takes.
base::Status unlink_links_in_the_way(git_repository* repo, git_tree* tree, const fs::path& root) {
  LinkScan scan;
  scan.root = root.native() + "/";
  TreeHandle old_tree;
  git_oid head;
  const int rc = git_reference_name_to_id(&head, repo, "HEAD");
  if (rc != GIT_ENOTFOUND && rc != GIT_EUNBORNBRANCH) {  // else the first checkout
    FB_TRY(check(rc, "HEAD"));
    FB_ASSIGN_OR_RETURN(const CommitHandle commit, lookup_commit(repo, head));
    git_tree* old_raw = nullptr;
    FB_TRY(check(git_commit_tree(&old_raw, commit.get()), "HEAD's tree"));
    old_tree.reset(old_raw);
  }
  scan.other = old_tree.get();
  FB_TRY(walk_for_links(tree, scan));
  if (old_tree == nullptr) {
    return {};
  }
  scan.other = tree;
  scan.old_walk = true;
  return walk_for_links(old_tree.get(), scan);
}

// Git's rename detection defaults for a merge (merge.renameLimit unset), fixed so that the user's
// git config cannot change which commit make_revert() makes.
constexpr unsigned int kRenameThreshold = 50;  // percent similar
constexpr unsigned int kRenameLimit = 7000;    // candidate files

// Before writing an object, libgit2 "freshens" a copy that already exists: it sets the mtime of the
// loose object file or pack holding it, in whichever backend has it, alternates included; when
// that fails (a repository the user may only read) it writes a copy of its own. A revert writes
// every tree of the result (libgit2 1.5 builds the index without a tree cache), nearly all of which
// the user's repository holds: freshening would touch the user's packs and loose objects on each
// revert, or copy thousands of trees into the worktree where the user's repository is read-only.
// Without a freshen callback libgit2 asks the backends whether the object exists instead, and
// writes only the new ones, to the first backend that is not an alternate: our own loose objects.
base::Status write_without_freshening(git_repository* repo) {
  git_odb* odb_raw = nullptr;
  FB_TRY(check(git_repository_odb(&odb_raw, repo), "object database"));
  const Handle<git_odb, git_odb_free> odb(odb_raw);
  const size_t count = git_odb_num_backends(odb.get());
  for (size_t i = 0; i < count; ++i) {
    git_odb_backend* backend = nullptr;
    FB_TRY(check(git_odb_get_backend(&backend, odb.get(), i), "object database backend"));
    backend->freshen = nullptr;
  }
  return {};
}

// The subject `git revert` quotes: the first line of the message after any blank lines, as git's
// find_commit_subject() takes it (libgit2's git_commit_summary() joins a multi-line first
// paragraph instead).
std::string_view revert_subject(std::string_view message) {
  while (!message.empty()) {
    const size_t eol = message.find('\n');
    const std::string_view line = message.substr(0, eol);
    if (std::any_of(line.begin(), line.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)) == 0; })) {
      return line;
    }
    if (eol == std::string_view::npos) {
      break;
    }
    message.remove_prefix(eol + 1);
  }
  return {};
}

// The conflicting paths of `index`, sorted, each once.
base::Result<std::vector<std::string>> conflict_paths(git_index* index) {
  git_index_conflict_iterator* iterator_raw = nullptr;
  FB_TRY(check(git_index_conflict_iterator_new(&iterator_raw, index), "list conflicts"));
  const Handle<git_index_conflict_iterator, git_index_conflict_iterator_free> iterator(
      iterator_raw);
  std::vector<std::string> paths;
  const git_index_entry* ancestor = nullptr;
  const git_index_entry* ours = nullptr;
  const git_index_entry* theirs = nullptr;
  int rc = 0;
  while ((rc = git_index_conflict_next(&ancestor, &ours, &theirs, iterator.get())) == 0) {
    // A side that deleted the file has no entry; a rename gives each side's path.
    for (const git_index_entry* entry : {ancestor, ours, theirs}) {
      if (entry != nullptr) {
        paths.emplace_back(entry->path);
      }
    }
  }
  if (rc != GIT_ITEROVER) {
    return libgit2_error(rc, "list conflicts");
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

enum class Apply { kRevert, kCherryPick };

// Worktree::make_revert() and make_cherry_pick() without the context their errors get there.
base::Result<RevertCommit> apply_commit(git_repository* repo, Apply kind,
                                        std::string_view culprit_sha, std::string_view onto_sha) {
  const bool revert = kind == Apply::kRevert;
  FB_ASSIGN_OR_RETURN(const git_oid culprit_oid, parse_sha(culprit_sha));
  FB_ASSIGN_OR_RETURN(const git_oid onto_oid, parse_sha(onto_sha));
  FB_ASSIGN_OR_RETURN(const CommitHandle culprit, lookup_commit(repo, culprit_oid));
  FB_ASSIGN_OR_RETURN(const CommitHandle onto, lookup_commit(repo, onto_oid));
  const unsigned int parents = git_commit_parentcount(culprit.get());
  if (parents == 0) {
    return make_error(
        ErrorCode::kInvalidInput, "{} is a root commit: it has no parent to {}",
        to_hex(culprit_oid),
        revert ? "revert to" : "take its change from (git cherry-pick would add every file)");
  }
  FB_TRY(write_without_freshening(repo));

  git_merge_options merge_options;
  FB_TRY(check(git_merge_options_init(&merge_options, GIT_MERGE_OPTIONS_VERSION), "merge options"));
  merge_options.flags = GIT_MERGE_FIND_RENAMES;
  merge_options.rename_threshold = kRenameThreshold;
  merge_options.target_limit = kRenameLimit;
  // Mainline 1 (`git revert -m 1`, `git cherry-pick -m 1`): a merge is undone or applied against
  // its first parent, the branch it was merged into. libgit2 refuses a mainline for a commit that
  // is not a merge.
  const unsigned int mainline = parents > 1 ? 1 : 0;
  git_index* index_raw = nullptr;
  // In memory: the worktree's own index (what checkout() wrote) stays as it is.
  FB_TRY(check(revert ? git_revert_commit(&index_raw, repo, culprit.get(), onto.get(), mainline,
                                          &merge_options)
                      : git_cherrypick_commit(&index_raw, repo, culprit.get(), onto.get(), mainline,
                                              &merge_options),
               "merge"));
  const IndexHandle index(index_raw);
  if (git_index_has_conflicts(index.get()) != 0) {
    RevertCommit conflicted;
    FB_ASSIGN_OR_RETURN(conflicted.conflicts, conflict_paths(index.get()));
    return conflicted;
  }

  git_oid tree_oid;
  FB_TRY(check(git_index_write_tree_to(&tree_oid, index.get(), repo), "write tree"));
  git_tree* tree_raw = nullptr;
  FB_TRY(check(git_tree_lookup(&tree_raw, repo, &tree_oid), "read written tree"));
  const TreeHandle tree(tree_raw);

  const git_signature* onto_committer = git_commit_committer(onto.get());
  git_signature* signature_raw = nullptr;
  FB_TRY(check(git_signature_new(&signature_raw, std::string(kRevertAuthorName).c_str(),
                                 std::string(kRevertAuthorEmail).c_str(), onto_committer->when.time,
                                 onto_committer->when.offset),
               "signature"));
  const SignatureHandle signature(signature_raw);

  // git writes its commit in UTF-8 (i18n.commitEncoding's default, no encoding header): a culprit
  // in another charset is read in UTF-8 first, its message and for a cherry-pick its author too.
  const char* encoding = git_commit_message_encoding(culprit.get());
  const char* culprit_message = git_commit_message(culprit.get());
  const std::string original_text =
      commit_text_utf8(culprit_message != nullptr ? culprit_message : "", encoding);
  const std::string_view original = original_text;
  std::string message;
  if (revert) {
    message = fmt::format("Revert \"{}\"\n\nThis reverts commit {}", revert_subject(original),
                          to_hex(culprit_oid));
    if (parents > 1) {
      message += fmt::format(", reversing\nchanges made to {}",
                             to_hex(*git_commit_parent_id(culprit.get(), 0)));
    }
    message += ".\n";
  } else {
    // `git cherry-pick -x`: the message as it was, then where it came from; right below a
    // closing trailer block (Signed-off-by: and the like, as nearly every kernel commit has),
    // after a blank line otherwise.
    std::string_view body = original;
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back())) != 0) {
      body.remove_suffix(1);
    }
    git_message_trailer_array trailers{};
    const std::string text(body);
    const bool footer = git_message_trailers(&trailers, text.c_str()) == 0 && trailers.count > 0;
    git_message_trailer_array_free(&trailers);
    message = fmt::format("{}\n{}(cherry picked from commit {})\n", body, footer ? "" : "\n",
                          to_hex(culprit_oid));
  }

  git_oid commit_oid;
  const git_commit* commit_parents[] = {onto.get()};
  // A cherry-pick keeps its author, as git's does; the committer is fixed either way.
  const git_signature* author = revert ? signature.get() : git_commit_author(culprit.get());
  SignatureHandle author_utf8;
  if (!revert && author != nullptr && author->name != nullptr && author->email != nullptr) {
    // git re-encodes the whole commit, the author's name and address included.
    const std::string name = commit_text_utf8(author->name, encoding);
    const std::string email = commit_text_utf8(author->email, encoding);
    // libgit2 refuses an empty name or address, which git writes as it is: such an author keeps
    // its bytes.
    if ((name != author->name || email != author->email) && !name.empty() && !email.empty()) {
      git_signature* raw = nullptr;
      FB_TRY(check(git_signature_new(&raw, name.c_str(), email.c_str(), author->when.time,
                                     author->when.offset),
                   "signature"));
      author_utf8.reset(raw);
      author = author_utf8.get();
    }
  }
  // update_ref nullptr: no ref moves, HEAD included; the commit is reachable only by its SHA.
  FB_TRY(check(git_commit_create(&commit_oid, repo, nullptr, author, signature.get(), nullptr,
                                 message.c_str(), tree.get(), 1, commit_parents),
               "write commit"));
  RevertCommit made;
  made.sha = to_hex(commit_oid);
  made.tree_id = to_hex(tree_oid);
  return made;
}

}  // namespace

Worktree::Worktree(Repository repo, fs::path path, base::UniqueFd lock)
    : repo_(std::move(repo)), path_(std::move(path)), lock_(std::move(lock)) {}

base::Result<Worktree> Worktree::open_or_create(const fs::path& repo_path, const fs::path& dir) {
  init_libgit2();
  FB_ASSIGN_OR_RETURN(Repository source, Repository::open(repo_path));
  // Its checkouts would fail on the first missing blob, halfway through writing the files.
  FB_TRY(source.check_not_partial());
  std::error_code ec;
  const fs::path objects = fs::weakly_canonical(source.objects_dir(), ec);
  if (ec) {
    return io_error(source.objects_dir(), "resolve path", ec);
  }
  const std::string& objects_dir = objects.native();
  if (objects_dir.find('\n') != std::string::npos) {
    return make_error(ErrorCode::kInvalidInput,
                      "{}: repository path contains a newline, which git alternates cannot hold",
                      source.path().native());
  }
  const fs::path path = fs::absolute(dir, ec);
  if (ec || dir.empty() || path.native().find('\0') != std::string::npos) {
    return make_error(ErrorCode::kInvalidInput, "'{}': invalid worktree path", dir.native());
  }
  std::error_code ec_dir, ec_source;
  const fs::path canonical_dir = fs::weakly_canonical(path, ec_dir);
  const fs::path canonical_source = fs::weakly_canonical(source.path(), ec_source);
  if (!ec_dir && !ec_source && canonical_dir == canonical_source) {
    return make_error(
        ErrorCode::kInvalidInput,
        "{}: is the repository's own checkout; a worktree must be a separate directory",
        path.native());
  }

  // Whoever holds this lock alone checks, creates and locks `dir`: a second process never sees or
  // deletes the first one's half-built staging directory, and finds the finished worktree (locked:
  // kBusy) or none.
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return io_error(path.parent_path(), "create directory", ec);
  }
  FB_ASSIGN_OR_RETURN(const base::UniqueFd creation_lock, lock_creation(path));
  // A directory that is not ours keeps nothing of ours beside it either. Unlinked while held: see
  // lock_creation().
  const auto refuse = [&path](base::Error error) -> base::Error {
    std::error_code ignored;
    fs::remove(with_suffix(path, kCreationLockSuffix), ignored);
    return error;
  };

  const fs::path git_dir = path / ".git";
  if (fs::exists(git_dir, ec)) {
    auto marker = base::read_file(git_dir / kMarkerFile, 64 << 10);
    if (!marker) {
      return refuse(make_error(
          ErrorCode::kInvalidInput,
          "{}: is a git checkout not created by flakebisect; refusing to use it", path.native()));
    }
    if (*marker != objects_dir + "\n") {
      std::string owner = *marker;
      if (!owner.empty() && owner.back() == '\n') {
        owner.pop_back();
      }
      return refuse(make_error(ErrorCode::kInvalidInput,
                               "{}: worktree belongs to another repository (objects at {}); "
                               "if no bisection of it is paused (before 2026-11-27 stores side "
                               "by side shared their worktrees), remove the directory",
                               path.native(), owner));
    }
  } else if (fs::exists(path, ec) && !is_empty_directory(path)) {
    return refuse(make_error(ErrorCode::kInvalidInput,
                             "{}: exists and is not a flakebisect worktree (no .git: did the "
                             "build or test delete it?); refusing to use it: remove the "
                             "directory, and flakebisect checks the commit out there again",
                             path.native()));
  } else {
    // Build the repository beside `path` and rename it into place, so `path` never holds half a
    // worktree. A leftover staging directory is from a crashed creation of this same worktree (a
    // live one would hold the creation lock).
    const fs::path staging = with_suffix(path, kStagingSuffix);
    fs::remove_all(staging, ec);
    if (ec) {
      return io_error(staging, "remove leftover", ec);
    }
    if (auto created = create_repository(staging, objects_dir); !created) {
      return std::move(created).error().context(fmt::format("create worktree {}", path.native()));
    }
    // rename(2) replaces `path` if it is an empty directory, atomically.
    if (::rename(staging.c_str(), path.c_str()) != 0) {
      const int err = errno;
      fs::remove_all(staging, ec);
      return make_error(ErrorCode::kIo, "{}: create worktree: {}", path.native(),
                        std::strerror(err));
    }
  }

  const fs::path lock_path = git_dir / kLockFile;
  base::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) {
    return base::os_error(lock_path, errno);
  }
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(ErrorCode::kBusy, "{}: worktree is in use by another process",
                        path.native());
    }
    return base::os_error(lock_path, errno);
  }
  // git in the worktree (build scripts: the kernel's setlocalversion) must know where a shallow
  // clone's history ends, or it fails reading the parents it lacks; libgit2 here never walks.
  if (auto synced = copy_shallow_file(source, git_dir); !synced) {
    return std::move(synced).error().context(fmt::format("worktree {}", path.native()));
  }
  // Every open, not only a creation: a worktree made before the rule keeps its own builds too.
  if (auto excluded = base::read_file(git_dir / "info" / "exclude", 64 << 10);
      !excluded || *excluded != kPrivateExclude) {
    FB_TRY(
        base::write_file_atomic(git_dir / "info" / "exclude", std::string(kPrivateExclude), 0644));
  }
  for (const char* name : kStaleLocks) {
    fs::remove(git_dir / name, ec);
    if (ec) {
      return io_error(git_dir / name, "remove stale lock", ec);
    }
  }
  FB_ASSIGN_OR_RETURN(Repository repo, Repository::open(path));
  return Worktree(std::move(repo), path, std::move(lock));
}

base::Status Worktree::remove(const fs::path& dir) {
  std::error_code ec;
  const fs::path path = fs::absolute(dir, ec);
  if (ec || dir.empty()) {
    return make_error(ErrorCode::kInvalidInput, "'{}': invalid worktree path", dir.native());
  }
  if (!fs::exists(path.parent_path(), ec)) {
    return {};  // nothing there, not even a lock file
  }
  FB_ASSIGN_OR_RETURN(const base::UniqueFd creation_lock, lock_creation(path));
  const fs::path lock_path = path / ".git" / kLockFile;
  base::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (lock.valid() && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(ErrorCode::kBusy, "{}: worktree is in use by another process",
                        path.native());
    }
    return base::os_error(lock_path, errno);
  }
  for (const fs::path& doomed : {path, with_suffix(path, kStagingSuffix)}) {
    fs::remove_all(doomed, ec);
    if (ec) {
      return io_error(doomed, "remove", ec);
    }
  }
  // Unlinked while held: see lock_creation().
  const fs::path creation_lock_path = with_suffix(path, kCreationLockSuffix);
  if (::unlink(creation_lock_path.c_str()) != 0 && errno != ENOENT) {
    return base::os_error(creation_lock_path, errno);
  }
  return {};
}

base::Status Worktree::checkout(std::string_view sha, CheckoutOptions options) {
  const auto context = [&](base::Error error) {
    return std::move(error).context(fmt::format("checkout {} in {}", sha, path_.native()));
  };
  auto oid = parse_sha(sha);
  if (!oid) {
    return context(std::move(oid).error());
  }
  auto commit = lookup_commit(repo_.raw(), *oid);
  if (!commit) {
    return context(std::move(commit).error());
  }

  git_object* tree_raw = nullptr;
  if (int rc = git_object_lookup(&tree_raw, repo_.raw(), git_commit_tree_id(commit->get()),
                                 GIT_OBJECT_TREE);
      rc < 0) {
    return context(libgit2_error(rc, "tree"));
  }
  ObjectHandle tree(tree_raw);

  if (auto cleared =
          clear_ignored_in_the_way(repo_.raw(), reinterpret_cast<git_tree*>(tree.get()), path_);
      !cleared) {
    return context(std::move(cleared).error());
  }

  if (auto unlinked =
          unlink_links_in_the_way(repo_.raw(), reinterpret_cast<git_tree*>(tree.get()), path_);
      !unlinked) {
    return context(std::move(unlinked).error());
  }

  git_checkout_options checkout;
  if (int rc = git_checkout_options_init(&checkout, GIT_CHECKOUT_OPTIONS_VERSION); rc < 0) {
    return context(libgit2_error(rc, "checkout options"));
  }
  // FORCE: the target wins over local modifications (this directory is ours alone). libgit2 still
  // skips files whose stat data and content already match, which keeps their mtimes.
  checkout.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (options.remove_untracked) {
    checkout.checkout_strategy |= GIT_CHECKOUT_REMOVE_UNTRACKED;
  }
  if (int rc = git_checkout_tree(repo_.raw(), tree.get(), &checkout); rc < 0) {
    return context(libgit2_error(rc, "write files"));
  }
  // HEAD moves after the files: a crash in between leaves HEAD at the old commit, and the next
  // forced checkout compares against the files and index as they are, so nothing is lost.
  if (int rc = git_repository_set_head_detached(repo_.raw(), &*oid); rc < 0) {
    return context(libgit2_error(rc, "detach HEAD"));
  }
  return {};
}

base::Result<std::string> Worktree::head() const {
  git_oid oid;
  int rc = git_reference_name_to_id(&oid, repo_.raw(), "HEAD");
  if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
    return make_error(ErrorCode::kNotFound, "{}: no commit checked out yet", path_.native());
  }
  if (rc < 0) {
    return libgit2_error(rc, fmt::format("{}: HEAD", path_.native()));
  }
  return to_hex(oid);
}

base::Result<RevertCommit> Worktree::make_revert(std::string_view culprit, std::string_view onto) {
  auto made = apply_commit(repo_.raw(), Apply::kRevert, culprit, onto);
  if (!made) {
    return std::move(made).error().context(fmt::format(
        "revert {} onto {} in {}", culprit.substr(0, 12), onto.substr(0, 12), path_.native()));
  }
  return made;
}

base::Result<RevertCommit> Worktree::make_cherry_pick(std::string_view commit,
                                                      std::string_view onto) {
  auto made = apply_commit(repo_.raw(), Apply::kCherryPick, commit, onto);
  if (!made) {
    return std::move(made).error().context(fmt::format(
        "cherry-pick {} onto {} in {}", commit.substr(0, 12), onto.substr(0, 12), path_.native()));
  }
  return made;
}

}  // namespace flakebisect::git
