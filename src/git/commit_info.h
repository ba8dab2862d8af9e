// CommitInfo: what reports and the store need to know about one commit, read through libgit2.
//
// Text fields are in UTF-8 as `git log` shows them when the commit's `encoding` header names
// another charset that iconv knows (commit_text_utf8() in git/libgit2.h: ISO-8859-1 in old kernel
// history), else the commit's raw bytes: git does not require UTF-8, so nothing is validated;
// escaping for JSON or mail headers is the report module's job.
//
// Thread rules: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flakebisect::git {

// An author or committer line.
struct Signature {
  std::string name;
  std::string email;
  int64_t time = 0;        // seconds since the Unix epoch
  int offset_minutes = 0;  // the signer's timezone, minutes east of UTC (+0200 is 120)
};

// One "Key: value" line of the trailer block ending a message (Signed-off-by, Reviewed-by,
// Acked-by, Reported-by, Fixes, Link, Cc...), in message order; keys keep the spelling the author
// used.
struct Trailer {
  std::string key;
  std::string value;
};

struct CommitInfo {
  std::string sha;                   // full 40-hex, lowercase
  std::string tree;                  // full 40-hex id of the commit's tree
  std::vector<std::string> parents;  // full SHAs, first parent first; empty for a root commit
  // git's subject (`git log --format=%s`): the first paragraph of the message with its lines joined
  // by single spaces, so it never contains a newline even when the author's first line was wrapped;
  // cut to kMaxSubjectBytes (git/libgit2.h) when longer.
  std::string subject;
  std::string message;  // the message as stored (in UTF-8, see above), leading blank lines included
  std::string encoding;  // the "encoding" header, empty when absent (meaning UTF-8)
  Signature author;
  Signature committer;
  std::vector<Trailer> trailers;
};

}  // namespace flakebisect::git
