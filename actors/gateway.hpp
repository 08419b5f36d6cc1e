#pragma once

#include "actors/interfaces.hpp"

#include <caf/typed_response_promise.hpp>

#include <string>
#include <utility>
#include <vector>

namespace jm {

struct gateway_state {
  static inline const char* name = "gateway";
  std::string cluster_id;
  master_actor master;
  /// Requests that arrived while no master ran; answered once one does.
  std::vector<std::pair<wire_request, caf::typed_response_promise<wire_reply>>>
    waiting;
};

/// The GATEWAY: published on the node's port so that clients keep one
/// address while the MASTER behind it may be restarted by its supervisor.
/// Requests that arrive while no master runs wait (up to a bound), so that
/// a start-up or a restart is invisible to clients.
gateway_actor::behavior_type
gateway(gateway_actor::stateful_pointer<gateway_state> self,
        std::string cluster_id);

} // namespace jm
