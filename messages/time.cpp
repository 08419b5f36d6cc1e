#include "messages/time.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace jm {

timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
    std::chrono::system_clock::now());
}

int64_t to_micros(timestamp t) {
  return t.time_since_epoch().count();
}

timestamp from_micros(int64_t us) {
  return timestamp{std::chrono::microseconds{us}};
}

namespace {

// Reads an unsigned decimal number; returns false when none is there or it
// does not fit, so that `99999999999999999999s` is an error, not a wrap.
bool read_number(std::string_view& text, int64_t& out) {
  auto first = text.data();
  auto last = text.data() + text.size();
  auto [ptr, err] = std::from_chars(first, last, out);
  if (err != std::errc{} || ptr == first || out < 0)
    return false;
  text.remove_prefix(static_cast<size_t>(ptr - first));
  return true;
}

caf::error bad_duration(std::string_view text, std::string_view why) {
  return make_error(ec::invalid_argument,
                    "invalid duration '" + std::string{text}
                      + "': " + std::string{why}
                      + " (write e.g. 500ms, 30s, 5m, 1h30m, 2d)");
}

} // namespace

caf::expected<duration> parse_duration(std::string_view text) {
  auto original = text;
  if (text.empty())
    return bad_duration(original, "empty");
  constexpr int64_t max_us = int64_t{100} * 365 * 24 * 3600 * 1'000'000;
  int64_t total = 0;
  bool first = true;
  while (!text.empty()) {
    int64_t n = 0;
    if (!read_number(text, n))
      return bad_duration(original, "expected a number");
    std::string unit;
    while (!text.empty() && std::isalpha(static_cast<unsigned char>(text[0]))) {
      unit
        += static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
      text.remove_prefix(1);
    }
    int64_t factor = 0;
    if (unit == "us")
      factor = 1;
    else if (unit == "ms")
      factor = 1'000;
    else if (unit == "s" || unit.empty())
      factor = 1'000'000;
    else if (unit == "m" || unit == "min")
      factor = 60'000'000;
    else if (unit == "h")
      factor = 3'600'000'000;
    else if (unit == "d")
      factor = 86'400'000'000;
    else
      return bad_duration(original, "unknown unit '" + unit + "'");
    // `45` means seconds, but `1h30` is more likely a typo than 1h0m30s.
    if (unit.empty() && (!first || !text.empty()))
      return bad_duration(original, "a bare number must stand alone");
    first = false;
    if (n > max_us / factor || total > max_us - n * factor)
      return bad_duration(original, "longer than 100 years");
    total += n * factor;
  }
  return duration{total};
}

std::string format_duration(duration d) {
  auto us = d.count();
  if (us == 0)
    return "0s";
  std::string out;
  if (us < 0) {
    out += '-';
    us = -us;
  }
  struct unit {
    int64_t size;
    const char* name;
  };
  static constexpr unit units[]
    = {{86'400'000'000, "d"}, {3'600'000'000, "h"}, {60'000'000, "m"},
       {1'000'000, "s"},      {1'000, "ms"},        {1, "us"}};
  for (auto& u : units) {
    if (us >= u.size) {
      out += std::to_string(us / u.size);
      out += u.name;
      us %= u.size;
    }
  }
  return out;
}

namespace {

caf::error bad_time(std::string_view text) {
  return make_error(ec::invalid_argument,
                    "invalid time '" + std::string{text}
                      + "' (write e.g. 2026-11-28T10:00:00Z or "
                        "2026-11-28T11:00:00+01:00)");
}

bool read_fixed(std::string_view& text, size_t digits, int& out) {
  if (text.size() < digits)
    return false;
  out = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])))
      return false;
    out = out * 10 + (text[i] - '0');
  }
  text.remove_prefix(digits);
  return true;
}

bool eat(std::string_view& text, char c) {
  if (text.empty() || text[0] != c)
    return false;
  text.remove_prefix(1);
  return true;
}

} // namespace

caf::expected<timestamp> parse_timestamp(std::string_view text) {
  using namespace std::chrono;
  auto original = text;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!read_fixed(text, 4, y) || !eat(text, '-') || !read_fixed(text, 2, mo)
      || !eat(text, '-') || !read_fixed(text, 2, d))
    return bad_time(original);
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                     day{static_cast<unsigned>(d)}};
  if (!ymd.ok())
    return bad_time(original);
  int64_t micros = 0;
  int offset_minutes = 0;
  if (!text.empty()) {
    if (!eat(text, 'T') && !eat(text, 't') && !eat(text, ' '))
      return bad_time(original);
    if (!read_fixed(text, 2, h) || !eat(text, ':') || !read_fixed(text, 2, mi))
      return bad_time(original);
    if (eat(text, ':') && !read_fixed(text, 2, s))
      return bad_time(original);
    if (h > 23 || mi > 59 || s > 59)
      return bad_time(original);
    if (eat(text, '.')) {
      int digits = 0;
      while (!text.empty()
             && std::isdigit(static_cast<unsigned char>(text[0]))) {
        if (digits < 6) {
          micros = micros * 10 + (text[0] - '0');
          ++digits;
        }
        text.remove_prefix(1);
      }
      if (digits == 0)
        return bad_time(original);
      for (; digits < 6; ++digits)
        micros *= 10;
    }
    if (eat(text, 'Z') || eat(text, 'z')) {
      // UTC
    } else if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
      int sign = text[0] == '-' ? -1 : 1;
      text.remove_prefix(1);
      int oh = 0, om = 0;
      if (!read_fixed(text, 2, oh))
        return bad_time(original);
      eat(text, ':');
      if (!read_fixed(text, 2, om) || oh > 23 || om > 59)
        return bad_time(original);
      offset_minutes = sign * (oh * 60 + om);
    }
  }
  if (!text.empty())
    return bad_time(original);
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s}
           + microseconds{micros} - minutes{offset_minutes};
  return time_point_cast<microseconds>(t);
}

std::string format_timestamp(timestamp t) {
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(t);
  year_month_day ymd{days};
  hh_mm_ss hms{t - days};
  char buf[64];
  auto n = std::snprintf(
    buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d",
    static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
    static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
    static_cast<int>(hms.minutes().count()),
    static_cast<int>(hms.seconds().count()));
  std::string result{buf, static_cast<size_t>(std::max(n, 0))};
  // The fraction only when there is one.
  if (auto frac = hms.subseconds().count(); frac != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
    result += buf;
  }
  result += 'Z';
  return result;
}

} // namespace jm
