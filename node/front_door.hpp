#pragma once

// Internal to the node library: the one request/reply exchange with a
// cluster's front door, shared by the in-process scheduler and the CLI.

#include "actors/interfaces.hpp"
#include "messages/api.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

namespace jm {

/// Registers the types that cross process boundaries; both ends must do it.
void add_wire_types(caf::actor_system_config& cfg);

/// Sends an encoded request to `door`, waits up to `timeout` and decodes
/// the reply. Error replies and transport errors come back as caf::error.
caf::expected<reply> call_front_door(caf::actor_system& sys,
                                     const master_api_actor& door,
                                     bytes encoded_request, duration timeout);

} // namespace jm
