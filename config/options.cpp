#include "config/options.hpp"

#include "messages/error.hpp"

#include "cron/recurrence.hpp"
#include "cron/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

namespace jm {

namespace {

caf::error bad(std::string key, std::string why) {
  return make_error(ec::invalid_config,
                    "invalid configuration: " + key + ": " + why);
}

// Ids become parts of bucket and worker names, file names and log lines.
bool is_identifier(std::string_view x, size_t max_len) {
  if (x.empty() || x.size() > max_len)
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
           || c == '.';
  });
}

caf::error validate_store(const store_config& x, const std::string& key) {
  if (x.kind == store_kind::sqlite && x.path.empty())
    return bad(key + "use_sqlite", "the database path is empty");
  if (x.kind == store_kind::postgres && x.url.empty())
    return bad(key + "use_postgres", "the connection string is empty");
  if (x.kind == store_kind::mysql && x.url.empty())
    return bad(key + "use_mysql", "the connection string is empty");
  auto& prefix = x.table_prefix;
  if (prefix.empty() || prefix.size() > 20
      || !std::all_of(prefix.begin(), prefix.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
         }))
    return bad(key + "table_prefix",
               "1-20 characters of A-Z a-z 0-9 _ (e.g. \"jm_\")");
  return {};
}

// The same tables of the same database, as far as the settings tell.
bool same_database(const store_config& x, const store_config& y) {
  if (x.kind != y.kind)
    return false;
  if (x.kind == store_kind::sqlite) {
    auto normal = [](const std::string& path) {
      std::error_code ec;
      auto p = std::filesystem::absolute(path, ec);
      return (ec ? std::filesystem::path{path} : p).lexically_normal();
    };
    return normal(x.path) == normal(y.path);
  }
  return x.url == y.url && x.table_prefix == y.table_prefix;
}

} // namespace

caf::error validate(const cluster_config& cfg) {
  if (!is_identifier(cfg.cluster_id, 64))
    return bad("cluster_id", "required; 1-64 characters of A-Z a-z 0-9 . _ -");
  if (!cfg.standalone)
    return bad("standalone",
               "only standalone clusters are supported by this version");
  if (auto err = validate_store(cfg.store, ""))
    return err;
  if (cfg.agent) {
    if (auto err = validate_store(*cfg.agent, "agent."))
      return err;
    if (same_database(cfg.store, *cfg.agent))
      return bad("agent", "the agent store is the master store; leave it out "
                          "(the master store is the agent by default)");
  }
  if (cfg.store.agent_connections < 1 || cfg.store.agent_connections > 32)
    return bad("agent_connections", "must be between 1 and 32");
  using std::chrono::seconds;
  if (cfg.transient_threshold < seconds{1}
      || cfg.transient_threshold > std::chrono::hours{24})
    return bad("transient_threshold", "must be between 1s and 24h");
  if (cfg.default_timeout < std::chrono::milliseconds{10}
      || cfg.default_timeout > std::chrono::hours{24})
    return bad("default_job_timeout", "must be between 10ms and 24h");
  if (cfg.default_max_retries < 0 || cfg.default_max_retries > 100)
    return bad("default_max_retries", "must be between 0 and 100");
  if (cfg.max_message_bytes < 1024 || cfg.max_message_bytes > 64 * 1024 * 1024)
    return bad("max_message_bytes", "must be between 1024 and 67108864");
  if (cfg.assign_interval < std::chrono::milliseconds{10}
      || cfg.assign_interval > std::chrono::minutes{1})
    return bad("assign_interval", "must be between 10ms and 1m");
  auto& r = cfg.retry;
  if (r.base_delay < std::chrono::milliseconds{1})
    return bad("retry.base_delay", "must be at least 1ms");
  if (r.max_delay < r.base_delay)
    return bad("retry.max_delay", "must not be shorter than retry.base_delay");
  if (!(r.multiplier >= 1.0 && r.multiplier <= 10.0))
    return bad("retry.multiplier", "must be between 1 and 10");
  if (!(r.jitter >= 0.0 && r.jitter <= 1.0))
    return bad("retry.jitter", "must be between 0 and 1");
  auto& n = cfg.node;
  if (n.listen_host.empty())
    return bad("node.listen_host", "must not be empty");
  if (n.heartbeat_interval < std::chrono::milliseconds{50})
    return bad("node.heartbeat_interval", "must be at least 50ms");
  if (n.lease < 2 * n.heartbeat_interval)
    return bad("node.lease", "must be at least twice node.heartbeat_interval");
  if (n.scheduler_threads < 1 || n.scheduler_threads > 64)
    return bad("node.scheduler_threads", "must be between 1 and 64");
  static const std::set<std::string, std::less<>> levels
    = {"trace", "debug", "info", "warn", "error", "off"};
  if (!levels.contains(cfg.logging.level))
    return bad("logging.level", "'" + cfg.logging.level
                                  + "' is not one of trace, debug, info, "
                                    "warn, error, off");
  if (cfg.logging.jsonl_max_buffer < 1)
    return bad("logging.jsonl_max_buffer", "must be at least 1");
  if (cfg.mode != cluster_mode::active) {
    for (auto& w : cfg.workers)
      for (auto q : w.buckets_per_priority)
        if (q != 0 && w.mode != worker_mode::coordinator
            && w.mode != worker_mode::drain)
          return bad("cluster_mode", "a passive or archived cluster cannot "
                                     "have workers with buckets");
  }
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < cfg.workers.size(); ++i) {
    auto& w = cfg.workers[i];
    auto key = "workers[" + std::to_string(i) + "]";
    if (!w.name.empty() && !is_identifier(w.name, 64))
      return bad(key + ".name", "1-64 characters of A-Z a-z 0-9 . _ -");
    if (!w.name.empty() && !names.insert(w.name).second)
      return bad(key + ".name", "'" + w.name + "' is used twice");
    if (!w.lane.empty() && !is_identifier(w.lane, 25))
      return bad(key + ".lane", "1-25 characters of A-Z a-z 0-9 . _ -");
    if (w.batch_size < 1 || w.batch_size > 10000)
      return bad(key + ".batch_size", "must be between 1 and 10000");
    if (w.parallelism < 1 || w.parallelism > 1024)
      return bad(key + ".parallelism", "must be between 1 and 1024");
    for (auto q : w.buckets_per_priority)
      if (q > 64)
        return bad(key + ".buckets_per_priority", "at most 64 per priority");
  }
  if (!cron::is_known_time_zone(cfg.time_zone))
    return bad("time_zone", "'" + cfg.time_zone
                              + "' is not a time zone of the tz database "
                                "(e.g. UTC, Europe/Lisbon)");
  if (cfg.retention.count() < 0)
    return bad("retention", "must not be negative (0 keeps everything)");
  if (cfg.retention.count() > 0 && cfg.retention < std::chrono::minutes{1})
    return bad("retention", "must be 0 or at least 1m");
  if (cfg.static_schedule_ttl < std::chrono::seconds{1}
      || cfg.static_schedule_ttl > std::chrono::hours{24})
    return bad("static_schedule_ttl", "must be between 1s and 24h");
  std::set<std::string, std::less<>> statics;
  for (size_t i = 0; i < cfg.static_schedules.size(); ++i) {
    auto& x = cfg.static_schedules[i];
    auto key = "static_schedules[" + std::to_string(i) + "]";
    if (!is_identifier(x.static_name, 100))
      return bad(key + ".name",
                 "required; 1-100 characters of A-Z a-z 0-9 . _ -");
    if (!statics.insert(x.static_name).second)
      return bad(key + ".name", "'" + x.static_name + "' is used twice");
    if (x.handler.empty())
      return bad(key + ".handler", "required");
    auto zone = x.time_zone.empty() ? cfg.time_zone : x.time_zone;
    auto compiled = cron::compile(x.expression_type, x.expression, zone);
    if (!compiled)
      return bad(key + ".expression", "'" + x.expression + "': "
                                        + cron::to_string(compiled.error()));
  }
  return {};
}

void complete(cluster_config& cfg) {
  std::set<std::string, std::less<>> taken;
  for (auto& w : cfg.workers)
    taken.insert(w.name);
  size_t n = 0;
  for (auto& w : cfg.workers) {
    while (w.name.empty()) {
      auto name = "worker-" + std::to_string(++n);
      if (taken.insert(name).second)
        w.name = std::move(name);
    }
  }
}

duration retry_delay(const retry_config& cfg, int32_t failure_count,
                     double random01) {
  auto exponent = std::max(0, failure_count - 1);
  auto base = static_cast<double>(cfg.base_delay.count());
  auto raw = base * std::pow(cfg.multiplier, std::min(exponent, 60));
  auto capped = std::min(raw, static_cast<double>(cfg.max_delay.count()));
  auto jittered = capped * (1.0 - cfg.jitter * std::clamp(random01, 0.0, 1.0));
  return duration{static_cast<int64_t>(jittered)};
}

std::string_view to_string(store_kind x) {
  switch (x) {
  case store_kind::sqlite:
    return "sqlite";
  case store_kind::postgres:
    return "postgres";
  case store_kind::mysql:
    return "mysql";
  }
  return "invalid";
}

uint32_t agent_connection_count(const store_config& x) {
  return x.kind == store_kind::sqlite ? 1 : x.agent_connections;
}

std::string describe_store(const store_config& x) {
  if (x.kind == store_kind::sqlite)
    return "sqlite " + x.path;
  auto text = x.url;
  // URI form: scheme://user:password@host...
  if (auto scheme = text.find("://"); scheme != std::string::npos) {
    auto at = text.find('@', scheme + 3);
    auto colon = text.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      text.replace(colon + 1, at - colon - 1, "***");
  }
  // Keyword form: password=... up to the next space.
  for (auto pos = text.find("password="); pos != std::string::npos;
       pos = text.find("password=", pos + 1)) {
    auto start = pos + 9;
    auto end = text.find(' ', start);
    text.replace(start, (end == std::string::npos ? text.size() : end) - start,
                 "***");
  }
  return std::string{to_string(x.kind)} + " " + text + " (tables "
         + x.table_prefix + "*)";
}

std::string_view to_string(worker_mode x) {
  switch (x) {
  case worker_mode::full:
    return "full";
  case worker_mode::execution:
    return "execution";
  case worker_mode::drain:
    return "drain";
  case worker_mode::coordinator:
    return "coordinator";
  }
  return "invalid";
}

std::string_view to_string(cluster_mode x) {
  switch (x) {
  case cluster_mode::active:
    return "active";
  case cluster_mode::passive:
    return "passive";
  case cluster_mode::archived:
    return "archived";
  }
  return "invalid";
}

} // namespace jm
