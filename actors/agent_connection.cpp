#include "actors/agent_connection.hpp"

#include <caf/all.hpp>

namespace jm {

agent_connection_actor::behavior_type agent_connection(
  agent_connection_actor::stateful_pointer<agent_connection_state> self,
  std::shared_ptr<agent_store> db) {
  self->state.db = std::move(db);
  auto& s = self->state;
  return {
    [&s](atom::claim, const claim_request& req) -> caf::result<job_list> {
      auto xs = s.db->claim_bucket_jobs(req.bucket_id, req.adopt, req.due_by,
                                        req.limit, req.grace);
      if (!xs)
        return xs.error();
      return job_list{std::move(*xs)};
    },
    [&s](atom::release, const std::string& bucket_id) -> caf::result<uint64_t> {
      auto n = s.db->release_bucket_jobs(bucket_id, now());
      if (!n)
        return n.error();
      return *n;
    },
    [&s](atom::write, const job_writes& xs) -> caf::result<write_flags> {
      auto applied = s.db->write_results(xs.writes);
      if (!applied)
        return applied.error();
      return write_flags{std::move(*applied)};
    },
  };
}

} // namespace jm
