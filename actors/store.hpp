#pragma once

#include "actors/interfaces.hpp"

#include <memory>

namespace jm {

struct store_state {
  static inline const char* name = "store";
  std::shared_ptr<master_store> db;
};

/// The STORE: spawn it detached; it blocks on the database.
/// @param db An open, migrated master store used by this actor only.
store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<master_store> db);

} // namespace jm
