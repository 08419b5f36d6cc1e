// Tokenizer, clause parser and validator of NaturalCron expressions. The
// structure mirrors the reference library (tokens -> clauses -> value groups
// -> rules -> validation) so that the accepted language is the same.

#include "cron/detail/parser.hpp"

#include "cron/detail/calendar.hpp"
#include "cron/detail/eval.hpp"
#include "cron/detail/keywords.hpp"
#include "cron/detail/time_zone.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jm::cron::detail {

namespace {

// -- tokens -------------------------------------------------------------------

enum class tok : std::uint8_t {
  whole_number,
  rule_spec,
  anchored,
  time_unit,
  month_word,
  weekday_word,
  zone,
  last_day_of_month,
  first_day_of_month,
  relative_weekday,
  nth_weekday,
  last,
  first,
  am_pm,
  and_word,
  unknown,
  // break characters
  whitespace,
  comma,
  colon,
  dash,
  plus,
  open_bracket,
  close_bracket,
  ignored,
  end,
};

struct token {
  tok type = tok::unknown;
  std::string value;
  std::size_t pos = 0;
};

using tokens = std::vector<token>;

constexpr std::string_view expected_word
  = "a keyword, number, time unit, weekday or month name, time-zone id, or "
    "one of the separators , : - + [ ]";

constexpr std::string_view expected_unit
  = "a time unit (second, minute, hour, day, week, month, year), e.g. "
    "'day 5', '5th', 'hour 10' or '10:30'";

bool is_break(char c) noexcept {
  switch (c) {
    case ' ':
    case ';':
    case ',':
    case ':':
    case '-':
    case '.':
    case '\n':
    case '\r':
    case '\t':
    case '[':
    case ']':
    case '(':
    case ')':
    case '{':
    case '}':
    case '%':
    case '$':
    case '#':
    case '^':
    case '=':
    case '!':
    case '<':
    case '>':
    case '?':
    case '|':
    case '\\':
    case '"':
    case '\'':
    case '+':
    case '\0':
      return true;
    default:
      return false;
  }
}

tok recognize_break(char c) noexcept {
  switch (c) {
    case '[':
      return tok::open_bracket;
    case ']':
      return tok::close_bracket;
    case ' ':
      return tok::whitespace;
    case '-':
      return tok::dash;
    case '+':
      return tok::plus;
    case ':':
      return tok::colon;
    case ',':
      return tok::comma;
    case '\0':
      return tok::end;
    case ';':
    case '\t':
    case '\n':
    case '\r':
      return tok::ignored;
    default:
      return tok::unknown;
  }
}

bool is_whole_number(std::string_view x) noexcept {
  return !x.empty() && std::all_of(x.begin(), x.end(), is_digit);
}

bool is_clause_keyword(std::string_view x) noexcept {
  if (!x.empty() && x.front() == '@')
    x.remove_prefix(1);
  return find_word(clause_keywords, x) >= 0;
}

tok recognize_word(std::string_view x) {
  if (is_whole_number(x))
    return tok::whole_number;
  if (is_clause_keyword(x))
    return tok::rule_spec;
  if (find_word(anchor_words, x) >= 0)
    return tok::anchored;
  if (find_unit_word(x) >= 0)
    return tok::time_unit;
  if (find_month_word(x) >= 0)
    return tok::month_word;
  if (find_weekday_word(x) >= 0)
    return tok::weekday_word;
  if (canonical_zone(x))
    return tok::zone;
  if (find_word(last_day_words, x) >= 0)
    return tok::last_day_of_month;
  if (find_word(first_day_words, x) >= 0)
    return tok::first_day_of_month;
  if (find_word(relative_weekday_words, x) >= 0)
    return tok::relative_weekday;
  if (is_nth_weekday_word(x))
    return tok::nth_weekday;
  if (iequals(x, "LAST"))
    return tok::last;
  if (iequals(x, "FIRST"))
    return tok::first;
  if (iequals(x, "AM") || iequals(x, "PM"))
    return tok::am_pm;
  if (iequals(x, "AND"))
    return tok::and_word;
  return tok::unknown;
}

/// Digits followed by letters that spell an n-th weekday word ("1stMon")
/// stay one token.
bool is_nth_ordinal_at(std::string_view s, std::size_t i) {
  std::size_t start = i - 1;
  while (start > 0 && is_digit(s[start - 1]))
    --start;
  std::size_t look = i;
  while (look < s.size() && is_letter(s[look]))
    ++look;
  return is_nth_weekday_word(s.substr(start, look - start));
}

struct tokenize_result {
  tokens xs;
  std::optional<parse_error> error;
};

tokenize_result tokenize(std::string_view s) {
  tokenize_result result;
  auto& xs = result.xs;
  std::string acc;
  std::size_t acc_start = 0;
  bool has_open_bracket = false;
  auto fail = [&result](std::size_t pos, std::string expected,
                        std::string message) {
    if (!result.error)
      result.error = parse_error{pos, std::move(expected), std::move(message)};
  };
  for (std::size_t i = 0; i <= s.size(); ++i) {
    const char c = i < s.size() ? s[i] : '\0';
    const char prev = i > 0 ? s[i - 1] : '\0';
    std::optional<char> holding;
    bool brk = false;
    if (is_break(c)) {
      brk = true;
    } else if (i > 0 && is_digit(c) && !is_digit(prev)) {
      holding = c;
      brk = true;
    } else if (i > 0 && !is_digit(c) && is_digit(prev)
               && !is_nth_ordinal_at(s, i)) {
      holding = c;
      brk = true;
    }
    if (!brk) {
      if (acc.empty())
        acc_start = i;
      acc.push_back(c);
      continue;
    }
    if (!acc.empty()) {
      auto type = recognize_word(acc);
      if (type == tok::unknown)
        fail(acc_start, std::string{expected_word},
             "Invalid token '" + acc + "'");
      xs.push_back(token{type, acc, acc_start});
      acc.clear();
    }
    if (is_break(c)) {
      auto type = recognize_break(c);
      if (type == tok::whitespace && !xs.empty()
          && xs.back().type == tok::whitespace)
        continue;
      if (type == tok::unknown)
        fail(i, std::string{expected_word},
             std::string{"Invalid token '"} + c + "'");
      if (type == tok::open_bracket)
        has_open_bracket = true;
      if (type == tok::close_bracket && !has_open_bracket)
        fail(i, "'[' before ']'", "Missing open brackets");
      xs.push_back(token{type, std::string(1, c), i});
    }
    if (holding) {
      acc_start = i;
      acc.push_back(*holding);
    }
  }
  return result;
}

// -- token helpers ------------------------------------------------------------

bool is_day_ordinal(const token& x) {
  if (x.type != tok::time_unit)
    return false;
  auto i = find_unit_word(x.value);
  return i >= 12 && i < 16;
}

/// Maps a unit word (including the ordinal suffixes) to its unit.
std::optional<unit> unit_of_word(std::string_view x) {
  auto i = find_unit_word(x);
  if (i < 0)
    return std::nullopt;
  constexpr std::array<unit, 8> units = {unit::second, unit::minute,
                                         unit::hour,   unit::day,
                                         unit::day,    unit::week,
                                         unit::month,  unit::year};
  return units[static_cast<std::size_t>(i / 4)];
}

bool is_special(const token* x) {
  if (x == nullptr)
    return false;
  switch (x->type) {
    case tok::last:
    case tok::first:
    case tok::nth_weekday:
    case tok::relative_weekday:
    case tok::last_day_of_month:
    case tok::first_day_of_month:
      return true;
    default:
      return false;
  }
}

bool any_of_type(const tokens& xs, tok t) {
  return std::any_of(xs.begin(), xs.end(),
                     [t](const token& x) { return x.type == t; });
}

std::string join(const tokens& xs, std::initializer_list<tok> skip = {}) {
  std::string result;
  for (const auto& x : xs)
    if (std::find(skip.begin(), skip.end(), x.type) == skip.end())
      result += x.value;
  return result;
}

tokens filter_types(const tokens& xs, std::initializer_list<tok> keep) {
  tokens result;
  for (const auto& x : xs)
    if (std::find(keep.begin(), keep.end(), x.type) != keep.end())
      result.push_back(x);
  return result;
}

/// Splits at tokens of type `sep`, dropping empty parts.
std::vector<tokens> split_tokens(const tokens& xs, tok sep) {
  std::vector<tokens> result;
  tokens current;
  for (const auto& x : xs) {
    if (x.type == sep) {
      if (!current.empty()) {
        result.push_back(std::move(current));
        current.clear();
      }
    } else {
      current.push_back(x);
    }
  }
  if (!current.empty())
    result.push_back(std::move(current));
  return result;
}

tokens trim_tokens(const tokens& xs) {
  auto skip = [](const token& x) {
    return x.type == tok::whitespace || x.type == tok::ignored;
  };
  auto first = std::find_if_not(xs.begin(), xs.end(), skip);
  auto last = std::find_if_not(xs.rbegin(), tokens::const_reverse_iterator{first},
                               skip);
  return tokens(first, last.base());
}

tokens remove_whitespace(const tokens& xs) {
  tokens result;
  for (const auto& x : xs)
    if (x.type != tok::whitespace && x.type != tok::ignored)
      result.push_back(x);
  return result;
}

std::string_view trim_view(std::string_view x) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
  };
  while (!x.empty() && space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && space(x.back()))
    x.remove_suffix(1);
  return x;
}

/// Regex.Replace(x, @"\s*([+-])\s*", "$1").Trim()
std::string normalize(std::string_view x) {
  std::string result;
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    char c = x[i];
    if (c == '+' || c == '-') {
      while (!result.empty() && space(result.back()))
        result.pop_back();
      result.push_back(c);
      while (i + 1 < x.size() && space(x[i + 1]))
        ++i;
      continue;
    }
    result.push_back(c);
  }
  return std::string{trim_view(result)};
}

// -- values -------------------------------------------------------------------

value_expr make_value_at(std::string text, std::size_t pos) {
  auto result = make_value(std::move(text));
  result.position = pos;
  return result;
}

/// One (unit, value) pair decoded from a value group.
struct unit_value {
  std::optional<unit> u; // nullopt: unknown unit
  std::string value;
  bool valid = true;
  std::string error;
  std::string expected;
  std::size_t pos = 0;
};

unit_value bad_value(std::size_t pos, std::string error,
                     std::string_view expected) {
  unit_value result;
  result.valid = false;
  result.error = std::move(error);
  result.expected = std::string{expected};
  result.pos = pos;
  return result;
}

/// Converts a 12-hour clock hour; nullopt if `x` is not a number.
std::optional<std::string> to_24h(std::string_view x, const token& am_pm) {
  auto h = parse_int(x);
  if (!h)
    return std::nullopt;
  int hour = *h;
  if (iequals(am_pm.value, "PM") && hour != 12)
    hour += 12;
  else if (iequals(am_pm.value, "AM") && hour == 12)
    hour = 0;
  return std::to_string(hour);
}

/// Splits value tokens into groups at spaces and commas, keeping related
/// tokens together ("day 5", "9 pm", "ClosestWeekdayTo 15th", "LastDay - 1").
std::vector<tokens> group_related_tokens(const tokens& xs) {
  std::vector<tokens> result;
  tokens current;
  auto is_sep = [](const token& x) {
    return x.type == tok::whitespace || x.type == tok::comma
           || x.type == tok::end;
  };
  // Nearest non-separator token after each position (linear precomputation).
  std::vector<const token*> next_of(xs.size() + 1, nullptr);
  for (std::size_t j = xs.size(); j-- > 0;)
    next_of[j] = is_sep(xs[j]) ? next_of[j + 1] : &xs[j];
  const token* prev = nullptr;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const auto& x = xs[i];
    if (!is_sep(x)) {
      current.push_back(x);
      prev = &x;
      continue;
    }
    const token* next = next_of[i + 1];
    auto type_is = [](const token* t, tok type) {
      return t != nullptr && t->type == type;
    };
    bool keep = false;
    if (type_is(prev, tok::time_unit) && !is_day_ordinal(*prev)
        && (type_is(next, tok::whole_number)
            || (next != nullptr && is_day_ordinal(*next)))) {
      keep = true;
    } else if (type_is(prev, tok::whole_number) && type_is(next, tok::am_pm)) {
      keep = true;
    } else if (prev != nullptr
               && contains_whole_word(prev->value, "CLOSESTWEEKDAYTO")) {
      keep = true;
      current.push_back(x);
    } else if (is_special(next) && type_is(prev, tok::time_unit)) {
      keep = true;
    } else if (is_special(prev) && type_is(next, tok::time_unit)) {
      keep = true;
    } else if ((is_special(prev) && type_is(next, tok::plus))
               || type_is(next, tok::dash)) {
      keep = true;
    } else if ((type_is(next, tok::whole_number) && type_is(prev, tok::plus))
               || type_is(prev, tok::dash)) {
      keep = true;
    }
    if (!keep && !current.empty()) {
      result.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty())
    result.push_back(std::move(current));
  return result;
}

bool has_unit_word_of(const tokens& xs, unit u, bool include_ordinals) {
  for (const auto& x : xs) {
    if (x.type != tok::time_unit)
      continue;
    if (!include_ordinals && is_day_ordinal(x))
      continue;
    if (unit_of_word(x.value) == u)
      return true;
  }
  return false;
}

unit_value make_pair(unit u, std::string value, std::size_t pos) {
  unit_value result;
  result.u = u;
  result.value = std::move(value);
  result.pos = pos;
  return result;
}

/// "10:30", "10:30:15", "10:30pm", "2:00:10 pm".
std::vector<unit_value> parse_colon_group(const tokens& xs) {
  const auto pos = xs.front().pos;
  constexpr std::string_view expected_clock
    = "a clock time such as 10:30, 10:30:15 or 10:30pm";
  auto colons = std::count_if(xs.begin(), xs.end(), [](const token& x) {
    return x.type == tok::colon;
  });
  if (colons > 2)
    return {bad_value(pos, "Invalid format it should be HH:MM:SS or HH:MM",
                      expected_clock)};
  for (auto [u, name] : {std::pair{unit::day, "days"},
                         std::pair{unit::week, "week"},
                         std::pair{unit::month, "month"},
                         std::pair{unit::year, "year"}})
    if (has_unit_word_of(xs, u, true))
      return {bad_value(pos,
                        std::string{"can not use "} + name
                          + " time units with colon",
                        expected_clock)};
  auto parts = split_tokens(xs, tok::colon);
  if (parts.size() < 2) {
    // The reference library crashes here ("10:").
    auto at = xs.back().pos + xs.back().value.size();
    return {bad_value(at, "Invalid format it should be HH:MM:SS or HH:MM",
                      "minutes after ':'")};
  }
  auto hour
    = join(filter_types(parts[0], {tok::whole_number, tok::last}), {tok::end});
  if (any_of_type(xs, tok::am_pm) && is_whole_number(hour)) {
    auto ampm = filter_types(xs, {tok::am_pm});
    if (ampm.size() > 1)
      return {bad_value(
        pos, "Invalid format it should be HH:MM:SS AM/PM or HH:MM AM/PM",
        expected_clock)};
    auto converted = to_24h(hour, ampm.back());
    if (!converted)
      return {bad_value(pos, "invalid hour", expected_clock)};
    hour = *converted;
  }
  std::vector<unit_value> result;
  result.push_back(make_pair(unit::hour, hour, pos));
  result.push_back(make_pair(
    unit::minute,
    join(filter_types(parts[1], {tok::whole_number, tok::last}), {tok::end}),
    pos));
  if (parts.size() > 2) {
    auto secs = filter_types(parts[2], {tok::whole_number, tok::last});
    if (!secs.empty())
      result.push_back(make_pair(unit::second, join(secs, {tok::end}), pos));
  }
  return result;
}

/// "2023-01-23", "2020-11", "JUN-11", "2020-january-11".
std::vector<unit_value> parse_dash_group(const tokens& xs) {
  const auto pos = xs.front().pos;
  constexpr std::string_view expected_date
    = "a date such as 2025-01-31, 2025-01, 01-31 or Jan-31";
  auto dashes = std::count_if(xs.begin(), xs.end(), [](const token& x) {
    return x.type == tok::dash;
  });
  constexpr auto bad_format = "Invalid format yyyy-MM or yyyy-MM-dd or MM-dd";
  if (dashes > 2)
    return {bad_value(pos, bad_format, expected_date)};
  for (auto [u, name] : {std::pair{unit::second, "sec"},
                         std::pair{unit::minute, "min"},
                         std::pair{unit::hour, "hr"}})
    if (has_unit_word_of(xs, u, true))
      return {bad_value(pos,
                        std::string{"can not use "} + name
                          + " time units with dashes",
                        expected_date)};
  auto parts = split_tokens(xs, tok::dash);
  if (parts.size() < 2) {
    // The reference library crashes here ("2023-").
    return {bad_value(pos, bad_format, expected_date)};
  }
  auto t1 = filter_types(parts[0],
                         {tok::whole_number, tok::last, tok::month_word});
  auto t2 = filter_types(parts[1],
                         {tok::whole_number, tok::month_word, tok::last});
  tokens t3;
  if (parts.size() > 2)
    t3 = filter_types(parts[2],
                      {tok::whole_number, tok::last_day_of_month, tok::last});
  std::string year;
  std::string month;
  std::string day;
  if (!t3.empty()) {
    year = join(t1, {tok::whitespace, tok::end});
    month = join(t2, {tok::whitespace, tok::end});
    day = join(t3, {tok::whitespace, tok::end});
  } else {
    auto year_or_month = join(t1, {tok::whitespace, tok::end});
    auto day_or_month = join(t2, {tok::whitespace, tok::end});
    if (year_or_month.size() == 4 && is_whole_number(year_or_month)) {
      year = std::move(year_or_month);
      month = std::move(day_or_month);
    } else {
      month = std::move(year_or_month);
      day = std::move(day_or_month);
    }
  }
  if (!year.empty() && (year.size() != 4 || !is_whole_number(year)))
    return {bad_value(pos, bad_format, expected_date)};
  auto is_month_word = [](std::string_view x) {
    return std::any_of(month_words.begin(), month_words.end(),
                       [x](std::string_view w) {
                         return contains_whole_word(x, w);
                       });
  };
  if (!month.empty() && month.size() != 2 && !is_month_word(month)
      && !icontains(day, "LAST"))
    return {bad_value(pos, bad_format, expected_date)};
  if (!day.empty() && day.size() != 2 && !icontains(day, "LASTDAY")
      && !icontains(day, "LAST"))
    return {bad_value(pos, bad_format, expected_date)};
  std::vector<unit_value> result;
  if (!year.empty())
    result.push_back(make_pair(unit::year, year, pos));
  if (!month.empty())
    result.push_back(make_pair(unit::month, month, pos));
  if (!day.empty())
    result.push_back(make_pair(unit::day, day, pos));
  return result;
}

bool contains_any_whole(std::string_view text, const auto& words) {
  return std::any_of(words.begin(), words.end(), [text](std::string_view w) {
    return contains_whole_word(text, w);
  });
}

bool contains_nth_weekday_word(std::string_view text) {
  std::string word;
  for (auto ordinal : nth_ordinals) {
    for (auto wd : weekday_words) {
      word.assign(ordinal);
      word.append(wd);
      if (contains_whole_word(text, word))
        return true;
    }
  }
  return false;
}

/// A value group without ':' or '-' date: "5th", "day 5", "mon", "9pm",
/// "LastDay - 1", "ClosestWeekdayTo 15th", ...
unit_value parse_single_group(const tokens& xs,
                              std::optional<unit> default_unit) {
  const auto pos = xs.front().pos;
  tokens rest; // without unit words, end marker and am/pm
  for (const auto& x : xs)
    if (x.type != tok::time_unit && x.type != tok::end
        && x.type != tok::am_pm)
      rest.push_back(x);
  auto value = join(xs, {tok::end, tok::time_unit, tok::am_pm});
  auto trimmed = std::string{trim_view(value)};
  if (contains_any_whole(value, weekday_words))
    return make_pair(unit::week, trimmed, pos);
  if (contains_any_whole(value, month_words))
    return make_pair(unit::month, trimmed, pos);
  if (icontains(value, "LASTDAY") || contains_nth_weekday_word(value)
      || contains_any_whole(value, relative_weekday_words)
      || icontains(value, "FIRSTOFTHEMONTH") || icontains(value, "FIRSTDAY")) {
    for (const auto& x : rest) {
      switch (x.type) {
        case tok::dash:
        case tok::plus:
        case tok::whitespace:
        case tok::whole_number:
        case tok::relative_weekday:
        case tok::last_day_of_month:
        case tok::first_day_of_month:
        case tok::nth_weekday:
        case tok::first:
          break;
        default:
          return bad_value(x.pos, "invalid expression",
                           "a day value such as LastDay - 1, 1stMon, "
                           "FirstWeekday + 2 or ClosestWeekdayTo 15th");
      }
    }
    return make_pair(unit::day, trimmed, pos);
  }
  std::optional<unit> u = default_unit;
  for (const auto& x : xs) {
    if (x.type == tok::time_unit) {
      u = unit_of_word(x.value);
      break;
    }
  }
  for (const auto& x : xs) {
    if (x.type == tok::am_pm) {
      auto converted = to_24h(trimmed, x);
      if (!converted)
        return bad_value(pos, "invalid hour",
                         "an hour such as 9pm, 9 pm or 10:30am");
      u = unit::hour;
      value = *converted;
      trimmed = value;
      break;
    }
  }
  if (!u)
    return bad_value(pos, "invalid time unit", expected_unit);
  int operators = 0;
  for (const auto& x : rest) {
    switch (x.type) {
      case tok::whitespace:
      case tok::whole_number:
      case tok::last:
      case tok::first:
      case tok::last_day_of_month:
      case tok::first_day_of_month:
        break;
      case tok::dash:
      case tok::plus:
        ++operators;
        break;
      default:
        return bad_value(x.pos, "invalid expression",
                         "a number, First or Last (optionally +/- n)");
    }
  }
  if (operators > 1)
    return bad_value(pos, "invalid expression",
                     "at most one '+' or '-' in a value");
  return make_pair(*u, trimmed, pos);
}

/// Decodes the tokens of a value into (unit, value) pairs.
std::vector<unit_value>
parse_unit_values(const tokens& xs, std::optional<unit> default_unit = {}) {
  auto groups = group_related_tokens(xs);
  std::vector<unit_value> result;
  std::ptrdiff_t ordinal_partner = -1;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& group = groups[i];
    if (any_of_type(group, tok::colon)) {
      auto pairs = parse_colon_group(group);
      result.insert(result.end(), pairs.begin(), pairs.end());
      continue;
    }
    if (any_of_type(group, tok::dash)
        && std::none_of(group.begin(), group.end(),
                        [](const token& x) { return is_special(&x); })) {
      auto pairs = parse_dash_group(group);
      result.insert(result.end(), pairs.begin(), pairs.end());
      continue;
    }
    auto distance = static_cast<std::ptrdiff_t>(i) - ordinal_partner;
    if (ordinal_partner >= 0 && distance == 1 && !default_unit) {
      result.push_back(parse_single_group(group, unit::month));
      continue;
    }
    if (ordinal_partner >= 0 && distance == 2 && !default_unit) {
      result.push_back(parse_single_group(group, unit::year));
      continue;
    }
    if (i + 1 < groups.size() && any_of_type(groups[i + 1], tok::colon)
        && !default_unit) {
      result.push_back(parse_single_group(group, unit::day));
      continue;
    }
    if (std::any_of(group.begin(), group.end(), is_day_ordinal))
      ordinal_partner = static_cast<std::ptrdiff_t>(i);
    result.push_back(parse_single_group(group, default_unit));
  }
  return result;
}

// -- clauses ------------------------------------------------------------------

enum class clause_kind : std::uint8_t {
  every,
  shortcut,
  at_in_on,
  between,
  upto_from,
  tz,
};

struct clause {
  clause_kind kind = clause_kind::every;
  unit shortcut_unit = unit::day;
  tokens xs;

  [[nodiscard]] std::size_t pos() const {
    return xs.front().pos;
  }
};

std::optional<clause> clause_for(const token& x) {
  if (x.type != tok::rule_spec)
    return std::nullopt;
  std::string_view v = x.value;
  if (!v.empty() && v.front() == '@')
    v.remove_prefix(1);
  clause result;
  auto shortcut = [&result](unit u) {
    result.kind = clause_kind::shortcut;
    result.shortcut_unit = u;
    return result;
  };
  if (iequals(v, "YEARLY"))
    return shortcut(unit::year);
  if (iequals(v, "MONTHLY"))
    return shortcut(unit::month);
  if (iequals(v, "WEEKLY"))
    return shortcut(unit::week);
  if (iequals(v, "DAILY"))
    return shortcut(unit::day);
  if (iequals(v, "HOURLY"))
    return shortcut(unit::hour);
  if (iequals(v, "MINUTELY"))
    return shortcut(unit::minute);
  if (iequals(v, "SECONDLY"))
    return shortcut(unit::second);
  if (iequals(v, "EVERY"))
    result.kind = clause_kind::every;
  else if (iequals(v, "BETWEEN"))
    result.kind = clause_kind::between;
  else if (iequals(v, "TZ") || iequals(v, "TIMEZONE"))
    result.kind = clause_kind::tz;
  else if (iequals(v, "AT") || iequals(v, "ON") || iequals(v, "IN"))
    result.kind = clause_kind::at_in_on;
  else if (iequals(v, "UPTO") || iequals(v, "FROM"))
    result.kind = clause_kind::upto_from;
  else
    return std::nullopt;
  return result;
}

/// Every clause keyword starts a clause; tokens before the first keyword are
/// dropped (they are valid words, e.g. "10 every day").
std::vector<clause> group_clauses(const tokens& xs) {
  std::vector<clause> result;
  for (const auto& x : xs) {
    if (auto c = clause_for(x))
      result.push_back(std::move(*c));
    if (!result.empty())
      result.back().xs.push_back(x);
  }
  return result;
}

/// A parsed rule with its source, before validation.
struct entry {
  enum kind_t : std::uint8_t { every, filter, tz } kind = filter;
  every_rule ev;
  detail::filter flt;
  std::string zone_text;
  std::size_t pos = 0;
  std::size_t end = 0; // byte offset after the clause
};

struct parser {
  std::string_view text;
  std::vector<entry> entries;
  std::optional<parse_error> error;

  void fail(std::size_t pos, std::string_view expected, std::string message) {
    if (!error)
      error = parse_error{pos, std::string{expected}, std::move(message)};
  }

  void fail(const unit_value& x, std::string_view fallback_message) {
    fail(x.pos, x.expected.empty() ? expected_unit : x.expected,
         x.error.empty() ? std::string{fallback_message} : x.error);
  }

  static std::size_t end_of(const tokens& xs) {
    for (auto i = xs.size(); i-- > 0;)
      if (xs[i].type != tok::whitespace && xs[i].type != tok::ignored
          && xs[i].type != tok::end && xs[i].type != tok::comma)
        return xs[i].pos + xs[i].value.size();
    return xs.empty() ? 0 : xs.front().pos;
  }

  entry make_entry(entry::kind_t kind, const clause& c) {
    entry result;
    result.kind = kind;
    result.pos = c.pos();
    result.end = end_of(c.xs);
    return result;
  }

  static std::optional<std::string> anchor_of(const tokens& xs) {
    auto i = std::find_if(xs.begin(), xs.end(), [](const token& x) {
      return x.type == tok::anchored;
    });
    if (i == xs.end())
      return std::nullopt;
    std::string result;
    for (++i; i != xs.end(); ++i) {
      switch (i->type) {
        case tok::whitespace:
        case tok::ignored:
        case tok::end:
        case tok::comma:
        case tok::time_unit:
          break;
        default:
          result += i->value;
      }
    }
    return result;
  }

  void parse_every(const clause& c) {
    auto xs = remove_whitespace(c.xs);
    auto e = make_entry(entry::every, c);
    constexpr std::string_view expected_every
      = "a time unit (second, minute, hour, day, week, month, year) or a "
        "weekday after 'every'";
    if (xs.size() < 2 || xs[1].type == tok::end) {
      fail(xs.size() < 2 ? e.end : xs[1].pos, expected_every,
           "Invalid every expression");
      return;
    }
    std::optional<unit> u;
    if (xs.size() > 2)
      u = unit_of_word(xs[2].value);
    if (!u)
      u = unit_of_word(xs[1].value);
    if (!u) {
      if (auto wd = find_weekday_word(xs[1].value); wd >= 0) {
        e.ev.u = unit::week;
        e.ev.step = 1;
        e.ev.anchor = to_upper(xs[1].value);
        e.ev.anchor_value = wd % 7 + 1;
        e.ev.position = e.pos;
        entries.push_back(std::move(e));
        return;
      }
      fail(xs[1].pos, expected_every, "Invalid every expression");
      return;
    }
    std::int64_t step = 1;
    if (xs.size() > 2 && xs[2].type == tok::time_unit) {
      auto n = parse_int(xs[1].value);
      if (!n) {
        fail(xs[1].pos, "a whole number before the time unit",
             "Invalid every expression");
        return;
      }
      step = *n;
    }
    e.ev.u = *u;
    e.ev.step = step;
    e.ev.anchor = anchor_of(xs);
    if (e.ev.anchor)
      e.ev.anchor_value = parse_anchor(*u, *e.ev.anchor);
    e.ev.position = e.pos;
    entries.push_back(std::move(e));
  }

  void parse_shortcut(const clause& c) {
    auto xs = remove_whitespace(c.xs);
    auto e = make_entry(entry::every, c);
    e.ev.u = c.shortcut_unit;
    e.ev.step = 1;
    e.ev.anchor = anchor_of(xs);
    if (e.ev.anchor)
      e.ev.anchor_value = parse_anchor(c.shortcut_unit, *e.ev.anchor);
    e.ev.position = e.pos;
    entries.push_back(std::move(e));
  }

  void add_filter(const clause& c, filter_rule rule) {
    auto e = make_entry(entry::filter, c);
    e.flt.rule = std::move(rule);
    e.flt.position = e.pos;
    entries.push_back(std::move(e));
  }

  void parse_at_in_on(const clause& c) {
    auto xs = trim_tokens(c.xs);
    if (any_of_type(xs, tok::open_bracket)) {
      parse_multiple(c, xs);
      return;
    }
    auto values = parse_unit_values(tokens(xs.begin() + 1, xs.end()));
    std::vector<at_rule> rules;
    for (auto& v : values) {
      if (!v.u || !v.valid) {
        fail(v, "Invalid at/In/On expression. start and end must have known "
                "time units");
        return;
      }
      rules.push_back(at_rule{*v.u, make_value_at(normalize(v.value), v.pos)});
    }
    for (auto& r : rules)
      add_filter(c, std::move(r));
  }

  void parse_multiple(const clause& c, const tokens& xs) {
    tokens outside;
    tokens inside;
    bool accumulating = false;
    for (std::size_t i = 1; i < xs.size(); ++i) {
      const auto& x = xs[i];
      if (x.type == tok::open_bracket) {
        accumulating = true;
        continue;
      }
      if (!accumulating) {
        outside.push_back(x);
        continue;
      }
      if (x.type == tok::close_bracket) {
        accumulating = false;
        continue;
      }
      inside.push_back(x);
    }
    std::optional<unit> default_unit;
    for (const auto& x : outside) {
      if (x.type == tok::time_unit) {
        default_unit = unit_of_word(x.value);
        break;
      }
    }
    std::array<std::vector<value_expr>, num_units> values;
    std::size_t num_values = 0;
    for (const auto& item : split_tokens(inside, tok::comma)) {
      for (auto& v : parse_unit_values(item, default_unit)) {
        if (!v.u || !v.valid) {
          fail(v, "Invalid at, on, in expression. Multiple values must have "
                  "known time units");
          return;
        }
        values[static_cast<std::size_t>(idx(*v.u))].push_back(
          make_value_at(normalize(v.value), v.pos));
        ++num_values;
      }
    }
    if (num_values == 0) {
      fail(c.pos(), "values inside '[' and ']'",
           "Invalid at, on, in expression. The list is empty");
      return;
    }
    std::size_t length = 0;
    for (const auto& v : values)
      length = std::max(length, v.size());
    for (const auto& v : values) {
      if (!v.empty() && v.size() != length) {
        fail(c.pos(), "the same time units in every list item",
             "Invalid at, on, in expression. Multiple values must have the "
             "same number of time units");
        return;
      }
    }
    multiple_rule rule;
    bool unit_set = false;
    for (int i = 0; i < num_units; ++i) {
      auto& dst = rule.values[static_cast<std::size_t>(i)];
      for (auto& v : values[static_cast<std::size_t>(i)])
        dst.push_back(std::move(v));
      if (!dst.empty() && !unit_set) {
        rule.u = static_cast<unit>(i);
        unit_set = true;
      }
    }
    rule.length = length;
    add_filter(c, std::move(rule));
  }

  std::optional<between_rule> parse_single_between(const tokens& xs,
                                                   std::size_t pos) {
    constexpr std::string_view expected_range
      = "a range such as '09:00 and 17:00', 'mon and fri' or 'Jan and Mar'";
    if (xs.size() < 4) {
      fail(pos, expected_range, "Invalid between expression");
      return std::nullopt;
    }
    std::size_t and_index = 0;
    for (std::size_t i = 2; i < xs.size(); ++i) {
      if (xs[i].type == tok::and_word) {
        and_index = i;
        break;
      }
    }
    if (and_index == 0) {
      fail(pos, "'and' between the start and the end of the range",
           "Invalid between expression. must have a 'and' between start and "
           "end");
      return std::nullopt;
    }
    auto starts
      = parse_unit_values(tokens(xs.begin() + 1, xs.begin() + and_index));
    std::optional<unit> default_unit;
    for (const auto& s : starts) {
      if (s.u) {
        default_unit = s.u;
        break;
      }
    }
    auto ends = parse_unit_values(tokens(xs.begin() + and_index + 1, xs.end()),
                                  default_unit);
    if (starts.size() != ends.size()) {
      fail(xs[and_index].pos, "the same time units on both sides of 'and'",
           "Invalid between expression. start and end must have the same "
           "number of time units");
      return std::nullopt;
    }
    for (std::size_t i = 0; i < starts.size(); ++i) {
      const auto& s = starts[i];
      const auto& e = ends[i];
      if (!s.u || !s.valid) {
        fail(s, "Invalid between expression. start and end must have known "
                "time units");
        return std::nullopt;
      }
      if (!e.valid) {
        fail(e, "Invalid between expression. start and end must have known "
                "time units");
        return std::nullopt;
      }
    }
    between_rule rule;
    for (auto i = starts.size(); i-- > 0;) {
      const auto& s = starts[i];
      const auto& e = ends[i];
      if (s.u != e.u) {
        fail(e.pos, std::string{"a "} + to_string(*s.u) + " value",
             "Invalid between expression. start and end must have the same "
             "time units");
        return std::nullopt;
      }
      auto& slot = rule.ranges[static_cast<std::size_t>(idx(*s.u))];
      if (!slot)
        rule.order.push_back(*s.u);
      slot = range{make_value_at(normalize(s.value), s.pos),
                   make_value_at(normalize(e.value), e.pos)};
    }
    if (rule.order.empty()) {
      fail(pos, expected_range, "Invalid between expression");
      return std::nullopt;
    }
    rule.u = *std::min_element(rule.order.begin(), rule.order.end());
    return rule;
  }

  void parse_between(const clause& c) {
    auto xs = trim_tokens(c.xs);
    if (!any_of_type(xs, tok::open_bracket)) {
      if (auto rule = parse_single_between(xs, c.pos()))
        add_filter(c, std::move(*rule));
      return;
    }
    // between [a and b, c and d]
    std::vector<tokens> ranges;
    tokens current;
    bool inside = false;
    for (const auto& x : xs) {
      if (x.type == tok::open_bracket) {
        inside = true;
        continue;
      }
      if (x.type == tok::close_bracket) {
        if (!current.empty())
          ranges.push_back(current);
        break;
      }
      if (inside) {
        if (x.type == tok::comma) {
          ranges.push_back(current);
          current.clear();
        } else {
          current.push_back(x);
        }
      }
    }
    if (ranges.empty()) {
      fail(c.pos(), "ranges inside '[' and ']'", "Invalid between expression");
      return;
    }
    between_multiple_rule rule;
    for (auto& r : ranges) {
      auto pos = r.empty() ? c.pos() : r.front().pos;
      r.insert(r.begin(), xs.front());
      auto member = parse_single_between(r, pos);
      if (!member)
        return;
      if (!rule.members.empty() && member->order != rule.members[0].order) {
        fail(pos, "the same time units in every range",
             "Invalid between expression");
        return;
      }
      rule.members.push_back(std::move(*member));
    }
    rule.u = rule.members[0].u;
    for (const auto& m : rule.members)
      rule.u = std::min(rule.u, m.u);
    add_filter(c, std::move(rule));
  }

  void parse_upto_from(const clause& c) {
    auto xs = trim_tokens(c.xs);
    bool upto = iequals(xs.front().value, "UPTO")
                || iequals(xs.front().value, "@UPTO");
    auto values = parse_unit_values(tokens(xs.begin() + 1, xs.end()));
    if (values.empty()) {
      fail(end_of(c.xs), "a value", "Invalid upto or from expression");
      return;
    }
    for (const auto& v : values) {
      if (!v.u || !v.valid) {
        fail(v, "Invalid between expression. start and end must have known "
                "time units");
        return;
      }
    }
    between_rule rule;
    for (auto i = values.size(); i-- > 0;) {
      const auto& v = values[i];
      auto& slot = rule.ranges[static_cast<std::size_t>(idx(*v.u))];
      if (!slot)
        rule.order.push_back(*v.u);
      auto value = normalize(v.value);
      slot = upto ? range{make_value_at("First", v.pos),
                          make_value_at(value, v.pos)}
                  : range{make_value_at(value, v.pos),
                          make_value_at("Last", v.pos)};
    }
    rule.u = *std::min_element(rule.order.begin(), rule.order.end());
    add_filter(c, std::move(rule));
  }

  void parse_tz(const clause& c) {
    auto e = make_entry(entry::tz, c);
    std::string value;
    for (std::size_t i = 1; i < c.xs.size(); ++i) {
      switch (c.xs[i].type) {
        case tok::whitespace:
        case tok::end:
        case tok::ignored:
        case tok::comma:
          break;
        default:
          value += c.xs[i].value;
      }
    }
    if (value.empty()) {
      fail(e.end, "an IANA time-zone id such as Europe/Lisbon",
           "Invalid tz expression");
      return;
    }
    e.zone_text = std::move(value);
    entries.push_back(std::move(e));
  }

  void parse_clause(const clause& c) {
    switch (c.kind) {
      case clause_kind::every:
        parse_every(c);
        break;
      case clause_kind::shortcut:
        parse_shortcut(c);
        break;
      case clause_kind::at_in_on:
        parse_at_in_on(c);
        break;
      case clause_kind::between:
        parse_between(c);
        break;
      case clause_kind::upto_from:
        parse_upto_from(c);
        break;
      case clause_kind::tz:
        parse_tz(c);
        break;
    }
  }

  // -- validation -------------------------------------------------------------

  std::string clause_text(const entry& e) const {
    if (e.pos >= text.size() || e.end <= e.pos)
      return {};
    return std::string{text.substr(e.pos, e.end - e.pos)};
  }

  static bool is_at_like(const entry& e) {
    return e.kind == entry::filter
           && (std::holds_alternative<at_rule>(e.flt.rule)
               || std::holds_alternative<multiple_rule>(e.flt.rule));
  }

  /// True for an at rule of unit `u` or a list containing `u`.
  static bool at_uses(const entry& e, unit u) {
    if (e.kind != entry::filter)
      return false;
    if (auto r = std::get_if<at_rule>(&e.flt.rule))
      return r->u == u;
    if (auto r = std::get_if<multiple_rule>(&e.flt.rule))
      return r->u == u || r->has(u);
    return false;
  }

  void validate() {
    constexpr std::string_view every_names
      = "Every/Secondly/Minutely/Hourly/Daily/Weekly/Monthly/Yearly";
    // 1. At least one at/on/in or every rule.
    bool any = std::any_of(entries.begin(), entries.end(), [](const entry& e) {
      return e.kind == entry::every || is_at_like(e);
    });
    if (!any) {
      fail(entries.empty() ? 0 : entries.front().pos,
           "an at/on/in or every clause",
           "At least one At/On/In or " + std::string{every_names}
             + " is required.");
      return;
    }
    // 2. At most one every rule.
    const entry* every = nullptr;
    for (const auto& e : entries) {
      if (e.kind != entry::every)
        continue;
      if (every != nullptr) {
        fail(e.pos, "at most one every clause",
             "Duplicate " + std::string{every_names}
               + " rule is not allowed.");
        return;
      }
      every = &e;
    }
    // 3. No at/on/in rule at the unit of the every rule (except week).
    if (every != nullptr) {
      auto u = every->ev.u;
      for (const auto& e : entries) {
        if (u != unit::week && at_uses(e, u)) {
          fail(e.pos,
               std::string{"no at/on/in value of the every unit ("}
                 + to_string(u) + ")",
               "You cannot use an At/On/In rules at the same time unit as an "
               "'every X' rule except for week.");
          return;
        }
        if (u == unit::week && at_uses(e, unit::week) && every->ev.anchor
            && !every->ev.anchor->empty()) {
          fail(e.pos, "no weekday at/on/in value with an anchored every week",
               "You cannot combine an 'every week' + anchored rule with an "
               "At/On/In rule for weeks.");
          return;
        }
      }
    }
    // 4. At most one at/on/in rule per unit.
    for (auto u : {unit::second, unit::minute, unit::hour, unit::day,
                   unit::month, unit::year, unit::week}) {
      const entry* seen = nullptr;
      for (const auto& e : entries) {
        if (!at_uses(e, u))
          continue;
        if (seen != nullptr) {
          fail(e.pos,
               std::string{"at most one at/on/in value per unit ("}
                 + to_string(u) + ")",
               "Duplicate At/On/In rules for the same time unit are not "
               "allowed.");
          return;
        }
        seen = &e;
      }
    }
    // 5. Between rules need an every rule and valid ranges.
    for (const auto& e : entries) {
      if (e.kind != entry::filter)
        continue;
      std::vector<const between_rule*> ranges;
      if (auto single = std::get_if<between_rule>(&e.flt.rule))
        ranges.push_back(single);
      else if (auto multi = std::get_if<between_multiple_rule>(&e.flt.rule))
        for (const auto& m : multi->members)
          ranges.push_back(&m);
      if (ranges.empty())
        continue;
      if (every == nullptr) {
        fail(e.pos, "an every clause (between, from and upto filter it)",
             "Between rules is not allowed without " + std::string{every_names}
               + " rule.");
        return;
      }
      for (const auto* r : ranges) {
        if (!is_valid_range(*r)) {
          fail(e.pos,
               "a valid, non-wrapping range (start <= end); use a list of two "
               "ranges instead of wrapping around",
               "Between rule ranges are invalid for " + clause_text(e));
          return;
        }
      }
    }
    // 6. At/on/in values must make sense for their unit.
    for (const auto& e : entries) {
      if (e.kind != entry::filter)
        continue;
      auto check = [&](unit u, const value_expr& v) {
        if (resolve_full(u, 1, 1, v).valid)
          return true;
        fail(v.position,
             std::string{"a valid "} + to_string(u) + " value instead of '"
               + v.text + "'",
             "At/On/In rule '" + clause_text(e) + "' is not valid.");
        return false;
      };
      if (auto single = std::get_if<at_rule>(&e.flt.rule)) {
        if (!check(single->u, single->value))
          return;
      } else if (auto list = std::get_if<multiple_rule>(&e.flt.rule)) {
        for (int i = 0; i < num_units; ++i)
          for (const auto& v : list->values[static_cast<std::size_t>(i)])
            if (!check(static_cast<unit>(i), v))
              return;
      }
    }
    // 7. Known time zones.
    for (const auto& e : entries) {
      if (e.kind == entry::tz && !canonical_zone(e.zone_text)) {
        fail(e.pos, "a known IANA time-zone id such as Europe/Lisbon",
             "Timezone rule '" + e.zone_text + "' is not valid.");
        return;
      }
    }
    // 8. Positive step.
    if (every != nullptr && every->ev.step <= 0) {
      fail(every->pos, "a step greater than 0",
           "Every value cannot be less than or equal to 0.");
      return;
    }
  }
};

/// `every month|year on <weekday>`: weekdays become "first <weekday> of the
/// month" when there is no day rule. A single weekday keeps the weekday unit
/// and therefore never matches (reference behaviour).
void rewrite_weekdays(schedule_data& x) {
  if (!x.every || x.every->u < unit::month)
    return;
  for (const auto& f : x.filters) {
    if (auto r = std::get_if<at_rule>(&f.rule); r && r->u == unit::day)
      return;
    if (auto r = std::get_if<multiple_rule>(&f.rule);
        r && (r->u == unit::day || r->has(unit::day)))
      return;
  }
  auto first_of = [](const value_expr& v) {
    auto n = resolve(unit::week, 1, 1, v).value_or(1);
    if (n < 1 || n > static_cast<int>(weekday_words.size()))
      return make_value("1st?");
    return make_value("1st"
                      + std::string{weekday_words[static_cast<std::size_t>(
                        n - 1)]});
  };
  for (auto& f : x.filters) {
    if (auto single = std::get_if<at_rule>(&f.rule);
        single && single->u == unit::week) {
      single->value = first_of(single->value);
    } else if (auto list = std::get_if<multiple_rule>(&f.rule);
               list && list->has(unit::week)) {
      auto& weeks = list->values[static_cast<std::size_t>(idx(unit::week))];
      auto& days = list->values[static_cast<std::size_t>(idx(unit::day))];
      days.clear();
      for (const auto& v : weeks)
        days.push_back(first_of(v));
      weeks.clear();
    }
  }
}

} // namespace

result<schedule_data> parse_schedule(std::string_view text) {
  if (text.size() > max_expression_length)
    return parse_error{max_expression_length,
                       "an expression of at most "
                         + std::to_string(max_expression_length) + " bytes",
                       "Expression too long"};
  auto tokenized = tokenize(text);
  if (tokenized.error)
    return *tokenized.error;
  parser p;
  p.text = text;
  auto clauses = group_clauses(tokenized.xs);
  for (const auto& c : clauses) {
    p.parse_clause(c);
    if (p.error)
      return *p.error;
  }
  p.validate();
  if (p.error)
    return *p.error;
  schedule_data result;
  result.expression = std::string{text};
  for (auto& e : p.entries) {
    switch (e.kind) {
      case entry::every:
        result.every = std::move(e.ev);
        break;
      case entry::filter:
        result.filters.push_back(std::move(e.flt));
        break;
      case entry::tz:
        if (result.zone.empty())
          result.zone = canonical_zone(e.zone_text).value_or("");
        break;
    }
  }
  rewrite_weekdays(result);
  return result;
}

} // namespace jm::cron::detail
