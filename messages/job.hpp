#pragma once

#include "messages/time.hpp"
#include "messages/uuid.hpp"
#include "messages/value.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jm {

/// A job's status. Numbers match the .NET original and are stored.
enum class job_status : uint8_t {
  /// Accepted into a bucket's save-pending queue, not yet in the master.
  save_pending = 1,
  /// Durable in the master, waiting for the look-ahead assigner.
  held_on_master = 2,
  /// Placed in a bucket; the bucket's owner will pick it up when due.
  assigned_to_bucket = 3,
  /// A handler is running it.
  processing = 4,
  succeeded = 5,
  /// Claimed by its bucket's owner and waiting in memory for a run slot.
  queued = 6,
  failed = 7,
  cancelled = 8,
};

std::string_view to_string(job_status x);
caf::expected<job_status> parse_job_status(std::string_view text);

/// Succeeded, failed and cancelled never change again.
bool is_final(job_status x);

/// The state machine: true when `from -> to` is a legal transition.
bool can_transition(job_status from, job_status to);

/// Five priority levels; routing matches them exactly.
enum class priority : uint8_t {
  very_low = 1,
  low = 2,
  medium = 3,
  high = 4,
  critical = 5,
};

constexpr int num_priorities = 5;

std::string_view to_string(priority x);
caf::expected<priority> parse_priority(std::string_view text);

/// How a job came to be.
enum class trigger_source : uint8_t {
  once = 1,
  static_recurring = 2,
  dynamic_recurring = 3,
};

/// One unit of work, as the master stores it.
struct job {
  job_id id;
  /// The handler's name (definition id).
  std::string handler;
  job_status status = job_status::held_on_master;
  jm::priority priority = priority::medium;
  trigger_source source = trigger_source::once;
  /// Empty means "no lane".
  std::string lane;
  /// The requested time; never changes.
  timestamp original_scheduled_at;
  /// The effective due time, moved by retries and reschedules.
  timestamp scheduled_at;
  timestamp created_at;
  duration timeout{};
  int32_t max_retries = 0;
  int32_t failure_count = 0;
  value_map data;
  value_map metadata;
  std::optional<uuid> recurring_schedule_id;
  /// Set on occurrences of a schedule whose overlap policy is `skip`: the
  /// claim cancels this job if another job of the schedule is queued or
  /// processing.
  bool skip_if_running = false;
  /// Placement: set while a bucket owns the job, empty otherwise.
  std::string bucket_id;
  std::string worker_id;
  /// The owner must finish by then or the master takes the job back.
  std::optional<timestamp> process_deadline;
  /// Fencing token: every write compares and increments it.
  int64_t version = 0;
};

/// Forgets a job's bucket, worker and deadline: it is back on the master or
/// final.
void clear_placement(job& x);

/// How one run of a job ended.
enum class attempt_outcome : uint8_t {
  succeeded = 1,
  /// The handler threw or was not found.
  failed = 2,
  /// The handler ran past its timeout.
  timed_out = 3,
  /// The process running it died; the master took the job back.
  lost = 4,
  /// Not run: an earlier run of its recurring schedule was still going.
  skipped = 5,
};

std::string_view to_string(attempt_outcome x);

/// One run of a job: the audit trail `jobs show` prints.
struct attempt {
  job_id job;
  /// 1 for the first run.
  int32_t number = 0;
  std::string worker_id;
  timestamp started_at;
  timestamp ended_at;
  attempt_outcome outcome = attempt_outcome::succeeded;
  std::string error;
};

/// What `jobs list` asks for.
struct job_filter {
  std::vector<job_status> statuses;
  std::string handler;
  std::string lane;
  std::optional<timestamp> scheduled_from;
  std::optional<timestamp> scheduled_to;
  /// Only the occurrences of this recurring schedule.
  std::optional<uuid> schedule_id;
  /// Only jobs whose metadata holds each of these entries (same type and
  /// value).
  value_map metadata;
  /// At most this many; 0 means no limit (the master's front door caps
  /// requests at 10000).
  uint32_t limit = 100;
};

/// True when `x.metadata` holds every entry of `wanted` (`job_filter`).
bool has_metadata(const job& x, const value_map& wanted);

} // namespace jm
