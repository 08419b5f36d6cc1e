#pragma once

#include "providers/store.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace jm::mysql {

/// Where and how to connect, parsed from a connection string.
struct connection_options {
  /// "localhost" makes the client library use the Unix socket.
  std::string host = "localhost";
  uint16_t port = 3306;
  std::string user;
  std::string password;
  std::string database;
  /// Unix socket path; empty: the client library's default.
  std::string socket;
  /// Seconds before connecting gives up.
  unsigned connect_timeout = 10;
  /// Seconds a read from (write to) the server may wait before the
  /// statement fails and the connection is dropped; 0: no limit. For a
  /// server that may stop answering without closing the connection. Must
  /// exceed the longest statement (claims wait up to 60 s for a
  /// schedule's lock).
  unsigned read_timeout = 0;
  unsigned write_timeout = 0;
};

/// Parses a connection string without connecting, in URL form
/// (`mysql://user:pass@host:port/db?socket=/path&connect_timeout=5`, also
/// `mariadb://`; user, password and database percent-decoded; port 3306 by
/// default) or key=value form (`host=db port=3306 user=jm password=secret
/// database=jobs`, space-separated; values may be single-quoted, with `\'`
/// and `\\` inside quotes). Keys and parameters: host, port, user,
/// password, database (or dbname), socket, connect_timeout, read_timeout,
/// write_timeout. Errors:
/// `invalid_config` naming the problem (unknown key, missing database, bad
/// port, ...).
caf::expected<connection_options>
parse_connection_string(const std::string& text);

/// The MySQL/MariaDB backend (the mysqlclient C API of libmariadb): master
/// store and agent store on one database, shared by any number of nodes.
/// Needs MariaDB >= 10.6 or MySQL >= 8.0 (`FOR UPDATE SKIP LOCKED`).
///
/// Each instance owns one connection and is used by exactly one actor (not
/// thread-safe). The session runs in READ COMMITTED. A call that fails
/// because the connection broke returns `store_failure` (its transaction
/// rolled back by the server); the next call reconnects, at most once per
/// 100 ms .. 1 s (growing while the server stays away), and sets the session
/// up again. The client library's own reconnect is off: it would silently
/// drop the session settings and locks.
///
/// Schema: InnoDB tables `<prefix>jobs`, `<prefix>attempts`,
/// `<prefix>nodes`, `<prefix>buckets`, `<prefix>schedules` and
/// `<prefix>schema_version` (utf8mb4, binary collation), created by
/// versioned migrations under `GET_LOCK`. Ids are BINARY(16), times BIGINT
/// microseconds since the Unix epoch, data and metadata LONGBLOB holding
/// Cap'n Proto encoded value maps (NULL for an empty map). Claims use
/// `FOR UPDATE SKIP LOCKED`.
class mysql_store final : public master_store,
                          public agent_store,
                          public agent_queue {
public:
  /// Connects and migrates. `url` is a connection string as
  /// `parse_connection_string` takes it. `table_prefix` (letters, digits and
  /// underscores, at most 20, not starting with a digit; folded to lower
  /// case) lets several clusters share one database.
  /// Errors: `invalid_config` for a malformed connection string or prefix,
  /// `store_failure` when the server cannot be reached or migrated.
  static caf::expected<std::unique_ptr<mysql_store>>
  open(const std::string& url, std::string table_prefix = "jm_");

  ~mysql_store() override;

  mysql_store(const mysql_store&) = delete;
  mysql_store& operator=(const mysql_store&) = delete;

  /// The table prefix in use (lower case).
  const std::string& table_prefix() const;

  /// The server's id of the current connection (for `KILL`); 0 while
  /// disconnected. For diagnostics and tests.
  uint64_t connection_id() const;

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
  explicit mysql_store(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace jm::mysql
