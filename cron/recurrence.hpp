#pragma once
// The plug-in point for recurrence expression types. A recurring schedule
// stores a type name and the expression text; `compile` turns them into a
// `recurrence` with the compiler registered for that type. Two types are
// built in:
//
//   "naturalcron"  a NaturalCron expression (cron/schedule.hpp), evaluated
//                  in its `tz` clause, else in the default zone, else UTC;
//   "interval"     a .NET TimeSpan of at least one second
//                  (cron/interval.hpp): the next occurrence is the previous
//                  one plus the interval.
//
// Further types register a compiler under a new name, e.g. one for classic
// five-field cron, before any schedule of that type is planned.

#include "cron/result.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jm::cron {

/// Instants of recurrences: UTC, microseconds.
using instant = std::chrono::sys_time<std::chrono::microseconds>;

/// A compiled recurrence of any registered type. Cheap to copy; `next` is
/// safe to call concurrently.
class recurrence {
public:
  /// The first occurrence strictly after `after`, or nullopt when there is
  /// none (the recurrence has ended).
  using next_function = std::function<std::optional<instant>(instant after)>;

  recurrence(std::string type, std::string expression, next_function next)
    : type_(std::move(type)), expression_(std::move(expression)),
      next_(std::move(next)) {
    // nop
  }

  /// The registered type name, lowercase.
  [[nodiscard]] const std::string& type() const noexcept { return type_; }

  [[nodiscard]] const std::string& expression() const noexcept {
    return expression_;
  }

  [[nodiscard]] std::optional<instant> next(instant after) const {
    return next_(after);
  }

private:
  std::string type_;
  std::string expression_;
  next_function next_;
};

/// Compiles one expression of a type. `default_zone` is the IANA zone for
/// expressions that do not name one (empty: UTC); types without zones
/// ignore it.
using recurrence_compiler = std::function<result<recurrence>(
  std::string_view expression, std::string_view default_zone)>;

/// Registers (or replaces) the compiler of a type; names are matched
/// case-insensitively. Thread-safe.
void register_expression_type(std::string_view type,
                              recurrence_compiler compiler);

/// The registered type names, lowercase and sorted.
std::vector<std::string> expression_types();

/// Compiles `expression` as `type`. An unknown type or zone is a
/// `parse_error` at position 0.
result<recurrence> compile(std::string_view type, std::string_view expression,
                           std::string_view default_zone = {});

} // namespace jm::cron
