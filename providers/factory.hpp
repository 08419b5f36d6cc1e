#pragma once

#include "config/options.hpp"
#include "providers/store.hpp"

#include <caf/expected.hpp>

#include <memory>

namespace jm {

/// One connection to a store, seen through both of its interfaces (every
/// backend serves as master and as agent store).
struct store_connection {
  std::shared_ptr<master_store> master;
  std::shared_ptr<agent_store> agent;
};

/// Opens a new connection to the configured store and migrates its schema.
/// Errors name the store (without its password).
caf::expected<store_connection> open_store(const store_config& cfg);

} // namespace jm
