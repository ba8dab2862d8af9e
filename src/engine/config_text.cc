#include "engine/config_text.h"

#include <fmt/core.h>
#include <toml++/toml.h>

#include <charconv>
#include <sstream>

namespace flakebisect::engine {
namespace {

// toml++ prints a float with all 17 digits ("confidence = 0.98999999999999999"); a float value on a
// line of its own is rewritten in the shortest form that reads back as the same double (0.99).
std::string shortest_floats(const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find(" = ");
    if (eq != std::string::npos && line.find_first_of(".eE", eq) != std::string::npos) {
      const std::string_view number = std::string_view(line).substr(eq + 3);
      double value = 0;
      const auto [end, error] =
          std::from_chars(number.data(), number.data() + number.size(), value);
      if (error == std::errc() && end == number.data() + number.size() && !number.empty() &&
          number.find_first_not_of("0123456789.eE+-") == std::string_view::npos) {
        std::string shortest = fmt::format("{}", value);
        if (shortest.find_first_of(".eEni") == std::string::npos) {
          shortest += ".0";  // still a float in TOML
        }
        line = line.substr(0, eq + 3) + shortest;
      }
    }
    out += line;
    out += '\n';
  }
  return out;
}

toml::array argv_array(const std::vector<std::string>& argv) {
  toml::array array;
  for (const std::string& arg : argv) {
    array.push_back(arg);
  }
  return array;
}

std::string render(const config::Config& config) {
  const config::DecisionConfig& d = config.decision;
  toml::table decision{
      {"confidence", d.confidence},
      {"max_runs", int64_t{d.max_runs}},
      {"max_wall_time", int64_t{d.max_wall_time.count()}},
      {"no_regression_prior", d.no_regression_prior},
      {"theta_min", d.theta_min},
      {"rate_spread", d.rate_spread},
      {"min_rate_ratio", d.min_rate_ratio},
      {"noise_build_weight", d.noise_build_weight},
      {"rare_build_weight", d.rare_build_weight},
      {"max_reproduce_runs", int64_t{d.max_reproduce_runs}},
      {"build_cost", d.build_cost},
      {"boot_cost", d.boot_cost},
      {"run_cost", d.run_cost},
      {"learn_costs", d.learn_costs},
      {"revert_check", d.revert_check},
      {"revert_check_max_runs", int64_t{d.revert_check_max_runs}},
      {"verify_check", d.verify_check},
      {"verify_check_max_runs", int64_t{d.verify_check_max_runs}},
  };
  // Written only when not the default, so the text stored for other bisections is what it was
  // before the backport check existed.
  if (d.backport_check) decision.insert("backport_check", true);
  if (d.backport_check_max_runs != config::DecisionConfig{}.backport_check_max_runs) {
    decision.insert("backport_check_max_runs", int64_t{d.backport_check_max_runs});
  }
  if (!d.backport_onto.empty()) decision.insert("backport_onto", d.backport_onto);
  toml::table build{{"timeout", int64_t{config.build.timeout.count()}}};
  if (!config.build.command.empty()) {
    build.insert("command", argv_array(config.build.command));
  }
  toml::table test{
      {"timeout", int64_t{config.test.timeout.count()}},
      {"no_output_timeout", int64_t{config.test.no_output_timeout.count()}},
      {"runs_per_batch", int64_t{config.test.runs_per_batch}},
  };
  if (!config.test.command.empty()) {
    test.insert("command", argv_array(config.test.command));
  }
  toml::array outcomes;
  for (const std::string& outcome : config.test.failure_outcomes) {
    outcomes.push_back(outcome);
  }
  test.insert("failure_outcomes", std::move(outcomes));
  if (config.test.signature) {
    test.insert("signature", *config.test.signature);
  }
  toml::table root{
      {"decision", std::move(decision)}, {"build", std::move(build)}, {"test", std::move(test)}};
  // Written only when set, so the text stored for an ordinary bisection is what it was before
  // [range] existed.
  if (config.range.first_parent || config.range.find_fix) {
    toml::table range;
    if (config.range.first_parent) range.insert("first_parent", true);
    if (config.range.find_fix) range.insert("find_fix", true);
    root.insert("range", std::move(range));
  }
  if (config.kernel) {
    const config::KernelConfig& k = *config.kernel;
    root.insert("kernel", toml::table{{"base", k.base},
                                      {"fragments", argv_array(k.fragments)},
                                      {"make", argv_array(k.make)},
                                      {"jobs", int64_t{k.jobs}},
                                      {"ccache", k.ccache},
                                      {"target", k.target}});
  }
  if (config.qemu) {
    const config::QemuConfig& q = *config.qemu;
    root.insert("qemu", toml::table{{"binary", q.binary},
                                    {"kernel", q.kernel},
                                    {"modules", q.modules},
                                    {"load_modules", argv_array(q.load_modules)},
                                    {"accel", q.accel},
                                    {"memory_mb", int64_t{q.memory_mb}},
                                    {"cpus", int64_t{q.cpus}},
                                    {"append", argv_array(q.append)},
                                    {"boot_timeout", int64_t{q.boot_timeout.count()}},
                                    {"runs_per_boot", int64_t{q.runs_per_boot}}});
    if (q.direct_boot) root["qemu"].as_table()->insert("direct_boot", true);
    const config::ScratchConfig& sc = config.scratch;
    root.insert("scratch", toml::table{{"size_mb", int64_t{sc.size_mb}},
                                       {"mkfs", argv_array(sc.mkfs)},
                                       {"fstype", sc.fstype},
                                       {"mount_options", sc.mount_options}});
  }
  if (config.reproducer) {
    const config::ReproducerConfig& r = *config.reproducer;
    root.insert("reproducer", toml::table{{"program", r.program},
                                          {"args", argv_array(r.args)},
                                          {"files", argv_array(r.files)}});
  }
  if (config.xfstests) {
    const config::XfstestsConfig& x = *config.xfstests;
    root.insert("xfstests", toml::table{{"root", x.root},
                                        {"dir", x.dir},
                                        {"tests", argv_array(x.tests)},
                                        {"mkfs_options", x.mkfs_options},
                                        {"mount_options", x.mount_options},
                                        {"environment", argv_array(x.environment)}});
  }
  std::ostringstream out;
  out << "# Effective configuration of this bisection (durations in seconds).\n";
  if (!config.source_name.empty()) {
    out << "# Based on " << config.source_name << ", with command-line overrides.\n";
  }
  out << root << "\n";
  return shortest_floats(out.str());
}

}  // namespace

base::Result<std::string> config_text_for_storage(const config::Config& config) {
  const std::string hash = config.hash();
  if (!config.source_text.empty()) {
    auto reparsed = config::parse_config(config.source_text, config.source_name);
    if (reparsed && reparsed->hash() == hash) {
      return config.source_text;
    }
  }
  std::string text = render(config);
  auto reparsed = config::parse_config(text, "effective configuration");
  if (!reparsed) {
    return std::move(reparsed).error().context("cannot store the configuration");
  }
  if (reparsed->hash() != hash) {
    return base::Error(
        "cannot store the configuration: a value does not survive TOML (is an argument invalid "
        "UTF-8?)",
        base::ErrorCode::kInvalidInput);
  }
  return text;
}

}  // namespace flakebisect::engine
