#pragma once

#include "messages/job.hpp"
#include "messages/schedule.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jm {

/// A node of the cluster as the master store knows it.
struct node_record {
  std::string node_id;
  std::string host;
  uint16_t port = 0;
  int64_t pid = 0;
  timestamp started_at;
  /// The node is alive while this lies in the future.
  timestamp lease_expires_at;
};

/// A bucket: the unit of ownership, one worker x priority (x lane).
struct bucket_record {
  std::string bucket_id;
  std::string worker_id;
  std::string node_id;
  jm::priority priority = priority::medium;
  /// Empty: jobs without a lane.
  std::string lane;
};

/// The held jobs a bucket adopts in its claims: the due ones of its priority
/// and lane, exactly those the master would route to it. Taking them in the
/// claim saves the master's assignment write on the hot path.
struct held_route {
  std::string worker_id;
  jm::priority priority = priority::medium;
  /// Empty: jobs without a lane.
  std::string lane;
};

/// One fenced write of a job's new state.
struct job_write {
  /// The complete new state. Its `version` is ignored: the store writes
  /// `expected_version + 1`.
  jm::job job;
  /// The write happens only if the stored version equals this.
  int64_t expected_version = 0;
  /// Appended to the job's history when set; the store numbers it.
  std::optional<jm::attempt> attempt;
  /// Deletes the job and its history instead of writing `job` (fenced the
  /// same way; `attempt` is ignored): how a cluster that deletes succeeded
  /// jobs records a success.
  bool remove = false;
};

/// Picks the bucket for a job, or nullptr to leave it held on the master.
using bucket_router = std::function<const bucket_record*(const job&)>;

/// The master store: the source of truth for jobs, their history and the
/// cluster's membership. Synchronous and not thread-safe: exactly one actor
/// (a detached one) owns each instance. Every method reports failures as
/// values (`ec::store_failure`, `ec::malformed_message` for rows that do not
/// decode); none throws.
class master_store {
public:
  virtual ~master_store() = default;

  /// Creates or migrates the schema; idempotent, safe when several processes
  /// start at once.
  virtual caf::error migrate() = 0;

  // -- jobs -------------------------------------------------------------------

  /// Inserts new jobs in one transaction, storing `version` as given. A job
  /// whose id already exists is left untouched (idempotent re-delivery).
  virtual caf::error insert_jobs(const std::vector<job>& jobs) = 0;

  /// The job, or nullopt when no job has this id.
  virtual caf::expected<std::optional<job>> get_job(const job_id& id) = 0;

  /// Jobs matching the filter, ordered by scheduled time, then id; a limit
  /// of 0 means all of them.
  virtual caf::expected<std::vector<job>> list_jobs(const job_filter& f) = 0;

  /// A job's attempts, oldest first.
  virtual caf::expected<std::vector<attempt>> list_attempts(const job_id& id)
    = 0;

  /// Applies the writes in one transaction. Each applies only if the stored
  /// version equals its `expected_version` (fencing); the result says, per
  /// write, whether it applied. Attempts of skipped writes are not stored.
  /// A `remove` write deletes the job with its attempts; later writes of
  /// that job in the same call do not apply.
  virtual caf::expected<std::vector<bool>>
  write_jobs(const std::vector<job_write>& writes) = 0;

  /// Look-ahead assignment: takes up to `limit` held jobs due after `after`
  /// and by `horizon` (earliest first), asks `route` for a bucket and moves
  /// each routed job to `assigned_to_bucket` in that bucket (version + 1), in
  /// one transaction. Returns the assigned jobs in their new state. (Jobs
  /// already due are left to the buckets' claims, which adopt them.)
  virtual caf::expected<std::vector<job>>
  assign_held_jobs(timestamp after, timestamp horizon, uint32_t limit,
                   const bucket_router& route)
    = 0;

  /// Number of jobs per status (for `jobs list` summaries and benchmarks).
  virtual caf::expected<std::map<job_status, uint64_t>> count_by_status() = 0;

  // -- membership -------------------------------------------------------------

  /// Registers or refreshes a node.
  virtual caf::error upsert_node(const node_record& x) = 0;

  /// Extends a node's lease. False when the row is gone: the cluster has
  /// declared the node dead and it must stop acting (self-fencing).
  virtual caf::expected<bool> renew_node(std::string_view node_id,
                                         timestamp lease_expires_at)
    = 0;

  /// Removes a node and its buckets (graceful leave). Jobs still live in
  /// those buckets return to held_on_master, as in a rescue (a processing
  /// one gets a `lost` attempt).
  virtual caf::error remove_node(std::string_view node_id) = 0;

  virtual caf::expected<std::vector<node_record>> list_nodes() = 0;

  /// Registers buckets (upsert by bucket id).
  virtual caf::error upsert_buckets(const std::vector<bucket_record>& xs) = 0;

  /// Buckets whose node's lease has not expired at `now`.
  virtual caf::expected<std::vector<bucket_record>> live_buckets(timestamp now)
    = 0;

  /// Rescue after a crash: every node whose lease expired before `now` is
  /// removed with its buckets, and each of their jobs that is still live
  /// (assigned_to_bucket, queued, processing) returns to held_on_master with
  /// its placement cleared (version + 1). A job that was processing gets an
  /// attempt with outcome `lost`. Returns the rescued jobs' new state.
  virtual caf::expected<std::vector<job>> rescue_dead_nodes(timestamp now) = 0;

  /// Safety net: live placed jobs whose process deadline passed before `now`
  /// return to held_on_master (no failure counted). Returns how many.
  virtual caf::expected<uint64_t> sweep_deadlines(timestamp now) = 0;

  // -- recurring schedules ----------------------------------------------------
  //
  // Jobs carry the occurrence key: (`recurring_schedule_id`,
  // `original_scheduled_at`) is unique among jobs, so an occurrence becomes
  // at most one job however often (or by however many planners) it is
  // inserted. `insert_jobs` skips a job that collides on that key as it
  // skips a known id.

  /// Inserts a new schedule, storing `version` as given. An existing id is
  /// left untouched.
  virtual caf::error insert_schedule(const recurring_schedule& x) = 0;

  /// Creates or updates the schedule whose `spec.static_name` equals x's. A
  /// new one is stored as `x`. An existing one keeps its id, `created_at`,
  /// `cursor` and `planned_until`; its spec is replaced, `ensured_at` set to
  /// x's, its status set to x's (active, or completed if x is) and its
  /// `terminated_at` to x's; version + 1. Returns the stored schedule.
  virtual caf::expected<recurring_schedule>
  upsert_static_schedule(const recurring_schedule& x) = 0;

  /// The schedule, or nullopt when no schedule has this id.
  virtual caf::expected<std::optional<recurring_schedule>>
  get_schedule(const schedule_id& id) = 0;

  /// Schedules matching the filter, newest first (created_at, then id).
  virtual caf::expected<std::vector<recurring_schedule>>
  list_schedules(const schedule_filter& f) = 0;

  /// Up to `limit` active schedules whose watermark lies before `horizon`,
  /// lowest watermark first: the planner's work.
  virtual caf::expected<std::vector<recurring_schedule>>
  schedules_to_plan(timestamp horizon, uint32_t limit) = 0;

  /// One planning step, in one transaction: writes `x` (version + 1) if the
  /// stored version equals `expected_version`, and only then inserts `jobs`
  /// as `insert_jobs` does. Returns nullopt when the fence failed (nothing
  /// written), else how many of `jobs` were new.
  virtual caf::expected<std::optional<uint64_t>>
  write_schedule(const recurring_schedule& x, int64_t expected_version,
                 const std::vector<job>& jobs)
    = 0;

  /// Static schedules named in `static_names` get `ensured_at = now`
  /// (keep-alive of the schedules declared by running code), version + 1:
  /// a planner step that read the schedule before loses its fence instead
  /// of writing the old `ensured_at` back.
  virtual caf::error
  touch_static_schedules(const std::vector<std::string>& static_names,
                         timestamp now)
    = 0;

  /// Active static schedules not ensured since `stale_before` become
  /// inactive (`terminated_at = now`, version + 1). Returns them, updated.
  virtual caf::expected<std::vector<recurring_schedule>>
  retire_static_schedules(timestamp stale_before, timestamp now) = 0;

  // -- retention --------------------------------------------------------------

  /// Deletes up to `limit` final jobs (succeeded, failed, cancelled) due
  /// before `before`, with their attempts, and up to `limit` final schedules
  /// (cancelled, completed; not inactive ones, which may come back)
  /// terminated before `before`. Returns how many rows of jobs and
  /// schedules were deleted.
  virtual caf::expected<uint64_t> purge(timestamp before, uint32_t limit) = 0;
};

/// The agent store: the hot path of a bucket's owner. In a standalone
/// cluster the master store is the agent too, and a bucket's processing
/// queue is the set of its assigned jobs.
class agent_store {
public:
  virtual ~agent_store() = default;

  /// Claims up to `limit` jobs due by `due_by`, earliest first: those
  /// assigned to `bucket_id` and, when `adopt` is set, held jobs of its route
  /// (they take the bucket's id and worker), merged in due order so that the
  /// bucket's own jobs do not starve retries and rescued jobs: each moves to
  /// `queued` with its process deadline set to `due_by + job.timeout + grace`
  /// (version + 1), in one transaction. Rows that other claimers are taking are
  /// skipped, never waited for. Jobs without `skip_if_running` are claimed
  /// first; guarded ones fill what room is left (so a guarded job may wait for
  /// the next claim when ordinary due jobs fill the limit). Overlap guard: a
  /// due job with `skip_if_running` whose schedule already has a queued or
  /// processing job (in any bucket, or claimed earlier in the same call) is not
  /// returned; it becomes `cancelled` with an attempt of outcome `skipped`
  /// instead. Claims of such jobs are serialised per schedule across
  /// connections, so two never run at once.
  virtual caf::expected<std::vector<job>>
  claim_bucket_jobs(std::string_view bucket_id,
                    const std::optional<held_route>& adopt, timestamp due_by,
                    uint32_t limit, duration grace)
    = 0;

  /// Takes back the jobs a previous instance of this bucket claimed (a
  /// bucket that restarts after a crash): queued and processing jobs of
  /// `bucket_id` return to assigned_to_bucket (version + 1, deadline
  /// cleared), and a processing one gets a `lost` attempt. Returns how many.
  virtual caf::expected<uint64_t>
  release_bucket_jobs(std::string_view bucket_id, timestamp now) = 0;

  /// Fenced result writes, as `master_store::write_jobs`.
  virtual caf::expected<std::vector<bool>>
  write_results(const std::vector<job_write>& writes) = 0;
};

/// A job in an agent's save-pending queue: accepted (the caller has its
/// id) and durable in the agent store, not yet in the master store.
struct pending_job {
  /// Increases in push order within the store.
  int64_t seq = 0;
  /// As pushed: status `save_pending`, `bucket_id` and `worker_id` set.
  jm::job job;
};

/// What one read of a save-pending queue found.
struct pending_read {
  /// In push order.
  std::vector<pending_job> jobs;
  /// Entries whose bytes did not decode. The read moved them out of every
  /// queue (into the queue named `corrupt_queue`), where they stay for a
  /// person to look at, instead of blocking the queue's head for good.
  std::vector<int64_t> corrupt;
};

/// The queue that entries which do not decode are moved to.
inline constexpr std::string_view corrupt_queue = "!corrupt";

/// The save-pending queues of an agent store that is not the master store:
/// the master pushes jobs due soon into the queue of the bucket it picked
/// and answers the caller; the bucket's agent connection persists them to
/// the master (insert-or-ignore by id) and only then removes them. Nothing
/// is read destructively, so a crash at any point leaves a copy. Same
/// ownership rules as the other interfaces: one actor per instance.
class agent_queue {
public:
  virtual ~agent_queue() = default;

  /// Appends `jobs` to the queues of their `bucket_id`s (which must be set)
  /// in one transaction: all or none.
  virtual caf::error push_pending(const std::vector<job>& jobs) = 0;

  /// The oldest entries of `bucket_id`'s queue, at most `limit`, in push
  /// order. Removes nothing (but moves entries that do not decode away).
  virtual caf::expected<pending_read> read_pending(std::string_view bucket_id,
                                                   uint32_t limit)
    = 0;

  /// The buckets whose queues hold entries (without `corrupt_queue`).
  virtual caf::expected<std::vector<std::string>> pending_buckets() = 0;

  /// Deletes entries once their jobs are in the master store; unknown ones
  /// are ignored. Returns how many it deleted.
  virtual caf::expected<uint64_t>
  remove_pending(const std::vector<int64_t>& seqs) = 0;
};

} // namespace jm
