#define CAF_SUITE config.options
#include "tests/support/test.hpp"

#include "config/cluster_builder.hpp"
#include "config/options.hpp"

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>

using namespace jm;
using namespace std::chrono_literals;

namespace {

/// A configuration that passes validation, to break one rule at a time.
cluster_config valid_config() {
  cluster_config cfg;
  cfg.cluster_id = "test";
  cfg.workers.emplace_back();
  return cfg;
}

/// Applies `change` to a valid configuration and returns validate()'s text,
/// or "valid".
std::string violation(const std::function<void(cluster_config&)>& change) {
  auto cfg = valid_config();
  change(cfg);
  auto err = validate(cfg);
  if (!err)
    return "valid";
  CHECK_EQUAL(code_of(err), ec::invalid_config);
  return describe(err);
}

/// True when `change` makes validate() fail naming `key`.
bool rejects(const std::function<void(cluster_config&)>& change,
             const std::string& key) {
  auto text = violation(change);
  if (text.find("invalid configuration: " + key + ": ") == std::string::npos) {
    MESSAGE("expected a complaint about " << key << ", got: " << text);
    return false;
  }
  return true;
}

bool accepts(const std::function<void(cluster_config&)>& change) {
  auto text = violation(change);
  if (text != "valid") {
    MESSAGE("unexpected: " << text);
    return false;
  }
  return true;
}

int64_t ms(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

} // namespace

// -- the fluent builder -------------------------------------------------------

TEST(the builder sets every cluster field) {
  auto cfg = test::unbox(use_standalone_cluster()
                           .cluster_id("demo")
                           .use_sqlite("/var/lib/demo.db")
                           .sqlite_full_sync(true)
                           .agent_connections(3)
                           .cluster_mode(cluster_mode::active)
                           .transient_threshold(45s)
                           .default_job_timeout(2min)
                           .default_max_retries(5)
                           .default_priority(priority::high)
                           .max_message_bytes(4096)
                           .assign_interval(250ms)
                           .delete_succeeded(true)
                           .retry_base_delay(3s)
                           .retry_multiplier(1.5)
                           .retry_max_delay(1h)
                           .retry_jitter(0.1)
                           .listen("0.0.0.0", 4800)
                           .lease(10s)
                           .heartbeat_interval(2s)
                           .shutdown_grace(20s)
                           .scheduler_threads(3)
                           .log_level("debug")
                           .debug_jsonl_file_logger("/tmp/x.jsonl")
                           .build());
  CHECK_EQUAL(cfg.cluster_id, "demo");
  CHECK(cfg.standalone);
  CHECK(cfg.store.kind == store_kind::sqlite);
  CHECK_EQUAL(cfg.store.path, "/var/lib/demo.db");
  CHECK(cfg.store.full_sync);
  CHECK_EQUAL(cfg.store.agent_connections, 3u);
  // SQLite has one writer: one agent connection whatever the setting.
  CHECK_EQUAL(agent_connection_count(cfg.store), 1u);
  cfg.store.kind = store_kind::postgres;
  CHECK_EQUAL(agent_connection_count(cfg.store), 3u);
  CHECK(cfg.mode == cluster_mode::active);
  CHECK_EQUAL(ms(cfg.transient_threshold), 45'000);
  CHECK_EQUAL(ms(cfg.default_timeout), 120'000);
  CHECK_EQUAL(cfg.default_max_retries, 5);
  CHECK(cfg.default_priority == priority::high);
  CHECK_EQUAL(cfg.max_message_bytes, 4096u);
  CHECK_EQUAL(ms(cfg.assign_interval), 250);
  CHECK(cfg.delete_succeeded);
  CHECK(!cluster_config{}.delete_succeeded);
  CHECK_EQUAL(ms(cfg.retry.base_delay), 3000);
  CHECK_EQUAL(cfg.retry.multiplier, 1.5);
  CHECK_EQUAL(ms(cfg.retry.max_delay), 3'600'000);
  CHECK_EQUAL(cfg.retry.jitter, 0.1);
  CHECK_EQUAL(cfg.node.listen_host, "0.0.0.0");
  CHECK_EQUAL(cfg.node.listen_port, 4800u);
  CHECK_EQUAL(ms(cfg.node.lease), 10'000);
  CHECK_EQUAL(ms(cfg.node.heartbeat_interval), 2000);
  CHECK_EQUAL(ms(cfg.node.shutdown_grace), 20'000);
  CHECK_EQUAL(cfg.node.scheduler_threads, 3u);
  CHECK_EQUAL(cfg.logging.level, "debug");
  CHECK_EQUAL(cfg.logging.jsonl_path, "/tmp/x.jsonl");
  CHECK(cfg.workers.empty());
  CHECK(!cfg.agent);
}

TEST(the builder sets a separate agent store) {
  auto cfg = test::unbox(use_standalone_cluster()
                           .cluster_id("demo")
                           .use_postgres("host=master dbname=jobs")
                           .use_agent_mysql("mysql://jm:pw@agent/queues")
                           .agent_table_prefix("q_")
                           .build());
  REQUIRE(cfg.agent);
  CHECK(cfg.agent->kind == store_kind::mysql);
  CHECK_EQUAL(cfg.agent->url, "mysql://jm:pw@agent/queues");
  CHECK_EQUAL(cfg.agent->table_prefix, "q_");
  cfg = test::unbox(use_standalone_cluster()
                      .cluster_id("demo")
                      .use_agent_postgres("host=agent")
                      .build());
  CHECK(cfg.agent->kind == store_kind::postgres);
  cfg = test::unbox(use_standalone_cluster()
                      .cluster_id("demo")
                      .use_agent_sqlite("queues.db")
                      .build());
  CHECK(cfg.agent->kind == store_kind::sqlite);
  CHECK_EQUAL(cfg.agent->path, "queues.db");
}

TEST(worker setters apply to the last worker) {
  auto cfg = test::unbox(use_standalone_cluster()
                           .cluster_id("demo")
                           .add_worker("first")
                           .worker_lane("gpu")
                           .worker_mode(worker_mode::execution)
                           .batch_size(10)
                           .parallelism(8)
                           .bucket_qty(priority::critical, 3)
                           .bucket_qty(priority::very_low, 0)
                           .add_worker()
                           .parallelism(2)
                           .add_worker("third")
                           .worker_mode(worker_mode::drain)
                           .build());
  REQUIRE_EQUAL(cfg.workers.size(), 3u);
  auto& a = cfg.workers[0];
  CHECK_EQUAL(a.name, "first");
  CHECK_EQUAL(a.lane, "gpu");
  CHECK(a.mode == worker_mode::execution);
  CHECK_EQUAL(a.batch_size, 10u);
  CHECK_EQUAL(a.parallelism, 8u);
  CHECK((a.buckets_per_priority == std::array<uint32_t, 5>{0, 1, 1, 1, 3}));
  auto& b = cfg.workers[1];
  CHECK_EQUAL(b.name, "");
  CHECK_EQUAL(b.lane, "");
  CHECK(b.mode == worker_mode::full);
  CHECK_EQUAL(b.batch_size, 250u);
  CHECK_EQUAL(b.parallelism, 2u);
  CHECK((b.buckets_per_priority == std::array<uint32_t, 5>{1, 1, 1, 1, 1}));
  auto& c = cfg.workers[2];
  CHECK_EQUAL(c.name, "third");
  CHECK(c.mode == worker_mode::drain);
  CHECK_EQUAL(c.parallelism, 4u);
}

TEST(a worker setter before add_worker configures an implicit worker) {
  auto b = use_standalone_cluster();
  b.cluster_id("demo").parallelism(16);
  REQUIRE_EQUAL(b.peek().workers.size(), 1u);
  CHECK_EQUAL(b.peek().workers[0].parallelism, 16u);
  b.batch_size(5);
  REQUIRE_EQUAL(b.peek().workers.size(), 1u);
  CHECK_EQUAL(b.peek().workers[0].batch_size, 5u);
}

TEST(build validates and peek does not ) {
  auto b = use_standalone_cluster();
  b.add_worker().parallelism(0);
  CHECK_EQUAL(b.peek().workers[0].parallelism, 0u);
  auto x = b.build();
  REQUIRE(!x);
  CHECK_EQUAL(code_of(x.error()), ec::invalid_config);
  CHECK(describe(x.error()).find("cluster_id") != std::string::npos);
  b.cluster_id("ok");
  auto y = b.build();
  REQUIRE(!y);
  CHECK(describe(y.error()).find("workers[0].parallelism")
        != std::string::npos);
}

TEST(defaults are valid once a cluster id is set) {
  cluster_config cfg;
  CHECK(validate(cfg));
  CHECK_EQUAL(cfg.store.agent_connections, 2u);
  cfg.cluster_id = "x";
  test::require_ok(validate(cfg));
  cfg.workers.emplace_back();
  test::require_ok(validate(cfg));
  CHECK_EQUAL(to_string(worker_mode::full), "full");
  CHECK_EQUAL(to_string(worker_mode::execution), "execution");
  CHECK_EQUAL(to_string(worker_mode::drain), "drain");
  CHECK_EQUAL(to_string(worker_mode::coordinator), "coordinator");
  CHECK_EQUAL(to_string(cluster_mode::active), "active");
  CHECK_EQUAL(to_string(cluster_mode::passive), "passive");
  CHECK_EQUAL(to_string(cluster_mode::archived), "archived");
}

// -- validate -----------------------------------------------------------------

TEST(validate names the cluster level key it rejects) {
  using c = cluster_config;
  CHECK(rejects([](c& x) { x.cluster_id = ""; }, "cluster_id"));
  CHECK(rejects([](c& x) { x.cluster_id = "has space"; }, "cluster_id"));
  CHECK(rejects([](c& x) { x.cluster_id = "a/b"; }, "cluster_id"));
  CHECK(
    rejects([](c& x) { x.cluster_id = std::string(65, 'a'); }, "cluster_id"));
  CHECK(accepts([](c& x) { x.cluster_id = std::string(64, 'a'); }));
  CHECK(accepts([](c& x) { x.cluster_id = "A-z_0.9"; }));
  CHECK(rejects([](c& x) { x.standalone = false; }, "standalone"));
  CHECK(rejects([](c& x) { x.store.path = ""; }, "use_sqlite"));
  CHECK(rejects(
    [](c& x) {
      x.agent.emplace();
      x.agent->kind = store_kind::mysql;
    },
    "agent.use_mysql"));
  CHECK(rejects(
    [](c& x) {
      x.agent.emplace();
      x.agent->table_prefix = "no-dash";
    },
    "agent.table_prefix"));
  // The default agent file is the default master file: no separate agent.
  CHECK(rejects([](c& x) { x.agent.emplace(); }, "agent"));
  CHECK(accepts([](c& x) {
    x.agent.emplace();
    x.agent->path = "queues.db";
  }));
  CHECK(rejects([](c& x) { x.transient_threshold = 999ms; },
                "transient_threshold"));
  CHECK(rejects([](c& x) { x.transient_threshold = 24h + 1us; },
                "transient_threshold"));
  CHECK(accepts([](c& x) { x.transient_threshold = 1s; }));
  CHECK(accepts([](c& x) { x.transient_threshold = 24h; }));
  CHECK(rejects([](c& x) { x.default_timeout = 9ms; }, "default_job_timeout"));
  CHECK(rejects([](c& x) { x.default_timeout = -1s; }, "default_job_timeout"));
  CHECK(accepts([](c& x) { x.default_timeout = 10ms; }));
  CHECK(accepts([](c& x) { x.default_timeout = 24h; }));
  CHECK(rejects([](c& x) { x.default_timeout = 24h + 1us; },
                "default_job_timeout"));
  CHECK(
    rejects([](c& x) { x.default_max_retries = -1; }, "default_max_retries"));
  CHECK(
    rejects([](c& x) { x.default_max_retries = 101; }, "default_max_retries"));
  CHECK(accepts([](c& x) { x.default_max_retries = 0; }));
  CHECK(accepts([](c& x) { x.default_max_retries = 100; }));
  CHECK(rejects([](c& x) { x.max_message_bytes = 1023; }, "max_message_bytes"));
  CHECK(rejects([](c& x) { x.max_message_bytes = 64 * 1024 * 1024 + 1; },
                "max_message_bytes"));
  CHECK(accepts([](c& x) { x.max_message_bytes = 1024; }));
  CHECK(accepts([](c& x) { x.max_message_bytes = 64 * 1024 * 1024; }));
  CHECK(rejects([](c& x) { x.assign_interval = 9ms; }, "assign_interval"));
  CHECK(rejects([](c& x) { x.assign_interval = 61s; }, "assign_interval"));
  CHECK(accepts([](c& x) { x.assign_interval = 10ms; }));
  CHECK(accepts([](c& x) { x.assign_interval = 1min; }));
  CHECK(
    rejects([](c& x) { x.store.agent_connections = 0; }, "agent_connections"));
  CHECK(
    rejects([](c& x) { x.store.agent_connections = 33; }, "agent_connections"));
  CHECK(accepts([](c& x) { x.store.agent_connections = 32; }));
}

TEST(validate names the retry key it rejects) {
  using c = cluster_config;
  constexpr auto nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(rejects([](c& x) { x.retry.base_delay = 999us; }, "retry.base_delay"));
  CHECK(rejects([](c& x) { x.retry.base_delay = 0us; }, "retry.base_delay"));
  CHECK(accepts([](c& x) { x.retry.base_delay = 1ms; }));
  CHECK(rejects(
    [](c& x) {
      x.retry.base_delay = 10s;
      x.retry.max_delay = 9s;
    },
    "retry.max_delay"));
  CHECK(accepts([](c& x) {
    x.retry.base_delay = 10s;
    x.retry.max_delay = 10s;
  }));
  CHECK(rejects([](c& x) { x.retry.multiplier = 0.99; }, "retry.multiplier"));
  CHECK(rejects([](c& x) { x.retry.multiplier = 10.01; }, "retry.multiplier"));
  CHECK(rejects([=](c& x) { x.retry.multiplier = nan; }, "retry.multiplier"));
  CHECK(accepts([](c& x) { x.retry.multiplier = 1.0; }));
  CHECK(accepts([](c& x) { x.retry.multiplier = 10.0; }));
  CHECK(rejects([](c& x) { x.retry.jitter = -0.01; }, "retry.jitter"));
  CHECK(rejects([](c& x) { x.retry.jitter = 1.01; }, "retry.jitter"));
  CHECK(rejects([=](c& x) { x.retry.jitter = nan; }, "retry.jitter"));
  CHECK(accepts([](c& x) { x.retry.jitter = 0.0; }));
  CHECK(accepts([](c& x) { x.retry.jitter = 1.0; }));
}

TEST(validate names the node and logging key it rejects) {
  using c = cluster_config;
  CHECK(rejects([](c& x) { x.node.listen_host = ""; }, "node.listen_host"));
  CHECK(rejects([](c& x) { x.node.heartbeat_interval = 49ms; },
                "node.heartbeat_interval"));
  CHECK(rejects(
    [](c& x) {
      x.node.heartbeat_interval = 1s;
      x.node.lease = 1999ms;
    },
    "node.lease"));
  CHECK(accepts([](c& x) {
    x.node.heartbeat_interval = 50ms;
    x.node.lease = 100ms;
  }));
  CHECK(rejects([](c& x) { x.node.scheduler_threads = 0; },
                "node.scheduler_threads"));
  CHECK(rejects([](c& x) { x.node.scheduler_threads = 65; },
                "node.scheduler_threads"));
  CHECK(accepts([](c& x) { x.node.scheduler_threads = 64; }));
  CHECK(rejects([](c& x) { x.logging.level = "verbose"; }, "logging.level"));
  CHECK(rejects([](c& x) { x.logging.level = "INFO"; }, "logging.level"));
  CHECK(violation([](c& x) { x.logging.level = "loud"; }).find("'loud'")
        != std::string::npos);
  for (auto level : {"trace", "debug", "info", "warn", "error", "off"})
    CHECK(accepts([=](c& x) { x.logging.level = level; }));
  CHECK(rejects([](c& x) { x.logging.jsonl_max_buffer = 0; },
                "logging.jsonl_max_buffer"));
}

TEST(validate names the worker key it rejects) {
  using c = cluster_config;
  auto two = [](c& x) { x.workers.resize(2); };
  CHECK(rejects(
    [&](c& x) {
      two(x);
      x.workers[1].name = "bad name";
    },
    "workers[1].name"));
  CHECK(rejects(
    [&](c& x) {
      two(x);
      x.workers[1].name = std::string(65, 'w');
    },
    "workers[1].name"));
  CHECK(rejects(
    [&](c& x) {
      two(x);
      x.workers[0].name = "w";
      x.workers[1].name = "w";
    },
    "workers[1].name"));
  CHECK(violation([&](c& x) {
          two(x);
          x.workers[0].name = "w";
          x.workers[1].name = "w";
        }).find("'w' is used twice")
        != std::string::npos);
  // Two unnamed workers are fine: complete() names them.
  CHECK(accepts(two));
  CHECK(rejects([](c& x) { x.workers[0].lane = std::string(26, 'l'); },
                "workers[0].lane"));
  CHECK(rejects([](c& x) { x.workers[0].lane = "a lane"; }, "workers[0].lane"));
  CHECK(accepts([](c& x) { x.workers[0].lane = std::string(25, 'l'); }));
  CHECK(rejects([](c& x) { x.workers[0].batch_size = 0; },
                "workers[0].batch_size"));
  CHECK(rejects([](c& x) { x.workers[0].batch_size = 10001; },
                "workers[0].batch_size"));
  CHECK(accepts([](c& x) { x.workers[0].batch_size = 10000; }));
  CHECK(rejects([](c& x) { x.workers[0].parallelism = 0; },
                "workers[0].parallelism"));
  CHECK(rejects([](c& x) { x.workers[0].parallelism = 1025; },
                "workers[0].parallelism"));
  CHECK(accepts([](c& x) { x.workers[0].parallelism = 1024; }));
  CHECK(rejects([](c& x) { x.workers[0].buckets_per_priority[4] = 65; },
                "workers[0].buckets_per_priority"));
  CHECK(accepts([](c& x) { x.workers[0].buckets_per_priority[4] = 64; }));
}

TEST(passive and archived clusters have no executing workers with buckets) {
  using c = cluster_config;
  for (auto mode : {cluster_mode::passive, cluster_mode::archived}) {
    CHECK(rejects([=](c& x) { x.mode = mode; }, "cluster_mode"));
    CHECK(rejects(
      [=](c& x) {
        x.mode = mode;
        x.workers[0].mode = worker_mode::execution;
      },
      "cluster_mode"));
    // A draining worker hands its buckets' jobs back: allowed.
    CHECK(accepts([=](c& x) {
      x.mode = mode;
      x.workers[0].mode = worker_mode::drain;
    }));
    CHECK(accepts([=](c& x) {
      x.mode = mode;
      x.workers[0].mode = worker_mode::coordinator;
    }));
    CHECK(accepts([=](c& x) {
      x.mode = mode;
      x.workers[0].buckets_per_priority.fill(0);
    }));
    CHECK(accepts([=](c& x) {
      x.mode = mode;
      x.workers.clear();
    }));
  }
}

// -- complete -----------------------------------------------------------------

TEST(complete names unnamed workers uniquely) {
  cluster_config cfg;
  cfg.workers.resize(5);
  cfg.workers[1].name = "worker-1";
  cfg.workers[3].name = "worker-3";
  complete(cfg);
  std::set<std::string> names;
  for (auto& w : cfg.workers) {
    CHECK(!w.name.empty());
    CHECK(names.insert(w.name).second);
  }
  CHECK_EQUAL(cfg.workers[0].name, "worker-2");
  CHECK_EQUAL(cfg.workers[1].name, "worker-1");
  CHECK_EQUAL(cfg.workers[2].name, "worker-4");
  CHECK_EQUAL(cfg.workers[3].name, "worker-3");
  CHECK_EQUAL(cfg.workers[4].name, "worker-5");
  // Idempotent.
  auto before = cfg.workers;
  complete(cfg);
  for (size_t i = 0; i < before.size(); ++i)
    CHECK_EQUAL(cfg.workers[i].name, before[i].name);
}

TEST(complete keeps the configuration valid) {
  cluster_config cfg;
  cfg.cluster_id = "c";
  cfg.workers.resize(3);
  cfg.workers[2].name = "worker-1";
  complete(cfg);
  test::require_ok(validate(cfg));
  CHECK_EQUAL(cfg.workers[0].name, "worker-2");
  CHECK_EQUAL(cfg.workers[1].name, "worker-3");
}

// -- retry_delay --------------------------------------------------------------

TEST(retry delays grow exponentially) {
  retry_config r; // 2s, x2, max 10min, jitter 0.2
  CHECK_EQUAL(ms(retry_delay(r, 1, 0.0)), 2000);
  CHECK_EQUAL(ms(retry_delay(r, 2, 0.0)), 4000);
  CHECK_EQUAL(ms(retry_delay(r, 3, 0.0)), 8000);
  CHECK_EQUAL(ms(retry_delay(r, 4, 0.0)), 16000);
  CHECK_EQUAL(ms(retry_delay(r, 9, 0.0)), 512'000);
  // Zero and negative counts behave like the first retry.
  CHECK_EQUAL(ms(retry_delay(r, 0, 0.0)), 2000);
  CHECK_EQUAL(ms(retry_delay(r, -5, 0.0)), 2000);
  r.multiplier = 1.5;
  r.base_delay = 1s;
  CHECK_EQUAL(ms(retry_delay(r, 3, 0.0)), 2250);
  r.multiplier = 1.0;
  CHECK_EQUAL(ms(retry_delay(r, 30, 0.0)), 1000);
}

TEST(retry delays are capped at max_delay) {
  retry_config r;
  CHECK_EQUAL(ms(retry_delay(r, 10, 0.0)), 600'000); // 1024s > 600s
  CHECK_EQUAL(ms(retry_delay(r, 11, 0.0)), 600'000);
  CHECK_EQUAL(ms(retry_delay(r, 1000, 0.0)), 600'000);
  CHECK_EQUAL(ms(retry_delay(r, std::numeric_limits<int32_t>::max(), 0.0)),
              600'000);
  r.multiplier = 10;
  r.base_delay = 1h;
  r.max_delay = 24h;
  CHECK_EQUAL(ms(retry_delay(r, 1000, 0.0)), 86'400'000);
  // The cap applies before the jitter.
  r = retry_config{};
  CHECK_EQUAL(ms(retry_delay(r, 50, 1.0)), 480'000);
}

TEST(jitter shortens a delay by at most its share) {
  retry_config r;
  r.jitter = 0.2;
  CHECK_EQUAL(ms(retry_delay(r, 1, 0.0)), 2000);
  CHECK_EQUAL(ms(retry_delay(r, 1, 1.0)), 1600);
  CHECK_EQUAL(ms(retry_delay(r, 1, 0.5)), 1800);
  CHECK_EQUAL(ms(retry_delay(r, 3, 1.0)), 6400);
  // Draws outside [0, 1] are clamped.
  CHECK_EQUAL(ms(retry_delay(r, 1, -3.0)), 2000);
  CHECK_EQUAL(ms(retry_delay(r, 1, 7.0)), 1600);
  r.jitter = 0.0;
  CHECK_EQUAL(ms(retry_delay(r, 1, 0.99)), 2000);
  r.jitter = 1.0;
  CHECK_EQUAL(retry_delay(r, 1, 1.0).count(), 0);
  CHECK_EQUAL(ms(retry_delay(r, 1, 0.25)), 1500);
  // Random draws stay within ((1 - jitter) * d, d].
  r.jitter = 0.3;
  std::mt19937_64 gen{1};
  std::uniform_real_distribution<double> draw{0.0, 1.0};
  for (int i = 0; i < 1000; ++i) {
    auto failure = 1 + i % 12;
    auto full = retry_delay(r, failure, 0.0).count();
    auto d = retry_delay(r, failure, draw(gen)).count();
    CHECK(d <= full);
    CHECK(d >= static_cast<int64_t>(full * 0.7) - 1);
  }
}
