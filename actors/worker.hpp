#pragma once

#include "actors/bucket.hpp"
#include "actors/handler.hpp"
#include "actors/interfaces.hpp"
#include "actors/supervisor.hpp"
#include "config/options.hpp"

#include <caf/typed_response_promise.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace jm {

struct worker_settings {
  worker_config worker;
  std::string node_id;
  /// Every bucket of this worker starts from this (record filled in here).
  bucket_config bucket_template;
  /// How long a drain waits for running handlers.
  duration drain_grace = std::chrono::seconds{10};
};

struct worker_state {
  static inline const char* name = "worker";
  worker_settings settings;
  std::string worker_id;
  /// The node's agent connections, shared by the buckets of all workers.
  std::vector<agent_connection_actor> agents;
  store_actor store;
  std::shared_ptr<executor_pool> pool;
  master_actor master;
  /// Current instance of every bucket, by bucket id.
  std::map<std::string, std::pair<bucket_record, bucket_actor>> buckets;
  std::shared_ptr<const handler_registry> handlers;
  std::vector<supervisor_actor> supervisors;
  /// How many buckets this worker has (they announce themselves).
  size_t num_buckets = 0;
  /// Drains that wait for the last buckets to announce themselves.
  std::vector<caf::typed_response_promise<bool>> pending_drains;
};

/// The WORKER: owns the executor pool, supervises one BUCKET per priority
/// (times the configured quantity) and announces them to the MASTER.
worker_actor::behavior_type
worker(worker_actor::stateful_pointer<worker_state> self,
       worker_settings settings, std::vector<agent_connection_actor> agents,
       store_actor store, std::shared_ptr<const handler_registry> handlers);

} // namespace jm
