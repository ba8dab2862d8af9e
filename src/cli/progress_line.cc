#include "cli/progress_line.h"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include "cli/text.h"

namespace flakebisect::cli {
namespace {

size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 10) {
    return size.ws_col;
  }
  return 80;
}

}  // namespace

std::string progress_text(const engine::Progress& p) {
  using Phase = engine::Progress::Phase;
  std::string doing;
  const std::string sha = p.sha.substr(0, 12);
  switch (p.phase) {
    case Phase::kPlanning:
      doing = "planning";
      break;
    case Phase::kCheckout:
      doing = "checking out " + sha;
      break;
    case Phase::kBuilding:
      doing = "building " + sha;
      break;
    case Phase::kRunning:
      doing = fmt::format("testing {} ({}/{})", sha, p.batch_run, p.batch_runs);
      break;
    case Phase::kFinished:
      doing = "done";
      break;
    case Phase::kPaused:
      doing = "paused";
      break;
  }
  if (!p.check.empty()) {
    doing = p.check + ": " + doing;  // before the SHA, which the user's repository may lack
  }
  // The subject is the commit being worked on's, so it goes next to that commit, not after the
  // best one (where it read as the best commit's).
  if (!p.subject.empty() && p.phase != Phase::kPlanning) {
    doing += " " + printable(p.subject, 60);
  }
  std::string line = fmt::format("[{}] {}/{} runs, {} builds | {}", p.bisection_id, p.runs,
                                 p.max_runs, p.builds, doing);
  if (!p.best_sha.empty()) {
    line += fmt::format(" | best {} p={:.3f}", p.best_sha.substr(0, 12), p.max_probability);
  }
  return line;
}

ProgressLine::ProgressLine(bool terminal, int verbosity)
    : terminal_(terminal), verbosity_(verbosity) {}

void ProgressLine::update(const engine::Progress& progress) {
  const std::string milestone =
      progress.milestone.empty()
          ? ""
          : fmt::format("flakebisect: bisection {}: {}", progress.bisection_id,
                        printable(progress.milestone, 400));
  if (!terminal_) {
    if (!milestone.empty()) {
      cli::write(stderr, "{}\n", milestone);
    }
    return;
  }
  std::string out = "\r\033[K";
  if (!milestone.empty() && verbosity_ > 0) {
    out += milestone + "\n";
  }
  out += printable(progress_text(progress), terminal_width() - 1);
  cli::write(stderr, "{}", out);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::finish() {
  if (drawn_) {
    cli::write(stderr, "\n");
    drawn_ = false;
  }
}

}  // namespace flakebisect::cli
