// ProgressLine: how a foreground bisection shows what it is doing, on stderr.
//
// On a terminal (`terminal`: the caller checks that stderr is a TTY and that TERM is not dumb) one
// line is redrawn in place ("\r" + erase to end of line) with the runs, builds, current commit and
// best candidate, cut to the terminal's width; with -v the milestones (each decision, build result
// and the end) are also printed as lines above it. Otherwise (a pipe, a log file, TERM=dumb) each
// milestone is printed as a plain line and nothing else, so logs stay readable.
//
// Thread rules: used by the thread running the engine.
#pragma once

#include <string>

#include "engine/bisector.h"

namespace flakebisect::cli {

// The live line's text, before it is cut to the terminal's width: "[ID] R/MAX runs, B builds |
// testing SHA (k/n) SUBJECT | best SHA p=P".
std::string progress_text(const engine::Progress& progress);

class ProgressLine {
 public:
  ProgressLine(bool terminal, int verbosity);
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { finish(); }

  void update(const engine::Progress& progress);
  // Ends the live line (if one is drawn) so that what follows starts on a fresh line.
  void finish();

 private:
  bool terminal_;
  int verbosity_;
  bool drawn_ = false;
};

}  // namespace flakebisect::cli
