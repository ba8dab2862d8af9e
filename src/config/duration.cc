#include "config/duration.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace flakebisect::config {
namespace {

using base::ErrorCode;
using base::make_error;

struct Unit {
  char name;
  int64_t seconds;
};

// Largest first: the order they must appear in.
constexpr std::array<Unit, 4> kUnits = {{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One byte of user text made safe for a one-line message: printable ASCII as is, else \xNN.
std::string printable(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) {
    return std::string(1, c);
  }
  return fmt::format("\\x{:02x}", byte);
}

}  // namespace

base::Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) {
    return base::Error("empty", ErrorCode::kInvalidInput);
  }
  const int64_t limit = kMaxDuration.count();
  int64_t total = 0;
  size_t next_unit = 0;  // index into kUnits of the largest unit still allowed
  size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      return base::Error("expected a number before each unit", ErrorCode::kInvalidInput);
    }
    // Accumulate with saturation just above the limit, so that absurdly long digit strings cannot
    // overflow before the range check below.
    int64_t number = 0;
    const size_t digits_start = i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      number = std::min<int64_t>(number * 10 + (text[i] - '0'), limit + 1);
    }
    if (i == text.size()) {
      return make_error(ErrorCode::kInvalidInput, "no unit after {}",
                        text.substr(digits_start, i - digits_start));
    }
    const char unit_name = text[i++];
    if (unit_name == '.' || unit_name == ',') {
      return base::Error("whole numbers only (write 1h30m, not 1.5h)", ErrorCode::kInvalidInput);
    }
    size_t unit = 0;
    while (unit < kUnits.size() && kUnits[unit].name != unit_name) {
      ++unit;
    }
    if (unit == kUnits.size()) {
      return make_error(ErrorCode::kInvalidInput, "unknown unit '{}'; use d, h, m or s",
                        printable(unit_name));
    }
    if (unit < next_unit) {
      return base::Error("units out of order or repeated (write them largest first, once each)",
                         ErrorCode::kInvalidInput);
    }
    next_unit = unit + 1;
    if (number > limit / kUnits[unit].seconds) {
      return base::Error("longer than 365d", ErrorCode::kInvalidInput);
    }
    total += number * kUnits[unit].seconds;
    if (total > limit) {
      return base::Error("longer than 365d", ErrorCode::kInvalidInput);
    }
  }
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds duration) {
  int64_t left = duration.count();
  if (left <= 0) {
    return std::to_string(left) + "s";
  }
  std::string text;
  for (const Unit& unit : kUnits) {
    if (left >= unit.seconds) {
      text += std::to_string(left / unit.seconds);
      text += unit.name;
      left %= unit.seconds;
    }
  }
  return text;
}

}  // namespace flakebisect::config
