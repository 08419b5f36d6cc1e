#pragma once

#include "actors/interfaces.hpp"

#include <memory>
#include <set>

namespace jm {

/// What one AGENT CONNECTION owns: one connection to the master store and,
/// when the cluster has a separate agent store, one connection to it.
struct agent_connection_stores {
  /// The master store's side for buckets: claims, releases, writes.
  std::shared_ptr<agent_store> db;
  /// The same connection, to persist save-pending jobs and to find the live
  /// buckets. Needed only with `queue`.
  std::shared_ptr<master_store> master;
  /// The separate agent store's save-pending queues; null without one.
  std::shared_ptr<agent_queue> queue;
};

struct agent_connection_state {
  static inline const char* name = "agent-connection";
  agent_connection_stores stores;
  /// Save-pending entries moved past per read.
  uint32_t pending_batch = 1000;
};

/// The AGENT CONNECTION: spawn it detached; it blocks on its stores.
agent_connection_actor::behavior_type agent_connection(
  agent_connection_actor::stateful_pointer<agent_connection_state> self,
  agent_connection_stores stores);

} // namespace jm
