#pragma once

#include "config/options.hpp"

#include <caf/expected.hpp>

#include <string>

namespace jm {

/// Fluent configuration, mirroring the .NET original:
///
///     auto cfg = jm::use_standalone_cluster()
///                  .cluster_id("demo")
///                  .use_sqlite("demo.db")
///                  .add_worker()
///                  .parallelism(8)
///                  .build();
///
/// Worker-level setters apply to the worker added last. `build()` validates.
class cluster_builder {
public:
  cluster_builder& cluster_id(std::string id);
  cluster_builder& use_sqlite(std::string path);
  cluster_builder& sqlite_full_sync(bool on);
  /// PostgreSQL through libpq: keyword or URI connection string.
  cluster_builder& use_postgres(std::string conninfo);
  /// MySQL/MariaDB: `mysql://user:pass@host:port/db` or key=value form.
  cluster_builder& use_mysql(std::string url);
  cluster_builder& table_prefix(std::string prefix);
  /// Server stores: connections for claims and outcome writes (1-32).
  cluster_builder& agent_connections(uint32_t n);
  /// A separate agent store for the buckets' save-pending queues (see
  /// docs/architecture.md): an SQLite file, a PostgreSQL or a MySQL/MariaDB
  /// database other than the master store.
  cluster_builder& use_agent_sqlite(std::string path);
  cluster_builder& use_agent_postgres(std::string conninfo);
  cluster_builder& use_agent_mysql(std::string url);
  /// The agent store's table prefix (default "jm_").
  cluster_builder& agent_table_prefix(std::string prefix);
  cluster_builder& time_zone(std::string zone);
  cluster_builder& retention(duration d);
  cluster_builder& delete_succeeded(bool on);
  cluster_builder& static_schedule_ttl(duration d);
  cluster_builder& cluster_mode(jm::cluster_mode mode);
  cluster_builder& transient_threshold(duration d);
  cluster_builder& default_job_timeout(duration d);
  cluster_builder& default_max_retries(int32_t n);
  cluster_builder& default_priority(jm::priority p);
  cluster_builder& max_message_bytes(uint32_t n);
  cluster_builder& assign_interval(duration d);
  cluster_builder& retry_base_delay(duration d);
  cluster_builder& retry_multiplier(double x);
  cluster_builder& retry_max_delay(duration d);
  cluster_builder& retry_jitter(double x);
  cluster_builder& listen(std::string host, uint16_t port);
  cluster_builder& lease(duration d);
  cluster_builder& heartbeat_interval(duration d);
  cluster_builder& shutdown_grace(duration d);
  cluster_builder& scheduler_threads(uint32_t n);
  cluster_builder& log_level(std::string level);
  cluster_builder& debug_jsonl_file_logger(std::string path);

  /// Adds a worker; the setters below configure it.
  cluster_builder& add_worker(std::string name = {});
  cluster_builder& worker_lane(std::string lane);
  cluster_builder& worker_mode(jm::worker_mode mode);
  cluster_builder& batch_size(uint32_t n);
  cluster_builder& parallelism(uint32_t n);
  cluster_builder& bucket_qty(jm::priority p, uint32_t n);

  /// The configuration so far, unvalidated.
  const cluster_config& peek() const { return cfg_; }

  /// The validated configuration, or `ec::invalid_config`.
  caf::expected<cluster_config> build() const;

private:
  worker_config& last_worker();
  store_config& agent_store();

  cluster_config cfg_;
};

/// Starts a standalone cluster's configuration: the master store is also the
/// cluster's only agent unless a separate agent store is set.
cluster_builder use_standalone_cluster();

} // namespace jm
