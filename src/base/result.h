// Result<T> and Error: how flakebisect reports that the tool itself failed.
//
// A failing kernel is data, not an error (a build failure is a skip, a panic is an outcome). Error is
// for the tool failing: a missing binary, a corrupt store, a bad ref. Each layer adds context with
// Error::context() so the user sees one line naming what failed and where, for example
// "build 1a2b3c4: make: not found". Result<T> mirrors the std::expected member names (has_value,
// value, error, operator*, operator->) because libstdc++ 12 has no std::expected.
//
// Thread rules: plain values; a Result is as thread-safe as its T.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <fmt/core.h>

namespace flakebisect::base {

// What kind of failure this is, so callers can react (a locked store waits, a usage error exits 2)
// without parsing messages.
enum class ErrorCode {
  kFailed,        // generic failure of the tool
  kInvalidInput,  // bad ref, bad config value, bad reproducer output the user must fix
  kNotFound,      // file, binary, ref or row that does not exist
  kIo,            // operating system or disk error
  kTimeout,       // a bounded wait ran out
  kBusy,          // a lock held by another process
  kCorrupt,       // a store or artifact that fails its integrity check
  kCancelled,     // stopped by a signal or a user request
};

class Error {
 public:
  explicit Error(std::string message, ErrorCode code = ErrorCode::kFailed)
      : message_(std::move(message)), code_(code) {}

  const std::string& message() const { return message_; }
  ErrorCode code() const { return code_; }

  // Returns this error with "<what>: " prepended, keeping the code. Use at each layer boundary.
  Error context(const std::string& what) const& { return Error(what + ": " + message_, code_); }
  Error context(const std::string& what) && {
    message_.insert(0, what + ": ");
    return std::move(*this);
  }

 private:
  std::string message_;
  ErrorCode code_;
};

// Builds an Error from a fmt format string.
template <typename... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Error(fmt::format(format, std::forward<Args>(args)...), code);
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(data_));
  }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_{""};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace flakebisect::base

// Propagates an error from an expression returning Result<T>, optionally adding context.
#define FB_TRY(expr)                                             \
  do {                                                           \
    auto fb_try_result_ = (expr);                                \
    if (!fb_try_result_) return std::move(fb_try_result_).error(); \
  } while (0)

#define FB_CONCAT_INNER(a, b) a##b
#define FB_CONCAT(a, b) FB_CONCAT_INNER(a, b)
// FB_ASSIGN_OR_RETURN(auto x, expr): declares x from a Result<T> or returns its error.
#define FB_ASSIGN_OR_RETURN(decl, expr) FB_ASSIGN_OR_RETURN_IMPL(FB_CONCAT(fb_r_, __LINE__), decl, expr)
// NOLINTBEGIN(bugprone-macro-parentheses): decl is a declaration, tmp an identifier.
#define FB_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp) return std::move(tmp).error();        \
  decl = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
