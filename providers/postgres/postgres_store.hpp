#pragma once

#include "providers/store.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace jm::postgres {

/// The PostgreSQL backend (libpq): master store and agent store on one
/// database, shared by any number of nodes.
///
/// Each instance owns one connection and is used by exactly one actor (not
/// thread-safe). A call that fails because the connection broke returns
/// `store_failure` (its transaction rolled back on the server); the next call
/// reconnects, at most once per 100 ms .. 1 s (growing while the server stays
/// away), and prepares its statements again.
///
/// Schema: tables `<prefix>jobs`, `<prefix>attempts`, `<prefix>nodes`,
/// `<prefix>buckets`, `<prefix>schedules` and `<prefix>schema_version` in the
/// connection's search path, created by versioned migrations under an
/// advisory lock. Ids are `uuid`, times `bigint` microseconds since the Unix
/// epoch, data and metadata `bytea` holding Cap'n Proto encoded value maps
/// (NULL for an empty map). Claims use `FOR UPDATE SKIP LOCKED`.
class postgres_store final : public master_store,
                             public agent_store,
                             public agent_queue {
public:
  /// Connects and migrates. `conninfo` is a libpq connection string, in
  /// keyword form (`host=db port=5432 dbname=jobs user=jm`) or URI form
  /// (`postgresql://jm:secret@db:5432/jobs`). `table_prefix` (letters, digits
  /// and underscores, at most 20, not starting with a digit; folded to lower
  /// case) lets several clusters share one database.
  /// Errors: `invalid_config` for a malformed connection string or prefix,
  /// `store_failure` when the server cannot be reached or migrated.
  static caf::expected<std::unique_ptr<postgres_store>>
  open(const std::string& conninfo, std::string table_prefix = "jm_");

  ~postgres_store() override;

  postgres_store(const postgres_store&) = delete;
  postgres_store& operator=(const postgres_store&) = delete;

  /// The table prefix in use (lower case).
  const std::string& table_prefix() const;

  /// The server process serving the current connection; 0 while
  /// disconnected. For diagnostics and tests.
  int backend_pid() const;

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
  explicit postgres_store(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace jm::postgres
