#pragma once

// The next-occurrence search on wall-clock values. Internal header.

#include "cron/detail/calendar.hpp"
#include "cron/detail/model.hpp"

#include <cstdint>
#include <optional>

namespace jm::cron::detail {

/// Lexicographic range of a between rule for the month of `t`, as seconds of
/// three wall-clock values: the range start, the range end and `t` projected
/// onto the constrained fields.
struct between_bounds {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t projected = 0;
};

between_bounds build_between(const between_rule& x, const wall& t);

/// The range checks of the reference validator (no wrap-around ranges).
bool is_valid_range(const between_rule& x);

/// Upper bound on scan steps per search; the search gives up afterwards.
inline constexpr std::int64_t max_scan_steps = 2'000'000;

/// The first wall-clock occurrence strictly after `base` and before `limit`
/// (exclusive, seconds), or nullopt.
std::optional<wall> search(const schedule_data& x, const wall& base,
                           std::int64_t limit);

} // namespace jm::cron::detail
