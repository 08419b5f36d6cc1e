#pragma once

// The result type of every fallible function in jm::cron. Nothing in this
// library throws across its API: parsing returns `result<T>`, searching
// returns `std::optional`.

#include <cassert>
#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace jm::cron {

/// Why an expression (or interval) was rejected.
struct parse_error {
  /// Byte offset into the input at which the problem was detected: the
  /// offending token, value or clause. Equals the input length when the input
  /// ended too early.
  std::size_t position = 0;

  /// What the parser expected at `position`, e.g. "a time unit (second,
  /// minute, hour, day, week, month, year)".
  std::string expected;

  /// A complete sentence. For rule-validation failures it is the message the
  /// .NET NaturalCron library uses, e.g. "Duplicate At/On/In rules for the
  /// same time unit are not allowed.".
  std::string message;

  friend bool operator==(const parse_error&, const parse_error&) = default;
};

/// Renders `x` as "<message> (at <position>, expected <expected>)".
std::string to_string(const parse_error& x);

/// Either a `T` or a `parse_error`. Check `has_value()` (or convert to bool)
/// before calling `value()`; calling `value()` on an error (or `error()` on a
/// value) is a precondition violation.
template <class T>
class [[nodiscard]] result {
public:
  result(T x) : data_(std::in_place_index<0>, std::move(x)) {
    // nop
  }

  result(parse_error x) : data_(std::in_place_index<1>, std::move(x)) {
    // nop
  }

  [[nodiscard]] bool has_value() const noexcept {
    return data_.index() == 0;
  }

  explicit operator bool() const noexcept {
    return has_value();
  }

  T& value() & {
    assert(has_value());
    return *std::get_if<0>(&data_);
  }

  const T& value() const& {
    assert(has_value());
    return *std::get_if<0>(&data_);
  }

  T&& value() && {
    assert(has_value());
    return std::move(*std::get_if<0>(&data_));
  }

  T& operator*() & {
    return value();
  }

  const T& operator*() const& {
    return value();
  }

  T* operator->() {
    return &value();
  }

  const T* operator->() const {
    return &value();
  }

  [[nodiscard]] const parse_error& error() const {
    assert(!has_value());
    return *std::get_if<1>(&data_);
  }

private:
  std::variant<T, parse_error> data_;
};

} // namespace jm::cron
