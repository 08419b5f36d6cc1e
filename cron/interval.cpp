// TimeSpan-style intervals.

#include "cron/interval.hpp"

#include <cstdio>
#include <limits>

namespace jm::cron {

namespace {

constexpr std::int64_t ticks_per_second = 10'000'000;
constexpr std::int64_t ticks_per_day = ticks_per_second * 86400;
/// TimeSpan.MaxValue.Ticks
constexpr std::int64_t max_ticks = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t max_days = max_ticks / ticks_per_day; // 10675199

constexpr std::string_view expected_format
  = "a duration such as 00:00:30, 01:00:00, 1.00:00:00 or 00:00:00.5";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
         || c == '\f';
}

struct scanner {
  std::string_view text;
  std::size_t pos = 0;

  [[nodiscard]] bool at_end() const { return pos >= text.size(); }

  [[nodiscard]] char peek() const { return at_end() ? '\0' : text[pos]; }

  /// Reads 1..max_digits digits.
  std::optional<std::int64_t> number(std::size_t max_digits = 8) {
    std::size_t start = pos;
    std::int64_t value = 0;
    while (!at_end() && is_digit(text[pos])) {
      if (pos - start >= max_digits)
        return std::nullopt;
      value = value * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start)
      return std::nullopt;
    return value;
  }
};

parse_error fail(std::size_t pos, std::string message) {
  return parse_error{pos, std::string{expected_format}, std::move(message)};
}

} // namespace

result<interval> make_interval(ticks x) {
  if (x < std::chrono::seconds{1})
    return parse_error{0, "a duration of at least 1 second",
                       "The interval must be at least 1 second."};
  return interval{x};
}

result<interval> parse_interval(std::string_view text) {
  scanner s{text};
  while (!s.at_end() && is_space(s.peek()))
    ++s.pos;
  bool negative = false;
  if (s.peek() == '-') {
    negative = true;
    ++s.pos;
  }
  const auto start = s.pos;
  // Collect up to four numbers separated by '.' or ':'.
  std::int64_t days = 0;
  std::int64_t hours = 0;
  std::int64_t minutes = 0;
  std::int64_t seconds = 0;
  std::int64_t fraction = 0; // in ticks
  auto first = s.number();
  if (!first)
    return fail(s.pos, "Invalid interval: expected a number.");
  auto read_fraction = [&s, &fraction]() -> bool {
    // after '.', 1..7 digits
    std::size_t begin = s.pos;
    auto digits = s.number(7);
    if (!digits)
      return false;
    auto n = s.pos - begin;
    fraction = *digits;
    for (auto i = n; i < 7; ++i)
      fraction *= 10;
    return true;
  };
  auto read_two = [&s](std::int64_t& out, std::int64_t max) -> bool {
    auto x = s.number(2);
    if (!x || *x > max)
      return false;
    out = *x;
    return true;
  };
  if (s.peek() == '.' || s.at_end() || is_space(s.peek())) {
    if (s.peek() == '.') {
      // d.hh:mm[:ss[.f]]
      days = *first;
      ++s.pos;
      auto at = s.pos;
      if (!read_two(hours, 23))
        return fail(at, "Invalid interval: hours must be 0-23.");
      if (s.peek() != ':')
        return fail(s.pos, "Invalid interval: expected ':' after the hours.");
      ++s.pos;
      at = s.pos;
      if (!read_two(minutes, 59))
        return fail(at, "Invalid interval: minutes must be 0-59.");
      if (s.peek() == ':') {
        ++s.pos;
        at = s.pos;
        if (!read_two(seconds, 59))
          return fail(at, "Invalid interval: seconds must be 0-59.");
        if (s.peek() == '.') {
          ++s.pos;
          if (!read_fraction())
            return fail(s.pos, "Invalid interval: expected 1-7 fraction "
                               "digits.");
        }
      }
    } else {
      days = *first; // plain "d"
    }
  } else if (s.peek() == ':') {
    // hh:mm[:ss[.f]] or d:hh:mm:ss[.f]
    std::int64_t parts[4] = {*first, 0, 0, 0};
    int count = 1;
    while (s.peek() == ':' && count < 4) {
      ++s.pos;
      auto at = s.pos;
      auto x = s.number(2);
      if (!x)
        return fail(at, "Invalid interval: expected two digits after ':'.");
      parts[count++] = *x;
    }
    if (s.peek() == '.' && count >= 3) {
      ++s.pos;
      if (!read_fraction())
        return fail(s.pos, "Invalid interval: expected 1-7 fraction digits.");
    }
    if (count == 4) {
      days = parts[0];
      hours = parts[1];
      minutes = parts[2];
      seconds = parts[3];
    } else {
      hours = parts[0];
      minutes = parts[1];
      seconds = count == 3 ? parts[2] : 0;
    }
    if (hours > 23)
      return fail(start, "Invalid interval: hours must be 0-23.");
    if (minutes > 59 || seconds > 59)
      return fail(start, "Invalid interval: minutes and seconds must be "
                         "0-59.");
  } else {
    return fail(s.pos, "Invalid interval: unexpected character.");
  }
  while (!s.at_end() && is_space(s.peek()))
    ++s.pos;
  if (!s.at_end())
    return fail(s.pos, "Invalid interval: unexpected character.");
  if (days > max_days)
    return fail(start, "Invalid interval: too large.");
  // Checked before adding: at exactly max_days the sum can pass the int64
  // maximum, and signed overflow is undefined.
  std::int64_t day_ticks = days * ticks_per_day;
  std::int64_t rest
    = (hours * 3600 + minutes * 60 + seconds) * ticks_per_second + fraction;
  if (rest > std::numeric_limits<std::int64_t>::max() - day_ticks)
    return fail(start, "Invalid interval: too large.");
  std::int64_t total = day_ticks + rest;
  if (negative)
    total = -total;
  auto result = make_interval(ticks{total});
  if (!result)
    return parse_error{start, result.error().expected, result.error().message};
  return result;
}

std::string to_string(const interval& x) {
  auto t = x.duration().count();
  auto days = t / ticks_per_day;
  auto rest = t % ticks_per_day;
  auto secs = rest / ticks_per_second;
  auto fraction = rest % ticks_per_second;
  char buf[64];
  int n = 0;
  if (days > 0)
    n = std::snprintf(buf, sizeof(buf), "%lld.", static_cast<long long>(days));
  n += std::snprintf(
    buf + n, sizeof(buf) - static_cast<std::size_t>(n), "%02lld:%02lld:%02lld",
    static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
    static_cast<long long>(secs % 60));
  if (fraction > 0)
    std::snprintf(buf + n, sizeof(buf) - static_cast<std::size_t>(n), ".%07lld",
                  static_cast<long long>(fraction));
  return buf;
}

std::optional<std::chrono::system_clock::time_point>
next_occurrence(const interval& x,
                std::chrono::system_clock::time_point after) {
  using namespace std::chrono;
  if (x.duration() > duration_cast<ticks>(system_clock::duration::max()))
    return std::nullopt;
  auto step = duration_cast<system_clock::duration>(x.duration());
  if (after.time_since_epoch() > system_clock::duration::max() - step)
    return std::nullopt;
  return after + step;
}

} // namespace jm::cron
