#pragma once

// A fluent builder that assembles NaturalCron expression text, mirroring the
// .NET NaturalCronBuilder. Example:
//
//   auto text = jm::cron::every(30).minutes()
//                 .in(jm::cron::month::january)
//                 .between_time(9, 0, 18, 0)
//                 .tz("Europe/Lisbon")
//                 .to_string();
//   // "Every 30 Minutes In Jan Between 09:00 and 18:00 TimeZone Europe/Lisbon"
//   auto sched = jm::cron::every(1).day().at_time(10, 30).build();
//
// Layout of the text: the every part first, then the clauses in call order,
// the time zone last. Calling an every method again replaces the every part.
// The builder only assembles text; `build()` parses it (string arguments are
// not validated before that).

#include "cron/result.hpp"
#include "cron/schedule.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jm::cron {

enum class weekday : std::uint8_t {
  sunday = 1,
  monday,
  tuesday,
  wednesday,
  thursday,
  friday,
  saturday,
};

enum class month : std::uint8_t {
  january = 1,
  february,
  march,
  april,
  may,
  june,
  july,
  august,
  september,
  october,
  november,
  december,
};

/// Special days of a month.
enum class day_position : std::uint8_t {
  first_day,     // FirstDay
  last_day,      // LastDay
  first_weekday, // FirstWeekday: first Monday-Friday of the month
  last_weekday,  // LastWeekday: last Monday-Friday of the month
};

/// The n in "the n-th <weekday> of the month".
enum class nth : std::uint8_t {
  first = 1,
  second,
  third,
  fourth,
  fifth,
  last,
};

/// Suffix of a clock time. The hour is written as given (.NET behaviour):
/// `at_time(2, 15, am_pm::pm)` renders "02:15pm".
enum class am_pm : std::uint8_t {
  none,
  am,
  pm,
};

class every_builder;

class builder {
public:
  builder() = default;

  // -- configuration (call before anything else) ----------------------------

  /// Prefixes every keyword with '@' ("@Every 2 Days @At 10:00").
  builder& use_ampersat_prefix();

  /// Writes weekdays as "Monday" instead of "Mon".
  builder& use_week_full_name();

  /// Writes months as "January" instead of "Jan" (May stays "may").
  builder& use_month_full_name();

  // -- the interval ---------------------------------------------------------

  /// "Every <Unit>", e.g. `every().day()` -> "Every Day".
  [[nodiscard]] every_builder every() const;

  /// "Every <n> <Unit>[s]", e.g. `every(2).days()` -> "Every 2 Days".
  [[nodiscard]] every_builder every(int n) const;

  builder& yearly();
  builder& monthly();
  builder& weekly();
  builder& daily();
  builder& hourly();
  builder& minutely();
  builder& secondly();

  /// Anchors of the every part: "AnchoredOn <x>", "AnchoredIn <x>",
  /// "AnchoredAt <x>". Integers become ordinals ("15th") for day intervals.
  builder& anchored_on(std::string_view x);
  builder& anchored_in(std::string_view x);
  builder& anchored_at(std::string_view x);
  builder& anchored_on(weekday x);
  builder& anchored_in(cron::month x);
  builder& anchored_on(int x);
  builder& anchored_in(int x);
  builder& anchored_at(int x);

  // -- point filters --------------------------------------------------------

  /// "On <x>" (raw text).
  builder& on(std::string_view x);
  /// "On [a, b, c]" (no brackets for a single value).
  builder& on(std::initializer_list<std::string_view> xs);
  builder& on(const std::vector<std::string>& xs);
  /// "On Mon".
  builder& on(weekday x);

  builder& in(std::string_view x);
  builder& in(std::initializer_list<std::string_view> xs);
  builder& in(const std::vector<std::string>& xs);
  /// "In Jan".
  builder& in(cron::month x);

  builder& at(std::string_view x);
  builder& at(std::initializer_list<std::string_view> xs);
  builder& at(const std::vector<std::string>& xs);
  /// "At 25th Dec".
  builder& at(cron::month m, int day);

  /// "At 15th".
  builder& at_day(int day);
  /// "At FirstDay", "At LastDay", "At FirstWeekday", "At LastWeekday".
  builder& at_day_position(day_position x);
  /// "On 1stMon" ... "On 5thSat", "On LastSun".
  builder& on_nth_weekday(nth n, weekday x);
  /// "On ClosestWeekdayTo 15th".
  builder& on_closest_weekday_to(int day);
  /// "At 10:30", "At 02:15pm".
  builder& at_time(int hour, int minute, am_pm suffix = am_pm::none);
  /// "At 10:30:45", "At 11:00:30am".
  builder& at_time(int hour, int minute, int second,
                   am_pm suffix = am_pm::none);

  // -- range filters (need an every part to build) --------------------------

  /// "Between <a> and <b>" (raw text).
  builder& between(std::string_view first, std::string_view last);
  /// "Between [a and b, c and d]".
  builder& between(
    std::initializer_list<std::pair<std::string_view, std::string_view>> xs);
  /// "Between Mon and Fri".
  builder& between(weekday first, weekday last);
  /// "Between Jan and Mar".
  builder& between(cron::month first, cron::month last);
  /// "Between 1st Jan and 31st Dec".
  builder& between(cron::month first_month, int first_day,
                   cron::month last_month, int last_day);
  /// "Between 09:00 and 17:30".
  builder& between_time(int hour1, int minute1, int hour2, int minute2,
                        am_pm suffix = am_pm::none);
  /// "Between 09:00:30 and 17:30:00".
  builder& between_time(int hour1, int minute1, int second1, int hour2,
                        int minute2, int second2, am_pm suffix = am_pm::none);

  /// "From <x>" / "Upto <x>" (raw text).
  builder& from(std::string_view x);
  builder& upto(std::string_view x);
  builder& from(weekday x);
  builder& upto(weekday x);
  builder& from(cron::month x);
  builder& upto(cron::month x);
  /// "From 1st Jan", "Upto 31st Dec".
  builder& from(cron::month m, int day);
  builder& upto(cron::month m, int day);
  /// "From 5th", "Upto 25th".
  builder& from_day(int day);
  builder& upto_day(int day);
  /// "From 09:00", "Upto 17:30:00pm".
  builder& from_time(int hour, int minute, am_pm suffix = am_pm::none);
  builder& from_time(int hour, int minute, int second,
                     am_pm suffix = am_pm::none);
  builder& upto_time(int hour, int minute, am_pm suffix = am_pm::none);
  builder& upto_time(int hour, int minute, int second,
                     am_pm suffix = am_pm::none);

  // -- time zone --------------------------------------------------------------

  /// "TimeZone <id>", always placed last. Calling it again replaces the id.
  builder& tz(std::string_view iana_id);

  /// Alias of `tz`.
  builder& with_time_zone(std::string_view iana_id) {
    return tz(iana_id);
  }

  // -- results ----------------------------------------------------------------

  /// The expression text.
  [[nodiscard]] std::string to_string() const;

  /// Parses `to_string()`.
  result<schedule> build() const;

private:
  friend class every_builder;

  struct clause {
    std::string keyword; // "On", "In", "At", "From", "Upto", "Between"
    std::string value;
  };

  builder& add(std::string_view keyword, std::string value);
  builder& add_list(std::string_view keyword, std::vector<std::string> xs);
  builder& shortcut(std::string_view keyword);
  builder& anchor(std::string_view word, std::string value);
  [[nodiscard]] std::string weekday_text(weekday x) const;
  [[nodiscard]] std::string month_text(cron::month x) const;
  [[nodiscard]] std::string keyword(std::string_view x) const;

  bool ampersat_ = false;
  bool full_weekday_ = false;
  bool full_month_ = false;
  std::string every_keyword_;     // "Every", "Daily", ... (empty: none)
  std::optional<int> every_n_;    // set by every(n)
  std::string every_unit_;        // "Day", "Week", ... (singular)
  std::string anchor_;            // "AnchoredOn Mon"
  std::vector<clause> clauses_;
  std::string zone_;
};

/// The unit step of `every()` / `every(n)`. Singular and plural methods are
/// interchangeable; the text only depends on n ("Every 1 Day", "Every 2 Days",
/// "Every Day").
class every_builder {
public:
  [[nodiscard]] builder second() const;
  [[nodiscard]] builder seconds() const;
  [[nodiscard]] builder minute() const;
  [[nodiscard]] builder minutes() const;
  [[nodiscard]] builder hour() const;
  [[nodiscard]] builder hours() const;
  [[nodiscard]] builder day() const;
  [[nodiscard]] builder days() const;
  [[nodiscard]] builder week() const;
  [[nodiscard]] builder weeks() const;
  [[nodiscard]] builder month() const;
  [[nodiscard]] builder months() const;
  [[nodiscard]] builder year() const;
  [[nodiscard]] builder years() const;

private:
  friend class builder;

  every_builder(builder b, std::optional<int> n) : b_(std::move(b)), n_(n) {
    // nop
  }

  [[nodiscard]] builder with_unit(std::string_view unit) const;

  builder b_;
  std::optional<int> n_;
};

/// Shorthands for `builder{}.every()...`.
[[nodiscard]] every_builder every();
[[nodiscard]] every_builder every(int n);
[[nodiscard]] builder yearly();
[[nodiscard]] builder monthly();
[[nodiscard]] builder weekly();
[[nodiscard]] builder daily();
[[nodiscard]] builder hourly();
[[nodiscard]] builder minutely();
[[nodiscard]] builder secondly();

} // namespace jm::cron
