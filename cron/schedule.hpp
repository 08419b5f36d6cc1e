#pragma once

// NaturalCron recurrence expressions: parsing and next-occurrence search.
//
// The language and its semantics follow the .NET library NaturalCron 1.0
// (https://github.com/hugoj0s3/NaturalCron), see the project's reference
// `naturalcron.md`. Examples:
//
//   every 5 minutes
//   every day at 10:30
//   @every 2 weeks AnchoredOn Monday @between 09:00 and 17:30 @tz Europe/Lisbon
//   every month on LastWeekday at 18:00
//   every 25 minutes upto 10:15am
//   at [2025-01-01 10:00, 2025-05-01 10:00]
//
// Evaluation happens on wall-clock time in the evaluation zone: the
// expression's `tz` clause if it has one, else `search_options::default_zone`,
// else UTC. The search is the exact algorithm of the .NET library (including
// its documented quirks: unanchored `every N unit` steps relative to the
// reference instant, unconstrained smaller fields are inherited from the
// reference, `every month on friday` never fires, ...).
//
// Daylight-saving transitions (this is where we deliberately differ from
// .NET, which throws for non-existent local times and picks standard time for
// ambiguous ones): the search finds the next *wall-clock* occurrence W and
// then maps W to an instant:
//   - W in a gap (spring forward): fires at the first valid instant after the
//     gap, i.e. the transition instant (02:30 in New York on the spring-forward
//     day fires at 03:00 EDT);
//   - W in an overlap (fall back): fires once, at the first (daylight-time)
//     instant; the repeated wall-clock hour is not visited again;
//   - results are strictly increasing and strictly after the reference
//     instant, so no day is skipped and none fires twice.
//
// Termination: every search is bounded. It stops at `search_options::limit`
// (default: 1000 years after the reference, at most 9999-12-31 23:59:59) and
// after a fixed budget of scan steps; both end with `std::nullopt`.
//
// Thread safety: `schedule` is immutable and cheap to copy (shared state);
// all free functions are safe to call concurrently.

#include "cron/result.hpp"

#include <chrono>
#include <compare>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jm::cron {

namespace detail {
struct schedule_data;
} // namespace detail

/// An instant with whole seconds (UTC, no leap seconds).
using time_point = std::chrono::sys_seconds;

/// A wall-clock value without zone: year 1..9999, month 1..12, day 1..31,
/// hour 0..23, minute 0..59, second 0..59.
struct date_time {
  int year = 1;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;

  friend bool operator==(const date_time&, const date_time&) = default;
  friend auto operator<=>(const date_time&, const date_time&) = default;
};

/// Renders "YYYY-MM-DD hh:mm:ss".
std::string to_string(const date_time& x);

/// Parses "YYYY-MM-DD", "YYYY-MM-DD hh:mm" or "YYYY-MM-DD hh:mm:ss" (a 'T'
/// may replace the space; hour may have one digit). Returns nullopt for
/// malformed or out-of-range values.
std::optional<date_time> parse_date_time(std::string_view text);

/// A parsed, validated NaturalCron expression.
class schedule {
public:
  /// An empty schedule: no rules, never fires.
  schedule();

  /// The text this schedule was parsed from.
  [[nodiscard]] const std::string& expression() const noexcept;

  /// The canonical IANA id of the `tz`/`timezone` clause, or empty.
  [[nodiscard]] const std::string& time_zone() const noexcept;

  /// True if both expressions consist of the same rules (the same clauses
  /// with the same values, ignoring spelling such as case, `@` prefixes,
  /// whitespace and keyword synonyms).
  friend bool operator==(const schedule& x, const schedule& y);

  /// @private
  explicit schedule(std::shared_ptr<const detail::schedule_data> data);

  /// @private
  [[nodiscard]] const detail::schedule_data& data() const noexcept {
    return *data_;
  }

private:
  std::shared_ptr<const detail::schedule_data> data_;
};

/// Parses and validates a NaturalCron expression (case-insensitive).
/// @returns the schedule, or the first problem found.
result<schedule> parse(std::string_view expression);

/// Options of the next-occurrence search.
struct search_options {
  /// IANA zone used for evaluation when the expression has no `tz` clause
  /// (matched case-insensitively). Empty means UTC. An unknown zone makes
  /// every search return nullopt; see `is_known_time_zone`.
  std::string default_zone;

  /// Exclusive upper bound of the search. Default: 1000 years after the
  /// reference (capped at 9999-12-31 23:59:59).
  std::optional<time_point> limit;
};

/// The first occurrence strictly after `after`, or nullopt if there is none
/// before the search limit.
[[nodiscard]] std::optional<time_point>
next_occurrence(const schedule& x, time_point after,
                const search_options& opts = {});

/// Convenience overload for nanosecond clocks; sub-second parts of `after`
/// are discarded (floor). Returns nullopt for results outside the range of
/// `system_clock::time_point` (after 2262).
[[nodiscard]] std::optional<std::chrono::system_clock::time_point>
next_occurrence(const schedule& x, std::chrono::system_clock::time_point after,
                const search_options& opts = {});

/// Up to `count` successive occurrences after `after` (each one is the
/// reference for the next, like .NET's GetNextOccurrences).
[[nodiscard]] std::vector<time_point>
next_occurrences(const schedule& x, time_point after, std::size_t count,
                 const search_options& opts = {});

/// The wall-clock search alone: the first wall-clock occurrence strictly after
/// `after`, ignoring the expression's `tz` clause (the .NET behaviour for
/// expressions without a time zone). `limit` is exclusive; by default the
/// search ends 1000 years after `after`.
[[nodiscard]] std::optional<date_time>
next_local_occurrence(const schedule& x, const date_time& after,
                      std::optional<date_time> limit = std::nullopt);

/// True if `name` is a known IANA zone id or link (case-insensitive).
[[nodiscard]] bool is_known_time_zone(std::string_view name);

/// Renders the rules of `x` in a canonical, stable form for logs and tests,
/// e.g. "every(day 1) at(hour 10) at(minute 30) tz(UTC)".
std::string to_debug_string(const schedule& x);

} // namespace jm::cron
