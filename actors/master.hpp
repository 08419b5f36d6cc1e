#pragma once

#include "actors/handler.hpp"
#include "actors/interfaces.hpp"
#include "config/options.hpp"

#include <map>
#include <memory>
#include <string>

namespace jm {

struct master_config {
  cluster_config cluster;
  /// The handlers the cluster knows, with their defaults.
  std::map<std::string, handler_defaults, std::less<>> handlers;
  /// How often dead nodes are looked for and deadlines swept.
  duration rescue_interval = std::chrono::seconds{1};
  /// Held jobs assigned per store round trip.
  uint32_t assign_batch = 1000;
  /// Schedules planned per store round trip.
  uint32_t plan_batch = 100;
  /// A schedule that failed to plan is left alone this long.
  duration plan_backoff = std::chrono::minutes{1};
  /// How often finished jobs past the retention are deleted.
  duration purge_interval = std::chrono::minutes{10};
  /// A push into the agent store that has not answered by then goes into
  /// the master store instead (a hanging agent store must not hang
  /// schedule requests); a rescue of the save-pending queues is given up.
  duration agent_timeout = std::chrono::seconds{10};
};

struct attached_bucket {
  bucket_record record;
  bucket_actor handle;
};

struct master_state {
  static inline const char* name = "master";
  master_config cfg;
  /// The same, for the planner running on the STORE actor's thread.
  std::shared_ptr<const master_config> shared_cfg;
  store_actor store;
  /// With a separate agent store: where jobs placed at schedule time go
  /// (the buckets' save-pending queues), and who moves the queues of gone
  /// buckets back to the master store. Null otherwise.
  agent_connection_actor agent;
  std::map<std::string, attached_bucket> buckets;
  bool assigning = false;
  /// An assignment was asked for while one was in flight.
  bool assign_again = false;
  bool rescuing = false;
  /// A rescue of the save-pending queues is in flight.
  bool moving_queues = false;
  timestamp last_rescue;
  bool planning = false;
  /// Schedules that failed to plan, and until when they are left alone.
  std::map<schedule_id, timestamp> plan_failures;
  /// The static schedules have been written to the store.
  bool statics_stored = false;
  timestamp last_statics_check;
  timestamp last_purge;
};

/// The MASTER: the cluster's front door (schedule, cancel, reschedule,
/// queries, recurring schedules), its look-ahead assigner, the planner of
/// recurring schedules, the rescuer of dead nodes' jobs and the keeper of
/// the retention.
master_actor::behavior_type
master(master_actor::stateful_pointer<master_state> self, master_config cfg,
       store_actor store, agent_connection_actor agent);

/// Builds the job for a schedule request: applies call argument > handler
/// default > cluster default and validates every field. Pure, for tests.
caf::expected<job> make_job(const job_spec& spec, const master_config& cfg,
                            timestamp now);

} // namespace jm
