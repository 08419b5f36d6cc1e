#include "node/front_door.hpp"

#include "messages/codec.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

namespace jm {

void add_wire_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<wire_request>("jm::wire_request");
  cfg.add_message_type<wire_reply>("jm::wire_reply");
}

caf::expected<reply> call_front_door(caf::actor_system& sys,
                                     const master_api_actor& door,
                                     bytes encoded_request, duration timeout) {
  caf::scoped_actor self{sys};
  caf::expected<reply> result = make_error(ec::unavailable, "no reply");
  self->request(door, timeout, wire_request{std::move(encoded_request)})
    .receive(
      [&](const wire_reply& r) {
        auto decoded = decode_reply(r.data);
        if (!decoded) {
          result = decoded.error();
          return;
        }
        if (auto err = std::get_if<error_reply>(&*decoded))
          result = to_error(*err);
        else
          result = std::move(*decoded);
      },
      [&](const caf::error& err) {
        if (err == caf::sec::request_timeout)
          result = make_error(ec::unavailable, "the node did not answer within "
                                                 + format_duration(timeout));
        else
          result
            = make_error(ec::unavailable, "request failed: " + describe(err));
      });
  return result;
}

} // namespace jm
