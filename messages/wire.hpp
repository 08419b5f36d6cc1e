#pragma once

#include "messages/value.hpp"

#include <caf/meta/type_name.hpp>

namespace jm {

/// An encoded `wire::Request` as CAF carries it between processes: one
/// opaque byte buffer, decoded and validated by the receiver.
struct wire_request {
  bytes data;
};

/// An encoded `wire::Reply`.
struct wire_reply {
  bytes data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_request& x) {
  return f(caf::meta::type_name("jm::wire_request"), x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_reply& x) {
  return f(caf::meta::type_name("jm::wire_reply"), x.data);
}

} // namespace jm
