#define CAF_SUITE config.toml_loader
#include "tests/support/test.hpp"

#include "config/toml_loader.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace jm;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view full_file = R"(# every key there is
cluster_id = "prod-eu"
standalone = true
cluster_mode = "active"
use_sqlite = "/var/lib/jobmaster/prod.db"
sqlite_full_sync = true
transient_threshold = "45s"
default_job_timeout = "2m"
default_max_retries = 5
default_priority = "high"
max_message_bytes = 65536
assign_interval = "250ms"

[retry]
base_delay = "3s"
multiplier = 1.5
max_delay = "1h"
jitter = 0.1

[node]
listen_host = "0.0.0.0"
listen_port = 4800
lease = "10s"
heartbeat_interval = "2s"
shutdown_grace = "20s"
scheduler_threads = 3

[logging]
level = "debug"
debug_jsonl_file_logger = "/tmp/jm.jsonl"
jsonl_flush_interval = "1s"
jsonl_max_buffer = 100

[[workers]]
name = "gpu-worker"
worker_lane = "gpu"
worker_mode = "execution"
batch_size = 50
parallelism = 8

[workers.bucket_qty]
very_low = 0
low = 1
medium = 2
high = 3
critical = 4

[[workers]]
worker_mode = "coordinator"
)";

int64_t ms(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// The error text of parsing `text`, or "ok".
std::string error_of(std::string_view text) {
  auto x = parse_toml(text, "test.toml");
  if (x)
    return "ok";
  CHECK_EQUAL(code_of(x.error()), ec::invalid_config);
  return describe(x.error());
}

bool contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos)
    return true;
  MESSAGE("'" << text << "' does not contain '" << std::string{part} << "'");
  return false;
}

/// A minimal valid file followed by `extra`.
std::string with(std::string_view extra) {
  return "cluster_id = \"c\"\n" + std::string{extra};
}

} // namespace

TEST(a full file sets every key) {
  auto cfg = test::unbox(parse_toml(full_file, "full.toml"));
  CHECK_EQUAL(cfg.cluster_id, "prod-eu");
  CHECK(cfg.standalone);
  CHECK(cfg.mode == cluster_mode::active);
  CHECK_EQUAL(cfg.store.path, "/var/lib/jobmaster/prod.db");
  CHECK(cfg.store.full_sync);
  CHECK_EQUAL(ms(cfg.transient_threshold), 45'000);
  CHECK_EQUAL(ms(cfg.default_timeout), 120'000);
  CHECK_EQUAL(cfg.default_max_retries, 5);
  CHECK(cfg.default_priority == priority::high);
  CHECK_EQUAL(cfg.max_message_bytes, 65536u);
  CHECK_EQUAL(ms(cfg.assign_interval), 250);
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
  CHECK_EQUAL(cfg.logging.jsonl_path, "/tmp/jm.jsonl");
  CHECK_EQUAL(ms(cfg.logging.jsonl_flush_interval), 1000);
  CHECK_EQUAL(cfg.logging.jsonl_max_buffer, 100u);
  REQUIRE_EQUAL(cfg.workers.size(), 2u);
  auto& w = cfg.workers[0];
  CHECK_EQUAL(w.name, "gpu-worker");
  CHECK_EQUAL(w.lane, "gpu");
  CHECK(w.mode == worker_mode::execution);
  CHECK_EQUAL(w.batch_size, 50u);
  CHECK_EQUAL(w.parallelism, 8u);
  CHECK((w.buckets_per_priority == std::array<uint32_t, 5>{0, 1, 2, 3, 4}));
  auto& v = cfg.workers[1];
  CHECK_EQUAL(v.name, ""); // complete() names it later
  CHECK(v.mode == worker_mode::coordinator);
  CHECK_EQUAL(v.parallelism, 4u);
  CHECK((v.buckets_per_priority == std::array<uint32_t, 5>{1, 1, 1, 1, 1}));
}

TEST(a minimal file keeps the defaults) {
  auto cfg = test::unbox(parse_toml("cluster_id = \"c\"", "min.toml"));
  cluster_config defaults;
  CHECK_EQUAL(cfg.cluster_id, "c");
  CHECK_EQUAL(cfg.store.path, defaults.store.path);
  CHECK(!cfg.store.full_sync);
  CHECK_EQUAL(ms(cfg.default_timeout), ms(defaults.default_timeout));
  CHECK_EQUAL(cfg.default_max_retries, defaults.default_max_retries);
  CHECK(cfg.default_priority == defaults.default_priority);
  CHECK_EQUAL(ms(cfg.retry.base_delay), ms(defaults.retry.base_delay));
  CHECK_EQUAL(cfg.node.listen_port, defaults.node.listen_port);
  CHECK(cfg.workers.empty());
}

TEST(a partial bucket_qty table keeps the other priorities) {
  auto cfg = test::unbox(parse_toml(with("[[workers]]\n"
                                         "[workers.bucket_qty]\n"
                                         "critical = 7\n"),
                                    "t.toml"));
  REQUIRE_EQUAL(cfg.workers.size(), 1u);
  CHECK((cfg.workers[0].buckets_per_priority
         == std::array<uint32_t, 5>{1, 1, 1, 1, 7}));
}

TEST(durations accept every notation) {
  auto cfg = test::unbox(parse_toml(with("transient_threshold = \"1m30s\"\n"
                                         "default_job_timeout = \"90\"\n"),
                                    "t.toml"));
  CHECK_EQUAL(ms(cfg.transient_threshold), 90'000);
  CHECK_EQUAL(ms(cfg.default_timeout), 90'000);
}

TEST(unknown keys are named with their line) {
  auto text = error_of(with("colour = \"blue\"\n"));
  CHECK(contains(text, "test.toml:2:"));
  CHECK(contains(text, "colour: unknown key"));
  text
    = error_of(with("\n[retry]\nbase_delay = \"1s\"\nbase_dealy = \"2s\"\n"));
  CHECK(contains(text, "test.toml:5:"));
  CHECK(contains(text, "retry.base_dealy: unknown key"));
  text = error_of(with("[node]\nport = 1\n"));
  CHECK(contains(text, "test.toml:3:"));
  CHECK(contains(text, "node.port: unknown key"));
  text = error_of(with("[logging]\nlevel = \"info\"\nfile = \"x\"\n"));
  CHECK(contains(text, "test.toml:4:"));
  CHECK(contains(text, "logging.file: unknown key"));
  text = error_of(with("[[workers]]\nlane = \"gpu\"\n"));
  CHECK(contains(text, "test.toml:3:"));
  CHECK(contains(text, "workers[0].lane: unknown key"));
  text = error_of(with("[[workers]]\n[[workers]]\n[workers.bucket_qty]\n"
                       "urgent = 1\n"));
  CHECK(contains(text, "test.toml:5:"));
  CHECK(contains(text, "workers[1].bucket_qty.urgent: unknown key"));
  text = error_of(with("[misc]\nx = 1\n"));
  CHECK(contains(text, "misc: unknown key"));
}

TEST(wrong types are named with their line) {
  auto text = error_of("cluster_id = 5\n");
  CHECK(contains(text, "test.toml:1:"));
  CHECK(contains(text, "cluster_id: expected a string"));
  CHECK(contains(error_of(with("standalone = \"yes\"\n")),
                 "standalone: expected true or false"));
  CHECK(contains(error_of(with("standalone = 1\n")),
                 "standalone: expected true or false"));
  text = error_of(with("default_max_retries = \"3\"\n"));
  CHECK(contains(text, "test.toml:2:"));
  CHECK(contains(text, "default_max_retries: expected an integer between 0 "
                       "and 100"));
  CHECK(contains(error_of(with("default_max_retries = 101\n")),
                 "default_max_retries: expected an integer between 0 and "
                 "100"));
  CHECK(contains(error_of(with("[node]\nlisten_port = 70000\n")),
                 "node.listen_port: expected an integer between 0 and 65535"));
  CHECK(
    contains(error_of(with("[node]\nlisten_port = -1\n")), "node.listen_port"));
  CHECK(contains(error_of(with("[retry]\nmultiplier = \"2\"\n")),
                 "retry.multiplier: expected a number"));
  CHECK(contains(error_of(with("transient_threshold = 30\n")),
                 "transient_threshold: expected a string"));
  CHECK(contains(error_of(with("retry = 5\n")), "retry: expected a table"));
  CHECK(contains(error_of(with("node = \"x\"\n")), "node: expected a table"));
  CHECK(contains(error_of(with("workers = 5\n")),
                 "workers: expected an array of tables ([[workers]])"));
  CHECK(contains(error_of(with("workers = [1, 2]\n")),
                 "workers[0]: expected a table"));
  CHECK(contains(error_of(with("[[workers]]\nbucket_qty = 3\n")),
                 "workers[0].bucket_qty: expected a table"));
  CHECK(contains(error_of(with("[[workers]]\n[workers.bucket_qty]\n"
                               "high = 65\n")),
                 "workers[0].bucket_qty.high: expected an integer between 0 "
                 "and 64"));
}

TEST(floats and booleans are not integers) {
  // Found by fuzzing: 1e22 overflowed the conversion, `true` read as 1.
  for (auto value : {"1e22", "4.8e3", "3.0", "true"})
    CHECK(contains(
      error_of(with(std::string{"max_message_bytes = "} + value + "\n")),
      "max_message_bytes: expected an integer"));
}

TEST(an integer is accepted where a number is expected) {
  auto cfg = test::unbox(parse_toml(with("[retry]\nmultiplier = 3\n"), "t"));
  CHECK_EQUAL(cfg.retry.multiplier, 3.0);
}

TEST(bad durations are named with their line) {
  auto text = error_of(with("\ntransient_threshold = \"5 parsecs\"\n"));
  CHECK(contains(text, "test.toml:3:"));
  CHECK(contains(text, "transient_threshold: invalid duration '5 parsecs'"));
  text = error_of(with("[retry]\nmax_delay = \"-1s\"\n"));
  CHECK(contains(text, "test.toml:3:"));
  CHECK(contains(text, "retry.max_delay: invalid duration"));
  CHECK(contains(error_of(with("[node]\nlease = \"\"\n")),
                 "node.lease: invalid duration"));
}

TEST(bad enums are named with their line) {
  auto text = error_of(with("cluster_mode = \"sleepy\"\n"));
  CHECK(contains(text, "test.toml:2:"));
  CHECK(contains(text, "cluster_mode: 'sleepy' is not active, passive or "
                       "archived"));
  text = error_of(with("default_priority = \"urgent\"\n"));
  CHECK(contains(text, "test.toml:2:"));
  CHECK(contains(text, "default_priority: invalid priority 'urgent'"));
  text = error_of(with("[[workers]]\nworker_mode = \"lazy\"\n"));
  CHECK(contains(text, "test.toml:3:"));
  CHECK(contains(text, "workers[0].worker_mode: 'lazy' is not full, "
                       "execution, drain or coordinator"));
  // Priorities take the same spellings as on the command line.
  auto cfg = test::unbox(parse_toml(with("default_priority = \"5\"\n"), "t"));
  CHECK(cfg.default_priority == priority::critical);
}

TEST(syntax errors carry the line number) {
  auto text = error_of("cluster_id = \"c\"\n\nthis is not toml\n");
  CHECK(contains(text, "test.toml:3:"));
  text = error_of("cluster_id = \"c\"\n[retry\n");
  CHECK(contains(text, "test.toml:2:"));
  text = error_of("cluster_id = \"c\"\ncluster_id = \"d\"\n");
  CHECK(contains(text, "test.toml:2:"));
  text = error_of("cluster_id = \"unterminated\n");
  CHECK(contains(text, "test.toml:1:"));
}

TEST(the loaded configuration is validated) {
  auto text = error_of("cluster_id = \"has space\"\n");
  CHECK(contains(text, "test.toml: invalid configuration: cluster_id"));
  text
    = error_of(with("[node]\nlease = \"1s\"\nheartbeat_interval = \"1s\"\n"));
  CHECK(contains(text, "node.lease"));
  text
    = error_of(with("[[workers]]\nname = \"w\"\n[[workers]]\nname = \"w\"\n"));
  CHECK(contains(text, "workers[1].name"));
  text = error_of(with("cluster_mode = \"passive\"\n[[workers]]\n"));
  CHECK(contains(text, "cluster_mode"));
  CHECK(contains(error_of(""), "cluster_id"));
}

TEST(files are read from disk) {
  auto path = std::filesystem::temp_directory_path()
              / ("jm-test-config-" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out{path};
    out << full_file;
  }
  auto cfg = load_toml_file(path);
  std::filesystem::remove(path);
  REQUIRE(cfg);
  CHECK_EQUAL(cfg->cluster_id, "prod-eu");
  REQUIRE_EQUAL(cfg->workers.size(), 2u);
  auto missing = load_toml_file(path);
  REQUIRE(!missing);
  CHECK_EQUAL(code_of(missing.error()), ec::invalid_config);
  CHECK(contains(describe(missing.error()), "cannot read config file"));
  CHECK(contains(describe(missing.error()), path.string()));
}

TEST(errors in a file name the file) {
  auto path = std::filesystem::temp_directory_path()
              / ("jm-test-config-bad-" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out{path};
    out << "cluster_id = \"c\"\n\ntypo = 1\n";
  }
  auto cfg = load_toml_file(path);
  std::filesystem::remove(path);
  REQUIRE(!cfg);
  CHECK(contains(describe(cfg.error()), path.string() + ":3:"));
  CHECK(contains(describe(cfg.error()), "typo: unknown key"));
}

TEST(recurring keys and static schedules are read) {
  auto cfg = test::unbox(parse_toml(with(R"(time_zone = "Europe/Lisbon"
retention = "3d"
delete_succeeded = true
static_schedule_ttl = "30s"

[[static_schedules]]
name = "nightly-report"
handler = "report"
expression = "every day at 2:00"
time_zone = "Asia/Tokyo"
data = ["to=ops@example.com", "n:int=3"]
metadata = ["team=ops"]
priority = "high"
lane = "reports"
timeout = "5m"
max_retries = 2
start_after = "2030-01-01T00:00:00Z"
end_before = "2031-01-01T00:00:00Z"
catch_up = "all"
catch_up_limit = 5
overlap = "skip"

[[static_schedules]]
name = "ping"
handler = "ping"
expression_type = "interval"
expression = "00:00:30"
)"),
                                    "t.toml"));
  CHECK_EQUAL(cfg.time_zone, "Europe/Lisbon");
  CHECK_EQUAL(ms(cfg.retention), ms(std::chrono::hours{72}));
  CHECK(cfg.delete_succeeded);
  CHECK_EQUAL(ms(cfg.static_schedule_ttl), 30000);
  REQUIRE_EQUAL(cfg.static_schedules.size(), 2u);
  auto& x = cfg.static_schedules[0];
  CHECK_EQUAL(x.static_name, "nightly-report");
  CHECK_EQUAL(x.handler, "report");
  CHECK_EQUAL(x.expression, "every day at 2:00");
  CHECK_EQUAL(x.expression_type, "naturalcron");
  CHECK_EQUAL(x.time_zone, "Asia/Tokyo");
  REQUIRE(get_if<int64_t>(x.data, "n"));
  CHECK_EQUAL(*get_if<int64_t>(x.data, "n"), 3);
  CHECK_EQUAL(*get_if<std::string>(x.metadata, "team"), "ops");
  CHECK(x.priority == priority::high);
  CHECK(x.lane == std::optional<std::string>{"reports"});
  CHECK(x.timeout == std::optional<duration>{std::chrono::minutes{5}});
  CHECK(x.max_retries == std::optional<int32_t>{2});
  CHECK(x.start_after && x.end_before);
  CHECK(x.catch_up == catch_up_policy::all);
  CHECK_EQUAL(x.catch_up_limit, 5u);
  CHECK(x.overlap == overlap_policy::skip);
  auto& y = cfg.static_schedules[1];
  CHECK_EQUAL(y.expression_type, "interval");
  CHECK(!y.priority && !y.lane && !y.timeout);
  CHECK(y.catch_up == catch_up_policy::latest);
}

TEST(bad recurring keys are named) {
  auto text = error_of(with("time_zone = \"Mars/Base\"\n"));
  CHECK(contains(text, "time_zone: 'Mars/Base' is not a time zone"));
  text = error_of(with("[[static_schedules]]\nname = \"a\"\nhandler = "
                       "\"h\"\nexpression = \"every 2 sec0nds\"\n"));
  CHECK(contains(text, "static_schedules[0].expression"));
  CHECK(contains(text, "Invalid token"));
  text = error_of(with("[[static_schedules]]\nhandler = \"h\"\nexpression = "
                       "\"every day\"\n"));
  CHECK(contains(text, "static_schedules[0].name: required"));
  text = error_of(
    with("[[static_schedules]]\nname = \"a\"\nhandler = \"h\"\nexpression = "
         "\"every day\"\n[[static_schedules]]\nname = \"a\"\nhandler = "
         "\"h\"\nexpression = \"every day\"\n"));
  CHECK(contains(text, "static_schedules[1].name: 'a' is used twice"));
  text = error_of(with("[[static_schedules]]\nname = \"a\"\nhandler = "
                       "\"h\"\nexpression = \"every day\"\ncatch_up = "
                       "\"some\"\n"));
  CHECK(contains(text, "test.toml:6:"));
  CHECK(contains(text, "invalid catch-up policy 'some'"));
  text = error_of(with("[[static_schedules]]\nname = \"a\"\nhandler = "
                       "\"h\"\nexpression = \"every day\"\ndata = [\"=x\"]\n"));
  CHECK(contains(text, "static_schedules[0].data"));
  text = error_of(with("[[static_schedules]]\nname = \"a\"\nhandler = "
                       "\"h\"\nexpression = \"every day\"\ncolour = 1\n"));
  CHECK(contains(text, "static_schedules[0].colour: unknown key"));
  text = error_of(with("static_schedule_ttl = \"0s\"\n"));
  CHECK(contains(text, "static_schedule_ttl: must be between 1s and 24h"));
}

TEST(server stores are configured by connection string) {
  auto cfg = test::unbox(
    parse_toml(with("use_postgres = \"postgresql://jm:secret@db:5432/jobs\"\n"
                    "table_prefix = \"eu_\"\n"
                    "agent_connections = 4\n"),
               "t.toml"));
  CHECK(cfg.store.kind == store_kind::postgres);
  CHECK_EQUAL(cfg.store.url, "postgresql://jm:secret@db:5432/jobs");
  CHECK_EQUAL(cfg.store.table_prefix, "eu_");
  CHECK_EQUAL(cfg.store.agent_connections, 4u);
  // The password never reaches a log line.
  CHECK_EQUAL(describe_store(cfg.store),
              "postgres postgresql://jm:***@db:5432/jobs (tables eu_*)");
  cfg.store.url = "host=db password=secret dbname=jobs";
  CHECK_EQUAL(describe_store(cfg.store),
              "postgres host=db password=*** dbname=jobs (tables eu_*)");
  auto text
    = error_of(with("use_sqlite = \"a.db\"\nuse_postgres = \"host=db\"\n"));
  CHECK(contains(text,
                 "use_sqlite, use_postgres and use_mysql exclude each other"));
  cfg = test::unbox(
    parse_toml(with("use_mysql = \"mysql://jm:pw@db:3306/jobs\"\n"), "t.toml"));
  CHECK(cfg.store.kind == store_kind::mysql);
  CHECK_EQUAL(describe_store(cfg.store),
              "mysql mysql://jm:***@db:3306/jobs (tables jm_*)");
  text = error_of(with("use_postgres = \"\"\n"));
  CHECK(contains(text, "use_postgres: the connection string is empty"));
  text = error_of(with("table_prefix = \"jm-\"\n"));
  CHECK(contains(text, "table_prefix: 1-20 characters"));
  text = error_of(with("agent_connections = 0\n"));
  CHECK(contains(text, "agent_connections"));
}

TEST(a separate agent store is its own table) {
  auto cfg = test::unbox(
    parse_toml(with("use_postgres = \"postgresql://jm@db/jobs\"\n"
                    "[agent]\n"
                    "use_mysql = \"mysql://jm:pw@agent:3306/queues\"\n"
                    "table_prefix = \"q_\"\n"),
               "t.toml"));
  CHECK(cfg.store.kind == store_kind::postgres);
  REQUIRE(cfg.agent);
  CHECK(cfg.agent->kind == store_kind::mysql);
  CHECK_EQUAL(cfg.agent->url, "mysql://jm:pw@agent:3306/queues");
  CHECK_EQUAL(cfg.agent->table_prefix, "q_");
  cfg = test::unbox(parse_toml(with("[agent]\nuse_sqlite = \"queues.db\"\n"
                                    "sqlite_full_sync = true\n"),
                               "t.toml"));
  REQUIRE(cfg.agent);
  CHECK(cfg.agent->kind == store_kind::sqlite);
  CHECK_EQUAL(cfg.agent->path, "queues.db");
  CHECK(cfg.agent->full_sync);
  // Without the table there is none.
  CHECK(!test::unbox(parse_toml(with(""), "t.toml")).agent);
  auto text = error_of(with("[agent]\ntable_prefix = \"q_\"\n"));
  CHECK(contains(text, "agent: names no store"));
  text = error_of(with("[agent]\nuse_sqlite = \"a.db\"\nuse_mysql = \"x\"\n"));
  CHECK(contains(text, "exclude each other"));
  text = error_of(with("[agent]\nuse_sqlite = \"a.db\"\nbatch = 3\n"));
  CHECK(contains(text, "agent.batch"));
  text = error_of(with("[agent]\nuse_postgres = \"\"\n"));
  CHECK(contains(text, "agent.use_postgres: the connection string is empty"));
  text
    = error_of(with("[agent]\nuse_sqlite = \"a.db\"\nagent_connections = 2\n"));
  CHECK(contains(text, "agent.agent_connections"));
  // The master store's own file is no separate agent.
  text = error_of(
    with("use_sqlite = \"same.db\"\n[agent]\nuse_sqlite = \"./same.db\"\n"));
  CHECK(contains(text, "agent: the agent store is the master store"));
}
