// libgit2 plumbing shared by the git module: process-wide initialisation, RAII handles for libgit2
// objects, conversion of libgit2 errors into base::Error, and object id helpers.
//
// Everything libgit2 returns is converted at once: a libgit2 return code never leaves this module,
// only a base::Error whose message carries git_error_last()'s text. Include this header only from
// src/git/*.cc and tests; the public headers of the module keep <git2.h> out of their users.
//
// Thread rules: init_libgit2() may be called from any thread, any number of times. Handles follow
// libgit2's rules: an object (and the repository it came from) is used by one thread at a time.
#pragma once

#include <git2.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/result.h"

namespace flakebisect::git {

// Calls git_libgit2_init() exactly once per process and never shuts libgit2 down (objects freed
// during static destruction would otherwise race a shutdown). Every entry point of the module calls
// it; calling it again is cheap.
void init_libgit2();

// Owning handles: unique_ptr with the matching git_*_free as deleter.
template <typename T, void (*Free)(T*)>
struct HandleDeleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Handle = std::unique_ptr<T, HandleDeleter<T, Free>>;

using RepositoryHandle = Handle<git_repository, git_repository_free>;
using ObjectHandle = Handle<git_object, git_object_free>;
using CommitHandle = Handle<git_commit, git_commit_free>;
using TreeHandle = Handle<git_tree, git_tree_free>;
using TagHandle = Handle<git_tag, git_tag_free>;
using RevwalkHandle = Handle<git_revwalk, git_revwalk_free>;
using ReferenceHandle = Handle<git_reference, git_reference_free>;
using SignatureHandle = Handle<git_signature, git_signature_free>;
using IndexHandle = Handle<git_index, git_index_free>;
using DiffHandle = Handle<git_diff, git_diff_free>;
using ConfigHandle = Handle<git_config, git_config_free>;
using TreebuilderHandle = Handle<git_treebuilder, git_treebuilder_free>;

// Hash and equality of object ids, for unordered containers.
struct OidHash {
  size_t operator()(const git_oid& oid) const {
    // Object ids are uniformly distributed: their first bytes are a good hash already.
    size_t hash = 0;
    std::memcpy(&hash, oid.id, sizeof hash);
    return hash;
  }
};
struct OidEqual {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b) != 0; }
};
using OidSet = std::unordered_set<git_oid, OidHash, OidEqual>;

// The error a libgit2 call returning `code` (< 0) produced, as "<what>: <git_error_last() text>".
// GIT_ENOTFOUND maps to kNotFound, GIT_EAMBIGUOUS/GIT_EINVALIDSPEC/GIT_EPEEL to kInvalidInput,
// GIT_ELOCKED to kBusy, anything else to kFailed.
base::Error libgit2_error(int code, std::string_view what);

// Returns Status ok when code >= 0, else libgit2_error(code, what).
base::Status check(int code, std::string_view what);

// The lowercase 40-hex form of an object id.
std::string to_hex(const git_oid& oid);

// Parses a full 40-hex object id (either case). Anything else, including abbreviations, is
// kInvalidInput: callers store and pass full SHAs only, short forms go through Repository::resolve.
base::Result<git_oid> parse_sha(std::string_view sha);

// Looks up the commit `oid`. Errors: "commit <sha> not found" (kNotFound), "<sha> is a tree, not a
// commit" (kInvalidInput, also for blobs and tags).
base::Result<CommitHandle> lookup_commit(git_repository* repo, const git_oid& oid);

// The most of a subject kept: the reports show 1000 bytes (docs/reports.md), and a 1 MB first
// paragraph would otherwise be stored again in every candidate row, event and result.
inline constexpr size_t kMaxSubjectBytes = 1000;

// `text` of a commit whose "encoding" header is `encoding` (may be null or empty: UTF-8), in
// UTF-8, as `git log` shows it: converted with iconv when the header names another charset that
// iconv knows (ISO-8859-1 in old kernel history), else as it is (bytes that are not UTF-8 are then
// the reports' to escape).
std::string commit_text_utf8(std::string text, const char* encoding);

// git's subject of `commit` (git_commit_summary) in UTF-8 (commit_text_utf8), cut to
// kMaxSubjectBytes at a character boundary when longer, ending in "...".
std::string commit_subject(git_commit* commit);

}  // namespace flakebisect::git
