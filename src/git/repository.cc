#include "git/repository.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "git/libgit2.h"
#include "git/shallow.h"

namespace flakebisect::git {
namespace {

using base::ErrorCode;
using base::make_error;

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// "a/b/" -> "a/b": libgit2 reports directories with a trailing slash.
std::filesystem::path without_trailing_slash(const char* dir) {
  std::filesystem::path path(dir);
  if (!path.has_filename() && path.has_parent_path()) {
    path = path.parent_path();
  }
  return path;
}

Signature to_signature(const git_signature* sig) {
  Signature out;
  if (sig == nullptr) {
    return out;
  }
  out.name = sig->name != nullptr ? sig->name : "";
  out.email = sig->email != nullptr ? sig->email : "";
  out.time = static_cast<int64_t>(sig->when.time);
  out.offset_minutes = sig->when.offset;
  return out;
}

// Appends to `out` every object whose id starts with `prefix` (hex digits, at least
// GIT_OID_MINPREFIXLEN): libgit2 answers "unique", "none" or "ambiguous" for a prefix, so an
// ambiguous one is split into its 16 one-digit-longer prefixes. Each step is an index lookup.
base::Status objects_with_prefix(git_odb* odb, std::string& prefix, std::vector<git_oid>& out) {
  git_oid short_id;
  if (int rc = git_oid_fromstrn(&short_id, prefix.data(), prefix.size()); rc < 0) {
    return libgit2_error(rc, fmt::format("object id prefix {}", prefix));
  }
  git_oid full;
  int rc = git_odb_exists_prefix(&full, odb, &short_id, prefix.size());
  if (rc == 0) {
    out.push_back(full);
    return {};
  }
  if (rc == GIT_ENOTFOUND) {
    return {};
  }
  if (rc != GIT_EAMBIGUOUS || prefix.size() >= GIT_OID_HEXSZ) {
    return libgit2_error(rc, fmt::format("objects starting with {}", prefix));
  }
  for (char digit : std::string_view("0123456789abcdef")) {
    prefix.push_back(digit);
    base::Status found = objects_with_prefix(odb, prefix, out);
    prefix.pop_back();
    FB_TRY(std::move(found));
  }
  return {};
}

// git_revparse_single() gave up on `rev` as ambiguous. When `rev` is a short SHA, possibly followed
// by ^ or ~ suffixes ("1a2b", "1a2b^{commit}", "1a2b~3"), the caller wants a commit, so resolve the
// short SHA among commit-ish objects only (commits, and tags of commits), the way
// `git rev-parse --verify 1a2b^{commit}` and `git bisect start` do. Returns `rev` with the short
// SHA replaced by the full SHA of the only such commit; otherwise the error names the candidates.
base::Result<std::string> disambiguate_commitish(git_repository* repo, std::string_view rev,
                                                 const base::Error& detail) {
  size_t hex = 0;
  while (hex < rev.size() && std::isxdigit(static_cast<unsigned char>(rev[hex])) != 0) {
    ++hex;
  }
  const bool hex_name = hex == rev.size() || rev[hex] == '^' || rev[hex] == '~';
  if (hex_name && hex < GIT_OID_MINPREFIXLEN) {
    // libgit2 reads a missing name of 1-3 hex digits ("bad", "c1" a shallow clone lacks) as an
    // abbreviation too short to look up; it names nothing here, as "deadbeef" does not.
    return make_error(ErrorCode::kNotFound, "unknown revision '{}'", rev);
  }
  const bool short_sha = hex >= GIT_OID_MINPREFIXLEN && hex < GIT_OID_HEXSZ && hex_name;
  if (!short_sha) {
    return make_error(ErrorCode::kInvalidInput, "ambiguous revision '{}' ({})", rev,
                      detail.message());
  }
  git_odb* odb_raw = nullptr;
  FB_TRY(check(git_repository_odb(&odb_raw, repo), "object database"));
  const Handle<git_odb, git_odb_free> odb(odb_raw);
  std::string prefix(rev.substr(0, hex));
  for (char& c : prefix) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<git_oid> objects;
  FB_TRY(objects_with_prefix(odb.get(), prefix, objects));

  std::vector<std::pair<std::string, std::string>> commits;  // (full SHA, subject), no repeats
  for (const git_oid& oid : objects) {
    git_object* object_raw = nullptr;
    if (git_object_lookup(&object_raw, repo, &oid, GIT_OBJECT_ANY) < 0) {
      continue;
    }
    const ObjectHandle object(object_raw);
    git_object* peeled_raw = nullptr;
    if (git_object_peel(&peeled_raw, object.get(), GIT_OBJECT_COMMIT) < 0) {
      continue;  // a tree, a blob, or a tag of one
    }
    const ObjectHandle peeled(peeled_raw);
    std::string sha = to_hex(*git_object_id(peeled.get()));
    const char* summary = git_commit_summary(reinterpret_cast<git_commit*>(peeled.get()));
    if (std::none_of(commits.begin(), commits.end(),
                     [&](const auto& commit) { return commit.first == sha; })) {
      commits.emplace_back(std::move(sha), summary != nullptr ? summary : "");
    }
  }
  if (commits.size() == 1) {
    return commits.front().first + std::string(rev.substr(hex));
  }
  if (commits.empty()) {
    return make_error(ErrorCode::kInvalidInput,
                      "ambiguous revision '{}': {} objects start with {}, none of them a commit",
                      rev, objects.size(), prefix);
  }
  std::sort(commits.begin(), commits.end());
  constexpr size_t kListed = 10;
  std::string listed;
  for (size_t i = 0; i < commits.size() && i < kListed; ++i) {
    listed += fmt::format("{}{} ({})", i == 0 ? "" : ", ", commits[i].first.substr(0, 12),
                          commits[i].second);
  }
  if (commits.size() > kListed) {
    listed += fmt::format(" and {} more", commits.size() - kListed);
  }
  return make_error(ErrorCode::kInvalidInput,
                    "ambiguous revision '{}': it could be any of the commits {}; give more digits",
                    rev, listed);
}

}  // namespace

void Repository::Free::operator()(git_repository* repo) const { git_repository_free(repo); }

Repository::Repository(std::unique_ptr<git_repository, Free> repo, std::filesystem::path path)
    : repo_(std::move(repo)), path_(std::move(path)) {}
Repository::Repository(Repository&&) noexcept = default;
Repository& Repository::operator=(Repository&&) noexcept = default;
Repository::~Repository() = default;

base::Result<Repository> Repository::open(const std::filesystem::path& path) {
  init_libgit2();
  if (path.empty() || has_nul(path.native())) {
    return make_error(ErrorCode::kInvalidInput, "'{}': not a git repository", path.native());
  }
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, path.c_str(), 0, nullptr);
  const git_error* refused = rc < 0 ? git_error_last() : nullptr;
  if (rc == GIT_EOWNER ||
      (refused != nullptr && refused->message != nullptr &&
       std::string_view(refused->message).find("safe.directory") != std::string_view::npos)) {
    // Git's own check (CVE-2022-24765): a repository another user owns is not trusted. libgit2
    // 1.5 reports it as a missing safe.directory value rather than as GIT_EOWNER.
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    std::string dir = ec ? path.native() : absolute.lexically_normal().native();
    if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    std::string quoted = "'";  // for a shell: 'it'\''s'
    for (const char c : dir) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    return make_error(ErrorCode::kFailed,
                      "{}: dubious ownership: another user owns this repository, and git trusts "
                      "it only once told to: git config --global --add safe.directory {} (its "
                      "top-level directory, if this is below it)",
                      path.native(), quoted);
  }
  if (rc < 0) {
    const git_error* last = git_error_last();
    const std::string detail =
        last != nullptr && last->message != nullptr ? last->message : "libgit2";
    if (rc == GIT_ENOTFOUND) {
      return make_error(ErrorCode::kNotFound, "{}: not a git repository ({})", path.native(),
                        detail);
    }
    // Found, but not readable: a configuration file this user cannot read ($HOME another
    // user's, as under `sudo -u` without -H), a damaged .git, missing permissions.
    return make_error(ErrorCode::kFailed, "{}: cannot open the git repository: {}{}", path.native(),
                      detail,
                      detail.find(".gitconfig") != std::string::npos
                          ? " (is $HOME another user's home, as under sudo -u without -H?)"
                          : "");
  }
  std::unique_ptr<git_repository, Free> repo(raw);
  const char* workdir = git_repository_workdir(raw);
  std::filesystem::path root =
      without_trailing_slash(workdir != nullptr ? workdir : git_repository_path(raw));
  return Repository(std::move(repo), std::move(root));
}

std::filesystem::path Repository::objects_dir() const {
  return without_trailing_slash(git_repository_commondir(repo_.get())) / "objects";
}

base::Result<std::string> Repository::resolve(std::string_view rev) const {
  if (rev.empty() || has_nul(rev)) {
    return make_error(ErrorCode::kInvalidInput, "invalid revision '{}'", rev);
  }
  std::string spec(rev);
  git_object* raw = nullptr;
  int rc = git_revparse_single(&raw, repo_.get(), spec.c_str());
  if (rc == GIT_EAMBIGUOUS) {
    FB_ASSIGN_OR_RETURN(spec, disambiguate_commitish(repo_.get(), rev, libgit2_error(rc, "")));
    rc = git_revparse_single(&raw, repo_.get(), spec.c_str());
  }
  if (rc < 0) {
    base::Error detail = libgit2_error(rc, "");
    switch (rc) {
      case GIT_ENOTFOUND:
      case GIT_EUNBORNBRANCH:
        // "HEAD~10" in a shallow clone: the name is fine, the history stops short of it.
        if (rev.find_first_of("~^") != std::string_view::npos &&
            git_repository_is_shallow(repo_.get()) == 1) {
          return make_error(ErrorCode::kNotFound,
                            "unknown revision '{}': this is a shallow clone, whose history may "
                            "stop before it; `git fetch --unshallow` (or `git fetch "
                            "--deepen=<n>`) fetches the rest",
                            rev);
        }
        return make_error(ErrorCode::kNotFound, "unknown revision '{}'", rev);
      case GIT_EAMBIGUOUS:
        return make_error(ErrorCode::kInvalidInput, "ambiguous revision '{}' ({})", rev,
                          detail.message());
      case GIT_EINVALIDSPEC:
        return make_error(ErrorCode::kInvalidInput, "invalid revision '{}' ({})", rev,
                          detail.message());
      default:
        return std::move(detail).context(fmt::format("revision '{}'", rev));
    }
  }
  ObjectHandle object(raw);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) < 0) {
    // Name what it is instead: a tree, a blob, or (through tags) one of those.
    git_object_t type = git_object_type(object.get());
    if (type == GIT_OBJECT_TAG) {
      git_object* target = nullptr;
      // GIT_OBJECT_ANY peels tags until the type is no longer a tag.
      if (git_object_peel(&target, object.get(), GIT_OBJECT_ANY) >= 0) {
        type = git_object_type(target);
        git_object_free(target);
      }
    }
    return make_error(ErrorCode::kInvalidInput, "revision '{}' is a {}, not a commit", rev,
                      git_object_type2string(type));
  }
  ObjectHandle commit(peeled);
  warn_if_ambiguous_name(rev);
  return to_hex(*git_object_id(commit.get()));
}

void Repository::warn_if_ambiguous_name(std::string_view rev) const {
  // git rev-parse's "refname 'x' is ambiguous": a tag and a branch of one name (git and libgit2
  // both take the first in this order, the tag before the branch).
  if (rev.find_first_of("~^:@{}") != std::string_view::npos) return;
  const std::string name(rev);
  std::vector<std::string> found;
  for (const std::string& full : {"refs/" + name, "refs/tags/" + name, "refs/heads/" + name,
                                  "refs/remotes/" + name, "refs/remotes/" + name + "/HEAD"}) {
    git_reference* ref = nullptr;
    if (git_reference_lookup(&ref, repo_.get(), full.c_str()) == 0) {
      found.push_back(full);
      git_reference_free(ref);
    }
  }
  if (found.size() > 1) {
    spdlog::warn("revision '{}' is ambiguous ({}); using {}, as git does", rev,
                 fmt::join(found, ", "), found.front());
  }
}

base::Result<bool> Repository::is_ancestor(std::string_view ancestor,
                                           std::string_view descendant) const {
  FB_ASSIGN_OR_RETURN(git_oid ancestor_oid, parse_sha(ancestor));
  FB_ASSIGN_OR_RETURN(git_oid descendant_oid, parse_sha(descendant));
  FB_ASSIGN_OR_RETURN(const ShallowBoundary shallow, ShallowBoundary::read(repo_.get()));
  if (!shallow.empty()) {
    return shallow.is_ancestor(repo_.get(), path_, ancestor_oid, descendant_oid);
  }
  int rc = git_graph_descendant_of(repo_.get(), &descendant_oid, &ancestor_oid);
  if (rc < 0) {
    return libgit2_error(rc, fmt::format("is {} an ancestor of {}", ancestor, descendant));
  }
  return rc == 1;
}

base::Status Repository::check_not_partial() const {
  git_config* config_raw = nullptr;
  FB_TRY(check(git_repository_config_snapshot(&config_raw, repo_.get()),
               fmt::format("{}: git config", path_.native())));
  const ConfigHandle config(config_raw);
  std::vector<std::string> keys;     // "remote.origin.promisor", as the user would unset them
  std::vector<std::string> shown;    // "remote.origin.promisor = true"
  std::vector<std::string> remotes;  // whose objects are missing
  const auto add_remote = [&](std::string remote) {
    if (std::find(remotes.begin(), remotes.end(), remote) == remotes.end()) {
      remotes.push_back(std::move(remote));
    }
  };
  git_config_entry* entry_raw = nullptr;
  if (git_config_get_entry(&entry_raw, config.get(), "extensions.partialclone") == 0) {
    const Handle<git_config_entry, git_config_entry_free> entry(entry_raw);
    keys.emplace_back("extensions.partialClone");
    shown.push_back(fmt::format("extensions.partialClone = {}", entry->value));
    add_remote(entry->value);
  }
  git_config_iterator* iterator_raw = nullptr;
  FB_TRY(
      check(git_config_iterator_glob_new(&iterator_raw, config.get(), "^remote\\..*\\.promisor$"),
            fmt::format("{}: git config", path_.native())));
  const Handle<git_config_iterator, git_config_iterator_free> iterator(iterator_raw);
  git_config_entry* promisor = nullptr;
  int rc = 0;
  while ((rc = git_config_next(&promisor, iterator.get())) == 0) {
    int enabled = 0;
    if (git_config_parse_bool(&enabled, promisor->value) < 0 || enabled == 0) {
      continue;
    }
    constexpr std::string_view kPrefix = "remote.";
    constexpr std::string_view kSuffix = ".promisor";
    const std::string name = promisor->name;
    keys.push_back(name);
    shown.push_back(fmt::format("{} = {}", name, promisor->value));
    add_remote(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()));
  }
  if (rc != GIT_ITEROVER) {
    return libgit2_error(rc, fmt::format("{}: git config", path_.native()));
  }
  if (keys.empty()) {
    return {};
  }
  const auto joined = [](const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) {
      out += (out.empty() ? "" : ", ") + item;
    }
    return out;
  };
  std::vector<std::string> fetches;
  fetches.reserve(remotes.size());
  for (const std::string& remote : remotes) {
    fetches.push_back(fmt::format("`git fetch --refetch --no-filter {}`", remote));
  }
  std::vector<std::string> unsets;
  unsets.reserve(keys.size());
  for (const std::string& key : keys) {
    unsets.push_back(fmt::format("`git config --unset {}`", key));
  }
  return make_error(ErrorCode::kInvalidInput,
                    "{}: is a partial clone ({}): git fetches the objects it lacks when needed, "
                    "and flakebisect (libgit2) cannot; bisect in a full clone, or fetch everything "
                    "with {} and then {}",
                    path_.native(), joined(shown), joined(fetches), joined(unsets));
}

base::Status Repository::validate_range(const std::vector<std::string>& good_shas,
                                        std::string_view bad_sha,
                                        const std::vector<std::string>& good_names,
                                        std::string_view bad_name) const {
  FB_TRY(check_not_partial());
  // "good <sha>", or with the name typed "--good 'v6.1' (<sha12>)".
  const auto label = [](std::string_view end, std::string_view name, const std::string& sha) {
    if (name.empty() || name == sha) {
      return fmt::format("{} {}", end, sha);
    }
    return fmt::format("--{} '{}' ({})", end, name, sha.substr(0, 12));
  };
  const auto good_label = [&](size_t i, const git_oid& oid) {
    return label("good", i < good_names.size() ? good_names[i] : "", to_hex(oid));
  };
  if (good_shas.empty()) {
    return make_error(ErrorCode::kInvalidInput, "no good commit given (need at least one)");
  }
  auto bad_oid = parse_sha(bad_sha);
  if (!bad_oid) {
    return std::move(bad_oid).error().context("bad");
  }
  if (auto bad = lookup_commit(repo_.get(), *bad_oid); !bad) {
    return std::move(bad).error().context("bad");
  }
  const std::string bad_label = label("bad", bad_name, std::string(bad_sha));
  std::vector<git_oid> good_oids;
  for (const std::string& good : good_shas) {
    auto good_oid = parse_sha(good);
    if (!good_oid) {
      return std::move(good_oid).error().context("good");
    }
    if (auto commit = lookup_commit(repo_.get(), *good_oid); !commit) {
      return std::move(commit).error().context("good");
    }
    if (git_oid_equal(&*good_oid, &*bad_oid)) {
      return make_error(ErrorCode::kInvalidInput, "{} is the same commit as {}",
                        good_label(good_oids.size(), *good_oid),
                        bad_name.empty() ? std::string("bad") : bad_label);
    }
    good_oids.push_back(*good_oid);
  }
  // A shallow clone: refuse a range whose candidates need commits it lacks, before the ancestry
  // tests below could report a good beyond its boundary as "not an ancestor".
  FB_ASSIGN_OR_RETURN(const ShallowBoundary shallow, ShallowBoundary::read(repo_.get()));
  if (!shallow.empty()) {
    FB_TRY(shallow.candidates(repo_.get(), path_, *bad_oid, good_oids));
  }
  for (size_t i = 0; i < good_oids.size(); ++i) {
    const git_oid& good_oid = good_oids[i];
    FB_ASSIGN_OR_RETURN(bool ancestor, is_ancestor(to_hex(good_oid), to_hex(*bad_oid)));
    if (ancestor) {
      continue;
    }
    FB_ASSIGN_OR_RETURN(bool swapped, is_ancestor(to_hex(*bad_oid), to_hex(good_oid)));
    std::string hint;
    git_oid base;
    if (swapped) {
      hint = " (it is a descendant: are good and bad swapped?)";
    } else if (git_merge_base(&base, repo_.get(), &good_oid, &*bad_oid) == 0) {
      // A good on a side branch (a stable release against a later mainline tag): git bisect
      // would first test the merge base; flakebisect asks for it to be given instead, so that
      // "good" always means a tested-good ancestor of bad.
      auto info = commit_info(to_hex(base));
      hint = fmt::format(
          " (they diverge at their merge base {}{}: if the failure does not happen there, give "
          "it as --good)",
          to_hex(base).substr(0, 12), info ? " (\"" + info->subject + "\")" : std::string());
    }
    return make_error(ErrorCode::kInvalidInput, "{} is not an ancestor of {}{}",
                      good_label(i, good_oid), bad_label, hint);
  }
  return {};
}

base::Result<CommitInfo> Repository::commit_info(std::string_view sha) const {
  FB_ASSIGN_OR_RETURN(git_oid oid, parse_sha(sha));
  FB_ASSIGN_OR_RETURN(CommitHandle commit, lookup_commit(repo_.get(), oid));
  git_commit* c = commit.get();

  CommitInfo info;
  info.sha = to_hex(oid);
  info.tree = to_hex(*git_commit_tree_id(c));
  const unsigned parent_count = git_commit_parentcount(c);
  info.parents.reserve(parent_count);
  for (unsigned i = 0; i < parent_count; ++i) {
    info.parents.push_back(to_hex(*git_commit_parent_id(c, i)));
  }
  info.subject = commit_subject(c);
  const char* encoding = git_commit_message_encoding(c);
  info.encoding = encoding != nullptr ? encoding : "";
  const char* raw_message = git_commit_message_raw(c);
  info.message = commit_text_utf8(raw_message != nullptr ? raw_message : "", encoding);
  info.author = to_signature(git_commit_author(c));
  info.committer = to_signature(git_commit_committer(c));
  // The header covers the whole commit object, names included (git log converts them too).
  info.author.name = commit_text_utf8(std::move(info.author.name), encoding);
  info.committer.name = commit_text_utf8(std::move(info.committer.name), encoding);
  info.author.email = commit_text_utf8(std::move(info.author.email), encoding);
  info.committer.email = commit_text_utf8(std::move(info.committer.email), encoding);

  git_message_trailer_array trailers{};
  if (int rc = git_message_trailers(&trailers, info.message.c_str()); rc < 0) {
    return libgit2_error(rc, fmt::format("commit {}: trailers", info.sha));
  }
  info.trailers.reserve(trailers.count);
  for (size_t i = 0; i < trailers.count; ++i) {
    info.trailers.push_back(Trailer{trailers.trailers[i].key, trailers.trailers[i].value});
  }
  git_message_trailer_array_free(&trailers);
  return info;
}

base::Result<std::string> Repository::tree_id(std::string_view sha) const {
  FB_ASSIGN_OR_RETURN(git_oid oid, parse_sha(sha));
  FB_ASSIGN_OR_RETURN(CommitHandle commit, lookup_commit(repo_.get(), oid));
  return to_hex(*git_commit_tree_id(commit.get()));
}

namespace {

// The tree of commit `sha` (a full SHA).
base::Result<TreeHandle> commit_tree(git_repository* repo, std::string_view sha) {
  FB_ASSIGN_OR_RETURN(git_oid oid, parse_sha(sha));
  FB_ASSIGN_OR_RETURN(CommitHandle commit, lookup_commit(repo, oid));
  git_tree* tree = nullptr;
  FB_TRY(check(git_commit_tree(&tree, commit.get()), fmt::format("commit {}: tree", sha)));
  return TreeHandle(tree);
}

}  // namespace

base::Result<std::optional<std::string>> Repository::file_at(std::string_view sha,
                                                             const std::string& path,
                                                             size_t max_bytes) const {
  FB_ASSIGN_OR_RETURN(TreeHandle tree, commit_tree(repo_.get(), sha));
  git_tree_entry* entry_raw = nullptr;
  const int rc = git_tree_entry_bypath(&entry_raw, tree.get(), path.c_str());
  if (rc == GIT_ENOTFOUND) {
    return std::optional<std::string>();
  }
  FB_TRY(check(rc, fmt::format("commit {}: {}", sha, path)));
  std::unique_ptr<git_tree_entry, decltype(&git_tree_entry_free)> entry(entry_raw,
                                                                        git_tree_entry_free);
  // A directory, a submodule or a symbolic link (whose blob is the link's target) is no file.
  if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB ||
      git_tree_entry_filemode(entry.get()) == GIT_FILEMODE_LINK) {
    return std::optional<std::string>();
  }
  // The size from the object's header first: a huge blob is refused without being read.
  git_odb* odb_raw = nullptr;
  FB_TRY(check(git_repository_odb(&odb_raw, repo_.get()), fmt::format("commit {}: {}", sha, path)));
  std::unique_ptr<git_odb, decltype(&git_odb_free)> odb(odb_raw, git_odb_free);
  size_t size = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  FB_TRY(check(git_odb_read_header(&size, &type, odb.get(), git_tree_entry_id(entry.get())),
               fmt::format("commit {}: {}", sha, path)));
  if (size > max_bytes) {
    return base::make_error(base::ErrorCode::kInvalidInput,
                            "commit {}: {} is {} bytes, more than the {} read", sha, path, size,
                            max_bytes);
  }
  git_blob* blob_raw = nullptr;
  FB_TRY(check(git_blob_lookup(&blob_raw, repo_.get(), git_tree_entry_id(entry.get())),
               fmt::format("commit {}: {}", sha, path)));
  std::unique_ptr<git_blob, decltype(&git_blob_free)> blob(blob_raw, git_blob_free);
  size = std::min(static_cast<size_t>(git_blob_rawsize(blob.get())), max_bytes);
  return std::optional<std::string>(
      std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), size));
}

base::Result<bool> Repository::may_have_path(std::string_view sha,
                                            const std::string& path) const {
  FB_ASSIGN_OR_RETURN(TreeHandle tree, commit_tree(repo_.get(), sha));
  // Each leading component in turn: a missing one ends it, a link or a submodule leaves it open.
  for (size_t slash = path.find('/');; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    git_tree_entry* entry_raw = nullptr;
    const int rc = git_tree_entry_bypath(&entry_raw, tree.get(), prefix.c_str());
    if (rc == GIT_ENOTFOUND) {
      return false;
    }
    FB_TRY(check(rc, fmt::format("commit {}: {}", sha, prefix)));
    std::unique_ptr<git_tree_entry, decltype(&git_tree_entry_free)> entry(entry_raw,
                                                                          git_tree_entry_free);
    if (slash == std::string::npos || git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) {
      return true;  // the path itself, or a link, submodule or file on the way to it
    }
  }
}

base::Result<std::vector<std::string>> Repository::directories_at(std::string_view sha,
                                                                  size_t max_count) const {
  FB_ASSIGN_OR_RETURN(TreeHandle tree, commit_tree(repo_.get(), sha));
  struct Walk {
    std::vector<std::string> dirs;
    size_t max_count;
  } walk{{}, max_count};
  const int rc = git_tree_walk(
      tree.get(), GIT_TREEWALK_PRE,
      [](const char* root, const git_tree_entry* entry, void* payload) {
        auto* w = static_cast<Walk*>(payload);
        if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) return 0;
        if (w->dirs.size() == w->max_count) return -1;
        w->dirs.push_back(std::string(root) + git_tree_entry_name(entry));
        return 0;
      },
      &walk);
  if (rc < 0 && walk.dirs.size() == max_count) {
    return base::make_error(base::ErrorCode::kInvalidInput, "commit {}: more than {} directories",
                            sha, max_count);
  }
  FB_TRY(check(rc, fmt::format("commit {}: tree walk", sha)));
  return std::move(walk.dirs);
}

base::Result<Repository::Patch> Repository::patch_of(std::string_view sha, size_t max_bytes) const {
  FB_ASSIGN_OR_RETURN(git_oid oid, parse_sha(sha));
  FB_ASSIGN_OR_RETURN(CommitHandle commit, lookup_commit(repo_.get(), oid));
  const std::string what = fmt::format("commit {}: diff", sha);
  git_tree* tree_raw = nullptr;
  FB_TRY(check(git_commit_tree(&tree_raw, commit.get()), what));
  TreeHandle tree(tree_raw);
  TreeHandle parent_tree;
  if (git_commit_parentcount(commit.get()) > 0) {
    git_commit* parent_raw = nullptr;
    FB_TRY(check(git_commit_parent(&parent_raw, commit.get(), 0), what));
    CommitHandle parent(parent_raw);
    git_tree* parent_tree_raw = nullptr;
    FB_TRY(check(git_commit_tree(&parent_tree_raw, parent.get()), what));
    parent_tree.reset(parent_tree_raw);
  }
  // Fixed prefixes and context, whatever diff.noprefix, diff.mnemonicPrefix or diff.context the
  // user's git configuration says: readers of the patch (get_maintainer.pl) expect a/ and b/.
  git_diff_options diff_options = GIT_DIFF_OPTIONS_INIT;
  diff_options.old_prefix = "a/";
  diff_options.new_prefix = "b/";
  diff_options.context_lines = 3;
  diff_options.interhunk_lines = 0;
  git_diff* diff_raw = nullptr;
  FB_TRY(check(
      git_diff_tree_to_tree(&diff_raw, repo_.get(), parent_tree.get(), tree.get(), &diff_options),
      what));
  DiffHandle diff(diff_raw);
  Patch patch;
  struct Sink {
    Patch* patch;
    size_t max_bytes;
  } sink{&patch, max_bytes};
  const int rc = git_diff_print(
      diff.get(), GIT_DIFF_FORMAT_PATCH,
      [](const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line, void* payload) {
        auto* s = static_cast<Sink*>(payload);
        std::string piece;
        if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
            line->origin == GIT_DIFF_LINE_DELETION) {
          piece += line->origin;
        }
        piece.append(line->content, line->content_len);
        if (s->patch->text.size() + piece.size() > s->max_bytes) {
          s->patch->truncated = true;
          return 1;  // stop: what was printed so far ends at a line end
        }
        s->patch->text += piece;
        return 0;
      },
      &sink);
  if (rc < 0 || (rc > 0 && !patch.truncated)) {
    FB_TRY(check(rc < 0 ? rc : -1, what));
  }
  if (patch.truncated) {
    // A piece can end without a line end (the line before "No newline at end of file").
    const size_t last = patch.text.rfind('\n');
    patch.text.resize(last == std::string::npos ? 0 : last + 1);
  }
  return patch;
}

}  // namespace flakebisect::git
