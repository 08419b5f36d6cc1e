#pragma once

#include "actors/interfaces.hpp"

#include <memory>

namespace jm {

struct agent_connection_state {
  static inline const char* name = "agent-connection";
  std::shared_ptr<agent_store> db;
};

/// The AGENT CONNECTION: spawn it detached; it blocks on the agent store.
agent_connection_actor::behavior_type agent_connection(
  agent_connection_actor::stateful_pointer<agent_connection_state> self,
  std::shared_ptr<agent_store> db);

} // namespace jm
