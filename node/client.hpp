#pragma once

#include "messages/api.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace jm {

/// Talks to a cluster's front door over the network (CAF middleman, Cap'n
/// Proto request and reply). Used by the `jobmaster` CLI.
class remote_client {
public:
  ~remote_client();

  /// Connects to the node listening at host:port; ec::unavailable when
  /// nothing answers there.
  static caf::expected<std::unique_ptr<remote_client>>
  connect(const std::string& host, uint16_t port, duration timeout);

  /// Sends one request and waits for its reply. An error reply comes back
  /// as the matching caf::error.
  caf::expected<reply> call(const request& req);

  /// Sends raw bytes as a request, for tests of the master's input checks.
  caf::expected<reply> call_bytes(bytes data);

private:
  struct impl;
  explicit remote_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace jm
