#pragma once

#include "config/options.hpp"
#include "providers/store.hpp"

#include <caf/expected.hpp>

#include <memory>

namespace jm {

/// One connection to a store, seen through each of its interfaces (every
/// backend serves as master store, as the agent side of the master store,
/// and as a separate agent store's save-pending queues).
struct store_connection {
  std::shared_ptr<master_store> master;
  std::shared_ptr<agent_store> agent;
  std::shared_ptr<agent_queue> queue;
};

/// Opens a new connection to the configured store and migrates its schema.
/// Errors name the store (without its password).
caf::expected<store_connection> open_store(const store_config& cfg);

} // namespace jm
