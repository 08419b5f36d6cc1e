#include "config/toml_loader.hpp"

#include "messages/error.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace jm {

namespace {

// Walks one TOML table, remembering which keys were consumed so that
// leftovers (typos) can be reported instead of silently ignored.
class table_reader {
public:
  table_reader(const toml::table& tbl, std::string prefix, std::string source)
    : tbl_(tbl), prefix_(std::move(prefix)), source_(std::move(source)) {}

  caf::error error() const { return err_; }

  template <class T>
  void integer(std::string_view key, T& out, int64_t lo, int64_t hi) {
    auto node = take(key);
    if (!node || err_)
      return;
    // Only real integers: toml++ would convert floats (1e22 overflows) and
    // booleans (true = 1) silently.
    auto v = node->is_integer() ? node->value<int64_t>() : std::nullopt;
    if (!v || *v < lo || *v > hi) {
      fail(key, *node,
           "expected an integer between " + std::to_string(lo) + " and "
             + std::to_string(hi));
      return;
    }
    out = static_cast<T>(*v);
  }

  void floating(std::string_view key, double& out) {
    auto node = take(key);
    if (!node || err_)
      return;
    auto v = node->value<double>();
    if (!v) {
      fail(key, *node, "expected a number");
      return;
    }
    out = *v;
  }

  void string(std::string_view key, std::string& out) {
    auto node = take(key);
    if (!node || err_)
      return;
    auto v = node->value<std::string>();
    if (!v || !node->is_string()) {
      fail(key, *node, "expected a string");
      return;
    }
    out = *v;
  }

  /// An array of strings.
  void strings(std::string_view key, std::vector<std::string>& out) {
    auto node = take(key);
    if (!node || err_)
      return;
    auto arr = node->as_array();
    if (arr == nullptr) {
      fail(key, *node, "expected an array of strings");
      return;
    }
    for (auto& x : *arr) {
      if (!x.is_string()) {
        fail(key, x, "expected an array of strings");
        return;
      }
      out.push_back(*x.value<std::string>());
    }
  }

  void boolean(std::string_view key, bool& out) {
    auto node = take(key);
    if (!node || err_)
      return;
    if (!node->is_boolean()) {
      fail(key, *node, "expected true or false");
      return;
    }
    out = *node->value<bool>();
  }

  void dur(std::string_view key, duration& out) {
    std::string text;
    auto node = tbl_.get(key);
    string(key, text);
    if (!node || err_)
      return;
    auto d = parse_duration(text);
    if (!d) {
      fail(key, *node, describe(d.error()));
      return;
    }
    out = *d;
  }

  template <class Enum, class Parse>
  void enumeration(std::string_view key, Enum& out, Parse parse) {
    std::string text;
    auto node = tbl_.get(key);
    string(key, text);
    if (!node || err_)
      return;
    auto v = parse(text);
    if (!v) {
      fail(key, *node, describe(v.error()));
      return;
    }
    out = *v;
  }

  const toml::table* subtable(std::string_view key) {
    auto node = take(key);
    if (!node || err_)
      return nullptr;
    if (!node->is_table()) {
      fail(key, *node, "expected a table");
      return nullptr;
    }
    return node->as_table();
  }

  const toml::array* array(std::string_view key) {
    auto node = take(key);
    if (!node || err_)
      return nullptr;
    if (!node->is_array()) {
      fail(key, *node,
           "expected an array of tables ([[" + std::string{key} + "]])");
      return nullptr;
    }
    return node->as_array();
  }

  /// Reports the first key nobody asked for.
  void reject_unknown() {
    if (err_)
      return;
    for (auto& [key, node] : tbl_) {
      if (!seen_.contains(std::string{key.str()})) {
        fail(key.str(), node, "unknown key (see docs/configuration.md)");
        return;
      }
    }
  }

  void fail(std::string_view key, const toml::node& node, std::string why) {
    if (err_)
      return;
    std::ostringstream where;
    where << source_ << ":" << node.source().begin.line << ":"
          << node.source().begin.column;
    err_ = make_error(ec::invalid_config, where.str() + ": " + prefix_
                                            + std::string{key} + ": " + why);
  }

  std::string source() const { return source_; }

private:
  const toml::node* take(std::string_view key) {
    seen_.insert(std::string{key});
    return tbl_.get(key);
  }

  const toml::table& tbl_;
  std::string prefix_;
  std::string source_;
  std::set<std::string> seen_;
  caf::error err_;
};

caf::expected<cluster_mode> parse_cluster_mode(std::string_view x) {
  if (x == "active")
    return cluster_mode::active;
  if (x == "passive")
    return cluster_mode::passive;
  if (x == "archived")
    return cluster_mode::archived;
  return make_error(ec::invalid_config, "'" + std::string{x}
                                          + "' is not active, passive or "
                                            "archived");
}

caf::expected<worker_mode> parse_worker_mode(std::string_view x) {
  for (auto m : {worker_mode::full, worker_mode::execution, worker_mode::drain,
                 worker_mode::coordinator})
    if (x == to_string(m))
      return m;
  return make_error(ec::invalid_config,
                    "'" + std::string{x}
                      + "' is not full, execution, drain or coordinator");
}

caf::error read_worker(const toml::table& tbl, size_t index,
                       const std::string& source, worker_config& w) {
  table_reader r{tbl, "workers[" + std::to_string(index) + "].", source};
  r.string("name", w.name);
  r.string("worker_lane", w.lane);
  r.enumeration("worker_mode", w.mode, parse_worker_mode);
  r.integer("batch_size", w.batch_size, 1, 10000);
  r.integer("parallelism", w.parallelism, 1, 1024);
  if (auto qty = r.subtable("bucket_qty")) {
    table_reader q{*qty, "workers[" + std::to_string(index) + "].bucket_qty.",
                   source};
    for (int p = 1; p <= num_priorities; ++p)
      q.integer(to_string(static_cast<priority>(p)),
                w.buckets_per_priority[static_cast<size_t>(p) - 1], 0, 64);
    q.reject_unknown();
    if (auto err = q.error())
      return err;
  }
  r.reject_unknown();
  return r.error();
}

caf::error read_static_schedule(const toml::table& tbl, size_t index,
                                const std::string& source, recurring_spec& x) {
  table_reader r{tbl, "static_schedules[" + std::to_string(index) + "].",
                 source};
  r.string("name", x.static_name);
  r.string("handler", x.handler);
  r.string("expression", x.expression);
  r.string("expression_type", x.expression_type);
  r.string("time_zone", x.time_zone);
  for (auto [key, map] :
       {std::pair{"data", &x.data}, std::pair{"metadata", &x.metadata}}) {
    std::vector<std::string> entries;
    r.strings(key, entries);
    for (auto& text : entries) {
      auto kv = parse_key_value(text);
      if (!kv) {
        r.fail(key, *tbl.get(key), describe(kv.error()));
        break;
      }
      map->insert_or_assign(std::move(kv->first), std::move(kv->second));
    }
  }
  // Optional job settings: unset ones take the handler's defaults.
  if (tbl.contains("priority")) {
    priority p = priority::medium;
    r.enumeration("priority", p,
                  [](std::string_view v) { return parse_priority(v); });
    x.priority = p;
  }
  if (tbl.contains("lane")) {
    std::string lane;
    r.string("lane", lane);
    x.lane = lane;
  }
  if (tbl.contains("timeout")) {
    duration d{};
    r.dur("timeout", d);
    x.timeout = d;
  }
  if (tbl.contains("max_retries")) {
    int32_t n = 0;
    r.integer("max_retries", n, 0, 100);
    x.max_retries = n;
  }
  for (auto [key, slot] : {std::pair{"start_after", &x.start_after},
                           std::pair{"end_before", &x.end_before}}) {
    if (!tbl.contains(key))
      continue;
    timestamp t;
    r.enumeration(key, t,
                  [](std::string_view v) { return parse_timestamp(v); });
    *slot = t;
  }
  r.enumeration("catch_up", x.catch_up, parse_catch_up_policy);
  r.integer("catch_up_limit", x.catch_up_limit, 1, 10000);
  r.enumeration("overlap", x.overlap, parse_overlap_policy);
  r.reject_unknown();
  return r.error();
}

/// Reads a store's keys: one of use_sqlite (the default), use_postgres or
/// use_mysql, then table_prefix and sqlite_full_sync. False when `tbl`
/// names none of the three.
bool read_store(table_reader& r, const toml::table& tbl, store_config& out) {
  std::vector<std::string_view> stores;
  for (auto key : {"use_sqlite", "use_postgres", "use_mysql"})
    if (tbl.contains(key))
      stores.push_back(key);
  if (stores.size() > 1)
    r.fail(stores[1], *tbl.get(stores[1]),
           "use_sqlite, use_postgres and use_mysql exclude each other");
  r.string("use_sqlite", out.path);
  r.boolean("sqlite_full_sync", out.full_sync);
  if (tbl.contains("use_postgres")) {
    out.kind = store_kind::postgres;
    r.string("use_postgres", out.url);
  }
  if (tbl.contains("use_mysql")) {
    out.kind = store_kind::mysql;
    r.string("use_mysql", out.url);
  }
  r.string("table_prefix", out.table_prefix);
  return !stores.empty();
}

} // namespace

caf::expected<cluster_config> parse_toml(std::string_view text,
                                         std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ":"
        << e.source().begin.column << ": " << e.description();
    return make_error(ec::invalid_config, msg.str());
  }
  cluster_config cfg;
  std::string src{source};
  table_reader r{root, "", src};
  r.string("cluster_id", cfg.cluster_id);
  r.boolean("standalone", cfg.standalone);
  r.enumeration("cluster_mode", cfg.mode, parse_cluster_mode);
  read_store(r, root, cfg.store);
  r.integer("agent_connections", cfg.store.agent_connections, 1, 32);
  if (auto agent = r.subtable("agent")) {
    table_reader t{*agent, "agent.", src};
    if (!read_store(t, *agent, cfg.agent.emplace()))
      return make_error(ec::invalid_config,
                        src
                          + ": agent: names no store (use_sqlite, "
                            "use_postgres or use_mysql)");
    t.reject_unknown();
    if (auto err = t.error())
      return err;
  }
  r.dur("transient_threshold", cfg.transient_threshold);
  r.dur("default_job_timeout", cfg.default_timeout);
  r.integer("default_max_retries", cfg.default_max_retries, 0, 100);
  r.enumeration("default_priority", cfg.default_priority,
                [](std::string_view x) { return parse_priority(x); });
  r.integer("max_message_bytes", cfg.max_message_bytes, 1024, 64 * 1024 * 1024);
  r.dur("assign_interval", cfg.assign_interval);
  r.string("time_zone", cfg.time_zone);
  r.dur("retention", cfg.retention);
  r.boolean("delete_succeeded", cfg.delete_succeeded);
  r.dur("static_schedule_ttl", cfg.static_schedule_ttl);
  if (auto retry = r.subtable("retry")) {
    table_reader t{*retry, "retry.", src};
    t.dur("base_delay", cfg.retry.base_delay);
    t.floating("multiplier", cfg.retry.multiplier);
    t.dur("max_delay", cfg.retry.max_delay);
    t.floating("jitter", cfg.retry.jitter);
    t.reject_unknown();
    if (auto err = t.error())
      return err;
  }
  if (auto node = r.subtable("node")) {
    table_reader t{*node, "node.", src};
    t.string("listen_host", cfg.node.listen_host);
    t.integer("listen_port", cfg.node.listen_port, 0, 65535);
    t.dur("lease", cfg.node.lease);
    t.dur("heartbeat_interval", cfg.node.heartbeat_interval);
    t.dur("shutdown_grace", cfg.node.shutdown_grace);
    t.integer("scheduler_threads", cfg.node.scheduler_threads, 1, 64);
    t.reject_unknown();
    if (auto err = t.error())
      return err;
  }
  if (auto logging = r.subtable("logging")) {
    table_reader t{*logging, "logging.", src};
    t.string("level", cfg.logging.level);
    t.string("debug_jsonl_file_logger", cfg.logging.jsonl_path);
    t.dur("jsonl_flush_interval", cfg.logging.jsonl_flush_interval);
    t.integer("jsonl_max_buffer", cfg.logging.jsonl_max_buffer, 1, 1'000'000);
    t.reject_unknown();
    if (auto err = t.error())
      return err;
  }
  if (auto workers = r.array("workers")) {
    for (size_t i = 0; i < workers->size(); ++i) {
      auto tbl = workers->get(i)->as_table();
      if (!tbl)
        return make_error(ec::invalid_config,
                          src + ": workers[" + std::to_string(i)
                            + "]: expected a table ([[workers]])");
      worker_config w;
      if (auto err = read_worker(*tbl, i, src, w))
        return err;
      cfg.workers.push_back(std::move(w));
    }
  }
  if (auto statics = r.array("static_schedules")) {
    for (size_t i = 0; i < statics->size(); ++i) {
      auto tbl = statics->get(i)->as_table();
      if (!tbl)
        return make_error(ec::invalid_config,
                          src + ": static_schedules[" + std::to_string(i)
                            + "]: expected a table ([[static_schedules]])");
      recurring_spec x;
      if (auto err = read_static_schedule(*tbl, i, src, x))
        return err;
      cfg.static_schedules.push_back(std::move(x));
    }
  }
  r.reject_unknown();
  if (auto err = r.error())
    return err;
  if (auto err = validate(cfg))
    return make_error(ec::invalid_config, src + ": " + describe(err));
  return cfg;
}

caf::expected<cluster_config>
load_toml_file(const std::filesystem::path& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(ec::invalid_config,
                      "cannot read config file '" + path.string() + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_toml(buf.str(), path.string());
}

} // namespace jm
