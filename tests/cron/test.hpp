#pragma once

// Shared helpers of the jm::cron tests. Define CAF_SUITE before including.

#include "cron/schedule.hpp"

#include <caf/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#define TEST CAF_TEST
#define CHECK CAF_CHECK
#define CHECK_EQUAL CAF_CHECK_EQUAL
#define REQUIRE CAF_REQUIRE
#define MESSAGE CAF_MESSAGE

namespace jm::cron::test {

/// "YYYY-MM-DD hh:mm:ss" (UTC) -> instant; aborts the test on bad input.
inline time_point utc(std::string_view text) {
  auto x = parse_date_time(text);
  if (!x)
    CAF_FAIL("bad date-time literal: " << std::string{text});
  using namespace std::chrono;
  auto days = sys_days{year{x->year} / x->month / x->day};
  return time_point{days + hours{x->hour} + minutes{x->minute}
                    + seconds{x->second}};
}

/// Instant -> "YYYY-MM-DD hh:mm:ss" (UTC), "-" for none.
inline std::string fmt(std::optional<time_point> x) {
  if (!x)
    return "-";
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(*x);
  year_month_day ymd{days};
  hh_mm_ss hms{*x - days};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u %02ld:%02ld:%02ld",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return buf;
}

/// Parses `expr` or fails the test.
inline schedule sched(std::string_view expr) {
  auto x = parse(expr);
  if (!x)
    CAF_FAIL("cannot parse '" << std::string{expr}
                              << "': " << to_string(x.error()));
  return *x;
}

/// True if both expressions parse to the same rules.
inline bool sched_equal(std::string_view x, std::string_view y) {
  auto a = parse(x);
  auto b = parse(y);
  if (!a || !b) {
    CAF_MESSAGE("cannot parse '" << std::string{a ? y : x} << "'");
    return false;
  }
  return *a == *b;
}

/// `n` chained occurrences after `base` (UTC), joined with ", "; a missing
/// occurrence shows as "-" and ends the list.
inline std::string occurrences(std::string_view expr, std::string_view base,
                               std::size_t n,
                               const search_options& opts = {}) {
  auto s = sched(expr);
  auto t = utc(base);
  std::string result;
  for (std::size_t i = 0; i < n; ++i) {
    auto r = next_occurrence(s, t, opts);
    if (!result.empty())
      result += ", ";
    result += fmt(r);
    if (!r)
      break;
    t = *r;
  }
  return result;
}

/// The first occurrence after `base` (UTC).
inline std::string next(std::string_view expr, std::string_view base,
                        const search_options& opts = {}) {
  return occurrences(expr, base, 1, opts);
}

/// The rule dump of `expr`, or "error: <message> @<position>".
inline std::string rules(std::string_view expr) {
  auto x = parse(expr);
  if (!x)
    return "error: " + x.error().message + " @"
           + std::to_string(x.error().position);
  return to_debug_string(*x);
}

/// "<position>: <message>" of the parse error of `expr`, or "ok".
inline std::string error_of(std::string_view expr) {
  auto x = parse(expr);
  if (x)
    return "ok";
  return std::to_string(x.error().position) + ": " + x.error().message;
}

} // namespace jm::cron::test
