// Reading the report document without exceptions: the renderers take any JSON (a document from
// another version, a hand-edited one) and must render what is there, so a missing member, a null
// or a value of the wrong type reads as empty, 0 or a fallback instead of throwing.
//
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace flakebisect::report {

// object[key], or a null value when `object` is not an object or has no such member.
inline const nlohmann::json& member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The member as a string; "" when it is not one.
inline std::string str(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = member(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

// The member as a number; `fallback` when it is not one.
inline double num(const nlohmann::json& object, const char* key, double fallback = 0) {
  const nlohmann::json& value = member(object, key);
  return value.is_number() ? value.get<double>() : fallback;
}

// Whether the report is of a fix bisection (range.find_fix; bisection.mode "fix"): its bad commit
// is then the older one, where the test fails ("broken"), its one good commit the newer one, where
// it passes ("fixed"), and result.culprit, most_likely and the credible set name fixes. A document
// without the member (one from before fix bisections) is a regression's.
inline bool fix_mode(const nlohmann::json& report) {
  return str(member(report, "bisection"), "mode") == "fix";
}

// What a report calls a bisection's bad or good commit (`{"sha", "subject", "ref"}`) besides its
// SHA: the revision as the user typed it when that was a name ("linux-6.1.y", "v6.1",
// "refs/heads/master"); "" when none was kept or it was the SHA itself, a prefix of it, or an
// expression relative to something else ("HEAD", "master~3", "v6.1^", "@{u}").
inline std::string revision_name(const nlohmann::json& commit) {
  const std::string ref = str(commit, "ref");
  std::string lower = ref;
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const bool expression = ref.starts_with("HEAD") || ref.find_first_of("~^:@") != std::string::npos;
  if (ref.empty() || expression || str(commit, "sha").starts_with(lower)) {
    return "";
  }
  return ref;
}

}  // namespace flakebisect::report
