// Email: a report (report.h) as a plain-text message for a mailing list, in the style kernel
// developers know from syzbot and KernelCI (docs/reports.md shows one):
//
//   From: <reporter>            To: the culprit's author
//   Cc: the people in the culprit's Signed-off-by, Co-developed-by, Reviewed-by, Acked-by,
//       Tested-by and Cc trailers (valid addresses only, each once, the author left out)
//   Subject: KernelCI's "[flakebisect] <tree>/<branch> bisection: <test> on <target>" (tree: the
//       options' or the repository's directory name; branch: --bad as typed; target: "qemu-x86_64
//       ext4/1k" or "host"), then " (inconclusive)" and the like when nothing was found; a fix
//       bisection's reads "... fix bisection: ..." and its branch is --good as typed
//   Date: the report's generated_at (none when the document has none)
//   Message-ID: <flakebisect-<bisection id>-<generated_at>-<hash>@<the reporter's domain>>, where
//       <hash> is the start of a SHA-256 over the other headers and the body: one report always
//       renders to the same message, a different one to a different id
//
// and a body with the verdict, the confidence in words and numbers, the checks made on it
// (KernelCI's "Checks:" block: the revert and verify checks and a fix bisection's backport
// check, when they ran; checks.h words them), the parameters, a per-commit table, the decision log,
// the failures seen with a console excerpt, and the tags to add to a fix (`Reported-by:` and
// `Fixes: <sha12> ("<subject>")`, with the whole subject).
//
// A fix bisection's (json_access.h fix_mode) says "first fixed commit" for the culprit, names its
// ends "broken commit" (bad, the older) and "fixed commit" (good, the newer), and ends with the
// fix for a backport instead of the tags: `commit <sha12> ("<subject>") fixes this; to backport:
// git cherry-pick -x <sha12>` (verbatim, like the tags).
//
// Safety: header values never carry a line break from commit text (names and subjects go through
// one_line, addresses must be plain addr-spec), names with specials become quoted strings, and
// non-ASCII names and subjects become RFC 2047 encoded-words; headers are folded at 78 columns.
// Body lines are at most 72 columns, with exceptions kept verbatim on purpose: console excerpt
// lines (the kernel's own lines, up to 200 columns, so they can be searched for), the
// `Reported-by:` and `Fixes:` tags (pasted into commits as they are; kernel convention: never
// wrapped) and the culprit's `Author:` line (as git prints it). Lines end in "\n"; the body is
// UTF-8 (Content-Type: text/plain; charset=utf-8, 8bit). A line that is a lone "." or starts with
// "From " (console output can be either) gets a leading space, so that neither `sendmail -t`
// without -i nor an mbox reader takes it for the end of the message.
//
// Rendering never fails: a field missing from the document is left out of the message.
//
// Thread rules: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace flakebisect::report {

inline constexpr size_t kEmailBodyColumns = 72;

struct EmailOptions {
  // Who reports: the From: header and the suggested Reported-by: tag ("Name <address>"). One
  // without a valid address is not used: the default stands in for it in both.
  std::string reporter = "flakebisect <flakebisect@localhost>";
  // Decision log lines in the body; earlier ones are summarised in one line.
  size_t max_decisions = 60;
  // The tree the subject names ("mainline", "linux-next"); empty: the repository's directory name.
  std::string tree;
};

// Headers, a blank line, the body.
std::string render_email(const nlohmann::json& report, const EmailOptions& options = {});

// The body alone: what `flakebisect report --format text` prints.
std::string render_text(const nlohmann::json& report, const EmailOptions& options = {});

// "almost certain (99.3%)": the probability of the verdict in words and numbers. Words: almost
// certain >= 0.99, very likely >= 0.95, likely >= 0.8, more likely than not >= 0.5, possible >=
// 0.2, else unlikely. The number is rounded down, so 0.99996 never reads "100%".
std::string confidence_in_words(double probability);

// A mailbox for an address header: `"Display Name" <addr>`, an RFC 2047 encoded name when it is
// not ASCII, or the bare address when the name is empty. nullopt when `address` is not a plain
// ASCII addr-spec (local@domain without quotes, comments, spaces or control characters).
std::optional<std::string> mailbox(std::string_view name, std::string_view address);

// A parsed "Name <addr>" (or bare "addr", optionally followed by " # comment") as written in a
// commit trailer; nullopt when there is no valid address.
struct Person {
  std::string name;
  std::string address;
};
std::optional<Person> parse_person(std::string_view text);

// One header, folded at 78 columns: "Name: value\n" plus continuation lines starting with a space.
// The value is made one line; non-ASCII text becomes RFC 2047 encoded-words.
std::string unstructured_header(std::string_view name, std::string_view value);

}  // namespace flakebisect::report
