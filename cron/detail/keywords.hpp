#pragma once

// Keyword tables of the NaturalCron language (upper case) and string helpers
// with the reference library's matching rules. Internal header.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace jm::cron::detail {

std::string to_upper(std::string_view x);

bool iequals(std::string_view x, std::string_view y) noexcept;

/// True for [A-Za-z0-9_], the characters of a regex word (\w) in ASCII.
constexpr bool is_word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '_';
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

constexpr bool is_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// Regex `\bword\b`, case-insensitive (`word` consists of word characters).
bool contains_whole_word(std::string_view text, std::string_view word) noexcept;

/// Plain case-insensitive substring search.
bool icontains(std::string_view text, std::string_view needle) noexcept;

// -- word lists (upper case) --------------------------------------------------

inline constexpr std::array<std::string_view, 16> clause_keywords = {
  "AT",     "ON",     "IN",      "EVERY",    "YEARLY",   "MONTHLY",
  "WEEKLY", "DAILY",  "HOURLY",  "MINUTELY", "SECONDLY", "BETWEEN",
  "UPTO",   "FROM",   "TIMEZONE", "TZ"};

inline constexpr std::array<std::string_view, 6> anchor_words = {
  "BASEDON", "BASEDAT", "BASEDIN", "ANCHOREDON", "ANCHOREDAT", "ANCHOREDIN"};

/// Unit words; index / 4 is the unit (second, minute, hour, day-ordinal,
/// day, week, month, year) with the day ordinals at 12..15.
inline constexpr std::array<std::string_view, 32> unit_words = {
  "SEC", "SECOND", "SECONDS", "SECS",  // second
  "MIN", "MINUTE", "MINUTES", "MINS",  // minute
  "HR",  "HOUR",   "HOURS",   "HRS",   // hour
  "ST",  "ND",     "RD",      "TH",    // day ordinals
  "DAY", "DAYS",   "DY",      "DYS",   // day
  "WK",  "WEEK",   "WEEKS",   "WKS",   // week
  "MTH", "MONTH",  "MONTHS",  "MTHS",  // month
  "YR",  "YEAR",   "YEARS",   "YRS"};  // year

inline constexpr std::array<std::string_view, 14> weekday_words = {
  "SUN",    "MON",    "TUE",     "WED",       "THU",      "FRI",
  "SAT",    "SUNDAY", "MONDAY",  "TUESDAY",   "WEDNESDAY", "THURSDAY",
  "FRIDAY", "SATURDAY"};

inline constexpr std::array<std::string_view, 23> month_words = {
  "JAN",     "FEB",      "MAR",     "APR",       "MAY",     "JUN",
  "JUL",     "AUG",      "SEP",     "OCT",       "NOV",     "DEC",
  "JANUARY", "FEBRUARY", "MARCH",   "APRIL",     "JUNE",    "JULY",
  "AUGUST",  "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"};

/// 1-based month number of `month_words[i]`.
inline constexpr std::array<int, 23> month_numbers = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12};

inline constexpr std::array<std::string_view, 3> last_day_words = {
  "LASTDAYOFTHEMONTH", "LASTDAYOFMONTH", "LASTDAY"};

inline constexpr std::array<std::string_view, 3> first_day_words = {
  "FIRSTOFTHEMONTH", "FIRSTDAYOFMONTH", "FIRSTDAY"};

inline constexpr std::array<std::string_view, 3> relative_weekday_words = {
  "LASTWEEKDAY", "FIRSTWEEKDAY", "CLOSESTWEEKDAYTO"};

inline constexpr std::array<std::string_view, 11> nth_ordinals = {
  "FIRST", "1ST", "SECOND", "2ND", "THIRD", "3RD",
  "FOURTH", "4TH", "FIFTH", "5TH", "LAST"};

/// Index into `weekday_words` if `x` (any case) is a weekday name.
int find_weekday_word(std::string_view x) noexcept;

/// Index into `month_words` if `x` (any case) is a month name.
int find_month_word(std::string_view x) noexcept;

/// Index into `unit_words`, or -1.
int find_unit_word(std::string_view x) noexcept;

/// If `x` is an n-th weekday word (e.g. "1stMon", "LastSunday"): the ordinal
/// index into `nth_ordinals` and the weekday (Sunday = 1). Returns false
/// otherwise.
bool parse_nth_weekday_word(std::string_view x, int& ordinal,
                            int& weekday) noexcept;

bool is_nth_weekday_word(std::string_view x) noexcept;

template <std::size_t N>
int find_word(const std::array<std::string_view, N>& xs,
              std::string_view x) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (iequals(xs[i], x))
      return static_cast<int>(i);
  return -1;
}

} // namespace jm::cron::detail
