#include "node/client.hpp"

#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "node/front_door.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace jm {

namespace {

struct client_config : caf::actor_system_config {
  client_config() {
    add_wire_types(*this);
    load<caf::io::middleman>();
    set("scheduler.max-threads", 1);
  }
};

} // namespace

struct remote_client::impl {
  client_config cfg;
  caf::actor_system sys{cfg};
  master_api_actor door;
  duration timeout{};
};

remote_client::remote_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

remote_client::~remote_client() = default;

caf::expected<std::unique_ptr<remote_client>>
remote_client::connect(const std::string& host, uint16_t port,
                       duration timeout) {
  auto p = std::make_unique<impl>();
  p->timeout = timeout;
  auto door = p->sys.middleman().remote_actor<master_api_actor>(host, port);
  if (!door)
    return make_error(ec::unavailable, "cannot reach a jobmaster node at "
                                         + host + ":" + std::to_string(port)
                                         + " (" + describe(door.error())
                                         + "); is the node running?");
  p->door = std::move(*door);
  return std::unique_ptr<remote_client>{new remote_client(std::move(p))};
}

caf::expected<reply> remote_client::call(const request& req) {
  return call_front_door(impl_->sys, impl_->door, encode(req), impl_->timeout);
}

caf::expected<reply> remote_client::call_bytes(bytes data) {
  return call_front_door(impl_->sys, impl_->door, std::move(data),
                         impl_->timeout);
}

} // namespace jm
