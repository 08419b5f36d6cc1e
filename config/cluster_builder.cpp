#include "config/cluster_builder.hpp"

namespace jm {

cluster_builder use_standalone_cluster() {
  cluster_builder result;
  return result;
}

#define JM_SETTER(name, type, expr)                                            \
  cluster_builder& cluster_builder::name(type x) {                             \
    expr = std::move(x);                                                       \
    return *this;                                                              \
  }

JM_SETTER(cluster_id, std::string, cfg_.cluster_id)
JM_SETTER(cluster_mode, jm::cluster_mode, cfg_.mode)
JM_SETTER(agent_connections, uint32_t, cfg_.store.agent_connections)
JM_SETTER(transient_threshold, duration, cfg_.transient_threshold)
JM_SETTER(default_job_timeout, duration, cfg_.default_timeout)
JM_SETTER(default_max_retries, int32_t, cfg_.default_max_retries)
JM_SETTER(default_priority, jm::priority, cfg_.default_priority)
JM_SETTER(max_message_bytes, uint32_t, cfg_.max_message_bytes)
JM_SETTER(assign_interval, duration, cfg_.assign_interval)
JM_SETTER(retry_base_delay, duration, cfg_.retry.base_delay)
JM_SETTER(retry_multiplier, double, cfg_.retry.multiplier)
JM_SETTER(retry_max_delay, duration, cfg_.retry.max_delay)
JM_SETTER(retry_jitter, double, cfg_.retry.jitter)
JM_SETTER(lease, duration, cfg_.node.lease)
JM_SETTER(heartbeat_interval, duration, cfg_.node.heartbeat_interval)
JM_SETTER(shutdown_grace, duration, cfg_.node.shutdown_grace)
JM_SETTER(scheduler_threads, uint32_t, cfg_.node.scheduler_threads)
JM_SETTER(log_level, std::string, cfg_.logging.level)
JM_SETTER(debug_jsonl_file_logger, std::string, cfg_.logging.jsonl_path)
JM_SETTER(worker_lane, std::string, last_worker().lane)
JM_SETTER(worker_mode, jm::worker_mode, last_worker().mode)
JM_SETTER(batch_size, uint32_t, last_worker().batch_size)
JM_SETTER(parallelism, uint32_t, last_worker().parallelism)

#undef JM_SETTER

cluster_builder& cluster_builder::use_sqlite(std::string path) {
  cfg_.store.kind = store_kind::sqlite;
  cfg_.store.path = std::move(path);
  return *this;
}

cluster_builder& cluster_builder::use_postgres(std::string conninfo) {
  cfg_.store.kind = store_kind::postgres;
  cfg_.store.url = std::move(conninfo);
  return *this;
}

cluster_builder& cluster_builder::use_mysql(std::string url) {
  cfg_.store.kind = store_kind::mysql;
  cfg_.store.url = std::move(url);
  return *this;
}

cluster_builder& cluster_builder::table_prefix(std::string prefix) {
  cfg_.store.table_prefix = std::move(prefix);
  return *this;
}

store_config& cluster_builder::agent_store() {
  if (!cfg_.agent)
    cfg_.agent.emplace();
  return *cfg_.agent;
}

cluster_builder& cluster_builder::use_agent_sqlite(std::string path) {
  agent_store().kind = store_kind::sqlite;
  agent_store().path = std::move(path);
  return *this;
}

cluster_builder& cluster_builder::use_agent_postgres(std::string conninfo) {
  agent_store().kind = store_kind::postgres;
  agent_store().url = std::move(conninfo);
  return *this;
}

cluster_builder& cluster_builder::use_agent_mysql(std::string url) {
  agent_store().kind = store_kind::mysql;
  agent_store().url = std::move(url);
  return *this;
}

cluster_builder& cluster_builder::agent_table_prefix(std::string prefix) {
  agent_store().table_prefix = std::move(prefix);
  return *this;
}

cluster_builder& cluster_builder::time_zone(std::string zone) {
  cfg_.time_zone = std::move(zone);
  return *this;
}

cluster_builder& cluster_builder::retention(duration d) {
  cfg_.retention = d;
  return *this;
}

cluster_builder& cluster_builder::delete_succeeded(bool on) {
  cfg_.delete_succeeded = on;
  return *this;
}

cluster_builder& cluster_builder::static_schedule_ttl(duration d) {
  cfg_.static_schedule_ttl = d;
  return *this;
}

cluster_builder& cluster_builder::sqlite_full_sync(bool on) {
  cfg_.store.full_sync = on;
  return *this;
}

cluster_builder& cluster_builder::listen(std::string host, uint16_t port) {
  cfg_.node.listen_host = std::move(host);
  cfg_.node.listen_port = port;
  return *this;
}

cluster_builder& cluster_builder::add_worker(std::string name) {
  worker_config w;
  w.name = std::move(name);
  cfg_.workers.push_back(std::move(w));
  return *this;
}

cluster_builder& cluster_builder::bucket_qty(jm::priority p, uint32_t n) {
  last_worker().buckets_per_priority[static_cast<size_t>(p) - 1] = n;
  return *this;
}

worker_config& cluster_builder::last_worker() {
  // A worker setter before any add_worker() configures an implicit first one.
  if (cfg_.workers.empty())
    cfg_.workers.emplace_back();
  return cfg_.workers.back();
}

caf::expected<cluster_config> cluster_builder::build() const {
  if (auto err = validate(cfg_))
    return err;
  return cfg_;
}

} // namespace jm
