#include "actors/master.hpp"

#include "actors/planner.hpp"
#include "actors/random_router.hpp"
#include "messages/codec.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace jm {

namespace {

using self_ptr = master_actor::stateful_pointer<master_state>;
using reply_promise = caf::typed_response_promise<wire_reply>;

bool is_lane_name(std::string_view x) {
  if (x.size() > 25)
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
           || c == '.';
  });
}

caf::error invalid(std::string text) {
  return make_error(ec::invalid_argument, std::move(text));
}

void deliver(reply_promise& rp, reply x) {
  rp.deliver(wire_reply{encode(x)});
}

void deliver_error(reply_promise& rp, const caf::error& err) {
  deliver(rp, reply{to_reply(err)});
}

// Tells each bucket that received jobs when they are due, so that it can
// arm a timer for each instead of polling. Later due times are rounded up
// to the millisecond, which bounds the message for large batches; jobs due
// already are due now (rounding them up would make the bucket wait for a
// timer of up to a millisecond). A job in a save-pending queue is also due
// now, for the bucket to move it into the master store at once: until then
// nobody can see or cancel it.
void wake_buckets(self_ptr self, const std::vector<job>& jobs) {
  std::map<std::string, std::set<timestamp>> due;
  auto t = now();
  for (auto& x : jobs) {
    if (x.status != job_status::assigned_to_bucket
        && x.status != job_status::save_pending)
      continue;
    auto& times = due[x.bucket_id];
    if (x.status == job_status::save_pending)
      times.insert(t);
    times.insert(
      x.scheduled_at <= t
        ? t
        : std::chrono::ceil<std::chrono::milliseconds>(x.scheduled_at));
  }
  for (auto& [bucket_id, times] : due)
    if (auto i = self->state.buckets.find(bucket_id);
        i != self->state.buckets.end())
      self->send(i->second.handle, atom::wake_v,
                 wake_up{std::vector<timestamp>(times.begin(), times.end())});
}

// The records of the attached buckets, for routing.
std::vector<bucket_record> attached_records(const master_state& s) {
  std::vector<bucket_record> result;
  result.reserve(s.buckets.size());
  for (auto& [id, b] : s.buckets)
    result.push_back(b.record);
  return result;
}

void assign(self_ptr self) {
  auto& s = self->state;
  if (s.assigning) {
    // The round in flight may have missed what prompted this call (a job
    // inserted, a bucket attached): run another when it returns.
    s.assign_again = true;
    return;
  }
  if (s.buckets.empty() || s.cfg.cluster.mode != cluster_mode::active)
    return;
  s.assigning = true;
  assign_request req;
  // Jobs already due are left to the claims of their buckets, which adopt
  // them with one write: the master places only those due later.
  req.after = now();
  req.horizon = req.after + s.cfg.cluster.transient_threshold;
  req.limit = s.cfg.assign_batch;
  req.buckets = attached_records(s);
  self->request(s.store, caf::infinite, atom::assign_v, std::move(req))
    .then(
      [self](const job_list& xs) {
        auto& s = self->state;
        s.assigning = false;
        wake_buckets(self, xs.jobs);
        // More are due, or something changed meanwhile: keep going.
        if (xs.jobs.size() >= s.cfg.assign_batch || s.assign_again) {
          s.assign_again = false;
          assign(self);
        }
      },
      [self](const caf::error& err) {
        self->state.assigning = false;
        self->state.assign_again = false;
        spdlog::warn("master: assigning held jobs failed: {}", describe(err));
      });
}

// After events that may leave held jobs due now (a rescue, a sweep, a
// reschedule, planned catch-up runs, a bucket attached while jobs were
// being inserted): the look-ahead for the later ones, and the buckets adopt
// the due ones at once rather than at their next poll. With `held`, only
// the buckets of the routes of its due held jobs; without, all of them.
void look_for_held(self_ptr self, const std::vector<job>* held = nullptr) {
  auto& s = self->state;
  if (s.cfg.cluster.mode != cluster_mode::active)
    return;
  assign(self);
  auto t = now();
  auto adopts = [&](const bucket_record& b) {
    return held == nullptr
           || std::any_of(held->begin(), held->end(), [&](const job& x) {
                return x.status == job_status::held_on_master
                       && x.scheduled_at <= t && x.priority == b.priority
                       && x.lane == b.lane;
              });
  };
  for (auto& [id, b] : s.buckets)
    if (adopts(b.record))
      self->send(b.handle, atom::wake_v, wake_up{{t}});
}

// After each rescue round, with a separate agent store: the jobs of every
// save-pending queue that its bucket has not moved (the bucket is gone,
// full or draining) go into the master store as held. Its own flag: an
// agent store that hangs must not stop the rescue of dead nodes.
void rescue_queues(self_ptr self) {
  auto& s = self->state;
  if (!s.agent || s.moving_queues)
    return;
  s.moving_queues = true;
  self->request(s.agent, s.cfg.agent_timeout, atom::rescue_v)
    .then(
      [self](const job_list& xs) {
        self->state.moving_queues = false;
        if (!xs.jobs.empty()) {
          spdlog::info("master: moved {} jobs from save-pending queues",
                       xs.jobs.size());
          look_for_held(self, &xs.jobs);
        }
      },
      [self](const caf::error& err) {
        self->state.moving_queues = false;
        spdlog::warn("master: moving save-pending queues failed: {}",
                     describe(err));
      });
}

void rescue(self_ptr self) {
  auto& s = self->state;
  if (s.rescuing)
    return;
  s.rescuing = true;
  s.last_rescue = now();
  self->request(s.store, caf::infinite, atom::rescue_v)
    .then(
      [self](const job_list& xs) {
        if (!xs.jobs.empty()) {
          spdlog::warn("master: took back {} jobs of dead nodes",
                       xs.jobs.size());
          look_for_held(self, &xs.jobs);
        }
        self->request(self->state.store, caf::infinite, atom::sweep_v)
          .then(
            [self](uint64_t n) {
              self->state.rescuing = false;
              if (n > 0) {
                spdlog::warn("master: {} jobs passed their deadline", n);
                look_for_held(self);
              }
              rescue_queues(self);
            },
            [self](const caf::error& err) {
              self->state.rescuing = false;
              spdlog::warn("master: deadline sweep failed: {}", describe(err));
            });
      },
      [self](const caf::error& err) {
        self->state.rescuing = false;
        spdlog::warn("master: rescue failed: {}", describe(err));
      });
}

// Once every job of a schedule request is durable: logs them, wakes their
// buckets and replies with their ids, in request order.
void scheduled(self_ptr self, const std::vector<job>& jobs, reply_promise rp) {
  if (spdlog::should_log(spdlog::level::info))
    for (auto& x : jobs)
      spdlog::info("job {} ({}) scheduled for {}: {}", to_string(x.id),
                   x.handler, format_timestamp(x.scheduled_at),
                   to_string(x.status));
  wake_buckets(self, jobs);
  // A held job due soon may have missed a bucket that attached while
  // it was being inserted: look again now rather than on the tick.
  auto horizon = now() + self->state.cfg.cluster.transient_threshold;
  for (auto& x : jobs) {
    if (x.status == job_status::held_on_master && x.scheduled_at <= horizon) {
      look_for_held(self, &jobs);
      break;
    }
  }
  std::vector<job_id> ids;
  ids.reserve(jobs.size());
  for (auto& x : jobs)
    ids.push_back(x.id);
  deliver(rp, reply{std::move(ids)});
}

// Inserts the request's jobs into the master store (one transaction), then
// replies.
void insert_and_reply(self_ptr self, std::shared_ptr<job_list> xs,
                      reply_promise rp) {
  self->request(self->state.store, caf::infinite, atom::insert_v, *xs)
    .then([self, xs, rp](bool) mutable { scheduled(self, xs->jobs, rp); },
          [rp](const caf::error& err) mutable { deliver_error(rp, err); });
}

// Places jobs due soon straight into a live bucket, stores them and replies
// with their ids. A request is stored in one transaction of one store (all
// its jobs or none): when every job was placed and the cluster has a
// separate agent store, in their buckets' save-pending queues there;
// otherwise, or when the agent store fails, in the master store.
void insert_jobs(self_ptr self, std::vector<job> jobs, reply_promise rp) {
  auto& s = self->state;
  auto records = attached_records(s);
  random_router route{records};
  auto t = now();
  for (auto& x : jobs) {
    if (s.cfg.cluster.mode == cluster_mode::active
        && x.scheduled_at <= t + s.cfg.cluster.transient_threshold) {
      if (auto b = route(x)) {
        x.status = job_status::assigned_to_bucket;
        x.bucket_id = b->bucket_id;
        x.worker_id = b->worker_id;
      }
    }
  }
  auto xs = std::make_shared<job_list>(job_list{std::move(jobs)});
  auto all_placed
    = std::all_of(xs->jobs.begin(), xs->jobs.end(), [](const job& x) {
        return x.status == job_status::assigned_to_bucket;
      });
  if (!s.agent || !all_placed)
    return insert_and_reply(self, xs, rp);
  for (auto& x : xs->jobs)
    x.status = job_status::save_pending;
  // On a timeout the push may still commit later: the same ids make the
  // queue's copies no-ops when they are moved.
  self->request(s.agent, s.cfg.agent_timeout, atom::push_v, *xs)
    .then([self, xs, rp](bool) mutable { scheduled(self, xs->jobs, rp); },
          [self, xs, rp](const caf::error& err) mutable {
            spdlog::warn("master: the agent store did not take {} jobs ({}); "
                         "they go into the master store",
                         xs->jobs.size(), describe(err));
            for (auto& x : xs->jobs)
              x.status = job_status::assigned_to_bucket;
            insert_and_reply(self, xs, rp);
          });
}

caf::error refuse_if_archived(const master_state& s) {
  if (s.cfg.cluster.mode == cluster_mode::archived)
    return make_error(ec::refused,
                      "the cluster is archived: scheduling is refused");
  return {};
}

void schedule(self_ptr self, std::vector<job_spec> specs, reply_promise rp) {
  auto& s = self->state;
  if (auto err = refuse_if_archived(s))
    return deliver_error(rp, err);
  if (specs.empty())
    return deliver_error(rp, invalid("nothing to schedule"));
  auto t = now();
  std::vector<job> jobs;
  jobs.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    auto x = make_job(specs[i], s.cfg, t);
    if (!x) {
      auto text = describe(x.error());
      if (specs.size() > 1)
        text = "job " + std::to_string(i + 1) + ": " + text;
      return deliver_error(rp, make_error(code_of(x.error()), text));
    }
    jobs.push_back(std::move(*x));
  }
  insert_jobs(self, std::move(jobs), rp);
}

// Applies `change` to the current job with a fenced write; retries on a
// version conflict (the job moved meanwhile), up to a few times.
void update_job(self_ptr self, job_id id,
                std::function<caf::error(job&)> change, reply_promise rp,
                int tries_left = 3) {
  auto& s = self->state;
  self->request(s.store, caf::infinite, atom::get_v, id)
    .then(
      [self, id, change, rp, tries_left](maybe_job& x) mutable {
        if (!x.job)
          return deliver_error(
            rp, make_error(ec::unknown_job, "no job with id " + to_string(id)));
        job_write w;
        w.expected_version = x.job->version;
        w.job = std::move(*x.job);
        if (auto err = change(w.job))
          return deliver_error(rp, err);
        job_writes ws;
        ws.writes.push_back(std::move(w));
        self
          ->request(self->state.store, caf::infinite, atom::write_v,
                    std::move(ws))
          .then(
            [self, id, change, rp, tries_left](const write_flags& f) mutable {
              if (!f.applied.empty() && f.applied[0]) {
                spdlog::info("job {} changed by request", to_string(id));
                look_for_held(self);
                return deliver(rp, reply{done_reply{}});
              }
              if (tries_left <= 1)
                return deliver_error(
                  rp, make_error(ec::version_conflict, "job " + to_string(id)
                                                         + " keeps changing; "
                                                           "try again"));
              update_job(self, id, change, rp, tries_left - 1);
            },
            [rp](const caf::error& err) mutable { deliver_error(rp, err); });
      },
      [rp](const caf::error& err) mutable { deliver_error(rp, err); });
}

caf::error cancel_job(job& x) {
  if (!can_transition(x.status, job_status::cancelled))
    return make_error(ec::illegal_transition,
                      "job " + to_string(x.id) + " is "
                        + std::string{to_string(x.status)}
                        + " and can no longer be cancelled");
  x.status = job_status::cancelled;
  clear_placement(x);
  return {};
}

caf::error reschedule_job(job& x, timestamp at) {
  if (is_final(x.status) || x.status == job_status::processing
      || x.status == job_status::queued)
    return make_error(ec::illegal_transition,
                      "job " + to_string(x.id) + " is "
                        + std::string{to_string(x.status)}
                        + " and can no longer be rescheduled");
  x.status = job_status::held_on_master;
  x.scheduled_at = at;
  clear_placement(x);
  return {};
}

// Asks the store; replies with what `make` turns its answer into.
template <class Answer, class Atom, class Arg, class Make>
void relay(self_ptr self, reply_promise rp, Atom what, Arg arg, Make make) {
  self->request(self->state.store, caf::infinite, what, std::move(arg))
    .then([rp, make](Answer& x) mutable { deliver(rp, make(x)); },
          [rp](const caf::error& err) mutable { deliver_error(rp, err); });
}

// -- recurring schedules ------------------------------------------------------

// Static schedules nobody declared for this long are idle: not planned, and
// retired at the next check.
bool is_idle_static(const recurring_schedule& x, const master_config& cfg,
                    timestamp t) {
  return !x.spec.static_name.empty()
         && (!x.ensured_at
             || *x.ensured_at < t - cfg.cluster.static_schedule_ttl);
}

void plan(self_ptr self) {
  auto& s = self->state;
  if (s.planning || s.cfg.cluster.mode != cluster_mode::active)
    return;
  s.planning = true;
  auto t = now();
  std::erase_if(s.plan_failures,
                [t](const auto& kvp) { return kvp.second <= t; });
  auto horizon = s.cfg.cluster.transient_threshold;
  plan_request req;
  // Planned up to now + horizon, re-planned once half of it has passed:
  // each schedule is written about twice per horizon, not on every tick.
  req.horizon = t + horizon / 2;
  req.limit = s.cfg.plan_batch;
  for (auto& [id, until] : s.plan_failures)
    req.skip.insert(id);
  planner_limits limits;
  limits.horizon = horizon;
  req.plan = [cfg = s.shared_cfg, limits](const recurring_schedule& x)
    -> caf::expected<std::optional<schedule_plan>> {
    auto t = now();
    if (is_idle_static(x, *cfg, t))
      return std::optional<schedule_plan>{};
    auto p = plan_schedule(x, t, *cfg, limits);
    if (!p)
      return p.error();
    return std::optional<schedule_plan>{std::move(*p)};
  };
  self->request(s.store, caf::infinite, atom::plan_v, std::move(req))
    .then(
      [self](const plan_summary& r) {
        auto& s = self->state;
        s.planning = false;
        for (auto& [id, why] : r.failed) {
          spdlog::warn("master: schedule {} cannot be planned: {}; next try "
                       "in {}",
                       to_string(id), why, format_duration(s.cfg.plan_backoff));
          s.plan_failures[id] = now() + s.cfg.plan_backoff;
        }
        for (auto& id : r.completed)
          spdlog::info("schedule {} completed: it has no further occurrence",
                       to_string(id));
        if (r.dropped > 0)
          spdlog::warn("master: the catch-up policy dropped {} missed "
                       "occurrences",
                       r.dropped);
        if (r.jobs_added > 0)
          look_for_held(self);
        // A full round: more schedules may be due.
        if (r.schedules + r.failed.size() >= s.cfg.plan_batch)
          plan(self);
      },
      [self](const caf::error& err) {
        self->state.planning = false;
        spdlog::warn("master: planning recurring schedules failed: {}",
                     describe(err));
      });
}

// Cancels the jobs of a schedule that have not started; `done` receives how
// many were cancelled (a job that moved meanwhile is left as it is).
void cancel_unstarted(self_ptr self, schedule_id id,
                      std::function<void(caf::expected<uint64_t>)> done) {
  job_filter f;
  f.schedule_id = id;
  f.statuses = {job_status::save_pending, job_status::held_on_master,
                job_status::assigned_to_bucket};
  f.limit = 0;
  auto& s = self->state;
  self->request(s.store, caf::infinite, atom::list_v, std::move(f))
    .then(
      [self, done](job_list& xs) {
        job_writes ws;
        for (auto& x : xs.jobs) {
          job_write w;
          w.expected_version = x.version;
          w.job = std::move(x);
          w.job.status = job_status::cancelled;
          clear_placement(w.job);
          ws.writes.push_back(std::move(w));
        }
        if (ws.writes.empty())
          return done(uint64_t{0});
        self
          ->request(self->state.store, caf::infinite, atom::write_v,
                    std::move(ws))
          .then(
            [done](const write_flags& f) {
              done(static_cast<uint64_t>(
                std::count(f.applied.begin(), f.applied.end(), true)));
            },
            [done](const caf::error& err) { done(err); });
      },
      [done](const caf::error& err) { done(err); });
}

// Reads a schedule; replies ec::unknown_schedule when there is none.
void with_schedule(self_ptr self, schedule_id id, reply_promise rp,
                   std::function<void(recurring_schedule&)> f) {
  self->request(self->state.store, caf::infinite, atom::sched_get_v, id)
    .then(
      [id, rp, f](maybe_schedule& x) mutable {
        if (!x.schedule)
          return deliver_error(
            rp, make_error(ec::unknown_schedule,
                           "no schedule with id " + to_string(id)));
        f(*x.schedule);
      },
      [rp](const caf::error& err) mutable { deliver_error(rp, err); });
}

void create_schedule(self_ptr self, const recurring_spec& spec,
                     reply_promise rp) {
  auto& s = self->state;
  if (auto err = refuse_if_archived(s))
    return deliver_error(rp, err);
  if (!spec.static_name.empty())
    return deliver_error(rp, invalid("static schedules are declared in the "
                                     "nodes' configuration, not by request"));
  auto x = make_schedule(spec, s.cfg, now());
  if (!x)
    return deliver_error(rp, x.error());
  auto id = x->id;
  auto text = x->spec.expression;
  auto handler = x->spec.handler;
  self->request(s.store, caf::infinite, atom::sched_add_v, std::move(*x))
    .then(
      [self, rp, id, text, handler](bool) mutable {
        spdlog::info("schedule {} ({}) created: {}", to_string(id), handler,
                     text);
        // Its first occurrences may be due within seconds.
        plan(self);
        deliver(rp, reply{std::vector<job_id>{id}});
      },
      [rp](const caf::error& err) mutable { deliver_error(rp, err); });
}

void cancel_schedule(self_ptr self, schedule_id id, reply_promise rp,
                     int tries_left = 3) {
  with_schedule(
    self, id, rp, [self, id, rp, tries_left](recurring_schedule& x) mutable {
      if (is_final(x.status))
        return deliver_error(rp, make_error(ec::illegal_transition,
                                            "schedule " + to_string(id) + " is "
                                              + std::string{to_string(x.status)}
                                              + " and can no longer be "
                                                "cancelled"));
      schedule_write w;
      w.expected_version = x.version;
      w.schedule = std::move(x);
      w.schedule.status = schedule_status::cancelled;
      w.schedule.terminated_at = now();
      self
        ->request(self->state.store, caf::infinite, atom::sched_set_v,
                  std::move(w))
        .then(
          [self, id, rp, tries_left](const schedule_written& r) mutable {
            if (!r.added) {
              if (tries_left <= 1)
                return deliver_error(
                  rp, make_error(ec::version_conflict,
                                 "schedule " + to_string(id)
                                   + " keeps changing; try again"));
              return cancel_schedule(self, id, rp, tries_left - 1);
            }
            // After the fenced write no planner adds jobs: the ones there
            // now are all there will be.
            cancel_unstarted(self, id,
                             [id, rp](caf::expected<uint64_t> n) mutable {
                               if (!n)
                                 return deliver_error(rp, n.error());
                               spdlog::info("schedule {} cancelled with {} "
                                            "unstarted jobs",
                                            to_string(id), *n);
                               deliver(rp, reply{cancelled_reply{*n}});
                             });
          },
          [rp](const caf::error& err) mutable { deliver_error(rp, err); });
    });
}

void run_schedule_now(self_ptr self, schedule_id id, reply_promise rp) {
  with_schedule(self, id, rp, [self, id, rp](recurring_schedule& x) mutable {
    if (auto err = refuse_if_archived(self->state))
      return deliver_error(rp, err);
    if (x.status != schedule_status::active)
      return deliver_error(rp, make_error(ec::illegal_transition,
                                          "schedule " + to_string(id) + " is "
                                            + std::string{to_string(x.status)}
                                            + "; only an active schedule "
                                              "can run now"));
    auto t = now();
    auto j = make_occurrence(x, t, self->state.cfg, t);
    if (!j)
      return deliver_error(rp, j.error());
    insert_jobs(self, {std::move(*j)}, rp);
  });
}

void show_schedule(self_ptr self, schedule_id id, reply_promise rp) {
  schedule_detail_request req;
  req.id = id;
  // Its jobs of the last day; the store keeps the newest 20.
  req.jobs_since = now() - std::chrono::hours{24};
  req.upcoming = [cfg = self->state.shared_cfg](const recurring_schedule& x) {
    return upcoming_occurrences(x, now(), *cfg, 5);
  };
  relay<schedule_detail>(
    self, rp, atom::detail_v, std::move(req),
    [](schedule_detail& d) { return reply{std::move(d)}; });
}

// Writes the static schedules of this node's code to the store (created or
// updated by name), once per master start.
void store_statics(self_ptr self) {
  auto& s = self->state;
  s.last_statics_check = now();
  auto t = now();
  schedule_list xs;
  for (auto& spec : s.cfg.cluster.static_schedules) {
    auto x = make_schedule(spec, s.cfg, t);
    if (!x) {
      spdlog::error("master: static schedule {} is invalid: {}",
                    spec.static_name, describe(x.error()));
      continue;
    }
    x->ensured_at = t;
    xs.schedules.push_back(std::move(*x));
  }
  if (xs.schedules.empty()) {
    s.statics_stored = true;
    return;
  }
  self->request(s.store, caf::infinite, atom::statics_v, std::move(xs))
    .then(
      [self](const schedule_list& stored) {
        self->state.statics_stored = true;
        for (auto& x : stored.schedules)
          spdlog::info("static schedule {} ({}, {}) {}: {}", x.spec.static_name,
                       to_string(x.id), x.spec.handler, to_string(x.status),
                       x.spec.expression);
        plan(self);
      },
      [](const caf::error& err) {
        spdlog::warn("master: storing static schedules failed: {}; retrying",
                     describe(err));
      });
}

// Keep-alive of this node's static schedules, and retirement of those no
// running code declares any more.
void check_statics(self_ptr self) {
  auto& s = self->state;
  s.last_statics_check = now();
  name_list names;
  for (auto& spec : s.cfg.cluster.static_schedules)
    names.names.push_back(spec.static_name);
  if (!names.names.empty())
    self->request(s.store, caf::infinite, atom::touch_v, std::move(names))
      .then([](bool) {},
            [](const caf::error& err) {
              spdlog::warn("master: keep-alive of static schedules failed: {}",
                           describe(err));
            });
  auto stale_before = now() - s.cfg.cluster.static_schedule_ttl;
  self->request(s.store, caf::infinite, atom::retire_v, stale_before)
    .then(
      [self](const schedule_list& retired) {
        for (auto& x : retired.schedules) {
          auto name = x.spec.static_name;
          cancel_unstarted(self, x.id, [name](caf::expected<uint64_t> n) {
            spdlog::info("static schedule {} retired: no "
                         "running node declares it ({} "
                         "unstarted jobs cancelled)",
                         name, n ? *n : 0);
          });
        }
      },
      [](const caf::error& err) {
        spdlog::warn("master: retiring static schedules failed: {}",
                     describe(err));
      });
}

void purge(self_ptr self) {
  auto& s = self->state;
  s.last_purge = now();
  if (s.cfg.cluster.retention.count() <= 0)
    return;
  self
    ->request(s.store, caf::infinite, atom::purge_v,
              now() - s.cfg.cluster.retention)
    .then(
      [](uint64_t n) {
        if (n > 0)
          spdlog::info("master: deleted {} finished jobs and schedules past "
                       "the retention",
                       n);
      },
      [](const caf::error& err) {
        spdlog::warn("master: retention purge failed: {}", describe(err));
      });
}

} // namespace

caf::expected<job> make_job(const job_spec& spec, const master_config& cfg,
                            timestamp t) {
  auto& cluster = cfg.cluster;
  auto h = cfg.handlers.find(spec.handler);
  if (h == cfg.handlers.end()) {
    std::string known;
    for (auto& [name, d] : cfg.handlers)
      known += (known.empty() ? "" : ", ") + name;
    return make_error(ec::unknown_handler,
                      "unknown handler '" + spec.handler + "' (known: "
                        + (known.empty() ? "none" : known) + ")");
  }
  auto& defaults = h->second;
  job x;
  x.id = uuid::random();
  x.handler = spec.handler;
  x.status = job_status::held_on_master;
  x.priority = spec.priority
                 ? *spec.priority
                 : defaults.priority.value_or(cluster.default_priority);
  x.lane = spec.lane ? *spec.lane : defaults.lane.value_or("");
  if (!is_lane_name(x.lane))
    return invalid("invalid lane '" + x.lane
                   + "': at most 25 characters of A-Z a-z 0-9 . _ -");
  x.timeout = spec.timeout ? *spec.timeout
                           : defaults.timeout.value_or(cluster.default_timeout);
  if (x.timeout < std::chrono::milliseconds{10}
      || x.timeout > std::chrono::hours{24})
    return invalid("invalid timeout " + format_duration(x.timeout)
                   + ": must be between 10ms and 24h");
  x.max_retries
    = spec.max_retries
        ? *spec.max_retries
        : defaults.max_retries.value_or(cluster.default_max_retries);
  if (x.max_retries < 0 || x.max_retries > 100)
    return invalid("invalid max retries " + std::to_string(x.max_retries)
                   + ": must be between 0 and 100");
  if (spec.after && spec.after->count() < 0)
    return invalid("invalid delay: must not be negative");
  // Bounds what arrives off the wire as any 64-bit value, so that the
  // additions below cannot overflow.
  constexpr auto max_ahead = std::chrono::hours{24 * 365 * 100};
  if (spec.after && *spec.after > max_ahead)
    return invalid("invalid delay " + format_duration(*spec.after)
                   + ": at most 100 years");
  if (spec.run_at
      && (*spec.run_at > t + max_ahead || *spec.run_at < t - max_ahead))
    return invalid("invalid time " + format_timestamp(*spec.run_at)
                   + ": more than 100 years away");
  auto due = spec.run_at ? *spec.run_at : spec.after ? t + *spec.after : t;
  // A time in the past means "now"; keep the requested one as original.
  x.original_scheduled_at = due;
  x.scheduled_at = std::max(due, t);
  x.created_at = t;
  x.data = spec.data;
  x.metadata = defaults.metadata;
  for (auto& [k, v] : spec.metadata)
    x.metadata.insert_or_assign(k, v);
  auto size = encode(x.data).size() + encode(x.metadata).size();
  if (size > cluster.max_message_bytes)
    return make_error(ec::payload_too_large,
                      "job data and metadata take " + std::to_string(size)
                        + " bytes encoded; the cluster's limit is "
                        + std::to_string(cluster.max_message_bytes));
  return x;
}

master_actor::behavior_type
master(master_actor::stateful_pointer<master_state> self, master_config cfg,
       store_actor store, agent_connection_actor agent) {
  auto& s = self->state;
  s.cfg = std::move(cfg);
  s.shared_cfg = std::make_shared<const master_config>(s.cfg);
  s.store = std::move(store);
  s.agent = std::move(agent);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& buckets = self->state.buckets;
    for (auto i = buckets.begin(); i != buckets.end();) {
      if (i->second.handle.address() == msg.source)
        i = buckets.erase(i);
      else
        ++i;
    }
  });
  self->send(self, atom::tick_v);
  return {
    [self](wire_request& req) -> caf::result<wire_reply> {
      auto rp = self->make_response_promise<wire_reply>();
      auto decoded = decode_request(req.data);
      if (!decoded) {
        spdlog::warn("master: rejected a request: {}",
                     describe(decoded.error()));
        deliver_error(rp, decoded.error());
        return rp;
      }
      struct visitor {
        self_ptr self;
        reply_promise& rp;
        void operator()(std::vector<job_spec>& specs) {
          schedule(self, std::move(specs), rp);
        }
        void operator()(cancel_request& r) {
          update_job(self, r.id, cancel_job, rp);
        }
        void operator()(reschedule_request& r) {
          auto at = r.run_at;
          update_job(
            self, r.id, [at](job& x) { return reschedule_job(x, at); }, rp);
        }
        void operator()(job_filter& f) {
          if (f.limit == 0 || f.limit > 10000)
            f.limit = 10000;
          relay<job_list>(self, rp, atom::list_v, f, [](job_list& xs) {
            return reply{std::move(xs.jobs)};
          });
        }
        void operator()(get_job_request& r) {
          relay<job_detail>(self, rp, atom::detail_v, r.id,
                            [](job_detail& d) { return reply{std::move(d)}; });
        }
        void operator()(ping_request&) {
          deliver(rp, reply{pong_reply{self->state.cfg.cluster.cluster_id}});
        }
        void operator()(recurring_spec& spec) {
          create_schedule(self, spec, rp);
        }
        void operator()(schedule_filter& f) {
          if (f.limit == 0 || f.limit > 10000)
            f.limit = 10000;
          relay<schedule_list>(
            self, rp, atom::sched_ls_v, f,
            [](schedule_list& xs) { return reply{std::move(xs.schedules)}; });
        }
        void operator()(get_schedule_request& r) {
          show_schedule(self, r.id, rp);
        }
        void operator()(cancel_schedule_request& r) {
          cancel_schedule(self, r.id, rp);
        }
        void operator()(run_schedule_now_request& r) {
          run_schedule_now(self, r.id, rp);
        }
      };
      std::visit(visitor{self, rp}, *decoded);
      return rp;
    },
    [self](atom::attach, bucket_record& rec, bucket_actor& handle) {
      self->monitor(handle);
      auto id = rec.bucket_id;
      self->state.buckets.insert_or_assign(
        id, attached_bucket{std::move(rec), std::move(handle)});
      assign(self);
    },
    [self](atom::leave, const std::string& bucket_id) {
      self->state.buckets.erase(bucket_id);
    },
    [self](atom::tick) {
      auto& s = self->state;
      assign(self);
      plan(self);
      auto t = now();
      if (t - s.last_rescue >= s.cfg.rescue_interval)
        rescue(self);
      if (!s.statics_stored) {
        if (t - s.last_statics_check >= std::chrono::seconds{1})
          store_statics(self);
      } else if (t - s.last_statics_check
                 >= s.cfg.cluster.static_schedule_ttl / 3) {
        check_statics(self);
      }
      if (t - s.last_purge >= s.cfg.purge_interval)
        purge(self);
      self->delayed_send(self, s.cfg.cluster.assign_interval, atom::tick_v);
    },
  };
}

} // namespace jm
