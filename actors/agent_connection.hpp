#pragma once

#include "actors/interfaces.hpp"

#include <memory>

namespace jm {

/// What one AGENT CONNECTION owns: one connection to the master store and,
/// when the cluster has a separate agent store, one connection to it.
struct agent_connection_stores {
  /// The master store's side for buckets: claims, releases, writes.
  std::shared_ptr<agent_store> db;
  /// The same connection, to move save-pending jobs into. Needed only with
  /// `queue`.
  std::shared_ptr<master_store> master;
  /// The separate agent store's save-pending queues; null without one.
  std::shared_ptr<agent_queue> queue;
};

struct agent_connection_state {
  static inline const char* name = "agent-connection";
  agent_connection_stores stores;
  /// Save-pending entries moved per read.
  uint32_t pending_batch = 1000;
  /// Reads per queue and rescue round (a huge queue takes several rounds).
  uint32_t rescue_rounds = 10;
  /// After the agent store failed it is left alone until then; the pause
  /// grows from 1 s to 30 s while it keeps failing.
  timestamp queue_retry_at;
  duration queue_pause{0};
};

/// The AGENT CONNECTION: spawn it detached; it blocks on its stores.
agent_connection_actor::behavior_type agent_connection(
  agent_connection_actor::stateful_pointer<agent_connection_state> self,
  agent_connection_stores stores);

} // namespace jm
