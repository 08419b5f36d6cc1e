#include "actors/store.hpp"

#include "actors/random_router.hpp"

#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace jm {

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<master_store> db) {
  self->state.db = std::move(db);
  auto& s = self->state;
  return {
    [&s](atom::insert, const job_list& xs) -> caf::result<bool> {
      if (auto err = s.db->insert_jobs(xs.jobs))
        return err;
      return true;
    },
    [&s](atom::get, const job_id& id) -> caf::result<maybe_job> {
      auto x = s.db->get_job(id);
      if (!x)
        return x.error();
      return maybe_job{std::move(*x)};
    },
    [&s](atom::list, const job_filter& f) -> caf::result<job_list> {
      auto xs = s.db->list_jobs(f);
      if (!xs)
        return xs.error();
      return job_list{std::move(*xs)};
    },
    [&s](atom::detail, const job_id& id) -> caf::result<job_detail> {
      auto x = s.db->get_job(id);
      if (!x)
        return x.error();
      if (!*x)
        return make_error(ec::unknown_job, "no job with id " + to_string(id));
      auto attempts = s.db->list_attempts(id);
      if (!attempts)
        return attempts.error();
      return job_detail{std::move(**x), std::move(*attempts)};
    },
    [&s](atom::write, const job_writes& xs) -> caf::result<write_flags> {
      auto applied = s.db->write_jobs(xs.writes);
      if (!applied)
        return applied.error();
      return write_flags{std::move(*applied)};
    },
    [&s](atom::assign, const assign_request& req) -> caf::result<job_list> {
      random_router router{req.buckets};
      auto xs
        = s.db->assign_held_jobs(req.horizon, req.limit, std::ref(router));
      if (!xs)
        return xs.error();
      return job_list{std::move(*xs)};
    },
    [&s](atom::join, const node_record& x) -> caf::result<bool> {
      if (auto err = s.db->upsert_node(x))
        return err;
      return true;
    },
    [&s](atom::renew, const lease_renewal& x) -> caf::result<bool> {
      auto alive = s.db->renew_node(x.node_id, x.expires_at);
      if (!alive)
        return alive.error();
      return *alive;
    },
    [&s](atom::leave, const std::string& node_id) -> caf::result<bool> {
      if (auto err = s.db->remove_node(node_id))
        return err;
      return true;
    },
    [&s](atom::buckets, const bucket_list& xs) -> caf::result<bool> {
      if (auto err = s.db->upsert_buckets(xs.buckets))
        return err;
      return true;
    },
    [&s](atom::rescue) -> caf::result<job_list> {
      auto xs = s.db->rescue_dead_nodes(now());
      if (!xs)
        return xs.error();
      return job_list{std::move(*xs)};
    },
    [&s](atom::sweep) -> caf::result<uint64_t> {
      auto n = s.db->sweep_deadlines(now());
      if (!n)
        return n.error();
      return *n;
    },
  };
}

} // namespace jm
