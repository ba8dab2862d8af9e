// BisectLog: a report (report.h) as a BISECT_LOG that `git bisect replay` accepts, so that someone
// who knows git can check the verdict with git's own tools, or carry on by hand.
//
//   # bad: [<sha>] <subject>
//   # good: [<sha>] <subject>
//   git bisect start '<bad>' '<good>'...  ('--first-parent' first when the bisection had it)
//   # good: [<sha>] <subject>          one pair per commit with a verdict
//   git bisect good <sha>
//   ...
//   # first bad commit: [<sha>] <subject>
//
// A flaky bisection has no hard verdicts, so they are derived from the posterior:
// - found: the culprit decides. A tested commit is bad iff the culprit is an ancestor-or-self of
//   it (candidate DAG ancestry, the same rule git uses), so the marks never contradict each other.
//   When those marks leave git more than the culprit to choose from, the log adds the steps git
//   would take (its midpoint rule: the commit whose ancestors in the remaining range are closest
//   to half), each judged by the culprit and marked as inferred. Replaying then ends with
//   "<culprit> is the first bad commit". Bad marks come deepest last, because git keeps only the
//   last bad mark.
// - any other state: a tested commit is bad when P(bad) >= the confidence level, good when
//   P(bad) <= 1 - confidence, and left unmarked otherwise; replaying leaves git in the middle of a
//   bisection, at a commit that still needs testing.
// Commits whose build failed or whose test said "skip" get `git bisect skip`. Every comment is one
// line of sanitised text (report/text.h one_line), so a commit subject can never become a command;
// lines starting with "# flakebisect:" carry the evidence behind each verdict, and a found
// bisection's revert and verify checks (checks.h), and a fix bisection's backport check, are such
// lines just before "# first bad commit" (or "# first fixed commit"); a verify check of a bisection
// without a culprit (one that failed ends it inconclusive) comes just before the line that says
// there is none.
//
// A fix bisection (json_access.h fix_mode) is logged as git logs one with custom terms:
//   # fixed: [<good sha>] <subject>
//   # broken: [<bad sha>] <subject>
//   git bisect start '--term-old' 'broken' '--term-new' 'fixed' '--first-parent' '<good>' '<bad>'
//   # broken: [<sha>] <subject>  /  git bisect broken <sha>    (tested and failing)
//   # fixed: [<sha>] <subject>   /  git bisect fixed <sha>     (tested and passing)
//   # first fixed commit: [<sha>] <subject>
// over the real chain (the report's commits, oldest first): the fixed end is git's new end, the
// broken end its old one, and replaying ends with "<fix> is the first fixed commit". A verify
// check that found the fixed end failing leaves it out of the start (git then waits for a fixed
// commit and names none).
//
// Thread rules: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace flakebisect::report {

std::string render_bisect_log(const nlohmann::json& report);

}  // namespace flakebisect::report
