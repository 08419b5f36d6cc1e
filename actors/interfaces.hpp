#pragma once

// Every typed actor handle of the project, with the messages they exchange
// inside a process. Messages that cross a process boundary are only
// `wire_request` / `wire_reply` (Cap'n Proto bytes, see messages/wire.hpp);
// the structs below are local-only and marked so.

#include "actors/executor_pool.hpp"
#include "messages/api.hpp"
#include "messages/job.hpp"
#include "messages/schedule.hpp"
#include "messages/wire.hpp"
#include "providers/store.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace jm {

namespace atom {

#define JM_ATOM(name)                                                          \
  using name = caf::atom_constant<caf::atom(#name)>;                           \
  constexpr auto name##_v = name::value;

JM_ATOM(assign)
JM_ATOM(attach)
JM_ATOM(buckets)
JM_ATOM(claim)
JM_ATOM(detail)
JM_ATOM(done)
JM_ATOM(drain)
JM_ATOM(flush)
JM_ATOM(get)
JM_ATOM(insert)
JM_ATOM(join)
JM_ATOM(leave)
JM_ATOM(list)
JM_ATOM(plan)
JM_ATOM(purge)
JM_ATOM(push)
JM_ATOM(release)
JM_ATOM(renew)
JM_ATOM(rescue)
JM_ATOM(restart)
JM_ATOM(retire)
JM_ATOM(sched_add)
JM_ATOM(sched_get)
JM_ATOM(sched_ls)
JM_ATOM(sched_set)
JM_ATOM(started)
JM_ATOM(statics)
JM_ATOM(sweep)
JM_ATOM(tick)
JM_ATOM(touch)
JM_ATOM(wake)
JM_ATOM(write)

#undef JM_ATOM

} // namespace atom

// -- local messages -----------------------------------------------------------

struct job_list {
  std::vector<job> jobs;
};

struct job_writes {
  std::vector<job_write> writes;
};

struct write_flags {
  std::vector<bool> applied;
};

struct maybe_job {
  std::optional<jm::job> job;
};

struct claim_request {
  std::string bucket_id;
  timestamp due_by;
  uint32_t limit = 0;
  duration grace{};
  /// The due held jobs the bucket adopts (its route), if any.
  std::optional<held_route> adopt;
};

struct assign_request {
  /// Held jobs due after this and by `horizon`.
  timestamp after;
  timestamp horizon;
  uint32_t limit = 0;
  std::vector<bucket_record> buckets;
};

struct bucket_list {
  std::vector<bucket_record> buckets;
};

struct lease_renewal {
  std::string node_id;
  timestamp expires_at;
};

/// Work for a bucket is due at these times (now or later; sorted, unique).
struct wake_up {
  std::vector<timestamp> due;
};

struct run_started {
  job_id id;
  timestamp at;
};

struct schedule_list {
  std::vector<recurring_schedule> schedules;
};

struct maybe_schedule {
  std::optional<recurring_schedule> schedule;
};

/// A fenced write of a schedule with the jobs it planned.
struct schedule_write {
  recurring_schedule schedule;
  int64_t expected_version = 0;
  std::vector<job> jobs;
};

/// nullopt: the fence failed; else how many jobs were new.
struct schedule_written {
  std::optional<uint64_t> added;
};

struct name_list {
  std::vector<std::string> names;
};

/// A planning round, run by the STORE actor (it may scan expressions for a
/// while; the master must not).
struct plan_request {
  /// Schedules whose watermark lies before this are planned.
  timestamp horizon;
  uint32_t limit = 0;
  /// Plans one schedule (see actors/planner.hpp); nullopt leaves it as it
  /// is.
  std::function<caf::expected<std::optional<schedule_plan>>(
    const recurring_schedule&)>
    plan;
  /// Not planned this round (they failed recently).
  std::set<schedule_id> skip;
};

/// What `schedules show` needs, gathered by the STORE actor (the search
/// of upcoming occurrences may take a while; the master must not).
struct schedule_detail_request {
  schedule_id id;
  /// Its jobs due from here on are listed (the newest 20).
  timestamp jobs_since;
  /// The schedule's next occurrences (see actors/planner.hpp).
  std::function<std::vector<timestamp>(const recurring_schedule&)> upcoming;
};

struct plan_summary {
  uint64_t schedules = 0;
  uint64_t jobs_added = 0;
  uint64_t dropped = 0;
  /// Schedules that completed in this round.
  std::vector<schedule_id> completed;
  /// Schedules that could not be planned, with the reason.
  std::vector<std::pair<schedule_id, std::string>> failed;
};

// -- handles ------------------------------------------------------------------

/// The STORE actor: detached, the sole owner of a master_store connection.
using store_actor = caf::typed_actor<
  // Inserts new jobs; ids that exist are left alone.
  caf::replies_to<atom::insert, job_list>::with<bool>,
  // Reads one job.
  caf::replies_to<atom::get, job_id>::with<maybe_job>,
  // Lists jobs matching a filter.
  caf::replies_to<atom::list, job_filter>::with<job_list>,
  // Reads a job with its attempts; ec::unknown_job when absent.
  caf::replies_to<atom::detail, job_id>::with<job_detail>,
  // Fenced writes; says per write whether it applied.
  caf::replies_to<atom::write, job_writes>::with<write_flags>,
  // Moves due held jobs into the given buckets.
  caf::replies_to<atom::assign, assign_request>::with<job_list>,
  // Registers this node.
  caf::replies_to<atom::join, node_record>::with<bool>,
  // Extends a node's lease; false when the node was declared dead.
  caf::replies_to<atom::renew, lease_renewal>::with<bool>,
  // Removes a node and its buckets (graceful leave).
  caf::replies_to<atom::leave, std::string>::with<bool>,
  // Registers buckets.
  caf::replies_to<atom::buckets, bucket_list>::with<bool>,
  // Returns the live jobs of dead nodes to the master.
  caf::replies_to<atom::rescue>::with<job_list>,
  // Returns jobs past their process deadline to the master.
  caf::replies_to<atom::sweep>::with<uint64_t>,
  // Inserts a new recurring schedule.
  caf::replies_to<atom::sched_add, recurring_schedule>::with<bool>,
  // Reads one schedule.
  caf::replies_to<atom::sched_get, schedule_id>::with<maybe_schedule>,
  // A schedule with its latest jobs and next occurrences;
  // ec::unknown_schedule when absent.
  caf::replies_to<atom::detail, schedule_detail_request>::with<schedule_detail>,
  // Lists schedules matching a filter.
  caf::replies_to<atom::sched_ls, schedule_filter>::with<schedule_list>,
  // Fenced write of a schedule plus the jobs it planned.
  caf::replies_to<atom::sched_set, schedule_write>::with<schedule_written>,
  // Creates or updates static schedules by name; returns them as stored.
  caf::replies_to<atom::statics, schedule_list>::with<schedule_list>,
  // Keep-alive of the static schedules running code declares.
  caf::replies_to<atom::touch, name_list>::with<bool>,
  // Static schedules not declared since the given time become inactive.
  caf::replies_to<atom::retire, timestamp>::with<schedule_list>,
  // One planning round of due schedules.
  caf::replies_to<atom::plan, plan_request>::with<plan_summary>,
  // Deletes finished jobs and schedules older than the given time.
  caf::replies_to<atom::purge, timestamp>::with<uint64_t>>;

/// The AGENT CONNECTION actor: detached, the sole owner of an agent_store
/// (and of a separate agent store's queues, when the cluster has one).
using agent_connection_actor = caf::typed_actor<
  // Claims a bucket's due jobs; first moves its save-pending jobs, if any,
  // into the master store as held (the claim adopts the due ones).
  caf::replies_to<atom::claim, claim_request>::with<job_list>,
  // Takes back what a crashed instance of the bucket had claimed.
  caf::replies_to<atom::release, std::string>::with<uint64_t>,
  // Fenced result writes.
  caf::replies_to<atom::write, job_writes>::with<write_flags>,
  // Puts jobs into their buckets' save-pending queues (true once durable);
  // an error without a separate agent store.
  caf::replies_to<atom::push, job_list>::with<bool>,
  // Moves the jobs of every save-pending queue into the master store as
  // held (a bounded share per queue); returns them.
  caf::replies_to<atom::rescue>::with<job_list>>;

/// The BUCKET actor: pulls its jobs, runs them on the worker's executor
/// pool, writes their outcomes in batches.
using bucket_actor = caf::typed_actor<
  // Work is due at the given time.
  caf::reacts_to<atom::wake, wake_up>,
  // INTERNAL: a run started on the executor pool.
  caf::reacts_to<atom::started, run_started>,
  // INTERNAL: a run ended.
  caf::reacts_to<atom::done, execution_result>,
  // INTERNAL: write buffered outcomes now.
  caf::reacts_to<atom::flush>,
  // INTERNAL: fallback poll.
  caf::reacts_to<atom::tick>,
  // Stops claiming, lets running jobs finish, hands back unstarted ones;
  // replies when nothing of this bucket is in flight.
  caf::replies_to<atom::drain>::with<bool>>;

/// The front door of a cluster, as clients see it across the network.
using master_api_actor
  = caf::typed_actor<caf::replies_to<wire_request>::with<wire_reply>>;

/// The MASTER actor: validates and executes requests, assigns held jobs to
/// buckets, rescues the jobs of dead nodes, sweeps deadlines.
using master_actor = master_api_actor::extend<
  // A bucket announces itself so that it gets wake-ups.
  caf::reacts_to<atom::attach, bucket_record, bucket_actor>,
  // A bucket (by id) stops taking new work: its node is draining.
  caf::reacts_to<atom::leave, std::string>,
  // INTERNAL: periodic assignment, rescue and sweep.
  caf::reacts_to<atom::tick>>;

/// The GATEWAY: the published, stable address of the master's front door;
/// it forwards to whichever MASTER instance currently runs.
using gateway_actor = master_api_actor::extend<
  // The supervisor (re)started the master (a master_actor).
  caf::reacts_to<atom::attach, caf::strong_actor_ptr>>;

/// The WORKER actor: owns the executor pool and supervises its buckets.
using worker_actor = caf::typed_actor<
  // The master (re)started: announce every bucket to it.
  caf::reacts_to<atom::attach, master_actor>,
  // INTERNAL: a bucket (re)started.
  caf::reacts_to<atom::attach, bucket_record, bucket_actor>,
  // Drains every bucket; replies when all are idle.
  caf::replies_to<atom::drain>::with<bool>>;

/// The NODE actor: root supervisor of one process. Spawns the STORE, the
/// AGENT CONNECTION, the MASTER (supervised) and the WORKERs, renews the
/// node's lease, and stops everything in order.
using node_actor = caf::typed_actor<
  // Graceful stop: drain workers, leave the cluster; replies when done.
  caf::replies_to<atom::drain>::with<bool>,
  // INTERNAL: renew the lease.
  caf::reacts_to<atom::renew>>;

/// A SUPERVISOR: restarts its one child with exponential backoff.
using supervisor_actor = caf::typed_actor<
  // The current child (null while it waits to restart).
  caf::replies_to<atom::get>::with<caf::strong_actor_ptr>,
  // INTERNAL: the backoff after a crash has passed.
  caf::reacts_to<atom::restart>>;

} // namespace jm

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::job_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::job_writes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::write_flags)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::maybe_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::claim_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::assign_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::bucket_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::lease_renewal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::wake_up)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::run_started)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::job_id)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::job_filter)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::job_detail)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::node_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::bucket_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::execution_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::schedule_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::maybe_schedule)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::schedule_write)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::schedule_written)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::name_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::plan_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::schedule_detail_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::schedule_detail)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::plan_summary)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::recurring_schedule)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jm::schedule_filter)
