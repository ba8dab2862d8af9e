#include "scenario.h"

namespace flakebisect::bench {

namespace {

// A scenario: a grid plus the knobs every one of its cells shares.
struct ScenarioGrid {
  std::string name;
  std::vector<uint32_t> n;
  std::vector<double> theta;
  std::vector<double> eps;
  std::vector<HistoryKind> histories;
  uint32_t trials;
  CellSpec shared;  // theta_mixture, theta_jitter, faults, boot_variant
};

std::vector<HistoryKind> both() { return {HistoryKind::kLinear, HistoryKind::kDag}; }

CellSpec with(auto edit) {
  CellSpec cell;
  edit(cell);
  return cell;
}

std::vector<ScenarioGrid> grids() {
  std::vector<ScenarioGrid> out;
  // benchmark.md's headline grid.
  out.push_back({"headline", {100, 1000}, {0.05, 0.1, 0.3, 0.5, 1}, {0, 0.005}, both(), 2000, {}});
  out.push_back({"small", {16}, {0.1, 0.3, 1}, {0, 0.005}, both(), 2000, {}});
  // The decision-time cell: n = 13000 on a DAG, few trials because each is long.
  out.push_back({"large", {13000}, {0.1, 0.3}, {0}, {HistoryKind::kDag}, 50, {}});
  out.push_back({"noisy", {100, 1000}, {0.1, 0.3, 1}, {0.02}, both(), 1000, {}});
  out.push_back({"rare", {100, 1000}, {0.02}, {0}, both(), 200, {}});
  out.push_back({"mixture", {100, 1000}, {0}, {0, 0.005}, both(), 500, with([](CellSpec& c) {
                   c.theta_mixture = true;
                 })});
  out.push_back({"faults", {100, 1000}, {0.1, 0.3, 1}, {0}, both(), 1000, with([](CellSpec& c) {
                   c.faults.unbuildable = 0.05;
                   c.faults.infra = 0.02;
                 })});
  out.push_back({"misspecified", {1000}, {0.1, 0.3}, {0}, both(), 1000, with([](CellSpec& c) {
                   c.theta_jitter = 0.5;
                 })});
  out.push_back({"boot", {1000}, {0.1, 0.3, 1}, {0}, both(), 1000, with([](CellSpec& c) {
                   c.boot_variant = true;
                 })});
  return out;
}

ScenarioGrid quick_grid() { return {"quick", {100, 1000}, {0.1, 0.3, 1}, {0}, both(), 100, {}}; }

void expand(const ScenarioGrid& grid, const GridOverrides& overrides, std::vector<CellSpec>& out) {
  const auto& ns = overrides.n ? *overrides.n : grid.n;
  const auto& thetas =
      overrides.theta && !grid.shared.theta_mixture ? *overrides.theta : grid.theta;
  const auto& epss = overrides.eps ? *overrides.eps : grid.eps;
  const auto& histories = overrides.histories ? *overrides.histories : grid.histories;
  for (HistoryKind history : histories) {
    for (uint32_t n : ns) {
      for (double eps : epss) {
        for (double theta : thetas) {
          if (!grid.shared.theta_mixture && eps >= theta) {
            continue;
          }
          CellSpec cell = grid.shared;
          cell.scenario = grid.name;
          cell.history = history;
          cell.n = n;
          cell.theta = theta;
          cell.eps = eps;
          cell.trials = overrides.trials ? *overrides.trials : grid.trials;
          if (overrides.theta_jitter) cell.theta_jitter = *overrides.theta_jitter;
          if (overrides.build_cost) cell.build_cost = *overrides.build_cost;
          if (overrides.stale_good) cell.stale_good = *overrides.stale_good;
          out.push_back(cell);
        }
      }
    }
  }
}

}  // namespace

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const ScenarioGrid& grid : grids()) {
      out.push_back(grid.name);
    }
    return out;
  }();
  return names;
}

std::optional<std::vector<CellSpec>> scenario_cells(std::string_view name,
                                                    const GridOverrides& overrides) {
  std::vector<CellSpec> cells;
  if (name == "quick") {
    expand(quick_grid(), overrides, cells);
    return cells;
  }
  bool known = false;
  for (const ScenarioGrid& grid : grids()) {
    if (name == "all" || name == grid.name) {
      expand(grid, overrides, cells);
      known = true;
    }
  }
  if (!known) {
    return std::nullopt;
  }
  return cells;
}

}  // namespace flakebisect::bench
