#pragma once

#include "actors/agent_connection.hpp"
#include "actors/handler.hpp"
#include "actors/interfaces.hpp"
#include "actors/master.hpp"
#include "config/options.hpp"

#include <memory>
#include <string>
#include <vector>

namespace jm {

struct node_settings {
  cluster_config cluster;
  node_record self;
  std::shared_ptr<const handler_registry> handlers;
  /// Stores for this node's STORE actor and each of its AGENT CONNECTION
  /// actors (their own connections each).
  std::shared_ptr<master_store> master_db;
  std::vector<agent_connection_stores> agent_dbs;
};

struct node_state {
  static inline const char* name = "node";
  node_settings settings;
  gateway_actor gateway;
  store_actor store;
  std::vector<agent_connection_actor> agents;
  supervisor_actor master_supervisor;
  std::vector<worker_actor> workers;
  bool draining = false;
};

/// The NODE: root of the process's actor tree. Spawn order: store, agent
/// connections, master (under a supervisor), workers. Stop order (on drain):
/// workers drain, the node leaves the cluster, then everything exits.
node_actor::behavior_type node(node_actor::stateful_pointer<node_state> self,
                               node_settings settings, gateway_actor gateway);

} // namespace jm
