// Keyword helpers and the classification and resolution of rule values.

#include "cron/detail/calendar.hpp"
#include "cron/detail/keywords.hpp"
#include "cron/detail/model.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace jm::cron::detail {

// -- string helpers -----------------------------------------------------------

namespace {

constexpr char upper_char(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
         || c == '\f';
}

std::string_view trim(std::string_view x) noexcept {
  while (!x.empty() && is_space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && is_space(x.back()))
    x.remove_suffix(1);
  return x;
}

/// The segment between the first and the second occurrence of `sep`
/// (String.Split(sep)[1]); requires that `x` contains `sep`.
std::string_view second_segment(std::string_view x, char sep) noexcept {
  auto first = x.find(sep);
  auto rest = x.substr(first + 1);
  auto second = rest.find(sep);
  return second == std::string_view::npos ? rest : rest.substr(0, second);
}

} // namespace

std::string to_upper(std::string_view x) {
  std::string result(x);
  for (auto& c : result)
    c = upper_char(c);
  return result;
}

bool iequals(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (upper_char(x[i]) != upper_char(y[i]))
      return false;
  return true;
}

bool contains_whole_word(std::string_view text,
                         std::string_view word) noexcept {
  if (word.empty() || word.size() > text.size())
    return false;
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
    if (i > 0 && is_word_char(text[i - 1]))
      continue;
    auto end = i + word.size();
    if (end < text.size() && is_word_char(text[end]))
      continue;
    if (iequals(text.substr(i, word.size()), word))
      return true;
  }
  return false;
}

bool icontains(std::string_view text, std::string_view needle) noexcept {
  if (needle.size() > text.size())
    return false;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
    if (iequals(text.substr(i, needle.size()), needle))
      return true;
  return false;
}

int find_weekday_word(std::string_view x) noexcept {
  return find_word(weekday_words, x);
}

int find_month_word(std::string_view x) noexcept {
  return find_word(month_words, x);
}

int find_unit_word(std::string_view x) noexcept {
  return find_word(unit_words, x);
}

bool parse_nth_weekday_word(std::string_view x, int& ordinal,
                            int& weekday) noexcept {
  for (std::size_t i = 0; i < nth_ordinals.size(); ++i) {
    auto prefix = nth_ordinals[i];
    if (x.size() <= prefix.size() || !iequals(x.substr(0, prefix.size()), prefix))
      continue;
    auto wd = find_weekday_word(x.substr(prefix.size()));
    if (wd >= 0) {
      ordinal = static_cast<int>(i);
      weekday = wd % 7 + 1;
      return true;
    }
  }
  return false;
}

bool is_nth_weekday_word(std::string_view x) noexcept {
  int ordinal = 0;
  int weekday = 0;
  return parse_nth_weekday_word(x, ordinal, weekday);
}

const char* to_string(unit x) noexcept {
  switch (x) {
    case unit::second:
      return "second";
    case unit::minute:
      return "minute";
    case unit::hour:
      return "hour";
    case unit::day:
      return "day";
    case unit::week:
      return "weekday";
    case unit::month:
      return "month";
    case unit::year:
      return "year";
  }
  return "?";
}

std::optional<int> parse_int(std::string_view text) {
  auto x = trim(text);
  bool negative = false;
  if (!x.empty() && (x.front() == '+' || x.front() == '-')) {
    negative = x.front() == '-';
    x.remove_prefix(1);
  }
  if (x.empty())
    return std::nullopt;
  std::int64_t value = 0;
  for (auto c : x) {
    if (!is_digit(c))
      return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > std::int64_t{std::numeric_limits<int>::max()} + 1)
      return std::nullopt;
  }
  if (negative)
    value = -value;
  if (value < std::numeric_limits<int>::min()
      || value > std::numeric_limits<int>::max())
    return std::nullopt;
  return static_cast<int>(value);
}

// -- values -------------------------------------------------------------------

namespace {

constexpr int min_of(unit u) noexcept {
  return u == unit::second || u == unit::minute || u == unit::hour ? 0 : 1;
}

constexpr int static_max_of(unit u) noexcept {
  switch (u) {
    case unit::second:
    case unit::minute:
      return 59;
    case unit::hour:
      return 23;
    case unit::day:
      return 31;
    case unit::week:
      return 7;
    case unit::month:
      return 12;
    case unit::year:
      return 9999;
  }
  return 0;
}

/// The weekday of the first n-th weekday word found in `text`, scanning the
/// words in the reference's dictionary order (ordinal-major).
int nth_weekday_in(std::string_view text) {
  std::string word;
  for (auto ordinal : nth_ordinals) {
    for (std::size_t i = 0; i < weekday_words.size(); ++i) {
      word.assign(ordinal);
      word.append(weekday_words[i]);
      if (contains_whole_word(text, word))
        return static_cast<int>(i % 7) + 1;
    }
  }
  return 0;
}

bool contains_any_last_nth_weekday(std::string_view text) {
  std::string word;
  for (auto wd : weekday_words) {
    word.assign("LAST");
    word.append(wd);
    if (contains_whole_word(text, word))
      return true;
  }
  return false;
}

int clamp_value(std::int64_t x, int lo, int hi) noexcept {
  if (x < lo)
    return lo;
  if (x > hi)
    return hi;
  return static_cast<int>(x);
}

} // namespace

value_expr make_value(std::string text) {
  value_expr result;
  result.text = std::move(text);
  std::string_view x = result.text;
  if (auto n = parse_int(x)) {
    result.kind = value_kind::integer;
    result.number = *n;
    return result;
  }
  if (auto i = find_weekday_word(x); i >= 0) {
    result.kind = value_kind::weekday_name;
    result.number = i % 7 + 1;
    return result;
  }
  if (auto i = find_month_word(x); i >= 0) {
    result.kind = value_kind::month_name;
    result.number = month_numbers[static_cast<std::size_t>(i)];
    return result;
  }
  // The +n / -n suffix: '+' first, then '-' overrides (reference behaviour).
  if (x.find('+') != std::string_view::npos) {
    if (auto n = parse_int(trim(second_segment(x, '+'))))
      result.offset = *n;
    else
      result.offset_valid = false;
  }
  if (x.find('-') != std::string_view::npos) {
    if (auto n = parse_int(trim(second_segment(x, '-'))))
      result.offset = -*n;
    else
      result.offset_valid = false;
  }
  auto any_word = [x](const auto& words) {
    return std::any_of(words.begin(), words.end(), [x](std::string_view w) {
      return contains_whole_word(x, w);
    });
  };
  if (any_word(last_day_words) || contains_whole_word(x, "LAST")) {
    result.kind = value_kind::last;
    return result;
  }
  if (any_word(first_day_words) || contains_whole_word(x, "FIRST")) {
    result.kind = value_kind::first;
    return result;
  }
  if (contains_any_last_nth_weekday(x)) {
    result.kind = value_kind::last_of_weekday;
    result.weekday = nth_weekday_in(x);
    return result;
  }
  if (auto wd = nth_weekday_in(x); wd > 0) {
    result.kind = value_kind::nth_weekday;
    result.weekday = wd;
    auto head = to_upper(trim(x.substr(0, x.find('-'))));
    auto starts = [&head](std::string_view p) {
      return head.compare(0, p.size(), p) == 0;
    };
    if (starts("FIRST") || starts("1ST"))
      result.number = 0;
    else if (starts("SECOND") || starts("2ND"))
      result.number = 1;
    else if (starts("THIRD") || starts("3RD"))
      result.number = 2;
    else if (starts("FOURTH") || starts("4TH"))
      result.number = 3;
    else if (starts("FIFTH") || starts("5TH"))
      result.number = 4;
    else
      result.number = -1;
    return result;
  }
  if (contains_whole_word(x, "LASTWEEKDAY")) {
    result.kind = value_kind::last_weekday;
    return result;
  }
  if (contains_whole_word(x, "FIRSTWEEKDAY")) {
    result.kind = value_kind::first_weekday;
    return result;
  }
  if (contains_whole_word(x, "CLOSESTWEEKDAYTO")) {
    // "ClosestWeekdayTo <day>": exactly two space-separated parts.
    auto t = trim(x);
    auto space = t.find(' ');
    if (space != std::string_view::npos
        && t.find(' ', space + 1) == std::string_view::npos) {
      if (auto n = parse_int(t.substr(space + 1))) {
        result.kind = value_kind::closest_weekday;
        result.number = *n;
        return result;
      }
    }
    result.kind = value_kind::invalid;
    return result;
  }
  result.kind = value_kind::invalid;
  return result;
}

resolution resolve_full(unit u, int year, int month, const value_expr& x) {
  auto value = [](int v) { return resolution{true, true, v}; };
  constexpr resolution invalid{false, false, 0};
  switch (x.kind) {
    case value_kind::integer:
      return value(x.number);
    case value_kind::weekday_name:
      return u == unit::week ? value(x.number) : invalid;
    case value_kind::month_name:
      return u == unit::month ? value(x.number) : invalid;
    case value_kind::last: {
      if (!x.offset_valid)
        return invalid;
      int hi = u == unit::day ? days_in_month(year, month) : static_max_of(u);
      return value(clamp_value(std::int64_t{hi} + x.offset, min_of(u), hi));
    }
    case value_kind::first: {
      if (!x.offset_valid)
        return invalid;
      int lo = min_of(u);
      return value(clamp_value(std::int64_t{lo} + x.offset, lo,
                               static_max_of(u)));
    }
    default:
      break;
  }
  if (u != unit::day || x.kind == value_kind::invalid)
    return invalid;
  const int dim = days_in_month(year, month);
  switch (x.kind) {
    case value_kind::last_of_weekday: {
      if (!x.offset_valid || x.weekday < 1)
        return invalid;
      int d = dim;
      while (weekday_of(year, month, d) != x.weekday)
        --d;
      return value(clamp_value(std::int64_t{d} + x.offset, 1, dim));
    }
    case value_kind::nth_weekday: {
      if (!x.offset_valid || x.number < 0 || x.weekday < 1)
        return invalid;
      int d = 1;
      while (weekday_of(year, month, d) != x.weekday)
        ++d;
      d += 7 * x.number;
      if (d > dim)
        return resolution{true, false, 0};
      return value(clamp_value(std::int64_t{d} + x.offset, 1, dim));
    }
    case value_kind::last_weekday: {
      if (!x.offset_valid)
        return invalid;
      int d = dim;
      auto wd = weekday_of(year, month, d);
      if (wd == 7)
        d -= 1;
      else if (wd == 1)
        d -= 2;
      return value(clamp_value(std::int64_t{d} + x.offset, 1, dim));
    }
    case value_kind::first_weekday: {
      if (!x.offset_valid)
        return invalid;
      int d = 1;
      auto wd = weekday_of(year, month, d);
      if (wd == 7)
        d += 2;
      else if (wd == 1)
        d += 1;
      return value(clamp_value(std::int64_t{d} + x.offset, 1, dim));
    }
    case value_kind::closest_weekday: {
      int d = clamp_value(x.number, 1, dim);
      auto wd = weekday_of(year, month, d);
      if (wd == 7)
        d = d == 1 ? d + 2 : d - 1;
      else if (wd == 1)
        d = d == dim ? d - 2 : d + 1;
      return value(d);
    }
    default:
      return invalid;
  }
}

std::optional<int> parse_anchor(unit u, std::string_view text) {
  if (auto n = parse_int(text))
    return n;
  if (u == unit::week)
    if (auto i = find_weekday_word(text); i >= 0)
      return i % 7 + 1;
  if (u == unit::month)
    if (auto i = find_month_word(text); i >= 0)
      return month_numbers[static_cast<std::size_t>(i)];
  return std::nullopt;
}

} // namespace jm::cron::detail
