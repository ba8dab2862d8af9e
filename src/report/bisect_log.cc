#include "report/bisect_log.h"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <optional>
#include <string_view>
#include <vector>

#include "model/candidate_dag.h"
#include "report/checks.h"
#include "report/json_access.h"
#include "report/text.h"

namespace flakebisect::report {
namespace {

using model::CommitIndex;
using nlohmann::json;

constexpr size_t kMaxSubjectColumns = 200;

// Only a plain object name may reach a `git bisect` line: 40 or 64 lowercase hex digits.
bool object_name(const std::string& sha) {
  return (sha.size() == 40 || sha.size() == 64) && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

struct Commit {
  std::string sha;
  std::string subject;  // one line, sanitised
  uint64_t passes = 0;  // evidence the model used
  uint64_t fails = 0;
  bool skipped = false;
  double bad_probability = 0;  // P(the test fails here), as the report has it
  double new_probability = 0;  // P(git's "new" term): bad_probability, or P(passes) for a fix
  bool tested() const { return passes + fails > 0; }
};

// git's words for the two sides: the default terms, or a fix bisection's custom ones (`git bisect
// start --term-old broken --term-new fixed`), where the first "new" commit is the fix.
struct Terms {
  std::string_view old_term = "good";
  std::string_view new_term = "bad";
  std::string_view first = "first bad commit";  // what git calls the first new commit
  std::string_view p_fail = "P(bad)";           // the evidence's P(the test fails)
};

constexpr Terms kFixTerms{"broken", "fixed", "first fixed commit", "P(broken)"};

// kOld and kNew are git's "good" and "bad" (or the terms a bisection started with).
enum class Mark { kOld, kNew, kSkip };

class LogWriter {
 public:
  explicit LogWriter(const Terms& terms = {}) : terms_(terms) {}
  void comment(const std::string& text) { out_ += "# " + one_line(text) + "\n"; }
  void mark(Mark mark, const Commit& commit, const std::string& why) {
    comment("flakebisect: " + why);
    term_line(mark, commit);
  }
  // "# <term>: [<sha>] <subject>" and "git bisect <term> <sha>", as git logs a mark.
  void term_line(Mark mark, const Commit& commit) {
    out_ += fmt::format("# {}: [{}] {}\n", term(mark), commit.sha, commit.subject);
    out_ += fmt::format("git bisect {} {}\n", term(mark), commit.sha);
  }
  void raw(const std::string& line) { out_ += line + "\n"; }
  std::string text() const { return out_; }
  std::string_view term(Mark mark) const {
    switch (mark) {
      case Mark::kOld:
        return terms_.old_term;
      case Mark::kNew:
        return terms_.new_term;
      case Mark::kSkip:
        return "skip";
    }
    return "skip";
  }

 private:
  Terms terms_;
  std::string out_;
};

std::string evidence_text(const Commit& commit, const Terms& terms) {
  return fmt::format("{} of {} runs failed, {} = {:.4f}", commit.fails,
                     commit.passes + commit.fails, terms.p_fail, commit.bad_probability);
}

// The commits git still has to choose from: ancestors-or-self of `bad` that are not
// ancestors-or-self of a good mark, as a bitset over candidate indices.
std::vector<uint64_t> remaining(const model::CandidateDag& dag, CommitIndex bad,
                                const std::vector<CommitIndex>& goods) {
  const size_t words = dag.words();
  std::vector<uint64_t> set(dag.ancestor_bits(bad), dag.ancestor_bits(bad) + words);
  for (CommitIndex good : goods) {
    const uint64_t* bits = dag.ancestor_bits(good);
    for (size_t w = 0; w < words; ++w) set[w] &= ~bits[w];
  }
  return set;
}

size_t popcount(const std::vector<uint64_t>& set) {
  size_t n = 0;
  for (uint64_t word : set) n += static_cast<size_t>(std::popcount(word));
  return n;
}

bool contains(const std::vector<uint64_t>& set, CommitIndex x) {
  return (set[x / 64] >> (x % 64)) & 1U;
}

// A check as a comment like the marks': "flakebisect: <name> check: <VERDICT> (<words>)".
void check_comment(LogWriter& log, std::string_view name, const std::optional<CheckWords>& words) {
  if (words) {
    log.comment(
        fmt::format("flakebisect: {} check: {} ({})", name, words->verdict, words->explanation));
  }
}

// The verify check, after the revert check as KernelCI prints them.
void verify_comment(LogWriter& log, const json& report) {
  check_comment(log, "verify", describe_verify_check(report));
}

}  // namespace

std::string render_bisect_log(const json& report) {
  const bool fix = fix_mode(report);
  const Terms terms = fix ? kFixTerms : Terms{};
  LogWriter log(terms);
  const json& bisection = member(report, "bisection");
  const json& result = member(report, "result");
  const std::string bad_sha = str(member(bisection, "bad"), "sha");
  if (!object_name(bad_sha)) {
    log.comment("flakebisect: the report names no usable bad commit");
    return log.text();
  }
  // A fix bisection: git's "new" end is the good (fixed) commit, the newer one.
  const json& goods = member(bisection, "good");
  static const json kNone;
  const json& fixed_end = goods.is_array() && !goods.empty() ? goods.front() : kNone;
  const std::string fixed_sha = fix ? str(fixed_end, "sha") : "";
  if (fix && !object_name(fixed_sha)) {
    log.comment("flakebisect: the report names no usable fixed (good) commit");
    return log.text();
  }

  // The candidates, with the evidence behind each verdict.
  std::vector<Commit> commits;
  std::vector<std::vector<CommitIndex>> parents;
  const json& rows = member(report, "commits");
  bool usable = rows.is_array() && !rows.empty();
  if (usable) {
    for (const json& row : rows) {
      Commit commit;
      commit.sha = str(row, "sha");
      commit.subject = one_line(str(row, "subject"), kMaxSubjectColumns);
      const json& evidence = member(row, "evidence");
      commit.passes = static_cast<uint64_t>(std::max(0.0, num(evidence, "passes")));
      commit.fails = static_cast<uint64_t>(std::max(0.0, num(evidence, "fails")));
      commit.skipped =
          member(evidence, "skipped").is_boolean() && member(evidence, "skipped").get<bool>();
      commit.bad_probability = num(row, "bad_probability");
      commit.new_probability = fix ? 1 - commit.bad_probability : commit.bad_probability;
      std::vector<CommitIndex> own;
      for (const json& parent : member(row, "parents")) {
        if (!parent.is_number_integer() || parent.get<int64_t>() < 0 ||
            static_cast<uint64_t>(parent.get<int64_t>()) >= commits.size()) {
          usable = false;
          break;
        }
        own.push_back(static_cast<CommitIndex>(parent.get<int64_t>()));
      }
      usable = usable && object_name(commit.sha);
      commits.push_back(std::move(commit));
      parents.push_back(std::move(own));
    }
  }
  if (fix && usable) {
    // The report lists a fix bisection's chain oldest first, from the broken (bad) end. To git
    // that end is the old one, outside the range like a good commit, and the fixed (good) end the
    // new one, the range's tip like a bad commit: the same shape as a regression's range.
    usable = commits.front().sha == bad_sha;
    commits.erase(commits.begin());
    parents.erase(parents.begin());
    for (std::vector<CommitIndex>& own : parents) {
      std::erase(own, CommitIndex{0});
      for (CommitIndex& parent : own) --parent;
    }
    Commit tip;
    tip.sha = fixed_sha;
    tip.subject = one_line(str(fixed_end, "subject"), kMaxSubjectColumns);
    tip.bad_probability = 0;
    tip.new_probability = 1;
    parents.push_back(commits.empty() ? std::vector<CommitIndex>{}
                                      : std::vector<CommitIndex>{CommitIndex(commits.size() - 1)});
    commits.push_back(std::move(tip));
  }
  const std::string new_sha = fix ? fixed_sha : bad_sha;
  std::optional<model::CandidateDag> dag;
  if (usable) {
    auto created = model::CandidateDag::create(std::move(parents));
    if (created && commits.back().sha == new_sha) dag.emplace(std::move(created).value());
  }

  // A verify check that failed found this good commit bad: it is no good mark for git. Left out,
  // git waits for a good commit and names no first bad commit on replay, as the bisection named
  // none, even where the bad commit is the one the search named. (A fix bisection's check ran its
  // fixed end: left out, git waits for a fixed commit.)
  const json& verify = member(member(result, "checks"), "verify");
  const bool verify_failed =
      str(verify, "status") == "fail" && !member(result, "culprit").is_object();
  const std::string not_good = verify_failed ? str(verify, "commit") : "";

  if (fix) {
    // As git writes `git bisect start --term-old broken --term-new fixed --first-parent NEW OLD`.
    const std::string broken_subject =
        one_line(str(member(bisection, "bad"), "subject"), kMaxSubjectColumns);
    const std::string fixed_subject = one_line(str(fixed_end, "subject"), kMaxSubjectColumns);
    std::string start =
        "git bisect start '--term-old' 'broken' '--term-new' 'fixed' '--first-parent'";
    if (fixed_sha == not_good) {
      log.comment(fmt::format("flakebisect: fixed {} left out: the verify check found it failing",
                              fixed_sha.substr(0, 12)));
      log.raw(start);
      log.term_line(Mark::kOld, Commit{bad_sha, broken_subject});
    } else {
      log.raw(fmt::format("# fixed: [{}] {}", fixed_sha, fixed_subject));
      log.raw(fmt::format("# broken: [{}] {}", bad_sha, broken_subject));
      log.raw(start + fmt::format(" '{}' '{}'", fixed_sha, bad_sha));
    }
  } else {
    // The start, as git writes it: the terms' comments, then the command.
    const std::string bad_subject =
        dag ? commits.back().subject
            : one_line(str(member(bisection, "bad"), "subject"), kMaxSubjectColumns);
    log.raw(fmt::format("# bad: [{}] {}", bad_sha, bad_subject));
    // As git writes a start with --first-parent, so that replaying walks the same candidates.
    const json& first_parent = member(bisection, "first_parent");
    std::string start = first_parent.is_boolean() && first_parent.get<bool>()
                            ? fmt::format("git bisect start '--first-parent' '{}'", bad_sha)
                            : fmt::format("git bisect start '{}'", bad_sha);
    for (const json& good : goods) {
      const std::string sha = str(good, "sha");
      if (!object_name(sha)) continue;
      if (!not_good.empty() && sha == not_good) {
        log.comment(fmt::format("flakebisect: good {} left out: the verify check found it bad",
                                sha.substr(0, 12)));
        continue;
      }
      log.raw(
          fmt::format("# good: [{}] {}", sha, one_line(str(good, "subject"), kMaxSubjectColumns)));
      start += fmt::format(" '{}'", sha);
    }
    log.raw(start);
  }
  if (!dag) {
    log.comment("flakebisect: the report has no usable candidate commits; nothing to replay");
    return log.text();
  }

  const CommitIndex n = dag->size();
  const CommitIndex bad = dag->bad();
  std::optional<CommitIndex> culprit;
  const std::string culprit_sha = str(member(result, "culprit"), "sha");
  for (CommitIndex x = 0; x < n && !culprit_sha.empty(); ++x) {
    if (commits[x].sha == culprit_sha) culprit = x;
  }

  // Verdicts for the tested commits.
  std::vector<CommitIndex> goods_marked;
  std::vector<CommitIndex> bads;
  for (CommitIndex x = 0; x < n; ++x) {
    if (x == bad) continue;
    const Commit& commit = commits[x];
    if (commit.skipped) {
      log.mark(Mark::kSkip, commit, "cannot be tested (build failed or the test said skip)");
      continue;
    }
    if (!commit.tested()) continue;
    if (culprit) {
      if (dag->is_ancestor_or_self(*culprit, x)) {
        bads.push_back(x);
      } else if (dag->is_ancestor_or_self(x, *culprit)) {
        goods_marked.push_back(x);
      } else {
        log.comment(
            fmt::format("flakebisect: {} ({}) is on another branch than the {}; left "
                        "unmarked",
                        commit.sha.substr(0, 12), evidence_text(commit, terms), terms.first));
      }
      continue;
    }
    const double confidence = num(member(member(report, "parameters"), "decision"), "confidence");
    const double level = confidence > 0.5 && confidence < 1 ? confidence : 0.99;
    if (commit.new_probability >= level) {
      bads.push_back(x);
    } else if (commit.new_probability <= 1 - level) {
      goods_marked.push_back(x);
    } else {
      log.comment(fmt::format("flakebisect: {} undecided ({}); left unmarked",
                              commit.sha.substr(0, 12), evidence_text(commit, terms)));
    }
  }
  for (CommitIndex x : goods_marked) {
    log.mark(Mark::kOld, commits[x], evidence_text(commits[x], terms));
  }
  // git keeps only the last bad mark: the one with the fewest ancestors goes last.
  std::stable_sort(bads.begin(), bads.end(), [&](CommitIndex a, CommitIndex b) {
    return dag->ancestor_count(a) > dag->ancestor_count(b);
  });
  // After a verify check that failed, the commit the search named stays unmarked too: its parent
  // failed like it, so "bad" says nothing about where the bug came in.
  const std::string unpinned = verify_failed ? str(verify, "culprit") : "";
  for (CommitIndex x : bads) {
    if (!unpinned.empty() && commits[x].sha == unpinned) {
      log.comment(fmt::format(
          "flakebisect: {} ({}) fails like a bad commit, but so does its parent, the good end "
          "(verify check); left unmarked",
          commits[x].sha.substr(0, 12), evidence_text(commits[x], terms)));
      continue;
    }
    log.mark(Mark::kNew, commits[x], evidence_text(commits[x], terms));
  }

  if (!culprit) {
    // A verify check that failed is why there is no culprit: it comes first.
    verify_comment(log, report);
    std::string status = one_line(str(result, "status"), 40);
    std::replace(status.begin(), status.end(), '_', ' ');  // "not reproduced", as people write it
    log.comment(fmt::format("flakebisect: the bisection is {}; no {} yet", status, terms.first));
    return log.text();
  }

  // The steps git would still take, judged by the culprit. Only commits on the culprit's line
  // (ancestors or descendants) are marked, so every good mark is an ancestor of every bad one.
  CommitIndex current_bad = bads.empty() ? bad : bads.back();
  const Commit& first = commits[*culprit];
  while (true) {
    const std::vector<uint64_t> left = remaining(*dag, current_bad, goods_marked);
    const size_t size = popcount(left);
    if (size <= 1) break;
    std::optional<CommitIndex> best;
    size_t best_score = 0;
    for (CommitIndex m = 0; m < n; ++m) {
      if (m == current_bad || !contains(left, m) || commits[m].skipped) continue;
      if (!dag->is_ancestor_or_self(*culprit, m) && !dag->is_ancestor_or_self(m, *culprit)) {
        continue;
      }
      size_t reach = 0;
      const uint64_t* bits = dag->ancestor_bits(m);
      for (size_t w = 0; w < left.size(); ++w) {
        reach += static_cast<size_t>(std::popcount(bits[w] & left[w]));
      }
      const size_t score = std::min(reach, size - reach);
      if (!best || score > best_score) {
        best = m;
        best_score = score;
      }
    }
    if (!best) break;
    const std::string why =
        fmt::format("not tested; judged from the {} {}", terms.first, first.sha.substr(0, 12));
    if (dag->is_ancestor_or_self(*culprit, *best)) {
      log.mark(Mark::kNew, commits[*best], why);
      current_bad = *best;
    } else {
      log.mark(Mark::kOld, commits[*best], why);
      goods_marked.push_back(*best);
    }
  }

  // The checks are evidence for the verdict: comments like the marks' own; a fix bisection's
  // backport check last.
  check_comment(log, "revert", describe_revert_check(report));
  verify_comment(log, report);
  check_comment(log, "backport", describe_backport_check(report));
  const std::vector<uint64_t> left = remaining(*dag, current_bad, goods_marked);
  if (current_bad == *culprit && popcount(left) == 1) {
    log.raw(fmt::format("# {}: [{}] {}", terms.first, first.sha, first.subject));
  } else {
    std::string set;
    for (CommitIndex x = 0; x < n; ++x) {
      if (contains(left, x)) set += " " + commits[x].sha.substr(0, 12);
    }
    log.comment(fmt::format("flakebisect: skipped commits remain; the {} could be any of:{}",
                            terms.first, set));
  }
  return log.text();
}

}  // namespace flakebisect::report
