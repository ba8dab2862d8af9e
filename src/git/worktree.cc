#include "git/worktree.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "base/paths.h"
#include "git/libgit2.h"

namespace flakebisect::git {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using base::make_error;

constexpr const char* kMarkerFile = "flakebisect-worktree";  // in .git: the borrowed objects dir
constexpr const char* kLockFile = "flakebisect.lock";        // in .git: the flock
constexpr const char* kStagingSuffix = ".flakebisect-new";
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

bool is_empty_directory(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

}  // namespace

Worktree::Worktree(Repository repo, fs::path path, base::UniqueFd lock)
    : repo_(std::move(repo)), path_(std::move(path)), lock_(std::move(lock)) {}

base::Result<Worktree> Worktree::open_or_create(const fs::path& repo_path, const fs::path& dir) {
  init_libgit2();
  FB_ASSIGN_OR_RETURN(Repository source, Repository::open(repo_path));
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

  const fs::path git_dir = path / ".git";
  if (fs::exists(git_dir, ec)) {
    auto marker = base::read_file(git_dir / kMarkerFile, 64 << 10);
    if (!marker) {
      return make_error(ErrorCode::kInvalidInput,
                        "{}: is a git checkout not created by flakebisect; refusing to use it",
                        path.native());
    }
    if (*marker != objects_dir + "\n") {
      std::string owner = *marker;
      if (!owner.empty() && owner.back() == '\n') {
        owner.pop_back();
      }
      return make_error(ErrorCode::kInvalidInput,
                        "{}: worktree belongs to another repository (objects at {})", path.native(),
                        owner);
    }
  } else if (fs::exists(path, ec) && !is_empty_directory(path)) {
    return make_error(ErrorCode::kInvalidInput,
                      "{}: exists and is not a flakebisect worktree; refusing to use it",
                      path.native());
  } else {
    // Build the repository beside `path` and rename it into place, so `path` never holds half a
    // worktree. A leftover staging directory is from a crashed creation of this same worktree.
    fs::path staging = path;
    staging += kStagingSuffix;
    fs::remove_all(staging, ec);
    if (ec) {
      return io_error(staging, "remove leftover", ec);
    }
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return io_error(path.parent_path(), "create directory", ec);
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
  for (const char* name : kStaleLocks) {
    fs::remove(git_dir / name, ec);
    if (ec) {
      return io_error(git_dir / name, "remove stale lock", ec);
    }
  }
  FB_ASSIGN_OR_RETURN(Repository repo, Repository::open(path));
  return Worktree(std::move(repo), path, std::move(lock));
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

}  // namespace flakebisect::git
