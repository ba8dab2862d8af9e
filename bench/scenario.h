// The benchmark's named scenarios, each a grid of cells (see bench/README.md for the list), and the
// command-line overrides that narrow or widen them.
//
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator.h"

namespace flakebisect::bench {

// Replaces one dimension of every selected scenario's grid when set.
struct GridOverrides {
  std::optional<std::vector<uint32_t>> n;
  std::optional<std::vector<double>> theta;  // ignored by the mixture scenario
  std::optional<std::vector<double>> eps;
  std::optional<std::vector<HistoryKind>> histories;
  std::optional<uint32_t> trials;
  std::optional<double> theta_jitter;  // per-commit jitter of theta (the misspecified scenario's)
  std::optional<double> build_cost;    // a build's cost in runs (10 in every scenario)
  std::optional<double> stale_good;    // chance per trial that the good end is bad (0 in every one)
};

// Scenario names in the order "all" runs them; "all" and "quick" are not in this list.
const std::vector<std::string>& scenario_names();

// The cells of a scenario ("all" = every scenario in scenario_names(); "quick" = the short smoke
// grid); nullopt for an unknown name. Cells with eps >= theta are left out (the channel carries no
// information).
std::optional<std::vector<CellSpec>> scenario_cells(std::string_view name,
                                                    const GridOverrides& overrides);

}  // namespace flakebisect::bench
