// StopRule: when a bisection may stop, and what it concluded.
//
// found: the most probable culprit holds >= confidence of the mass. not_reproduced: "no regression"
// holds >= confidence, or the bad commit has run max_reproduce_runs times without one failure.
// Budget exhaustion is the caller's (engine's) decision; it then reports the credible set.
// Thread rules: pure functions.
#pragma once

#include <cstdint>

#include "model/posterior.h"

namespace flakebisect::model {

enum class Verdict { kContinue, kFound, kNotReproduced };

struct StopOptions {
  double confidence = 0.99;
  uint32_t max_reproduce_runs = 200;
};

Verdict evaluate_stop(const Posterior& posterior, const StopOptions& options);

}  // namespace flakebisect::model
