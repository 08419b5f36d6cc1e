#include "actors/agent_connection.hpp"

#include "messages/error.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace jm {

namespace {

// An agent store that failed is left alone for a while: one that hangs
// until a read timeout would otherwise cost every claim that timeout, and
// pushes can go to the master store at once.
caf::error queue_paused(const agent_connection_state& s) {
  auto t = now();
  if (t >= s.queue_retry_at)
    return {};
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    s.queue_retry_at - t);
  return make_error(ec::unavailable,
                    "the agent store failed recently; next try in "
                      + std::to_string(left.count()) + " ms");
}

// Records how a call of the agent store went and passes its result on.
caf::error queue_result(agent_connection_state& s, caf::error err) {
  if (!err) {
    s.queue_pause = duration{0};
    return err;
  }
  s.queue_pause = std::clamp<duration>(
    s.queue_pause * 2, std::chrono::seconds{1}, std::chrono::seconds{30});
  s.queue_retry_at = now() + s.queue_pause;
  return err;
}

template <class T>
caf::expected<T> queue_result(agent_connection_state& s, caf::expected<T> x) {
  queue_result(s, x ? caf::error{} : x.error());
  return x;
}

// Moves one read of `bucket_id`'s save-pending queue into the master store
// as held jobs: insert-or-ignore by id first, removal after, so that a crash
// in between leaves a copy and the next mover's insert is ignored. Held,
// not placed: whoever moves them (the bucket itself, or a rescue round for
// a bucket that is full, draining or gone), the bucket's claim adopts the
// due ones, checking in the claim that the bucket is still registered and
// its node alive, and the look-ahead assigner places the later ones; a job
// can never end up placed in a bucket nobody runs. Returns the jobs moved;
// an error when the read, the insert or the removal failed (the entries
// stay for the next try).
caf::expected<std::vector<job>> move_pending_once(agent_connection_state& s,
                                                  const std::string& bucket_id,
                                                  uint32_t limit) {
  if (auto err = queue_paused(s))
    return err;
  auto r = queue_result(s, s.stores.queue->read_pending(bucket_id, limit));
  if (!r)
    return r.error();
  for (auto seq : r->corrupt)
    spdlog::error("agent connection: save-pending entry {} of bucket {} does "
                  "not decode; moved to the queue '{}'",
                  seq, bucket_id, corrupt_queue);
  std::vector<job> jobs;
  std::vector<int64_t> seqs;
  jobs.reserve(r->jobs.size());
  for (auto& x : r->jobs) {
    seqs.push_back(x.seq);
    auto j = std::move(x.job);
    j.status = job_status::held_on_master;
    clear_placement(j);
    jobs.push_back(std::move(j));
  }
  if (jobs.empty())
    return jobs;
  if (auto err = s.stores.master->insert_jobs(jobs))
    return err;
  auto n = queue_result(s, s.stores.queue->remove_pending(seqs));
  if (!n)
    return n.error();
  return jobs;
}

// `move_pending_once`, logging a failure.
caf::expected<std::vector<job>> move_pending(agent_connection_state& s,
                                             const std::string& bucket_id,
                                             uint32_t limit) {
  auto moved = move_pending_once(s, bucket_id, limit);
  if (!moved)
    spdlog::warn("agent connection: moving the save-pending jobs of bucket {} "
                 "failed: {}",
                 bucket_id, describe(moved.error()));
  return moved;
}

} // namespace

agent_connection_actor::behavior_type agent_connection(
  agent_connection_actor::stateful_pointer<agent_connection_state> self,
  agent_connection_stores stores) {
  self->state.stores = std::move(stores);
  auto& s = self->state;
  return {
    [&s](atom::claim, const claim_request& req) -> caf::result<job_list> {
      if (s.stores.queue && !queue_paused(s)) {
        // An agent store that does not answer must not stop the jobs the
        // master store holds: log, claim anyway, move them next time (or a
        // rescue round does).
        (void)move_pending(s, req.bucket_id, s.pending_batch);
      }
      auto xs = s.stores.db->claim_bucket_jobs(
        req.bucket_id, req.adopt, req.due_by, req.limit, req.grace);
      if (!xs)
        return xs.error();
      return job_list{std::move(*xs)};
    },
    [&s](atom::release, const std::string& bucket_id) -> caf::result<uint64_t> {
      auto n = s.stores.db->release_bucket_jobs(bucket_id, now());
      if (!n)
        return n.error();
      return *n;
    },
    [&s](atom::write, const job_writes& xs) -> caf::result<write_flags> {
      auto applied = s.stores.db->write_results(xs.writes);
      if (!applied)
        return applied.error();
      return write_flags{std::move(*applied)};
    },
    [&s](atom::push, const job_list& xs) -> caf::result<bool> {
      if (!s.stores.queue)
        return make_error(ec::refused, "this node has no separate agent store");
      if (auto err = queue_paused(s))
        return err;
      if (auto err = queue_result(s, s.stores.queue->push_pending(xs.jobs)))
        return err;
      return true;
    },
    [&s](atom::rescue) -> caf::result<job_list> {
      job_list result;
      if (!s.stores.queue)
        return result;
      // Every queue, whatever its bucket's state: one that is gone, full,
      // draining or never registered does not move its own. Racing a bucket
      // that moves its queue meanwhile is harmless (insert-or-ignore).
      if (auto err = queue_paused(s))
        return err;
      auto queues = queue_result(s, s.stores.queue->pending_buckets());
      if (!queues)
        return queues.error();
      caf::error first_error;
      for (auto& bucket_id : *queues) {
        // A bounded share per queue and round: the next round goes on.
        for (uint32_t round = 0; round < s.rescue_rounds; ++round) {
          auto moved = move_pending(s, bucket_id, s.pending_batch);
          if (!moved) {
            if (!first_error)
              first_error = moved.error();
            break;
          }
          auto n = moved->size();
          result.jobs.insert(result.jobs.end(),
                             std::make_move_iterator(moved->begin()),
                             std::make_move_iterator(moved->end()));
          if (n < s.pending_batch)
            break;
        }
      }
      if (result.jobs.empty() && first_error)
        return first_error;
      return result;
    },
  };
}

} // namespace jm
