#pragma once

#include "actors/interfaces.hpp"

#include <caf/actor_clock.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/error.hpp>

#include <functional>
#include <string>

namespace jm {

struct supervisor_config {
  /// Names the child in log lines.
  std::string child_name;
  duration initial_backoff = std::chrono::milliseconds{50};
  duration max_backoff = std::chrono::seconds{5};
  /// A child that ran this long without crashing resets the backoff.
  duration stable_after = std::chrono::seconds{30};
  /// After this many restarts without a stable run, the supervisor gives up
  /// and exits with the child's error, escalating to its own parent.
  uint32_t max_restarts = 10;
};

/// Spawns the child; the supervisor links to what it returns.
using child_factory = std::function<caf::strong_actor_ptr(caf::local_actor*)>;

/// Called with every new child instance, e.g. to tell others its address.
using child_observer = std::function<void(const caf::strong_actor_ptr&)>;

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_config cfg;
  child_factory make;
  child_observer observe;
  caf::strong_actor_ptr child;
  duration backoff{};
  uint32_t restarts = 0;
  /// On the actor clock, so that tests with simulated time can move it.
  caf::actor_clock::time_point started_at;
};

/// A SUPERVISOR of one child: restarts it with exponential backoff when it
/// exits abnormally; passes its own exit on to the child.
supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           supervisor_config cfg, child_factory make, child_observer observe);

} // namespace jm
