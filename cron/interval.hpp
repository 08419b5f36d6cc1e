#pragma once

// Interval recurrences: a plain duration of at least one second, written as a
// .NET TimeSpan ("00:00:05", "1.02:03:04", "00:00:01.5", "2" = two days).
// The next occurrence is the cursor plus the interval; it never ends.

#include "cron/result.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>

namespace jm::cron {

/// .NET TimeSpan resolution: 100 ns.
using ticks = std::chrono::duration<std::int64_t, std::ratio<1, 10'000'000>>;

/// A validated duration of at least one second (at most TimeSpan.MaxValue).
class interval {
public:
  [[nodiscard]] ticks duration() const noexcept {
    return value_;
  }

  friend bool operator==(const interval&, const interval&) = default;

private:
  friend result<interval> make_interval(ticks x);

  explicit interval(ticks x) : value_(x) {
    // nop
  }

  ticks value_;
};

/// Validates `x` (>= 1 s).
result<interval> make_interval(ticks x);

/// Parses a TimeSpan in the invariant formats `[-]d`, `[-][d.]hh:mm[:ss[.f]]`
/// or `[-]d:hh:mm:ss[.f]` (hours 0-23, minutes and seconds 0-59, up to seven
/// fraction digits; surrounding whitespace allowed).
result<interval> parse_interval(std::string_view text);

/// The canonical TimeSpan text ("c" format): `[d.]hh:mm:ss[.fffffff]`.
std::string to_string(const interval& x);

/// `after + x`, or nullopt if that is not representable.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point>
next_occurrence(const interval& x, std::chrono::system_clock::time_point after);

} // namespace jm::cron
