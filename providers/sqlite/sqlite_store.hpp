#pragma once

#include "providers/store.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace jm::sqlite {

/// The embedded SQLite backend: both the master store and the agent store of
/// a standalone cluster, on one database file.
///
/// Each instance owns one connection and is used by exactly one actor (not
/// thread-safe); any number of instances, in this process or others, may
/// open the same file at once. The file runs in WAL mode with a 5 s busy
/// timeout; every write path is one `BEGIN IMMEDIATE` transaction, so
/// concurrent claims never hand out the same job twice.
///
/// Schema: tables `jm_jobs`, `jm_attempts`, `jm_nodes`, `jm_buckets`,
/// `jm_schedules` and `schema_version`, created by versioned migrations. Times
/// are stored as microseconds since the Unix epoch, ids as 16-byte BLOBs, data
/// and metadata as Cap'n Proto encoded value maps (NULL for an empty map).
class sqlite_store final : public master_store,
                           public agent_store,
                           public agent_queue {
public:
  /// Opens (creating if needed) the database at `path` and migrates its
  /// schema. `full_sync` selects `synchronous=FULL` (durable against power
  /// loss) instead of `NORMAL` (durable against process crashes).
  static caf::expected<std::unique_ptr<sqlite_store>>
  open(const std::string& path, bool full_sync = false);

  ~sqlite_store() override;

  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  /// The path given to `open`.
  const std::string& path() const;

  // -- master_store -----------------------------------------------------------

  caf::error migrate() override;

  caf::error insert_jobs(const std::vector<job>& jobs) override;

  caf::expected<std::optional<job>> get_job(const job_id& id) override;

  caf::expected<std::vector<job>> list_jobs(const job_filter& f) override;

  caf::expected<std::vector<attempt>> list_attempts(const job_id& id) override;

  caf::expected<std::vector<bool>>
  write_jobs(const std::vector<job_write>& writes) override;

  caf::expected<std::vector<job>>
  assign_held_jobs(timestamp after, timestamp horizon, uint32_t limit,
                   const bucket_router& route) override;

  caf::expected<std::map<job_status, uint64_t>> count_by_status() override;

  caf::error upsert_node(const node_record& x) override;

  caf::expected<bool> renew_node(std::string_view node_id,
                                 timestamp lease_expires_at) override;

  caf::error remove_node(std::string_view node_id) override;

  caf::expected<std::vector<node_record>> list_nodes() override;

  caf::error upsert_buckets(const std::vector<bucket_record>& xs) override;

  caf::expected<std::vector<bucket_record>>
  live_buckets(timestamp now) override;

  caf::expected<std::vector<job>> rescue_dead_nodes(timestamp now) override;

  caf::expected<uint64_t> sweep_deadlines(timestamp now) override;

  caf::error insert_schedule(const recurring_schedule& x) override;

  caf::expected<recurring_schedule>
  upsert_static_schedule(const recurring_schedule& x) override;

  caf::expected<std::optional<recurring_schedule>>
  get_schedule(const schedule_id& id) override;

  caf::expected<std::vector<recurring_schedule>>
  list_schedules(const schedule_filter& f) override;

  caf::expected<std::vector<recurring_schedule>>
  schedules_to_plan(timestamp horizon, uint32_t limit) override;

  caf::expected<std::optional<uint64_t>>
  write_schedule(const recurring_schedule& x, int64_t expected_version,
                 const std::vector<job>& jobs) override;

  caf::error
  touch_static_schedules(const std::vector<std::string>& static_names,
                         timestamp now) override;

  caf::expected<std::vector<recurring_schedule>>
  retire_static_schedules(timestamp stale_before, timestamp now) override;

  caf::expected<uint64_t> purge(timestamp before, uint32_t limit) override;

  // -- agent_store ------------------------------------------------------------

  caf::expected<std::vector<job>>
  claim_bucket_jobs(std::string_view bucket_id,
                    const std::optional<held_route>& adopt, timestamp due_by,
                    uint32_t limit, duration grace) override;

  caf::expected<uint64_t> release_bucket_jobs(std::string_view bucket_id,
                                              timestamp now) override;

  caf::expected<std::vector<bool>>
  write_results(const std::vector<job_write>& writes) override;

  // -- agent_queue ------------------------------------------------------------

  caf::error push_pending(const std::vector<job>& jobs) override;

  caf::expected<pending_read> read_pending(std::string_view bucket_id,
                                           uint32_t limit) override;

  caf::expected<std::vector<std::string>> pending_buckets() override;

  caf::expected<uint64_t>
  remove_pending(const std::vector<int64_t>& seqs) override;

  struct impl;

private:
  explicit sqlite_store(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace jm::sqlite
