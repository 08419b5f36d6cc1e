#pragma once

// Proleptic Gregorian calendar arithmetic on wall-clock values with the
// semantics of .NET's System.DateTime (years 1..9999, AddMonths/AddYears clamp
// the day to the length of the target month). Internal header.

#include "cron/schedule.hpp"

#include <cstdint>

namespace jm::cron::detail {

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const auto mp = static_cast<unsigned>(m > 2 ? m - 3 : m + 9);
  const unsigned doy = (153 * mp + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr bool is_leap(int y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr int days_in_month(int y, int m) noexcept {
  constexpr int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12)
    return 31;
  return m == 2 && is_leap(y) ? 29 : lengths[m - 1];
}

/// A wall-clock instant with whole seconds. `t` counts seconds since
/// 1970-01-01 00:00:00 of the same (zone-less) clock and always agrees with
/// the fields.
struct wall {
  int y = 1970;
  int mo = 1;
  int d = 1;
  int h = 0;
  int mi = 0;
  int s = 0;
  std::int64_t t = 0;
};

constexpr std::int64_t to_seconds(int y, int mo, int d, int h, int mi,
                                  int s) noexcept {
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/// 0001-01-01 00:00:00, the smallest representable value.
inline constexpr std::int64_t min_t = to_seconds(1, 1, 1, 0, 0, 0);
/// 9999-12-31 23:59:59, the largest representable value.
inline constexpr std::int64_t max_t = to_seconds(9999, 12, 31, 23, 59, 59);
/// One second past `max_t`: the "overflowed" sentinel (10000-01-01 00:00:00).
inline constexpr std::int64_t end_t = max_t + 1;

inline wall make_wall(std::int64_t t) noexcept {
  wall w;
  w.t = t;
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  auto secs = static_cast<int>(t - days * 86400);
  w.h = secs / 3600;
  w.mi = secs / 60 % 60;
  w.s = secs % 60;
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  w.d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  w.mo = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  w.y = static_cast<int>(y + (w.mo <= 2 ? 1 : 0));
  return w;
}

inline wall make_wall(int y, int mo, int d, int h, int mi, int s) noexcept {
  return wall{y, mo, d, h, mi, s, to_seconds(y, mo, d, h, mi, s)};
}

inline wall make_wall(const date_time& x) noexcept {
  return make_wall(x.year, x.month, x.day, x.hour, x.minute, x.second);
}

inline date_time to_date_time(const wall& w) noexcept {
  return date_time{w.y, w.mo, w.d, w.h, w.mi, w.s};
}

/// Day of week with Sunday = 1 ... Saturday = 7.
inline int weekday_of(const wall& w) noexcept {
  std::int64_t days = days_from_civil(w.y, w.mo, w.d);
  auto wd = static_cast<int>(((days + 4) % 7 + 7) % 7); // 0 = Sunday
  return wd + 1;
}

inline int weekday_of(int y, int mo, int d) noexcept {
  std::int64_t days = days_from_civil(y, mo, d);
  return static_cast<int>(((days + 4) % 7 + 7) % 7) + 1;
}

/// Adds seconds; leaving the representable range yields the sentinel
/// (`end_t`) above and the minimum below.
inline wall add_seconds(const wall& w, std::int64_t n) noexcept {
  if (w.t >= end_t)
    return make_wall(end_t);
  if (n > end_t - w.t)
    return make_wall(end_t);
  std::int64_t r = w.t + n;
  if (r >= end_t)
    return make_wall(end_t);
  if (r < min_t)
    return make_wall(min_t);
  return make_wall(r);
}

/// DateTime.AddMonths: keeps the time of day, clamps the day.
inline wall add_months(const wall& w, std::int64_t n) noexcept {
  if (w.t >= end_t)
    return make_wall(end_t);
  if (n > 120000)
    return make_wall(end_t);
  if (n < -120000)
    return make_wall(min_t);
  std::int64_t total = static_cast<std::int64_t>(w.y) * 12 + (w.mo - 1) + n;
  std::int64_t y = total >= 0 ? total / 12 : (total - 11) / 12;
  int mo = static_cast<int>(total - y * 12) + 1;
  if (y > 9999)
    return make_wall(end_t);
  if (y < 1)
    return make_wall(min_t);
  int d = w.d;
  int dim = days_in_month(static_cast<int>(y), mo);
  if (d > dim)
    d = dim;
  return make_wall(static_cast<int>(y), mo, d, w.h, w.mi, w.s);
}

/// DateTime.AddYears: Feb 29 becomes Feb 28 in common years.
inline wall add_years(const wall& w, std::int64_t n) noexcept {
  if (w.t >= end_t)
    return make_wall(end_t);
  if (n > 10000)
    return make_wall(end_t);
  if (n < -10000)
    return make_wall(min_t);
  std::int64_t y = w.y + n;
  if (y > 9999)
    return make_wall(end_t);
  if (y < 1)
    return make_wall(min_t);
  int d = w.d;
  int dim = days_in_month(static_cast<int>(y), w.mo);
  if (d > dim)
    d = dim;
  return make_wall(static_cast<int>(y), w.mo, d, w.h, w.mi, w.s);
}

} // namespace jm::cron::detail
