#pragma once

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace jm {

/// Wall-clock instant with microsecond resolution, as stored and sent.
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// Durations are kept in microseconds too, so that arithmetic never truncates.
using duration = std::chrono::microseconds;

/// The current wall-clock time.
timestamp now();

/// Microseconds since the Unix epoch (the stored form).
int64_t to_micros(timestamp t);
timestamp from_micros(int64_t us);

/// Parses a duration written like `250ms`, `30s`, `5m`, `1h30m`, `2d` (units:
/// us, ms, s, m, h, d; a bare number means seconds).
caf::expected<duration> parse_duration(std::string_view text);

/// Formats a duration in the same notation, e.g. `1h30m`, `250ms`.
std::string format_duration(duration d);

/// Parses an ISO-8601 instant: `2026-11-28T10:00:00Z`,
/// `2026-11-28T10:00:00.250+01:00`, `2026-11-28 10:00:00` (no zone = UTC),
/// `2026-11-28` (midnight UTC).
caf::expected<timestamp> parse_timestamp(std::string_view text);

/// Formats as `2026-11-28T10:00:00.123456Z` (fraction omitted when zero).
std::string format_timestamp(timestamp t);

} // namespace jm
