#include "git/libgit2.h"

#include <errno.h>
#include <iconv.h>
#include <strings.h>

#include <iterator>

namespace flakebisect::git {

void init_libgit2() {
  // A function-local static is initialised exactly once even with concurrent callers. libgit2 is
  // deliberately never shut down: see the header.
  static const int init_result = [] {
    const int rc = git_libgit2_init();
    // libgit2 refuses to open a repository with an extension it does not know, and reads a partial
    // clone marked by older gits (extensions.partialClone) fine: let it open one, so that
    // Repository::check_not_partial() can say what is wrong with it instead of "not a git
    // repository (unsupported extension name extensions.partialclone)".
    const char* extensions[] = {"partialclone"};
    git_libgit2_opts(GIT_OPT_SET_EXTENSIONS, extensions, std::size(extensions));
    return rc;
  }();
  (void)init_result;
}

base::Error libgit2_error(int code, std::string_view what) {
  const git_error* last = git_error_last();
  std::string detail = (last != nullptr && last->message != nullptr)
                           ? std::string(last->message)
                           : fmt::format("libgit2 error {}", code);
  base::ErrorCode error_code = base::ErrorCode::kFailed;
  switch (code) {
    case GIT_ENOTFOUND:
    case GIT_EUNBORNBRANCH:
      error_code = base::ErrorCode::kNotFound;
      break;
    case GIT_EAMBIGUOUS:
    case GIT_EINVALIDSPEC:
    case GIT_EPEEL:
      error_code = base::ErrorCode::kInvalidInput;
      break;
    case GIT_ELOCKED:
      error_code = base::ErrorCode::kBusy;
      break;
    default:
      break;
  }
  if (what.empty()) {
    return base::Error(std::move(detail), error_code);
  }
  return base::Error(fmt::format("{}: {}", what, detail), error_code);
}

base::Status check(int code, std::string_view what) {
  if (code >= 0) {
    return {};
  }
  return libgit2_error(code, what);
}

std::string to_hex(const git_oid& oid) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return std::string(hex, GIT_OID_HEXSZ);
}

base::Result<git_oid> parse_sha(std::string_view sha) {
  bool hex = sha.size() == GIT_OID_HEXSZ;
  for (char c : sha) {
    if (!hex) {
      break;
    }
    hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  if (!hex) {
    return base::make_error(base::ErrorCode::kInvalidInput, "'{}' is not a full 40-hex SHA", sha);
  }
  git_oid oid;
  if (git_oid_fromstrn(&oid, sha.data(), sha.size()) < 0) {
    return base::make_error(base::ErrorCode::kInvalidInput, "'{}' is not a full 40-hex SHA", sha);
  }
  return oid;
}

base::Result<CommitHandle> lookup_commit(git_repository* repo, const git_oid& oid) {
  git_commit* commit = nullptr;
  int rc = git_commit_lookup(&commit, repo, &oid);
  if (rc >= 0) {
    return CommitHandle(commit);
  }
  if (rc != GIT_ENOTFOUND) {
    return libgit2_error(rc, fmt::format("commit {}", to_hex(oid)));
  }
  // libgit2 says "not found" both for a missing object and for one of another type: tell them
  // apart.
  git_object* object = nullptr;
  if (git_object_lookup(&object, repo, &oid, GIT_OBJECT_ANY) >= 0) {
    ObjectHandle owned(object);
    return base::make_error(base::ErrorCode::kInvalidInput, "{} is a {}, not a commit", to_hex(oid),
                            git_object_type2string(git_object_type(object)));
  }
  return base::make_error(base::ErrorCode::kNotFound, "commit {} not found", to_hex(oid));
}

std::string commit_text_utf8(std::string text, const char* encoding) {
  if (encoding == nullptr || *encoding == '\0' || ::strcasecmp(encoding, "UTF-8") == 0 ||
      ::strcasecmp(encoding, "UTF8") == 0 || text.empty()) {
    return text;
  }
  // git reads "latin-1" (the spelling some old tools wrote) as ISO-8859-1; iconv does not.
  const char* charset = ::strcasecmp(encoding, "latin-1") == 0 ? "ISO-8859-1" : encoding;
  iconv_t cd = ::iconv_open("UTF-8", charset);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return text;  // a charset iconv does not know: the bytes as they are
  }
  std::string out(text.size() * 2 + 16, '\0');
  char* in = text.data();
  size_t in_left = text.size();
  size_t written = 0;
  bool valid = true;
  while (in_left > 0) {
    char* to = out.data() + written;
    size_t to_left = out.size() - written;
    const size_t done = ::iconv(cd, &in, &in_left, &to, &to_left);
    written = out.size() - to_left;
    if (done != static_cast<size_t>(-1)) break;
    if (errno != E2BIG) {
      valid = false;  // not valid in the charset it names either
      break;
    }
    out.resize(out.size() * 2);  // some charsets make up to 9 bytes of one
  }
  ::iconv_close(cd);
  if (!valid || in_left != 0) {
    return text;
  }
  out.resize(written);
  return out;
}

std::string commit_subject(git_commit* commit) {
  const char* summary = git_commit_summary(commit);
  std::string subject =
      commit_text_utf8(summary != nullptr ? summary : "", git_commit_message_encoding(commit));
  if (subject.size() > kMaxSubjectBytes) {
    size_t cut = kMaxSubjectBytes - 3;
    // Back to the first byte of a UTF-8 sequence (any other encoding is cut where it falls).
    for (size_t back = 0; back < 3 && cut > 0 && (subject[cut] & 0xC0) == 0x80; ++back) {
      --cut;
    }
    subject.resize(cut);
    subject += "...";
  }
  return subject;
}

}  // namespace flakebisect::git
