#include "cli/text.h"

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <ctime>

namespace flakebisect::cli {
namespace {

std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) {
    return "";
  }
  return object[key].get<std::string>();
}

double number_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) {
    return 0;
  }
  return object[key].get<double>();
}

}  // namespace

std::string printable(std::string_view text, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  for (char i : text) {
    const auto byte = static_cast<unsigned char>(i);
    const bool continuation = (byte & 0xC0) == 0x80;
    if (!continuation) {
      if (chars == max_chars) {
        // Replace the last three characters' room with the marker.
        size_t cut = out.size();
        for (int dropped = 0; dropped < 3 && cut > 0;) {
          --cut;
          if ((static_cast<unsigned char>(out[cut]) & 0xC0) != 0x80) {
            ++dropped;
          }
        }
        out.resize(cut);
        out += "...";
        return out;
      }
      ++chars;
    }
    out += byte < 0x20 || byte == 0x7F ? '?' : static_cast<char>(byte);
  }
  return out;
}

std::string iso_time(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(seconds));
}

std::string to_json_text(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string result_summary(const nlohmann::json& result) {
  const std::string status = string_field(result, "status");
  std::string out;
  const auto runs = static_cast<uint64_t>(number_field(result, "runs"));
  const auto builds = static_cast<uint64_t>(number_field(result, "builds"));
  if (status == "found" && result.contains("culprit") && result["culprit"].is_object()) {
    out += fmt::format("found: {} {}\n", string_field(result["culprit"], "sha"),
                       printable(string_field(result["culprit"], "subject"), 200));
    out += fmt::format("confidence {:.4f} after {} runs and {} builds\n",
                       number_field(result, "confidence"), runs, builds);
  } else {
    out += fmt::format("{}: {}\n", status.empty() ? "unknown" : status,
                       printable(string_field(result, "reason"), 500));
    if (result.contains("credible_set") && result["credible_set"].is_array() &&
        !result["credible_set"].empty()) {
      out += fmt::format("the first bad commit is one of (holding {:.2f} of the probability):\n",
                         number_field(result, "credible_mass"));
      for (const auto& entry : result["credible_set"]) {
        out += fmt::format("  {} {:.4f} {}\n", string_field(entry, "sha"),
                           number_field(entry, "probability"),
                           printable(string_field(entry, "subject"), 100));
      }
      const auto size = static_cast<size_t>(number_field(result, "credible_set_size"));
      if (size > result["credible_set"].size()) {
        out += fmt::format("  ... and {} more\n", size - result["credible_set"].size());
      }
    }
    out += fmt::format("{} runs and {} builds\n", runs, builds);
  }
  if (result.contains("theta") && result["theta"].is_object()) {
    const auto& theta = result["theta"];
    out += fmt::format("failure rate on bad commits: {:.3f} (90% interval {:.3f} to {:.3f})\n",
                       number_field(theta, "mean"), number_field(theta, "low"),
                       number_field(theta, "high"));
  }
  return out;
}

}  // namespace flakebisect::cli
