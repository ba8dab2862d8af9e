#include "config/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <regex>
#include <span>
#include <utility>

#include "base/paths.h"
#include "base/text.h"
#include "config/duration.h"
#include "config/sha256.h"

namespace flakebisect::config {
namespace {

using base::ErrorCode;

// Config files are a few hundred bytes; the cap only stops a wrong path (a log, a disk image) from
// being read whole.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

// toml++ recurses once per level of key nesting and overflows the stack somewhere past 30000 levels
// ("a.a.a...a = 1"). Every dotted level costs a '.', so bounding the dots outside comments bounds
// the nesting (inline tables and arrays add at most TOML_MAX_NESTED_VALUES more). Real configs use
// a few dozen.
constexpr size_t kMaxDots = 1000;

// Outcomes that may count as a failure of the bug, in their canonical order. pass and infra never
// can: infra says nothing about the commit.
constexpr std::array<std::string_view, 3> kFailureOutcomes = {"fail", "crash", "hang"};

// ---- Rendering user text into one-line messages ------------------------------------------------

// The longest prefix of `text` of at most `max_bytes` that does not split a UTF-8 character.
std::string_view prefix_of_at_most(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

// `text` as a TOML basic string: quoted, with quotes, backslashes and control characters escaped,
// so hostile text cannot break the one-line message. Strings longer than `max_bytes` are cut (at a
// UTF-8 character boundary; toml++ has already rejected invalid UTF-8) and end in "...".
std::string quote(std::string_view text, size_t max_bytes = 60) {
  const bool cut = text.size() > max_bytes;
  text = prefix_of_at_most(text, max_bytes);
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += fmt::format("\\u{:04X}", byte);
        } else {
          out += c;
        }
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

// Control characters in toml++'s messages (which may quote the input) escaped, the rest as is.
std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

// `text` cut to at most `max_bytes` with "..." appended if it was longer.
std::string shorten(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  return std::string(prefix_of_at_most(text, max_bytes)) + "...";
}

// One key of a dotted path: bare when TOML allows it, quoted otherwise.
std::string key_component(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  return bare ? std::string(key) : quote(key, std::string_view::npos);
}

std::string format_number(double value) {
  if (std::isnan(value)) {
    return "nan";
  }
  if (std::isinf(value)) {
    return value > 0 ? "inf" : "-inf";
  }
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) {
    text += ".0";  // so that 2.0 does not read as the integer 2 in "must be an integer, got 2.0"
  }
  return text;
}

// What the user wrote, for "got ...": the value for scalars, the kind for the rest.
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return quote(node.as_string()->get());
    case toml::node_type::integer:
      return std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point:
      return format_number(node.as_floating_point()->get());
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// ---- Problems ---------------------------------------------------------------------------------

struct Problem {
  toml::source_position where;
  std::string message;  // without the position
};

// One key being read: its full dotted name as the user would write it, where the key is, and its
// value.
struct Field {
  std::string key;
  toml::source_position where;
  const toml::node& node;
};

class Problems {
 public:
  template <typename... Args>
  void at(toml::source_position where, fmt::format_string<Args...> format, Args&&... args) {
    list_.push_back({where, fmt::format(format, std::forward<Args>(args)...)});
  }
  // A problem with a field's value, reported at its key: "<key>: <message>".
  template <typename... Args>
  void at(const Field& field, fmt::format_string<Args...> format, Args&&... args) {
    list_.push_back(
        {field.where, field.key + ": " + fmt::format(format, std::forward<Args>(args)...)});
  }

  bool empty() const { return list_.empty(); }

  // The problem nearest the start of the text, if any.
  const Problem* first() const {
    const auto earlier = [](const Problem& a, const Problem& b) {
      return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
    };
    const auto it = std::min_element(list_.begin(), list_.end(), earlier);
    return it == list_.end() ? nullptr : &*it;
  }

 private:
  std::vector<Problem> list_;
};

// ---- Typed readers: each returns the value, or records a problem and returns nullopt ----------

std::optional<double> read_number(const Field& field, Problems& problems) {
  double value = 0;
  if (const auto* integer = field.node.as_integer()) {
    value = static_cast<double>(integer->get());
  } else if (const auto* floating = field.node.as_floating_point()) {
    value = floating->get();
  } else {
    problems.at(field, "must be a number, got {}", describe(field.node));
    return std::nullopt;
  }
  if (!std::isfinite(value)) {
    problems.at(field, "must be a finite number, got {}", describe(field.node));
    return std::nullopt;
  }
  return value == 0 ? 0.0 : value;  // -0.0 is 0
}

// A number satisfying `valid`, described as `what` ("a number in (0.5, 1)") when it does not.
void read_number_into(const Field& field, Problems& problems, double& target, bool (*valid)(double),
                      std::string_view what) {
  if (const auto value = read_number(field, problems)) {
    if (valid(*value)) {
      target = *value;
    } else {
      problems.at(field, "must be {}, got {}", what, describe(field.node));
    }
  }
}

// A count in [minimum, UINT32_MAX].
void read_count_into(const Field& field, Problems& problems, uint32_t& target, uint32_t minimum) {
  const auto* integer = field.node.as_integer();
  if (integer == nullptr) {
    problems.at(field, "must be an integer, got {}", describe(field.node));
    return;
  }
  const int64_t value = integer->get();
  if (value < int64_t{minimum}) {
    problems.at(field, "must be at least {}, got {}", minimum, value);
  } else if (value > std::numeric_limits<uint32_t>::max()) {
    problems.at(field, "must be at most {}, got {}", std::numeric_limits<uint32_t>::max(), value);
  } else {
    target = static_cast<uint32_t>(value);
  }
}

// Whole seconds as an integer, or a duration string; `minimum` is 0 or 1 s.
void read_duration_into(const Field& field, Problems& problems, std::chrono::seconds& target,
                        std::chrono::seconds minimum) {
  std::chrono::seconds value{0};
  if (const auto* integer = field.node.as_integer()) {
    if (integer->get() < 0) {
      problems.at(field, "must not be negative, got {}", integer->get());
      return;
    }
    if (integer->get() > kMaxDuration.count()) {
      problems.at(field, "must be at most {}, got {}", format_duration(kMaxDuration),
                  integer->get());
      return;
    }
    value = std::chrono::seconds(integer->get());
  } else if (const auto* string = field.node.as_string()) {
    auto parsed = parse_duration(string->get());
    if (!parsed) {
      problems.at(field, "{} is not a duration: {}", describe(field.node),
                  parsed.error().message());
      return;
    }
    value = *parsed;
  } else {
    problems.at(field,
                "must be a duration (whole seconds, or a string like \"90s\", \"10m\", "
                "\"1h30m\"), got {}",
                describe(field.node));
    return;
  }
  if (value < minimum) {
    problems.at(field, "must be at least {}, got {}", format_duration(minimum),
                describe(field.node));
    return;
  }
  target = value;
}

// An argv vector. A plain string is refused rather than split: splitting would need shell quoting
// rules, and no shell is ever used. The error suggests the array to write instead.
void read_argv_into(const Field& field, Problems& problems, std::vector<std::string>& target) {
  if (const auto* string = field.node.as_string()) {
    const std::string& text = string->get();
    const bool plain_words =
        !text.empty() && text.find_first_of("\"'`\\$&|;<>()*?[]{}~#!\n\t") == std::string::npos;
    std::string suggestion;
    if (plain_words) {
      std::vector<std::string> words;
      for (size_t start = 0; start < text.size();) {
        const size_t space = std::min(text.find(' ', start), text.size());
        if (space > start) {
          words.push_back(quote(text.substr(start, space - start), std::string_view::npos));
        }
        start = space + 1;
      }
      suggestion = fmt::format("write [{}]", fmt::join(words, ", "));
    } else {
      suggestion = fmt::format("write [\"sh\", \"-c\", {}] if you need one",
                               quote(text, std::string_view::npos));
    }
    problems.at(field, "must be an array of strings (argv); no shell is used: {}", suggestion);
    return;
  }
  const auto* array = field.node.as_array();
  if (array == nullptr) {
    problems.at(field, "must be an array of strings (argv), got {}", describe(field.node));
    return;
  }
  std::vector<std::string> argv;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const auto* word = item.as_string();
    if (word == nullptr) {
      problems.at(item.source().begin, "{}[{}]: must be a string, got {}", field.key, i,
                  describe(item));
      ok = false;
    } else if (word->get().find('\0') != std::string::npos) {
      problems.at(item.source().begin, "{}[{}]: must not contain a NUL character", field.key, i);
      ok = false;
    } else if (i == 0 && word->get().empty()) {
      problems.at(item.source().begin, "{}[0]: the program name must not be empty", field.key);
      ok = false;
    } else {
      argv.push_back(word->get());
    }
  }
  if (ok) {
    target = std::move(argv);
  }
}

void read_failure_outcomes(const Field& field, Problems& problems,
                           std::vector<std::string>& target) {
  const auto* array = field.node.as_array();
  if (array == nullptr) {
    problems.at(field, "must be an array of outcome names, got {}", describe(field.node));
    return;
  }
  if (array->empty()) {
    problems.at(field, "must name at least one outcome (fail, crash or hang)");
    return;
  }
  std::array<bool, kFailureOutcomes.size()> chosen{};
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const auto* name = item.as_string();
    const auto known =
        name == nullptr ? kFailureOutcomes.end()
                        : std::find(kFailureOutcomes.begin(), kFailureOutcomes.end(), name->get());
    if (known != kFailureOutcomes.end()) {
      chosen[static_cast<size_t>(known - kFailureOutcomes.begin())] = true;
      continue;
    }
    ok = false;
    std::string why;
    if (name != nullptr && (name->get() == "pass" || name->get() == "infra")) {
      why = name->get() == "pass" ? " (a pass is never a failure)"
                                  : " (infra says nothing about the commit, so it never counts)";
    }
    problems.at(item.source().begin, "{}[{}]: must be one of fail, crash, hang, got {}{}",
                field.key, i, describe(item), why);
  }
  if (ok) {
    target.clear();
    for (size_t i = 0; i < kFailureOutcomes.size(); ++i) {
      if (chosen[i]) {
        target.emplace_back(kFailureOutcomes[i]);
      }
    }
  }
}

void read_signature(const Field& field, Problems& problems, std::optional<std::string>& target) {
  const auto* string = field.node.as_string();
  if (string == nullptr) {
    problems.at(field, "must be a string (a regular expression), got {}", describe(field.node));
    return;
  }
  if (string->get().empty()) {
    problems.at(field, "must not be empty (leave it out to count every crash)");
    return;
  }
  try {
    const std::regex compiled(string->get(), std::regex::ECMAScript);
  } catch (const std::regex_error& error) {
    problems.at(field, "not a valid regular expression: {}", one_line(error.what()));
    return;
  }
  target = string->get();
}

// A string; `check` returns an error text for a bad value ("" = fine).
void read_string_into(const Field& field, Problems& problems, std::string& target,
                      std::string (*check)(const std::string&)) {
  const auto* string = field.node.as_string();
  if (string == nullptr) {
    problems.at(field, "must be a string, got {}", describe(field.node));
    return;
  }
  if (string->get().find('\0') != std::string::npos) {
    problems.at(field, "must not contain a NUL character");
    return;
  }
  if (check != nullptr) {
    if (std::string why = check(string->get()); !why.empty()) {
      problems.at(field, "{}, got {}", why, describe(field.node));
      return;
    }
  }
  target = string->get();
}

void read_bool_into(const Field& field, Problems& problems, bool& target) {
  const auto* boolean = field.node.as_boolean();
  if (boolean == nullptr) {
    problems.at(field, "must be true or false, got {}", describe(field.node));
    return;
  }
  target = boolean->get();
}

// An array of strings (may be empty); `check` as in read_string_into, per item.
void read_strings_into(const Field& field, Problems& problems, std::vector<std::string>& target,
                       std::string (*check)(const std::string&)) {
  const auto* array = field.node.as_array();
  if (array == nullptr) {
    problems.at(field, "must be an array of strings, got {}", describe(field.node));
    return;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const auto* word = item.as_string();
    std::string why;
    if (word == nullptr) {
      why = fmt::format("must be a string, got {}", describe(item));
    } else if (word->get().find('\0') != std::string::npos) {
      why = "must not contain a NUL character";
    } else if (check != nullptr) {
      why = check(word->get());
      if (!why.empty()) {
        why += fmt::format(", got {}", describe(item));
      }
    }
    if (!why.empty()) {
      problems.at(item.source().begin, "{}[{}]: {}", field.key, i, why);
      ok = false;
    } else {
      items.push_back(word->get());
    }
  }
  if (ok) {
    target = std::move(items);
  }
}

std::string absolute_path_or_empty(const std::string& value) {
  return value.empty() || value.front() == '/' ? "" : "must be an absolute path";
}

std::string absolute_path(const std::string& value) {
  return !value.empty() && value.front() == '/' ? "" : "must be an absolute path";
}

std::string not_empty(const std::string& value) { return value.empty() ? "must not be empty" : ""; }

std::string kernel_base(const std::string& value) {
  if (value == "defconfig" || value == "tinyconfig" || value == "allnoconfig" ||
      (!value.empty() && value.front() == '/')) {
    return "";
  }
  return "must be defconfig, tinyconfig, allnoconfig or an absolute path to a .config";
}

std::string fragment_name(const std::string& value) {
  if (!value.empty() && value.front() == '/') {
    return "";
  }
  const bool plain = !value.empty() && value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                               "0123456789-_") == std::string::npos;
  return plain ? "" : "must be a bundled fragment's name or an absolute path";
}

std::string make_target(const std::string& value) {
  const bool plain = !value.empty() && value.front() != '-' &&
                     value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                         std::string::npos;
  return plain ? "" : "must be a make target such as bzImage";
}

std::string accel_name(const std::string& value) {
  return value == "auto" || value == "kvm" || value == "tcg" ? "" : "must be auto, kvm or tcg";
}

std::string module_name(const std::string& value) {
  const bool plain = !value.empty() && value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "0123456789-_") == std::string::npos;
  return plain ? "" : "must be a module name (letters, digits, - and _)";
}

std::string mount_options(const std::string& value) {
  return value.find_first_of(" \t\n") == std::string::npos ? "" : "must not contain whitespace";
}

// Values the guest reads line by line.
std::string one_line_value(const std::string& value) {
  return value.find_first_of("\n\r") == std::string::npos ? "" : "must not contain a line break";
}

std::string fstype_name(const std::string& value) { return module_name(value); }

std::string reproducer_program(const std::string& value) {
  if (value.rfind("bundled:", 0) == 0) {
    return value == "bundled:dio-check" ? "" : "the bundled reproducer is bundled:dio-check";
  }
  if (value.empty()) {
    return "must not be empty";
  }
  if (value.find("..") != std::string::npos && value.front() != '/') {
    return "a path in the checkout must not contain '..'";
  }
  return "";
}

// An absolute path the guest reads as one line.
std::string absolute_one_line_path(const std::string& value) {
  const std::string problem = absolute_path(value);
  return problem.empty() ? one_line_value(value) : problem;
}

// "NAME=value" with NAME a shell variable name.
std::string environment_entry(const std::string& value) {
  const size_t equals = value.find('=');
  const std::string name = value.substr(0, equals);
  const bool valid_name =
      !name.empty() && (name[0] < '0' || name[0] > '9') &&
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
          std::string::npos;
  if (equals == std::string::npos || !valid_name) {
    return "must be NAME=value with NAME made of letters, digits and _";
  }
  return one_line_value(value);
}

// A count in [minimum, maximum].
void read_bounded_count_into(const Field& field, Problems& problems, uint32_t& target,
                             uint32_t minimum, uint32_t maximum) {
  uint32_t value = target;
  read_count_into(field, problems, value, minimum);
  if (value > maximum) {
    problems.at(field, "must be at most {}, got {}", maximum, value);
    return;
  }
  target = value;
}

// ---- The schema --------------------------------------------------------------------------------

using ReadFn = void (*)(const Field&, Problems&, Config&);

struct KeySpec {
  std::string_view section;
  std::string_view name;
  ReadFn read;
};

constexpr auto kSecond = std::chrono::seconds(1);
constexpr auto kZero = std::chrono::seconds(0);

// Every key a config may hold. docs/config.md describes each; keep the two in step.
constexpr KeySpec kKeys[] = {
    {"range", "first_parent",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.range.first_parent); }},
    {"range", "find_fix",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.range.find_fix); }},
    {"decision", "confidence",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.confidence, [](double v) { return v > 0.5 && v < 1; },
           "a number in (0.5, 1)");
     }},
    {"decision", "max_runs",
     [](const Field& f, Problems& p, Config& c) { read_count_into(f, p, c.decision.max_runs, 1); }},
    {"decision", "max_wall_time",
     [](const Field& f, Problems& p, Config& c) {
       read_duration_into(f, p, c.decision.max_wall_time, kZero);
     }},
    {"decision", "no_regression_prior",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.no_regression_prior, [](double v) { return v >= 0 && v < 1; },
           "a number in [0, 1)");
     }},
    {"decision", "theta_min",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.theta_min, [](double v) { return v > 0 && v < 1; },
           "a number in (0, 1)");
     }},
    {"decision", "rate_spread",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.rate_spread, [](double v) { return v >= 0 && v <= 2; },
           "a number in [0, 2]");
     }},
    {"decision", "min_rate_ratio",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.min_rate_ratio, [](double v) { return v >= 1 && v <= 100; },
           "a number in [1, 100]");
     }},
    {"decision", "noise_build_weight",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.noise_build_weight, [](double v) { return v >= 0 && v <= 100; },
           "a number in [0, 100]");
     }},
    {"decision", "rare_build_weight",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.rare_build_weight, [](double v) { return v >= 0 && v <= 100; },
           "a number in [0, 100]");
     }},
    {"decision", "max_reproduce_runs",
     [](const Field& f, Problems& p, Config& c) {
       read_count_into(f, p, c.decision.max_reproduce_runs, 1);
     }},
    {"decision", "build_cost",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.build_cost, [](double v) { return v >= 0; }, "a number >= 0");
     }},
    {"decision", "boot_cost",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.boot_cost, [](double v) { return v >= 0; }, "a number >= 0");
     }},
    {"decision", "run_cost",
     [](const Field& f, Problems& p, Config& c) {
       read_number_into(
           f, p, c.decision.run_cost, [](double v) { return v > 0; }, "a number > 0");
     }},
    {"decision", "learn_costs",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.decision.learn_costs); }},
    {"decision", "revert_check",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.decision.revert_check); }},
    {"decision", "verify_check",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.decision.verify_check); }},
    {"decision", "verify_check_max_runs",
     [](const Field& f, Problems& p, Config& c) {
       read_count_into(f, p, c.decision.verify_check_max_runs, 1);
     }},
    {"decision", "revert_check_max_runs",
     [](const Field& f, Problems& p, Config& c) {
       read_count_into(f, p, c.decision.revert_check_max_runs, 1);
     }},
    {"decision", "backport_check",
     [](const Field& f, Problems& p, Config& c) {
       read_bool_into(f, p, c.decision.backport_check);
     }},
    {"decision", "backport_check_max_runs",
     [](const Field& f, Problems& p, Config& c) {
       read_count_into(f, p, c.decision.backport_check_max_runs, 1);
     }},
    {"decision", "backport_onto",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.decision.backport_onto, [](const std::string& v) {
         return v.empty() ? std::string("must name a revision") : std::string();
       });
     }},
    {"build", "command",
     [](const Field& f, Problems& p, Config& c) { read_argv_into(f, p, c.build.command); }},
    {"build", "timeout",
     [](const Field& f, Problems& p, Config& c) {
       read_duration_into(f, p, c.build.timeout, kSecond);
     }},
    {"test", "command",
     [](const Field& f, Problems& p, Config& c) { read_argv_into(f, p, c.test.command); }},
    {"test", "timeout",
     [](const Field& f, Problems& p, Config& c) {
       read_duration_into(f, p, c.test.timeout, kSecond);
     }},
    {"test", "no_output_timeout",
     [](const Field& f, Problems& p, Config& c) {
       read_duration_into(f, p, c.test.no_output_timeout, kZero);
     }},
    {"test", "failure_outcomes",
     [](const Field& f, Problems& p, Config& c) {
       read_failure_outcomes(f, p, c.test.failure_outcomes);
     }},
    {"test", "signature",
     [](const Field& f, Problems& p, Config& c) { read_signature(f, p, c.test.signature); }},
    {"test", "runs_per_batch",
     [](const Field& f, Problems& p, Config& c) {
       read_count_into(f, p, c.test.runs_per_batch, 0);
     }},
    {"kernel", "base",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.kernel->base, kernel_base);
     }},
    {"kernel", "fragments",
     [](const Field& f, Problems& p, Config& c) {
       read_strings_into(f, p, c.kernel->fragments, fragment_name);
     }},
    {"kernel", "make",
     [](const Field& f, Problems& p, Config& c) {
       read_argv_into(f, p, c.kernel->make);
       if (c.kernel->make.empty()) {
         p.at(f, "must name the make program");
         c.kernel->make = {"make"};
       }
     }},
    {"kernel", "jobs",
     [](const Field& f, Problems& p, Config& c) { read_count_into(f, p, c.kernel->jobs, 0); }},
    {"kernel", "ccache",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.kernel->ccache); }},
    {"kernel", "target",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.kernel->target, make_target);
     }},
    {"qemu", "binary",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.qemu->binary, not_empty);
     }},
    {"qemu", "kernel",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.qemu->kernel, absolute_path_or_empty);
     }},
    {"qemu", "modules",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.qemu->modules, absolute_path_or_empty);
     }},
    {"qemu", "load_modules",
     [](const Field& f, Problems& p, Config& c) {
       read_strings_into(f, p, c.qemu->load_modules, module_name);
     }},
    {"qemu", "accel",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.qemu->accel, accel_name);
     }},
    {"qemu", "memory_mb",
     [](const Field& f, Problems& p, Config& c) {
       read_bounded_count_into(f, p, c.qemu->memory_mb, 64, 1 << 20);
     }},
    {"qemu", "cpus",
     [](const Field& f, Problems& p, Config& c) {
       read_bounded_count_into(f, p, c.qemu->cpus, 1, 256);
     }},
    {"qemu", "append",
     [](const Field& f, Problems& p, Config& c) {
       read_strings_into(f, p, c.qemu->append, mount_options);
     }},
    {"qemu", "boot_timeout",
     [](const Field& f, Problems& p, Config& c) {
       read_duration_into(f, p, c.qemu->boot_timeout, kSecond);
     }},
    {"qemu", "direct_boot",
     [](const Field& f, Problems& p, Config& c) { read_bool_into(f, p, c.qemu->direct_boot); }},
    {"qemu", "runs_per_boot",
     [](const Field& f, Problems& p, Config& c) {
       read_bounded_count_into(f, p, c.qemu->runs_per_boot, 1, 24);
     }},
    {"scratch", "size_mb",
     [](const Field& f, Problems& p, Config& c) {
       read_bounded_count_into(f, p, c.scratch.size_mb, 16, 1 << 20);
     }},
    {"scratch", "mkfs",
     [](const Field& f, Problems& p, Config& c) {
       read_argv_into(f, p, c.scratch.mkfs);
       if (c.scratch.mkfs.empty()) {
         p.at(f, "must name the mkfs program");
         c.scratch.mkfs = ScratchConfig().mkfs;
       }
     }},
    {"scratch", "fstype",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.scratch.fstype, fstype_name);
     }},
    {"scratch", "mount_options",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.scratch.mount_options, mount_options);
     }},
    {"reproducer", "program",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.reproducer->program, reproducer_program);
     }},
    {"reproducer", "args",
     [](const Field& f, Problems& p, Config& c) {
       read_strings_into(f, p, c.reproducer->args, one_line_value);
     }},
    {"reproducer", "files",
     [](const Field& f, Problems& p, Config& c) {
       read_strings_into(f, p, c.reproducer->files, absolute_path);
     }},
    {"xfstests", "root",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.xfstests->root, absolute_one_line_path);
     }},
    {"xfstests", "dir",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.xfstests->dir, absolute_one_line_path);
     }},
    {"xfstests", "tests",
     [](const Field& f, Problems& p, Config& c) {
       read_strings_into(f, p, c.xfstests->tests, one_line_value);
       if (c.xfstests->tests.empty()) {
         p.at(f, "must name at least one test, e.g. [\"generic/418\"]");
         c.xfstests->tests = XfstestsConfig().tests;
       }
     }},
    {"xfstests", "mkfs_options",
     [](const Field& f, Problems& p, Config& c) {
       read_string_into(f, p, c.xfstests->mkfs_options, one_line_value);
     }},
    {"xfstests", "mount_options",
     [](const Field& f, Problems& p,
        Config& c) { read_string_into(f, p, c.xfstests->mount_options, one_line_value); }},
    {"xfstests", "environment",
     [](const Field& f, Problems& p,
        Config& c) { read_strings_into(f, p, c.xfstests->environment, environment_entry); }},
};

bool is_section(std::string_view name) {
  return std::any_of(std::begin(kKeys), std::end(kKeys),
                     [&](const KeySpec& spec) { return spec.section == name; });
}

const KeySpec* find_key(std::string_view section, std::string_view name) {
  for (const KeySpec& spec : kKeys) {
    if (spec.section == section && spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

// ---- Unknown keys ------------------------------------------------------------------------------

// The known key the user most likely meant by `path` ("decison.confidence"), or "": the nearest
// one within an edit distance of 2, else the only known key with the same last component (for
// a key put in the wrong table, "test.max_runs" -> "decision.max_runs").
std::string suggest(std::span<const std::string> path) {
  const std::string wanted = fmt::format("{}", fmt::join(path, "."));
  std::string best;
  size_t best_distance = 3;
  for (const KeySpec& spec : kKeys) {
    const std::string known = fmt::format("{}.{}", spec.section, spec.name);
    // The distance is at least the length difference; skipping early keeps a hostile megabyte-long
    // key from costing a quadratic comparison.
    const size_t length_gap =
        known.size() > wanted.size() ? known.size() - wanted.size() : wanted.size() - known.size();
    if (length_gap >= best_distance) {
      continue;
    }
    const size_t distance = base::edit_distance(wanted, known);
    if (distance < best_distance) {
      best = known;
      best_distance = distance;
    }
  }
  if (!best.empty()) {
    return best;
  }
  for (const KeySpec& spec : kKeys) {
    if (spec.name == path.back()) {
      if (!best.empty()) {
        return "";  // ambiguous
      }
      best = fmt::format("{}.{}", spec.section, spec.name);
    }
  }
  return best;
}

// Records every leaf under an unknown key (the key itself when it is not a non-empty table), so the
// message names what the user wrote, "decison.confidence" rather than just "decison".
void report_unknown(std::vector<std::string>& path, toml::source_position where,
                    const toml::node& node, Problems& problems) {
  const auto* table = node.as_table();
  if (table != nullptr && !table->empty()) {
    for (auto&& [key, child] : *table) {
      path.push_back(key_component(key.str()));
      report_unknown(path, key.source().begin, child, problems);
      path.pop_back();
    }
    return;
  }
  const std::string suggestion = suggest(path);
  problems.at(where, "unknown key '{}'{}", shorten(fmt::format("{}", fmt::join(path, ".")), 200),
              suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion));
}

// ---- The document ------------------------------------------------------------------------------

void read_document(const toml::table& root, Config& config, Problems& problems,
                   ConfigOrigin origin) {
  std::optional<toml::source_position> runs_per_batch_at;
  std::optional<toml::source_position> no_output_timeout_at;
  std::map<std::string, toml::source_position> section_at;
  for (auto&& [section_key, section_node] : root) {
    const std::string_view section = section_key.str();
    std::vector<std::string> path = {key_component(section)};
    if (!is_section(section)) {
      report_unknown(path, section_key.source().begin, section_node, problems);
      continue;
    }
    const auto* table = section_node.as_table();
    if (table == nullptr) {
      problems.at(section_key.source().begin, "{}: must be a table, got {}", section,
                  describe(section_node));
      continue;
    }
    section_at.emplace(std::string(section), section_key.source().begin);
    if (section == "kernel") {
      config.kernel.emplace();
    } else if (section == "qemu") {
      config.qemu.emplace();
    } else if (section == "reproducer") {
      config.reproducer.emplace();
    } else if (section == "xfstests") {
      config.xfstests.emplace();
    }
    for (auto&& [key, node] : *table) {
      const KeySpec* spec = find_key(section, key.str());
      if (spec == nullptr) {
        path.push_back(key_component(key.str()));
        report_unknown(path, key.source().begin, node, problems);
        path.pop_back();
        continue;
      }
      Field field{fmt::format("{}.{}", section, spec->name), key.source().begin, node};
      spec->read(field, problems, config);
      config.key_lines[field.key] = field.where.line;
      if (spec->name == "runs_per_batch") {
        runs_per_batch_at = key.source().begin;
      } else if (spec->name == "no_output_timeout") {
        no_output_timeout_at = key.source().begin;
      }
    }
  }
  // Checks that involve two keys, reported at the one the user is more likely to have mistyped.
  if (runs_per_batch_at && config.test.runs_per_batch > config.decision.max_runs) {
    problems.at(*runs_per_batch_at,
                "test.runs_per_batch: must be at most decision.max_runs ({}), got {}",
                config.decision.max_runs, config.test.runs_per_batch);
  }
  // How the test runs: on the host (test.command) or in a QEMU guest ([qemu] + [reproducer] or
  // [xfstests]).
  // Checked only when every value was read, so that a bad value is reported as itself rather than
  // as the default it left behind.
  if (!problems.empty()) {
    return;
  }
  const auto at = [&](const char* section) { return section_at.at(section); };
  if (config.reproducer && !config.test.command.empty()) {
    problems.at(at("reproducer"),
                "[reproducer]: test.command already says how to test; a test runs either on the "
                "host (test.command) or in a guest ([qemu] with [reproducer]), not both");
  }
  if (config.reproducer && !config.qemu) {
    problems.at(at("reproducer"), "[reproducer]: needs a [qemu] table to run the guest in");
  }
  if (config.xfstests && !config.test.command.empty()) {
    problems.at(at("xfstests"),
                "[xfstests]: test.command already says how to test; a test runs either on the "
                "host (test.command) or in a guest ([qemu] with [xfstests]), not both");
  }
  if (config.xfstests && config.reproducer) {
    problems.at(at("xfstests"),
                "[xfstests]: the guest runs either a [reproducer] or xfstests, not both");
  }
  if (config.xfstests && !config.qemu) {
    problems.at(at("xfstests"), "[xfstests]: needs a [qemu] table to run the guest in");
  }
  if (config.xfstests && config.xfstests->dir.empty()) {
    problems.at(at("xfstests"),
                "xfstests.dir: required: the absolute path of a built xfstests tree (the "
                "directory holding ./check), as seen inside xfstests.root");
  }
  if (config.qemu && !config.reproducer && !config.xfstests) {
    problems.at(at("qemu"),
                "[qemu]: needs a [reproducer] or [xfstests] table saying what to run in the guest");
  }
  if (section_at.count("scratch") != 0 && !config.qemu) {
    problems.at(at("scratch"), "[scratch]: only used with [qemu]");
  }
  if (config.kernel && !config.qemu) {
    problems.at(at("kernel"), "[kernel]: needs a [qemu] table to boot the kernels it builds");
  }
  if (config.kernel && !config.build.command.empty()) {
    problems.at(at("kernel"),
                "[kernel]: build.command already says how to build; use one or the other");
  }
  if (config.qemu && config.kernel && !config.qemu->kernel.empty()) {
    problems.at(at("qemu"),
                "qemu.kernel: must be empty with [kernel] (the kernel is built at each commit)");
  }
  if (origin == ConfigOrigin::kNew && config.qemu && config.kernel &&
      !config.qemu->modules.empty()) {
    // Those modules were built for another kernel: the guest would refuse them (vermagic), or
    // load them into a kernel they were not built for. The kernels built are booted whole.
    problems.at(at("qemu"),
                "qemu.modules: must be empty with [kernel] (the kernel is built at each commit, "
                "with what it needs built in: set those options =y in a fragment)");
  }
  if (origin == ConfigOrigin::kNew && config.xfstests && no_output_timeout_at &&
      config.test.no_output_timeout.count() > 0) {
    // The guest init watches a reproducer's output, not ./check's.
    problems.at(*no_output_timeout_at,
                "test.no_output_timeout: not supported with [xfstests] (./check's output is not "
                "watched); remove it or set it to 0: test.timeout stops a run in the guest");
  }
  if (config.qemu && !config.kernel && config.qemu->kernel.empty()) {
    problems.at(at("qemu"),
                "qemu.kernel: a prebuilt kernel image is needed when there is no [kernel] table "
                "(for example \"/boot/vmlinuz-6.1.0-13-amd64\")");
  }
}

// The line on which the dots outside comment lines pass kMaxDots, or 0.
uint32_t line_of_too_many_dots(std::string_view text) {
  size_t dots = 0;
  uint32_t line = 1;
  for (size_t start = 0; start < text.size(); ++line) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view content = text.substr(start, end - start);
    const size_t first = content.find_first_not_of(" \t");
    if (first != std::string_view::npos && content[first] != '#') {
      dots += static_cast<size_t>(std::count(content.begin(), content.end(), '.'));
      if (dots > kMaxDots) {
        return line;
      }
    }
    start = end + 1;
  }
  return 0;
}

std::string position_prefix(std::string_view source_name, const toml::source_position& where) {
  if (where.line == 0) {
    return fmt::format("{}: ", source_name);
  }
  return fmt::format("{}:{}:{}: ", source_name, where.line, where.column);
}

// Length-prefixed so that no string content can imitate a separator.
void append_strings(std::string& out, std::string_view key, const std::vector<std::string>& list) {
  out += fmt::format("{}={}", key, list.size());
  for (const std::string& item : list) {
    out += fmt::format(" {}:{}", item.size(), item);
  }
  out += '\n';
}

}  // namespace

std::string Config::origin_of(std::string_view key, std::string_view flag) const {
  const auto it = key_lines.find(std::string(key));
  if (it == key_lines.end()) {
    return std::string(flag);
  }
  return fmt::format("{} ({}:{})", key, source_name.empty() ? "config" : source_name, it->second);
}

std::string Config::hash() const {
  // The serialisation is versioned: a change to it changes every hash, so change it only together
  // with the version line (and expect stored hashes of old bisections to differ).
  std::string out = "flakebisect config v1\n";
  const auto number = [&](std::string_view key, double value) {
    // The shortest text that reads back as the same double; -0.0 is 0.
    out += fmt::format("{}={}\n", key, value == 0 ? 0.0 : value);
  };
  const auto integer = [&](std::string_view key, int64_t value) {
    out += fmt::format("{}={}\n", key, value);
  };
  number("decision.confidence", decision.confidence);
  integer("decision.max_runs", decision.max_runs);
  integer("decision.max_wall_time", decision.max_wall_time.count());
  number("decision.no_regression_prior", decision.no_regression_prior);
  number("decision.theta_min", decision.theta_min);
  integer("decision.max_reproduce_runs", decision.max_reproduce_runs);
  number("decision.build_cost", decision.build_cost);
  number("decision.boot_cost", decision.boot_cost);
  number("decision.run_cost", decision.run_cost);
  // Added after v1: serialised only when not the default, so existing configs keep their hashes.
  if (!decision.learn_costs) {
    out += "decision.learn_costs=0\n";
  }
  // Likewise (a bisection stored before rate_spread existed resumes with the default).
  if (decision.rate_spread != DecisionConfig{}.rate_spread) {
    number("decision.rate_spread", decision.rate_spread);
  }
  // Likewise for min_rate_ratio (a bisection stored before it existed resumes with the default, 2,
  // where it ran with 1: the posterior is recomputed from the stored runs under the new prior).
  if (decision.min_rate_ratio != DecisionConfig{}.min_rate_ratio) {
    number("decision.min_rate_ratio", decision.min_rate_ratio);
  }
  // noise_build_weight is serialised when not 0, its default when the key was added (session 9),
  // not when it differs from today's default (1 since session 11). So a config that said 0, or
  // was rendered with 0 before session 11, keeps its hash and its behaviour, and one without the
  // key, which ran with 0 then and runs with 1 now, hashes differently: the resume warning fires
  // exactly when the planner changed.
  if (decision.noise_build_weight != 0) {
    number("decision.noise_build_weight", decision.noise_build_weight);
  }
  // rare_build_weight likewise: serialised when not 0, its default, so configs from before it
  // existed keep their hashes.
  if (decision.rare_build_weight != 0) {
    number("decision.rare_build_weight", decision.rare_build_weight);
  }
  // The revert check (added later) likewise: serialised only when on, and its cap only when not
  // the default, so configs from before it keep their hashes. It changes the answer's checks, not
  // the culprit, but a resume with it switched should still say the configuration changed.
  if (decision.revert_check) {
    out += "decision.revert_check=1\n";
  }
  if (decision.revert_check_max_runs != DecisionConfig{}.revert_check_max_runs) {
    integer("decision.revert_check_max_runs", decision.revert_check_max_runs);
  }
  // The verify check (later still) is on by default: serialised only when off, and its cap only
  // when not the default.
  if (!decision.verify_check) {
    out += "decision.verify_check=0\n";
  }
  if (decision.verify_check_max_runs != DecisionConfig{}.verify_check_max_runs) {
    integer("decision.verify_check_max_runs", decision.verify_check_max_runs);
  }
  // The backport check (later still), as the revert check: only when not the default.
  if (decision.backport_check) {
    out += "decision.backport_check=1\n";
  }
  if (decision.backport_check_max_runs != DecisionConfig{}.backport_check_max_runs) {
    integer("decision.backport_check_max_runs", decision.backport_check_max_runs);
  }
  if (!decision.backport_onto.empty()) {
    append_strings(out, "decision.backport_onto", {decision.backport_onto});
  }
  append_strings(out, "build.command", build.command);
  integer("build.timeout", build.timeout.count());
  // [range] came after v1: serialised only when not the default, so existing configs keep their
  // hashes. It changes the candidates, so a bisection's answer: part of the hash. find_fix walks
  // the first-parent chain whatever first_parent says, so with it first_parent changes nothing.
  if (range.first_parent && !range.find_fix) {
    out += "range.first_parent=1\n";
  }
  if (range.find_fix) {
    out += "range.find_fix=1\n";
  }
  append_strings(out, "test.command", test.command);
  integer("test.timeout", test.timeout.count());
  integer("test.no_output_timeout", test.no_output_timeout.count());
  // A set: parse_config already gives canonical order, a Config built in code may not.
  std::vector<std::string> outcomes = test.failure_outcomes;
  const auto rank = [](const std::string& name) {
    return std::find(kFailureOutcomes.begin(), kFailureOutcomes.end(), name) -
           kFailureOutcomes.begin();
  };
  std::sort(outcomes.begin(), outcomes.end(), [&](const std::string& a, const std::string& b) {
    return std::pair(rank(a), std::string_view(a)) < std::pair(rank(b), std::string_view(b));
  });
  outcomes.erase(std::unique(outcomes.begin(), outcomes.end()), outcomes.end());
  append_strings(out, "test.failure_outcomes", outcomes);
  if (test.signature) {
    append_strings(out, "test.signature", {*test.signature});
  } else {
    out += "test.signature=none\n";
  }
  integer("test.runs_per_batch", test.runs_per_batch);
  // Tables added after v1 are serialised only when present, so configs without them keep their
  // hashes.
  if (kernel) {
    append_strings(out, "kernel.base", {kernel->base});
    append_strings(out, "kernel.fragments", kernel->fragments);
    append_strings(out, "kernel.make", kernel->make);
    integer("kernel.jobs", kernel->jobs);
    integer("kernel.ccache", kernel->ccache ? 1 : 0);
    append_strings(out, "kernel.target", {kernel->target});
  }
  if (qemu) {
    append_strings(out, "qemu.binary", {qemu->binary});
    append_strings(out, "qemu.kernel", {qemu->kernel});
    append_strings(out, "qemu.modules", {qemu->modules});
    append_strings(out, "qemu.load_modules", qemu->load_modules);
    append_strings(out, "qemu.accel", {qemu->accel});
    integer("qemu.memory_mb", qemu->memory_mb);
    integer("qemu.cpus", qemu->cpus);
    append_strings(out, "qemu.append", qemu->append);
    integer("qemu.boot_timeout", qemu->boot_timeout.count());
    integer("qemu.runs_per_boot", qemu->runs_per_boot);
    // Added later, only when set, so that the hashes of configurations without it stay.
    if (qemu->direct_boot) integer("qemu.direct_boot", 1);
    integer("scratch.size_mb", scratch.size_mb);
    append_strings(out, "scratch.mkfs", scratch.mkfs);
    append_strings(out, "scratch.fstype", {scratch.fstype});
    append_strings(out, "scratch.mount_options", {scratch.mount_options});
  }
  if (reproducer) {
    append_strings(out, "reproducer.program", {reproducer->program});
    append_strings(out, "reproducer.args", reproducer->args);
    append_strings(out, "reproducer.files", reproducer->files);
  }
  if (xfstests) {
    append_strings(out, "xfstests.root", {xfstests->root});
    append_strings(out, "xfstests.dir", {xfstests->dir});
    append_strings(out, "xfstests.tests", xfstests->tests);
    append_strings(out, "xfstests.mkfs_options", {xfstests->mkfs_options});
    append_strings(out, "xfstests.mount_options", {xfstests->mount_options});
    append_strings(out, "xfstests.environment", xfstests->environment);
  }
  return sha256_hex(out);
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const KeySpec& spec : kKeys) {
    keys.push_back(fmt::format("{}.{}", spec.section, spec.name));
  }
  return keys;
}

base::Result<Config> parse_config(std::string_view text, std::string_view source_name,
                                  ConfigOrigin origin) {
  if (source_name.empty()) {
    source_name = "config";
  }
  if (const uint32_t line = line_of_too_many_dots(text); line != 0) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "{}:{}:1: syntax error: more than {} '.' outside comments; keys "
                            "nested this deep are not supported",
                            source_name, line, kMaxDots);
  }
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    return base::Error(position_prefix(source_name, error.source().begin) +
                           "syntax error: " + one_line(error.description()),
                       ErrorCode::kInvalidInput);
  }
  Config config;
  Problems problems;
  read_document(root, config, problems, origin);
  if (const Problem* problem = problems.first()) {
    return base::Error(position_prefix(source_name, problem->where) + problem->message,
                       ErrorCode::kInvalidInput);
  }
  config.source_text = std::string(text);
  config.source_name = std::string(source_name);
  return config;
}

base::Result<Config> load_config(const std::string& path) {
  auto text = base::read_file(path, kMaxConfigBytes);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return base::make_error(ErrorCode::kNotFound, "config {}: not found", path);
    }
    // base errors read "<path>: <reason>".
    return base::Error("config " + text.error().message(), text.error().code());
  }
  return parse_config(*text, path);
}

std::string filesystem_config_name(std::string_view fstype,
                                   const std::vector<std::string>& mkfs_args) {
  // A block size is a number of bytes, or of KiB with a k (mkfs.xfs' "size=4k"). Anything else
  // after -b is some other mkfs's -b (mkfs.btrfs' byte count "10G", mkfs.vfat's backup sector)
  // or a mistake, and names no block size; the last valid one counts, as with mke2fs.
  const auto bytes_of = [](std::string size) -> uint64_t {
    if (size.rfind("size=", 0) == 0) size = size.substr(5);
    uint64_t unit = 1;
    if (!size.empty() && (size.back() == 'k' || size.back() == 'K')) {
      unit = 1024;
      size.pop_back();
    }
    const bool digits =
        !size.empty() && size.size() <= 9 &&
        std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; });
    return digits ? std::stoull(size) * unit : 0;
  };
  uint64_t block = 0;
  for (size_t i = 0; i < mkfs_args.size(); ++i) {
    const std::string& word = mkfs_args[i];
    uint64_t bytes = 0;
    if (i > 0 && mkfs_args[i - 1] == "-b") {
      bytes = bytes_of(word);
    } else if (word.rfind("-b", 0) == 0 && word.size() > 2) {
      bytes = bytes_of(word.substr(2));
    }
    if (bytes > 0) block = bytes;
  }
  if (block == 0) return std::string(fstype);
  return std::string(fstype) + "/" +
         (block % 1024 == 0 ? std::to_string(block / 1024) + "k" : std::to_string(block));
}

}  // namespace flakebisect::config
