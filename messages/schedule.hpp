#pragma once

#include "messages/job.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jm {

using schedule_id = uuid;

/// A recurring schedule's status. Numbers match the .NET original (which
/// also has PendingSave = 1, a state this design does not need).
enum class schedule_status : uint8_t {
  /// Materialises occurrences.
  active = 2,
  /// Cancelled by request; its unstarted jobs were cancelled.
  cancelled = 3,
  /// A static schedule that no running code declares any more.
  inactive = 4,
  /// Reached its `end_before`, or its expression has no further occurrence.
  completed = 5,
};

std::string_view to_string(schedule_status x);

caf::expected<schedule_status> parse_schedule_status(std::string_view text);

/// Cancelled, inactive and completed schedules materialise nothing. An
/// inactive static schedule comes back when code declares it again.
bool is_final(schedule_status x);

/// What happens to occurrences that fell due while nothing materialised them
/// (the cluster was down longer than the planning horizon).
enum class catch_up_policy : uint8_t {
  /// Each missed occurrence runs, at most `catch_up_limit` (the latest).
  all = 1,
  /// Only the latest missed occurrence runs.
  latest = 2,
  /// No missed occurrence runs.
  skip = 3,
};

std::string_view to_string(catch_up_policy x);

caf::expected<catch_up_policy> parse_catch_up_policy(std::string_view text);

/// What happens to an occurrence that falls due while an earlier run of the
/// same schedule is still queued or processing.
enum class overlap_policy : uint8_t {
  /// It runs too.
  allow = 1,
  /// It is cancelled with a `skipped` attempt.
  skip = 2,
};

std::string_view to_string(overlap_policy x);

caf::expected<overlap_policy> parse_overlap_policy(std::string_view text);

/// The registered recurrence types (`expression_type`).
namespace expression_types {
/// NaturalCron text, e.g. `every day at 9:00 tz Europe/Lisbon`.
constexpr std::string_view natural_cron = "naturalcron";
/// A .NET TimeSpan of at least one second, e.g. `00:00:05`.
constexpr std::string_view interval = "interval";
} // namespace expression_types

/// What a recurring schedule does: the job to create at each occurrence
/// and when the occurrences are. Unset job fields take the handler's
/// defaults, then the cluster's, at each materialisation.
struct recurring_spec {
  std::string handler;
  /// See `expression_types`.
  std::string expression_type{expression_types::natural_cron};
  std::string expression;
  /// IANA zone for expressions without a `tz` clause; empty: the cluster's
  /// time zone (fixed when the schedule is created).
  std::string time_zone;
  value_map data;
  value_map metadata;
  std::optional<jm::priority> priority;
  std::optional<std::string> lane;
  std::optional<duration> timeout;
  std::optional<int32_t> max_retries;
  /// No occurrence at or before this instant.
  std::optional<timestamp> start_after;
  /// No occurrence at or after this instant; the schedule then completes.
  std::optional<timestamp> end_before;
  catch_up_policy catch_up = catch_up_policy::latest;
  /// For `catch_up_policy::all`: at most this many missed occurrences run.
  uint32_t catch_up_limit = 100;
  overlap_policy overlap = overlap_policy::allow;
  /// Non-empty: a static schedule declared in code under this name; it is
  /// created or updated (by name) when a node starts.
  std::string static_name;
};

/// A recurring schedule as the master stores it.
struct recurring_schedule {
  schedule_id id;
  recurring_spec spec;
  schedule_status status = schedule_status::active;
  timestamp created_at;
  /// When it became cancelled, inactive or completed.
  std::optional<timestamp> terminated_at;
  /// The reference of the next occurrence search: the last occurrence
  /// materialised (or skipped), or the start before the first one.
  timestamp cursor;
  /// Watermark: every occurrence up to here has been materialised.
  timestamp planned_until;
  /// Static schedules: when running code last declared it.
  std::optional<timestamp> ensured_at;
  /// Fencing token, as a job's.
  int64_t version = 0;
};

/// One planning step of a schedule: what the planner decided.
struct schedule_plan {
  /// The schedule after the step: cursor, watermark, status.
  recurring_schedule next;
  /// The occurrences to insert as jobs.
  std::vector<job> jobs;
  /// Occurrences that fell due before anything planned them...
  uint64_t missed = 0;
  /// ... and how many of those the catch-up policy dropped.
  uint64_t dropped = 0;
};

/// What `schedules list` asks for.
struct schedule_filter {
  std::vector<schedule_status> statuses;
  std::string handler;
  uint32_t limit = 100;
};

} // namespace jm
