#pragma once

#include "actors/handler.hpp"
#include "actors/interfaces.hpp"
#include "config/options.hpp"

#include <map>
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
};

struct attached_bucket {
  bucket_record record;
  bucket_actor handle;
};

struct master_state {
  static inline const char* name = "master";
  master_config cfg;
  store_actor store;
  std::map<std::string, attached_bucket> buckets;
  bool assigning = false;
  /// An assignment was asked for while one was in flight.
  bool assign_again = false;
  bool rescuing = false;
  timestamp last_rescue;
};

/// The MASTER: the cluster's front door (schedule, cancel, reschedule,
/// queries), its look-ahead assigner, and the rescuer of dead nodes' jobs.
master_actor::behavior_type
master(master_actor::stateful_pointer<master_state> self, master_config cfg,
       store_actor store);

/// Builds the job for a schedule request: applies call argument > handler
/// default > cluster default and validates every field. Pure, for tests.
caf::expected<job> make_job(const job_spec& spec, const master_config& cfg,
                            timestamp now);

} // namespace jm
