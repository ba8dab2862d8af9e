// The classic bisection rules the model is compared against (benchmark.md, "Baselines").
//
// All three share git's search: the candidate set S starts as every commit (the tip is known bad);
// each step tests the commit x of S, other than the current bad bound, whose reach (the number of S
// commits that are ancestors-or-self of x) is closest to half of |S|, i.e. maximises
// min(reach, |S| - reach), ties to the lower index. A bad verdict restricts S to x's
// ancestors-or-self (x becomes the bad bound); a good verdict removes them. A commit that does not
// build, or whose verdict is inconclusive, is skipped and never offered again ("try the next
// best"). The search ends when S = {bad bound}, which is the answer, or when only skipped commits
// could be tested; then git would list the remaining set, and the benchmark scores the bad bound as
// the answer.
//
// The rules differ in how one commit is judged (infra runs never count as pass or fail):
//   git bisect:  one valid run; fail = bad, pass = good (infra: run again).
//   fixed N:     good only after N passes, first fail = bad (ktest BISECT_TRIES; infra: run again).
//   syzkaller:   the bad tip is tested first; then each commit gets 10 runs, 20 on that first test
//                and for every test once the bug has shown to be flaky (a test with both crashes
//                and passes). With `valid` non-infra runs and `crashes` failures: bad if crashes >=
//                max(2, valid / 6) (integer division, as in Go), good if crashes = 0, otherwise
//                (and if valid = 0) the commit is skipped. If the tip never crashes the answer is
//                "not reproduced".
// Each test of a commit is one batch (one boot). They claim certainty: Answer::confidence = 1.
//
// Thread rules: pure functions of their arguments; the Lab is the caller's.
#pragma once

#include <cstdint>

#include "simulator.h"

namespace flakebisect::bench {

Answer git_bisect(const CandidateDag& dag, Lab& lab);
Answer fixed_n_bisect(const CandidateDag& dag, Lab& lab, uint32_t passes_for_good);
Answer syzkaller_bisect(const CandidateDag& dag, Lab& lab);

}  // namespace flakebisect::bench
