#include "actors/bucket.hpp"

#include "actors/outcome.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace jm {

namespace {

using self_ptr = bucket_actor::stateful_pointer<bucket_state>;

void flush(self_ptr self);
void try_claim(self_ptr self);
void wake(self_ptr self, const std::vector<timestamp>& due);

// A failed claim or outcome write is tried again after this pause (a claim
// also at an earlier wake-up).
constexpr auto store_retry_delay = std::chrono::milliseconds{200};

// A write that ends the job's stay here (an outcome, a hand-back), not the
// start of a run.
bool ends_placement(const job_write& w) {
  return w.job.status != job_status::processing;
}

// Jobs claimed and not yet recorded: running or waiting to run, or
// finished with their outcome not written yet. Claims keep these within
// twice the batch size, so that claims cannot outrun the outcome writes (an
// unbounded buffer, and more runs to repeat after a crash) while a claim
// can still overlap the writes of the batch before.
size_t unrecorded(const bucket_state& s) {
  return s.in_flight.size() + s.outcomes_buffered + s.outcomes_writing
         + s.outcomes_retrying;
}

uint32_t claim_room(const bucket_state& s) {
  auto batch = size_t{s.cfg.batch_size};
  auto running = s.in_flight.size();
  auto total = unrecorded(s);
  if (running >= batch || total >= 2 * batch)
    return 0;
  return static_cast<uint32_t>(std::min(batch - running, 2 * batch - total));
}

// Claims again once half the batch is free (and the writes keep up).
void claim_if_room(self_ptr self) {
  auto& s = self->state;
  if (s.more_due && !s.claiming && s.in_flight.size() <= s.cfg.batch_size / 2
      && claim_room(s) > 0)
    try_claim(self);
}

// Replies to drains once nothing of this bucket is in flight or unwritten.
void check_drained(self_ptr self) {
  auto& s = self->state;
  if (!s.draining || !s.in_flight.empty() || !s.pending.empty() || s.flushing
      || s.retry_batch || s.claiming)
    return;
  for (auto& rp : s.drain_promises)
    rp.deliver(true);
  s.drain_promises.clear();
}

void buffer_write(self_ptr self, job_write w) {
  auto& s = self->state;
  auto id = w.job.id;
  s.outcomes_buffered += ends_placement(w);
  if (auto i = s.pending.find(id); i != s.pending.end()) {
    // Coalesce with the unsent earlier write of the same job (its start):
    // the store only needs the latest state, fenced by the oldest version.
    s.outcomes_buffered -= ends_placement(i->second);
    w.expected_version = i->second.expected_version;
    i->second = std::move(w);
  } else {
    s.pending.emplace(id, std::move(w));
    s.pending_order.push_back(id);
  }
  // A full buffer goes at once, unless a failed batch waits for its retry
  // (it goes first): while the store is away that would be one failing
  // write per outcome.
  if (s.pending.size() >= s.cfg.flush_batch && !s.retry_batch) {
    flush(self);
  } else if (!s.flush_scheduled) {
    s.flush_scheduled = true;
    self->delayed_send(self, s.cfg.flush_interval, atom::flush_v);
  }
}

void flush(self_ptr self) {
  auto& s = self->state;
  if (s.flushing || (s.pending.empty() && !s.retry_batch))
    return;
  job_writes batch;
  if (s.retry_batch) {
    // A failed batch goes again first, alone: it may have committed before
    // its answer was lost. Newer writes of its jobs wait in `pending`,
    // fenced by the versions the failed writes set; whichever way that
    // batch went, they apply after it.
    batch = std::move(*s.retry_batch);
    s.retry_batch.reset();
    s.outcomes_writing = s.outcomes_retrying;
    s.outcomes_retrying = 0;
  } else {
    batch.writes.reserve(s.pending.size());
    // An id can stand twice in the order (a write dropped and a new one
    // buffered); extract takes each pending write once.
    for (auto& id : s.pending_order)
      if (auto node = s.pending.extract(id); !node.empty())
        batch.writes.push_back(std::move(node.mapped()));
    s.pending.clear();
    s.pending_order.clear();
    s.outcomes_writing = s.outcomes_buffered;
    s.outcomes_buffered = 0;
  }
  s.flushing = true;
  auto size = batch.writes.size();
  // Kept for a retry when the store fails: outcomes must not be lost.
  auto copy = std::make_shared<job_writes>(batch);
  self->request(s.writes, caf::infinite, atom::write_v, std::move(batch))
    .then(
      [self, copy](const write_flags& flags) {
        auto& s = self->state;
        s.flushing = false;
        s.outcomes_writing = 0;
        std::vector<timestamp> retries;
        for (size_t i = 0; i < flags.applied.size(); ++i) {
          auto& x = copy->writes[i].job;
          if (!flags.applied[i]) {
            // Somebody else owns the job now (rescued, cancelled): drop it.
            spdlog::debug("bucket {}: write for job {} lost its fence",
                          s.cfg.record.bucket_id, to_string(x.id));
          } else if (x.status == job_status::held_on_master) {
            retries.push_back(
              std::chrono::ceil<std::chrono::milliseconds>(x.scheduled_at));
          }
        }
        // A retry is held, and due jobs are adopted by claims rather than
        // assigned: look for it when it is due, not at the next poll.
        if (!retries.empty() && !s.draining)
          wake(self, retries);
        flush(self);
        claim_if_room(self);
        check_drained(self);
      },
      [self, copy, size](const caf::error& err) {
        auto& s = self->state;
        s.flushing = false;
        spdlog::warn(
          "bucket {}: writing {} outcomes failed: {}; retrying in {}",
          s.cfg.record.bucket_id, size, describe(err),
          format_duration(store_retry_delay));
        // Sent again as it was, before newer writes of the same jobs (not
        // merged with them: a newer write fenced by this batch's old
        // versions would lose its fence if this batch did commit).
        s.retry_batch = std::move(*copy);
        s.outcomes_retrying = s.outcomes_writing;
        s.outcomes_writing = 0;
        s.flush_scheduled = true;
        self->delayed_send(self, store_retry_delay, atom::flush_v);
      });
}

void submit(self_ptr self, job x) {
  auto& s = self->state;
  if (auto i = s.in_flight.find(x.id); i != s.in_flight.end()) {
    // Claimed again while we still hold it (it was taken back and given to
    // us anew): keep the one run, fenced by the new version. Buffered writes
    // of the old placement are stale; the run's outcome carries the state.
    if (auto stale = s.pending.find(x.id); stale != s.pending.end()) {
      s.outcomes_buffered -= ends_placement(stale->second);
      s.pending.erase(stale);
    }
    i->second = std::move(x);
    return;
  }
  auto withdrawn = std::make_shared<std::atomic<bool>>(false);
  s.unstarted->emplace(x.id, withdrawn);
  execution_request req;
  req.attempt = x.failure_count + 1;
  req.withdrawn = std::move(withdrawn);
  auto handle = caf::actor_cast<bucket_actor>(self);
  // Logged on the pool thread, before the handler's own lines.
  req.on_start = [handle, handler = x.handler,
                  attempt = req.attempt](const job_id& id, timestamp at) {
    if (spdlog::should_log(spdlog::level::info))
      spdlog::info("job {} ({}) processing, attempt {}", to_string(id), handler,
                   attempt);
    caf::anon_send(handle, atom::started_v, run_started{id, at});
  };
  req.on_done = [handle](execution_result r) {
    caf::anon_send(handle, atom::done_v, std::move(r));
  };
  req.job = x;
  s.in_flight.emplace(x.id, std::move(x));
  s.pool->submit(std::move(req));
}

// Withdraws every claimed run that has not started and returns its job to
// the master (drain).
void hand_back_unstarted(self_ptr self) {
  auto& s = self->state;
  for (auto& [id, flag] : *s.unstarted) {
    flag->store(true);
    if (auto i = s.in_flight.find(id); i != s.in_flight.end()) {
      buffer_write(self, hand_back(i->second));
      s.in_flight.erase(i);
    }
  }
  s.unstarted->clear();
}

void try_claim(self_ptr self) {
  auto& s = self->state;
  if (s.draining)
    return;
  if (s.claiming) {
    // The claim in flight may have missed the work behind this call.
    s.claim_again = true;
    return;
  }
  auto free = claim_room(s);
  if (free == 0)
    return;
  s.claiming = true;
  claim_request req{s.cfg.record.bucket_id, now(), free, s.cfg.claim_lease};
  if (s.cfg.adopt_held)
    req.adopt = held_route{s.cfg.record.worker_id, s.cfg.record.priority,
                           s.cfg.record.lane};
  self->request(s.claims, caf::infinite, atom::claim_v, std::move(req))
    .then(
      [self, free](job_list& xs) {
        auto& s = self->state;
        s.claiming = false;
        s.more_due = xs.jobs.size() == free;
        bool again = s.claim_again && !s.draining;
        s.claim_again = false;
        for (auto& x : xs.jobs)
          submit(self, std::move(x));
        if (s.draining) {
          // Claimed while a drain began: give them straight back.
          hand_back_unstarted(self);
          check_drained(self);
        } else if (again) {
          s.more_due = true;
          try_claim(self);
        }
      },
      [self](const caf::error& err) {
        auto& s = self->state;
        s.claiming = false;
        s.claim_again = false;
        spdlog::warn("bucket {}: claim failed: {}; retrying in {}",
                     s.cfg.record.bucket_id, describe(err),
                     format_duration(store_retry_delay));
        if (s.draining) {
          check_drained(self);
          return;
        }
        // Not at the next finished run: while the store is away that would
        // be one failing claim (and one warning) per run.
        s.more_due = false;
        wake(self, {now() + store_retry_delay});
      });
}

// Keeps one timer armed, for the earliest future due time.
void arm_timer(self_ptr self) {
  auto& s = self->state;
  if (s.due_times.empty())
    return;
  auto next = *s.due_times.begin();
  if (s.timer_at && *s.timer_at <= next)
    return;
  s.timer_at = next;
  auto delay
    = std::max(duration{0}, std::chrono::duration_cast<duration>(next - now()));
  self->delayed_send(self, delay, atom::wake_v, wake_up{{next}});
}

// Claims now if some work is due, remembers the rest for later.
void wake(self_ptr self, const std::vector<timestamp>& due) {
  auto& s = self->state;
  auto t = now();
  if (s.timer_at && *s.timer_at <= t)
    s.timer_at.reset();
  bool due_now = false;
  for (auto x : due) {
    if (x <= t)
      due_now = true;
    else
      s.due_times.insert(x);
  }
  while (!s.due_times.empty() && *s.due_times.begin() <= t) {
    s.due_times.erase(s.due_times.begin());
    due_now = true;
  }
  if (due_now) {
    s.more_due = true;
    try_claim(self);
  }
  arm_timer(self);
}

} // namespace

bucket_actor::behavior_type
bucket(bucket_actor::stateful_pointer<bucket_state> self, bucket_config cfg,
       agent_connection_actor claims, agent_connection_actor writes,
       std::shared_ptr<executor_pool> pool) {
  auto& s = self->state;
  s.cfg = std::move(cfg);
  s.claims = std::move(claims);
  s.writes = std::move(writes);
  s.pool = std::move(pool);
  self->attach_functor([unstarted = s.unstarted] {
    for (auto& [id, flag] : *unstarted)
      flag->store(true);
  });
  self->delayed_send(self, s.cfg.poll_interval, atom::tick_v);
  // A restarted bucket first takes back what its crashed predecessor had
  // claimed; then, like a new one, it looks for jobs already waiting.
  // The release counts as a claim: no claim may overtake it.
  auto released = [self] {
    auto& s = self->state;
    s.claiming = false;
    if (s.draining)
      check_drained(self);
    else
      wake(self, {now()});
  };
  if (!s.cfg.restarted) {
    released();
  } else {
    s.claiming = true;
    // On the write connection: behind the writes a crashed predecessor left
    // there, so that a run it finished is recorded before the release could
    // take the job back and run it again.
    self
      ->request(s.writes, caf::infinite, atom::release_v,
                s.cfg.record.bucket_id)
      .then(
        [self, released](uint64_t n) {
          if (n > 0)
            spdlog::warn(
              "bucket {}: took back {} jobs of its previous instance",
              self->state.cfg.record.bucket_id, n);
          released();
        },
        [self, released](const caf::error& err) {
          spdlog::warn("bucket {}: releasing old claims failed: {}",
                       self->state.cfg.record.bucket_id, describe(err));
          released();
        });
  }
  return {
    [self](atom::wake, const wake_up& w) { wake(self, w.due); },
    [self](atom::started, run_started x) {
      auto& s = self->state;
      s.unstarted->erase(x.id);
      auto i = s.in_flight.find(x.id);
      if (i == s.in_flight.end())
        return;
      auto& j = i->second;
      j.process_deadline = x.at + j.timeout + s.cfg.deadline_grace;
      job_write w;
      w.expected_version = j.version;
      j.status = job_status::processing;
      j.version += 1;
      w.job = j;
      buffer_write(self, std::move(w));
    },
    [self](atom::done, execution_result r) {
      auto& s = self->state;
      s.unstarted->erase(r.id);
      auto i = s.in_flight.find(r.id);
      if (i == s.in_flight.end())
        return;
      std::uniform_real_distribution<double> jitter{0.0, 1.0};
      auto w = record_outcome(i->second, r, s.cfg.retry, s.cfg.record.worker_id,
                              jitter(s.gen), s.cfg.delete_succeeded);
      if (r.outcome == attempt_outcome::succeeded) {
        if (spdlog::should_log(spdlog::level::info))
          spdlog::info("job {} ({}) succeeded in {}", to_string(r.id),
                       i->second.handler,
                       format_duration(r.ended_at - r.started_at));
      } else
        spdlog::info("job {} ({}) {}: {}{}", to_string(r.id), i->second.handler,
                     to_string(r.outcome), r.error,
                     w.job.status == job_status::held_on_master
                       ? " - retry at " + format_timestamp(w.job.scheduled_at)
                       : std::string{" - no retries left"});
      s.in_flight.erase(i);
      buffer_write(self, std::move(w));
      // Capacity freed is no news about the store: a claim in flight
      // already asks for it. Marking it for a repeat would chain claims of
      // a few rows each, one per finished job, and crowd out the writes.
      claim_if_room(self);
      check_drained(self);
    },
    [self](atom::flush) {
      self->state.flush_scheduled = false;
      flush(self);
    },
    [self](atom::tick) {
      auto& s = self->state;
      s.more_due = true;
      try_claim(self);
      self->delayed_send(self, s.cfg.poll_interval, atom::tick_v);
    },
    [self](atom::drain) -> caf::result<bool> {
      auto& s = self->state;
      s.draining = true;
      hand_back_unstarted(self);
      flush(self);
      auto rp = self->make_response_promise<bool>();
      s.drain_promises.push_back(rp);
      check_drained(self);
      return rp;
    },
  };
}

} // namespace jm
