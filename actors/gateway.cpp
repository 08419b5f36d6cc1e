#include "actors/gateway.hpp"

#include "messages/codec.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

namespace jm {

namespace {

// Bounds the memory that clients can pin while the master is down.
constexpr size_t max_waiting = 10'000;

wire_reply unavailable(const std::string& cluster_id) {
  return wire_reply{encode(
    reply{error_reply{ec::unavailable, "the master of cluster '" + cluster_id
                                         + "' is not running; try again"}})};
}

} // namespace

gateway_actor::behavior_type
gateway(gateway_actor::stateful_pointer<gateway_state> self,
        std::string cluster_id) {
  self->state.cluster_id = std::move(cluster_id);
  // Until the supervisor attaches a new master, requests wait here instead
  // of going to a dead one.
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    if (s.master && s.master.address() == msg.source)
      s.master = nullptr;
  });
  return {
    [self](wire_request& req) -> caf::result<wire_reply> {
      auto& s = self->state;
      if (s.master)
        return self->delegate(s.master, std::move(req));
      if (s.waiting.size() >= max_waiting)
        return unavailable(s.cluster_id);
      auto rp = self->make_response_promise<wire_reply>();
      s.waiting.emplace_back(std::move(req), rp);
      return rp;
    },
    [self](atom::attach, caf::strong_actor_ptr& m) {
      auto& s = self->state;
      s.master = caf::actor_cast<master_actor>(std::move(m));
      self->monitor(s.master);
      auto waiting = std::move(s.waiting);
      s.waiting.clear();
      for (auto& [req, rp] : waiting)
        self->request(s.master, caf::infinite, std::move(req))
          .then([rp = rp](wire_reply& r) mutable { rp.deliver(std::move(r)); },
                [self, rp = rp](const caf::error&) mutable {
                  rp.deliver(unavailable(self->state.cluster_id));
                });
    },
  };
}

} // namespace jm
