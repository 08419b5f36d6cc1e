#include "actors/supervisor.hpp"

#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace jm {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

void start_child(self_ptr self) {
  auto& s = self->state;
  s.child = s.make(self);
  if (!s.child) {
    self->quit(make_error(ec::unavailable,
                          "supervisor could not spawn " + s.cfg.child_name));
    return;
  }
  self->link_to(s.child);
  s.started_at = self->clock().now();
  if (s.observe)
    s.observe(s.child);
}

} // namespace

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           supervisor_config cfg, child_factory make, child_observer observe) {
  auto& s = self->state;
  s.cfg = std::move(cfg);
  s.make = std::move(make);
  s.observe = std::move(observe);
  s.backoff = s.cfg.initial_backoff;
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& s = self->state;
    if (!s.child || msg.source != s.child->address()) {
      // Our parent (or someone else) is stopping us: stop the child too.
      if (s.child)
        self->send_exit(s.child, msg.reason);
      self->quit(msg.reason);
      return;
    }
    s.child = nullptr;
    if (!msg.reason || msg.reason == caf::exit_reason::user_shutdown
        || msg.reason == caf::exit_reason::normal) {
      self->quit(msg.reason);
      return;
    }
    if (self->clock().now() - s.started_at >= s.cfg.stable_after) {
      s.restarts = 0;
      s.backoff = s.cfg.initial_backoff;
    }
    if (s.restarts >= s.cfg.max_restarts) {
      spdlog::error("supervisor: {} crashed {} times, giving up: {}",
                    s.cfg.child_name, s.restarts + 1, describe(msg.reason));
      self->quit(msg.reason);
      return;
    }
    ++s.restarts;
    spdlog::warn("supervisor: {} crashed ({}), restart #{} in {}",
                 s.cfg.child_name, describe(msg.reason), s.restarts,
                 format_duration(s.backoff));
    self->delayed_send(self, s.backoff, atom::restart_v);
    s.backoff = std::min(s.backoff * 2, s.cfg.max_backoff);
  });
  start_child(self);
  return {
    [self](atom::get) -> caf::strong_actor_ptr { return self->state.child; },
    [self](atom::restart) {
      if (!self->state.child)
        start_child(self);
    },
  };
}

} // namespace jm
