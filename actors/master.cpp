#include "actors/master.hpp"

#include "actors/random_router.hpp"
#include "messages/codec.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

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
// arm a timer for each instead of polling. Due times are rounded up to the
// millisecond, which bounds the message for large batches.
void wake_buckets(self_ptr self, const std::vector<job>& jobs) {
  std::map<std::string, std::set<timestamp>> due;
  for (auto& x : jobs)
    if (x.status == job_status::assigned_to_bucket)
      due[x.bucket_id].insert(
        std::chrono::ceil<std::chrono::milliseconds>(x.scheduled_at));
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
  req.horizon = now() + s.cfg.cluster.transient_threshold;
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
          assign(self);
        }
        self->request(self->state.store, caf::infinite, atom::sweep_v)
          .then(
            [self](uint64_t n) {
              self->state.rescuing = false;
              if (n > 0) {
                spdlog::warn("master: {} jobs passed their deadline", n);
                assign(self);
              }
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

void schedule(self_ptr self, std::vector<job_spec> specs, reply_promise rp) {
  auto& s = self->state;
  if (s.cfg.cluster.mode == cluster_mode::archived)
    return deliver_error(rp, make_error(ec::refused,
                                        "the cluster is archived: scheduling "
                                        "is refused"));
  if (specs.empty())
    return deliver_error(rp, invalid("nothing to schedule"));
  auto records = attached_records(s);
  random_router route{records};
  auto t = now();
  job_list xs;
  xs.jobs.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    auto x = make_job(specs[i], s.cfg, t);
    if (!x) {
      auto text = describe(x.error());
      if (specs.size() > 1)
        text = "job " + std::to_string(i + 1) + ": " + text;
      return deliver_error(rp, make_error(code_of(x.error()), text));
    }
    if (s.cfg.cluster.mode == cluster_mode::active
        && x->scheduled_at <= t + s.cfg.cluster.transient_threshold) {
      if (auto b = route(*x)) {
        x->status = job_status::assigned_to_bucket;
        x->bucket_id = b->bucket_id;
        x->worker_id = b->worker_id;
      }
    }
    xs.jobs.push_back(std::move(*x));
  }
  std::vector<job_id> ids;
  ids.reserve(xs.jobs.size());
  for (auto& x : xs.jobs)
    ids.push_back(x.id);
  auto jobs = std::make_shared<job_list>(xs);
  self->request(s.store, caf::infinite, atom::insert_v, std::move(xs))
    .then(
      [self, rp, ids = std::move(ids), jobs](bool) mutable {
        if (spdlog::should_log(spdlog::level::info))
          for (auto& x : jobs->jobs)
            spdlog::info("job {} ({}) scheduled for {}: {}", to_string(x.id),
                         x.handler, format_timestamp(x.scheduled_at),
                         to_string(x.status));
        wake_buckets(self, jobs->jobs);
        // A held job due soon may have missed a bucket that attached while
        // it was being inserted: look again now rather than on the tick.
        auto horizon = now() + self->state.cfg.cluster.transient_threshold;
        for (auto& x : jobs->jobs) {
          if (x.status == job_status::held_on_master
              && x.scheduled_at <= horizon) {
            assign(self);
            break;
          }
        }
        deliver(rp, reply{std::move(ids)});
      },
      [rp](const caf::error& err) mutable { deliver_error(rp, err); });
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
                assign(self);
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
       store_actor store) {
  auto& s = self->state;
  s.cfg = std::move(cfg);
  s.store = std::move(store);
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
          self->request(self->state.store, caf::infinite, atom::list_v, f)
            .then(
              [rp = rp](job_list& xs) mutable {
                deliver(rp, reply{std::move(xs.jobs)});
              },
              [rp = rp](const caf::error& err) mutable {
                deliver_error(rp, err);
              });
        }
        void operator()(get_job_request& r) {
          self->request(self->state.store, caf::infinite, atom::detail_v, r.id)
            .then(
              [rp = rp](job_detail& d) mutable {
                deliver(rp, reply{std::move(d)});
              },
              [rp = rp](const caf::error& err) mutable {
                deliver_error(rp, err);
              });
        }
        void operator()(ping_request&) {
          deliver(rp, reply{pong_reply{self->state.cfg.cluster.cluster_id}});
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
      if (now() - s.last_rescue >= s.cfg.rescue_interval)
        rescue(self);
      self->delayed_send(self, s.cfg.cluster.assign_interval, atom::tick_v);
    },
  };
}

} // namespace jm
