#pragma once

// The rule model of a parsed NaturalCron expression. Internal header.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jm::cron::detail {

/// Time units in the order the reference library compares them.
enum class unit : std::uint8_t {
  second = 0,
  minute,
  hour,
  day,
  week, // as a filter: the day of week, Sunday = 1 ... Saturday = 7
  month,
  year,
};

inline constexpr int num_units = 7;

constexpr int idx(unit x) noexcept {
  return static_cast<int>(x);
}

const char* to_string(unit x) noexcept;

/// How a value text resolves; computed once from the text.
enum class value_kind : std::uint8_t {
  integer,         // "5", "+5", "-1", "00", "2023"
  weekday_name,    // "MON", "sunday" (valid for the week unit only)
  month_name,      // "JAN", "july" (valid for the month unit only)
  last,            // "Last", "LastDay", "LastDayOfMonth" (+/- n)
  first,           // "First", "FirstDay", "FirstOfTheMonth" (+/- n)
  last_of_weekday, // "LastFri" (+/- n), day unit only
  nth_weekday,     // "1stMon", "ThirdFriday" (+/- n), day unit only
  last_weekday,    // "LastWeekday" (+/- n), day unit only
  first_weekday,   // "FirstWeekday" (+/- n), day unit only
  closest_weekday, // "ClosestWeekdayTo 15", day unit only
  invalid,
};

/// A value of a rule, e.g. "10", "JAN", "LastDay-1", "ClosestWeekdayTo 15".
struct value_expr {
  /// Normalized text: trimmed, no spaces around '+' and '-'.
  std::string text;
  value_kind kind = value_kind::invalid;
  /// integer: the value; names: 1-based index; nth_weekday: 0-based position;
  /// closest_weekday: the day.
  int number = 0;
  /// last_of_weekday / nth_weekday: Sunday = 1 ... Saturday = 7.
  int weekday = 0;
  /// The +n / -n suffix (0 if none).
  int offset = 0;
  /// False if the +/- suffix does not parse as a number.
  bool offset_valid = true;
  /// Byte offset of the value in the expression (for error messages).
  std::size_t position = 0;
};

/// Classifies a normalized value text.
value_expr make_value(std::string text);

/// Outcome of resolving a value for a unit in a given year and month.
struct resolution {
  bool valid = false;     // the value makes sense for the unit
  bool has_value = false; // false e.g. for "5thFri" in a month with 4 Fridays
  int value = 0;
};

resolution resolve_full(unit u, int year, int month, const value_expr& x);

/// The value to match, or nullopt if invalid or absent this month.
inline std::optional<int> resolve(unit u, int year, int month,
                                  const value_expr& x) {
  auto r = resolve_full(u, year, month, x);
  if (r.valid && r.has_value)
    return r.value;
  return std::nullopt;
}

/// The anchor of an every rule as an integer (numbers; weekday names for the
/// week unit; month names for the month unit).
std::optional<int> parse_anchor(unit u, std::string_view text);

/// .NET int.TryParse: optional surrounding whitespace, optional sign, digits,
/// no overflow.
std::optional<int> parse_int(std::string_view text);

/// `at`/`on`/`in` with a single value: one rule per unit.
struct at_rule {
  unit u = unit::second;
  value_expr value;
};

/// `at [a, b, c]`: positions across units; matches if some position matches.
struct multiple_rule {
  std::array<std::vector<value_expr>, num_units> values;
  /// The smallest unit the list had when parsed (kept by the month/year
  /// rewrite of weekdays, as in the reference).
  unit u = unit::second;
  std::size_t length = 0;

  [[nodiscard]] bool has(unit x) const noexcept {
    return !values[static_cast<std::size_t>(idx(x))].empty();
  }
};

struct range {
  value_expr start;
  value_expr end;
};

/// `between a and b`, `from v`, `upto v`: a lexicographic range over the
/// constrained fields (plus an optional weekday range).
struct between_rule {
  std::array<std::optional<range>, num_units> ranges;
  /// Units in insertion order (last value first, like the reference).
  std::vector<unit> order;
  /// The smallest constrained unit.
  unit u = unit::second;
};

/// `between [a and b, c and d]`.
struct between_multiple_rule {
  std::vector<between_rule> members;
  unit u = unit::second;
};

using filter_rule
  = std::variant<at_rule, multiple_rule, between_rule, between_multiple_rule>;

struct filter {
  filter_rule rule;
  /// Byte offset of the clause in the expression.
  std::size_t position = 0;
};

inline unit unit_of(const filter_rule& x) noexcept {
  return std::visit([](const auto& r) { return r.u; }, x);
}

struct every_rule {
  unit u = unit::day;
  std::int64_t step = 1;
  /// Present if an anchor word was written (even if its value is unusable).
  std::optional<std::string> anchor;
  /// The anchor as an integer, if it reads as one.
  std::optional<int> anchor_value;
  std::size_t position = 0;
};

struct schedule_data {
  std::string expression;
  std::optional<every_rule> every;
  std::vector<filter> filters;
  /// Canonical IANA id of the first tz clause, or empty.
  std::string zone;
};

} // namespace jm::cron::detail
