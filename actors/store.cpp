#include "actors/store.hpp"

#include "actors/random_router.hpp"

#include "messages/error.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iterator>

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
      auto xs = s.db->assign_held_jobs(req.after, req.horizon, req.limit,
                                       std::ref(router));
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
    [&s](atom::sched_add, const recurring_schedule& x) -> caf::result<bool> {
      if (auto err = s.db->insert_schedule(x))
        return err;
      return true;
    },
    [&s](atom::sched_get,
         const schedule_id& id) -> caf::result<maybe_schedule> {
      auto x = s.db->get_schedule(id);
      if (!x)
        return x.error();
      return maybe_schedule{std::move(*x)};
    },
    [&s](atom::detail,
         const schedule_detail_request& req) -> caf::result<schedule_detail> {
      auto x = s.db->get_schedule(req.id);
      if (!x)
        return x.error();
      if (!*x)
        return make_error(ec::unknown_schedule,
                          "no schedule with id " + to_string(req.id));
      job_filter f;
      f.schedule_id = req.id;
      f.scheduled_from = req.jobs_since;
      f.limit = 0;
      auto jobs = s.db->list_jobs(f);
      if (!jobs)
        return jobs.error();
      schedule_detail result;
      // Newest first, at most 20.
      auto first = jobs->size() > 20 ? jobs->end() - 20 : jobs->begin();
      result.jobs.assign(std::make_move_iterator(first),
                         std::make_move_iterator(jobs->end()));
      std::reverse(result.jobs.begin(), result.jobs.end());
      result.upcoming = req.upcoming(**x);
      result.schedule = std::move(**x);
      return result;
    },
    [&s](atom::sched_ls,
         const schedule_filter& f) -> caf::result<schedule_list> {
      auto xs = s.db->list_schedules(f);
      if (!xs)
        return xs.error();
      return schedule_list{std::move(*xs)};
    },
    [&s](atom::sched_set,
         const schedule_write& w) -> caf::result<schedule_written> {
      auto n = s.db->write_schedule(w.schedule, w.expected_version, w.jobs);
      if (!n)
        return n.error();
      return schedule_written{*n};
    },
    [&s](atom::statics, const schedule_list& xs) -> caf::result<schedule_list> {
      schedule_list result;
      for (auto& x : xs.schedules) {
        auto stored = s.db->upsert_static_schedule(x);
        if (!stored)
          return stored.error();
        result.schedules.push_back(std::move(*stored));
      }
      return result;
    },
    [&s](atom::touch, const name_list& xs) -> caf::result<bool> {
      if (auto err = s.db->touch_static_schedules(xs.names, now()))
        return err;
      return true;
    },
    [&s](atom::retire, timestamp stale_before) -> caf::result<schedule_list> {
      auto xs = s.db->retire_static_schedules(stale_before, now());
      if (!xs)
        return xs.error();
      return schedule_list{std::move(*xs)};
    },
    [&s](atom::plan, const plan_request& req) -> caf::result<plan_summary> {
      auto due = s.db->schedules_to_plan(req.horizon, req.limit);
      if (!due)
        return due.error();
      plan_summary result;
      for (auto& x : *due) {
        if (req.skip.contains(x.id))
          continue;
        auto p = req.plan(x);
        if (!p) {
          result.failed.emplace_back(x.id, describe(p.error()));
          continue;
        }
        if (!*p)
          continue;
        auto& step = **p;
        auto added = s.db->write_schedule(step.next, x.version, step.jobs);
        if (!added)
          return added.error();
        // A lost fence: someone else planned it meanwhile; fine.
        if (!*added)
          continue;
        ++result.schedules;
        result.jobs_added += **added;
        result.dropped += step.dropped;
        if (step.next.status == schedule_status::completed)
          result.completed.push_back(x.id);
      }
      return result;
    },
    [&s](atom::purge, timestamp before) -> caf::result<uint64_t> {
      // In slices, so that other work on the store is never held up long.
      uint64_t total = 0;
      for (int slice = 0; slice < 100; ++slice) {
        auto n = s.db->purge(before, 1000);
        if (!n)
          return n.error();
        total += *n;
        if (*n == 0)
          break;
      }
      return total;
    },
  };
}

} // namespace jm
