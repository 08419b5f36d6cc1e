#pragma once

#include "actors/interfaces.hpp"
#include "config/options.hpp"

#include <caf/typed_response_promise.hpp>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <vector>

namespace jm {

struct bucket_config {
  bucket_record record;
  uint32_t batch_size = 250;
  retry_config retry;
  /// Fallback poll when no wake-up arrives.
  duration poll_interval = std::chrono::seconds{1};
  /// Outcomes are written at most this long after they happen...
  duration flush_interval = std::chrono::milliseconds{2};
  /// ... or as soon as this many are buffered.
  uint32_t flush_batch = 500;
  /// A claimed job waiting in memory for a thread keeps this lease; the
  /// deadline sweep takes it back only after that. Short leases would let
  /// the sweep steal jobs from a live bucket with a long queue; a crashed
  /// bucket's jobs come back through its restart instead.
  duration claim_lease = std::chrono::hours{24};
  /// A running job's deadline: start + timeout + this.
  duration deadline_grace = std::chrono::minutes{1};
  /// Claims adopt the due held jobs of the bucket's route (the master only
  /// places jobs ahead of time). Only where the agent store is the master
  /// store, and only in an active cluster: nothing runs in the others.
  bool adopt_held = true;
  /// A success deletes the job and its history (`delete_succeeded`).
  bool delete_succeeded = false;
  /// Another instance of this bucket ran before (its supervisor restarts
  /// it): it first releases that one's claims. A bucket's first instance
  /// skips that; its id names the node, which is new with each start, so
  /// nothing can be claimed for it yet.
  bool restarted = true;
};

struct bucket_state {
  static inline const char* name = "bucket";
  bucket_config cfg;
  /// Claims go through one connection; outcome writes, and the release at
  /// start, through another (when the node has two or more): a claim and a
  /// write then overlap on the server instead of queueing behind each
  /// other.
  agent_connection_actor claims;
  agent_connection_actor writes;
  std::shared_ptr<executor_pool> pool;

  /// Claimed jobs not yet finished, as last written (version included).
  std::map<job_id, job> in_flight;
  /// Claimed jobs that have not started; withdrawn on drain.
  /// Shared with the exit handler, which withdraws them if the bucket dies:
  /// its successor claims the same jobs again.
  std::shared_ptr<std::map<job_id, std::shared_ptr<std::atomic<bool>>>>
    unstarted
    = std::make_shared<std::map<job_id, std::shared_ptr<std::atomic<bool>>>>();
  /// Buffered writes, at most one per job, in arrival order.
  std::map<job_id, job_write> pending;
  std::vector<job_id> pending_order;

  bool claiming = false;
  /// A wake-up arrived during a claim: claim again when it returns.
  bool claim_again = false;
  /// Future due times of jobs placed in this bucket; a timer is armed for
  /// the earliest.
  std::set<timestamp> due_times;
  /// The last claim filled the batch: more jobs may be due.
  bool more_due = true;
  bool flushing = false;
  /// Buffered writes that end a job's stay here (outcomes, hand-backs), and
  /// those the flush in flight carries: their jobs count toward the claims'
  /// limit until written.
  size_t outcomes_buffered = 0;
  size_t outcomes_writing = 0;
  /// A batch whose write failed, to be sent again before anything newer,
  /// and how many of its writes end a placement.
  std::optional<job_writes> retry_batch;
  size_t outcomes_retrying = 0;
  bool flush_scheduled = false;
  bool draining = false;
  std::optional<timestamp> timer_at;
  std::vector<caf::typed_response_promise<bool>> drain_promises;
  std::mt19937_64 gen{std::random_device{}()};
};

/// The BUCKET: one priority (and lane) of one worker. Claims due jobs in
/// batches when woken (or on its fallback poll), runs them on the worker's
/// executor pool and records their outcomes in fenced, batched writes.
bucket_actor::behavior_type
bucket(bucket_actor::stateful_pointer<bucket_state> self, bucket_config cfg,
       agent_connection_actor claims, agent_connection_actor writes,
       std::shared_ptr<executor_pool> pool);

} // namespace jm
