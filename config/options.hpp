#pragma once

#include "messages/job.hpp"
#include "messages/schedule.hpp"
#include "messages/time.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace jm {

// Validated, plain configuration. Actors receive these structs; they never
// parse settings. Every field and its default is documented in
// docs/configuration.md; keep the two in step.

enum class cluster_mode : uint8_t { active = 1, passive = 2, archived = 3 };

// In a standalone cluster the node's MASTER does all coordination
// (assignment, rescue, sweep), whatever the workers' modes; the modes only
// decide whether a worker has buckets. Their distributed meanings (a
// coordinator that assigns for others, a drainer of an old agent) arrive
// with multi-node clusters.
enum class worker_mode : uint8_t {
  /// Has buckets and runs jobs.
  full = 1,
  /// Has buckets and runs jobs (the same as full in a standalone cluster).
  execution = 2,
  /// No buckets, no threads.
  drain = 3,
  /// No buckets, no threads.
  coordinator = 4,
};

enum class store_kind : uint8_t { sqlite = 1, postgres = 2, mysql = 3 };

std::string_view to_string(store_kind x);

struct store_config {
  store_kind kind = store_kind::sqlite;
  /// SQLite: the database file (created on first start).
  std::string path = "jobmaster.db";
  /// PostgreSQL: a libpq connection string, keyword form
  /// (`host=db port=5432 dbname=jobs user=jm`) or URI form
  /// (`postgresql://jm:secret@db:5432/jobs`). MySQL/MariaDB:
  /// `mysql://user:pass@host:port/db` or `host=... user=... database=...`.
  std::string url;
  /// Server stores: every table's name starts with this (letters, digits,
  /// underscore; at most 20 characters), so that several clusters can share
  /// one database.
  std::string table_prefix = "jm_";
  /// SQLite: fsync every commit (synchronous=FULL). Off (NORMAL, the WAL
  /// default) survives a crash of the process but may lose the last
  /// commits on power loss; on protects against that too, at a cost.
  bool full_sync = false;
  /// Server stores: connections for the buckets' claims and outcome writes
  /// (each its own AGENT CONNECTION actor). With two or more, a bucket
  /// claims on one and writes on another, so both overlap on the server.
  /// Two by default: on the 2-core reference machine two drain 15-40 %
  /// faster than one, three no faster than two (docs/performance.md).
  /// SQLite always uses one: it has a single writer.
  uint32_t agent_connections = 2;
};

struct retry_config {
  /// Delay before the first retry.
  duration base_delay = std::chrono::seconds{2};
  /// Each further retry waits this many times longer.
  double multiplier = 2.0;
  /// No retry waits longer than this.
  duration max_delay = std::chrono::minutes{10};
  /// Random share in [0, 1] subtracted from a delay so that jobs that failed
  /// together do not retry together.
  double jitter = 0.2;
};

struct worker_config {
  /// Unique within the node; empty: `worker-<n>` (see `complete`).
  std::string name;
  /// Empty: this worker runs jobs without a lane only.
  std::string lane;
  worker_mode mode = worker_mode::full;
  /// Jobs a bucket claims at once; also its in-memory buffer size.
  uint32_t batch_size = 250;
  /// Handler threads of the worker's executor pool.
  uint32_t parallelism = 4;
  /// Buckets per priority, indexed by priority - 1.
  std::array<uint32_t, num_priorities> buckets_per_priority{1, 1, 1, 1, 1};
};

struct logging_config {
  /// trace, debug, info, warn, error, off.
  std::string level = "info";
  /// When set, every log record is also appended as one JSON line here.
  std::string jsonl_path;
  /// The JSONL file is flushed at least this often.
  duration jsonl_flush_interval = std::chrono::seconds{5};
  /// ... or when this many records are buffered.
  uint32_t jsonl_max_buffer = 500;
};

struct node_config {
  /// Address the node's CAF middleman listens on (the CLI connects here).
  std::string listen_host = "127.0.0.1";
  /// 0 picks a free port.
  uint16_t listen_port = 4710;
  /// How long the node's lease in the store lasts...
  duration lease = std::chrono::seconds{5};
  /// ... and how often it is renewed.
  duration heartbeat_interval = std::chrono::seconds{1};
  /// On shutdown, running handlers get this long to finish.
  duration shutdown_grace = std::chrono::seconds{10};
  /// CAF scheduler threads (the actors; handlers run on their own threads).
  uint32_t scheduler_threads = 2;
};

struct cluster_config {
  std::string cluster_id;
  bool standalone = true;
  cluster_mode mode = cluster_mode::active;
  store_config store;
  /// A separate agent store: the buckets' save-pending queues, where jobs
  /// due soon wait until their bucket moves them into the master store.
  /// Unset: the master store is the only agent (`agent_connections` then
  /// is only about connections to it).
  std::optional<store_config> agent;
  /// Jobs due within this window are handed to buckets ahead of time.
  duration transient_threshold = std::chrono::seconds{30};
  duration default_timeout = std::chrono::minutes{5};
  int32_t default_max_retries = 3;
  jm::priority default_priority = priority::medium;
  /// Limit on a job's encoded data plus metadata.
  uint32_t max_message_bytes = 128 * 1024;
  /// How often the master looks for held jobs that became due (fallback to
  /// the wake-ups that schedule and retry paths send).
  duration assign_interval = std::chrono::milliseconds{500};
  retry_config retry;
  node_config node;
  logging_config logging;
  std::vector<worker_config> workers;
  /// IANA zone in which recurring expressions without a `tz` clause are
  /// evaluated; independent of the host's zone.
  std::string time_zone = "UTC";
  /// Finished jobs (and cancelled or completed schedules) older than this
  /// are deleted; 0 keeps everything.
  duration retention = std::chrono::hours{24 * 7};
  /// Succeeded jobs are deleted, with their attempts, by the write that
  /// records the success (no history of successful runs, as with
  /// graphile-worker or Sidekiq); failed and cancelled jobs keep
  /// `retention`.
  bool delete_succeeded = false;
  /// A static schedule that no running node has declared for this long
  /// becomes inactive (it was removed from the code).
  duration static_schedule_ttl = std::chrono::minutes{1};
  /// Recurring schedules declared in code: created or updated by name when
  /// the node starts (`spec.static_name` is required).
  std::vector<recurring_spec> static_schedules;
};

/// Checks every rule; the first violation is returned as
/// `ec::invalid_config` with the offending key in the text.
caf::error validate(const cluster_config& cfg);

/// Fills in defaults that depend on other settings: unnamed workers become
/// `worker-1`, `worker-2`, ... (unique within the node).
void complete(cluster_config& cfg);

/// The delay before retry number `failure_count` (1 for the first retry),
/// with `random01` in [0, 1) drawn by the caller (tests pass fixed values).
duration retry_delay(const retry_config& cfg, int32_t failure_count,
                     double random01);

/// The store for logs: the SQLite path, or the connection string with its
/// password replaced by `***`.
std::string describe_store(const store_config& x);

/// How many agent connections a node opens on this store.
uint32_t agent_connection_count(const store_config& x);

std::string_view to_string(worker_mode x);
std::string_view to_string(cluster_mode x);

} // namespace jm
