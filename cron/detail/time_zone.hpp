#pragma once

// Adapter to Howard Hinnant's date/tz (system tz database). The only place
// that includes <date/tz.h>. Internal header.

#include "cron/detail/calendar.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
} // namespace date

namespace jm::cron::detail {

/// The canonical spelling of a known zone id or link (case-insensitive), or
/// nullopt.
std::optional<std::string> canonical_zone(std::string_view name);

/// A located zone; `tz == nullptr` means UTC.
struct zone_ref {
  bool ok = false;
  const date::time_zone* tz = nullptr;
};

/// Locates a zone by (any-case) name. Empty names and "UTC" work even
/// without a tz database.
zone_ref locate(std::string_view name) noexcept;

/// The wall clock of `zone` at the instant `sys` (seconds since the epoch).
wall to_local(const zone_ref& zone, std::int64_t sys) noexcept;

/// The instant of wall-clock value `w` in `zone`: unique times map directly,
/// ambiguous times (fall back) to the earlier instant, non-existent times
/// (spring forward) to the first instant after the gap.
std::int64_t to_sys(const zone_ref& zone, const wall& w) noexcept;

} // namespace jm::cron::detail
