#pragma once

// The provider conformance suite (conformance.cpp) is written once against
// `master_store`, `agent_store` and `agent_queue` and linked into one test
// binary per backend. Each binary defines `make_database` for its backend.

#include "providers/store.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace jm::test {

/// One connection to the database under test: a store that plays both roles.
struct store_connection {
  /// Keeps the store alive; the two pointers point into it.
  std::shared_ptr<void> owner;
  master_store* master = nullptr;
  agent_store* agent = nullptr;
  agent_queue* queue = nullptr;

  explicit operator bool() const { return owner != nullptr; }
};

template <class Store>
store_connection make_connection(std::unique_ptr<Store> x) {
  std::shared_ptr<Store> ptr{std::move(x)};
  store_connection result;
  result.master = ptr.get();
  result.agent = ptr.get();
  result.queue = ptr.get();
  result.owner = std::move(ptr);
  return result;
}

/// A fresh, empty database of one backend, used by one test case and
/// dropped when destroyed (after all its connections closed).
class store_database {
public:
  virtual ~store_database() = default;

  /// A new connection to this database; each concurrent user needs its own.
  virtual caf::expected<store_connection> connect() = 0;
};

/// Defined by each backend's test binary.
std::unique_ptr<store_database> make_database();

} // namespace jm::test
