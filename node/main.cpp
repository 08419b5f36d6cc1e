// The `jobmaster` program: runs a node, or talks to a running one.

#include "config/cluster_builder.hpp"
#include "config/toml_loader.hpp"
#include "cron/schedule.hpp"
#include "messages/error.hpp"
#include "node/bench.hpp"
#include "node/cli.hpp"
#include "node/client.hpp"
#include "node/logging.hpp"
#include "node/runtime.hpp"
#include "node/sample_handlers.hpp"

#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

namespace {

using namespace jm;

int fail(const std::string& text, int code = 1) {
  std::fprintf(stderr, "jobmaster: error: %s\n", text.c_str());
  return code;
}

int fail(const caf::error& err) {
  // Bad input is a usage error (2); everything else is 1.
  auto code = code_of(err);
  return fail(describe(err),
              code == ec::invalid_argument || code == ec::invalid_config ? 2
                                                                         : 1);
}

// -- node ---------------------------------------------------------------------

struct node_args {
  std::string config_file;
  std::string db;
  std::string listen;
  std::string log_level;
  bool demo = false;
};

cluster_config default_config() {
  auto b = use_standalone_cluster()
             .cluster_id("standalone")
             .use_sqlite("jobmaster.db")
             .add_worker("main")
             .add_worker("reports")
             .worker_lane("reports")
             .parallelism(2);
  return b.peek();
}

void schedule_demo_jobs(runtime& rt) {
  auto& s = rt.scheduler();
  auto report = [](std::string what, const caf::expected<job_id>& id) {
    if (id)
      spdlog::info("demo: scheduled {} as job {}", what, to_string(*id));
    else
      spdlog::error("demo: scheduling {} failed: {}", what,
                    describe(id.error()));
  };
  report("hello now",
         s.once_now<samples::hello>({{"Name", std::string{"Ada"}}}));
  report("hello in 3s",
         s.once_after<samples::hello>(std::chrono::seconds{3},
                                      {{"Name", std::string{"Grace"}}}));
  report("flaky (fails twice, then succeeds)",
         s.once_now<samples::flaky>({{"fail_times", int64_t{2}}}));
  schedule_options urgent;
  urgent.priority = priority::critical;
  urgent.metadata = {{"source", std::string{"demo"}}};
  report("hello, critical",
         s.once_now<samples::hello>({{"Name", std::string{"Linus"}}}, urgent));
}

int run_node(const node_args& args) {
  // Signals are taken by sigwait below, not by a handler: block them before
  // any thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  cluster_config cfg;
  if (!args.config_file.empty()) {
    auto loaded = load_toml_file(args.config_file);
    if (!loaded)
      return fail(loaded.error());
    cfg = std::move(*loaded);
  } else {
    cfg = default_config();
  }
  if (!args.db.empty()) {
    cfg.store.kind = store_kind::sqlite;
    cfg.store.path = args.db;
  }
  if (!args.log_level.empty())
    cfg.logging.level = args.log_level;
  if (!args.listen.empty()) {
    auto ep = cli::parse_endpoint(args.listen, true);
    if (!ep)
      return fail(ep.error());
    cfg.node.listen_host = ep->first;
    cfg.node.listen_port = ep->second;
  }
  if (auto err = validate(cfg))
    return fail(err);
  if (auto err = setup_logging(cfg.logging))
    return fail(err);
  runtime rt{cfg};
  samples::add_samples(rt.registry());
  if (args.demo)
    rt.add_static_schedule<samples::hello>("demo-every-10s", "every 10 seconds",
                                           {{"Name", std::string{"cron"}}});
  if (auto err = rt.start()) {
    spdlog::default_logger()->flush();
    return fail(err);
  }
  std::printf("jobmaster node %s listening on %s:%u (Ctrl-C stops it)\n",
              rt.node_id().c_str(), cfg.node.listen_host.c_str(), rt.port());
  std::fflush(stdout);
  if (args.demo)
    schedule_demo_jobs(rt);
  // Wait for a signal, or for the node to stop by itself (lost lease).
  std::atomic<bool> stopping = false;
  std::atomic<bool> self_stopped = false;
  std::thread watcher{[&] {
    rt.await_stopped();
    // Set before the signal: main reads it right after sigwait returns.
    self_stopped = !stopping;
    ::kill(::getpid(), SIGTERM);
  }};
  int sig = 0;
  sigwait(&signals, &sig);
  stopping = true;
  if (!self_stopped)
    spdlog::info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  rt.stop();
  watcher.join();
  shutdown_logging();
  if (self_stopped) {
    std::fprintf(stderr, "jobmaster: error: the node stopped by itself (see "
                         "the log above)\n");
    return 1;
  }
  return 0;
}

// -- client commands ----------------------------------------------------------

caf::expected<std::unique_ptr<remote_client>> connect(const std::string& node,
                                                      double timeout_s) {
  auto ep = cli::parse_endpoint(node);
  if (!ep)
    return ep.error();
  auto timeout
    = std::chrono::microseconds{static_cast<int64_t>(timeout_s * 1e6)};
  return remote_client::connect(ep->first, ep->second, timeout);
}

// Millisecond precision is what people read in a table.
std::string short_time(timestamp t) {
  auto text
    = format_timestamp(std::chrono::floor<std::chrono::milliseconds>(t));
  if (auto dot = text.find('.');
      dot != std::string::npos && text.size() > dot + 4)
    text = text.substr(0, dot + 4) + "Z";
  return text;
}

void print_jobs(const std::vector<job>& xs) {
  std::printf("%-36s  %-12s  %-18s  %-9s  %-10s  %-24s  %s\n", "ID", "HANDLER",
              "STATUS", "PRIORITY", "LANE", "SCHEDULED", "FAILURES");
  for (auto& x : xs)
    std::printf("%-36s  %-12s  %-18s  %-9s  %-10s  %-24s  %d\n",
                to_string(x.id).c_str(), x.handler.c_str(),
                std::string{to_string(x.status)}.c_str(),
                std::string{to_string(x.priority)}.c_str(),
                x.lane.empty() ? "-" : x.lane.c_str(),
                short_time(x.scheduled_at).c_str(), x.failure_count);
}

std::string map_text(const value_map& m);

void print_detail(const job_detail& d) {
  auto& x = d.job;
  std::printf("id:                 %s\n", to_string(x.id).c_str());
  std::printf("handler:            %s\n", x.handler.c_str());
  std::printf("status:             %s\n",
              std::string{to_string(x.status)}.c_str());
  std::printf("priority:           %s\n",
              std::string{to_string(x.priority)}.c_str());
  std::printf("lane:               %s\n",
              x.lane.empty() ? "-" : x.lane.c_str());
  std::printf("scheduled at:       %s\n", short_time(x.scheduled_at).c_str());
  std::printf("originally for:     %s\n",
              short_time(x.original_scheduled_at).c_str());
  std::printf("created at:         %s\n", short_time(x.created_at).c_str());
  if (x.recurring_schedule_id)
    std::printf("schedule:           %s\n",
                to_string(*x.recurring_schedule_id).c_str());
  std::printf("timeout:            %s\n", format_duration(x.timeout).c_str());
  std::printf("failures / retries: %d / %d\n", x.failure_count, x.max_retries);
  std::printf("data:               %s\n", map_text(x.data).c_str());
  std::printf("metadata:           %s\n", map_text(x.metadata).c_str());
  if (!x.bucket_id.empty())
    std::printf("bucket:             %s\n", x.bucket_id.c_str());
  std::printf("version:            %lld\n", static_cast<long long>(x.version));
  std::printf("attempts:           %zu\n", d.attempts.size());
  for (auto& a : d.attempts) {
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      a.ended_at - a.started_at);
    std::printf("  #%d  %-9s  start %s  end %s  (%s)  %s%s\n", a.number,
                std::string{to_string(a.outcome)}.c_str(),
                short_time(a.started_at).c_str(),
                short_time(a.ended_at).c_str(), format_duration(took).c_str(),
                a.worker_id.c_str(),
                a.error.empty() ? "" : ("\n      error: " + a.error).c_str());
  }
}

// Reports a bad expression with a caret under the problem; exit code 2.
int fail_expression(const std::string& expr, const cron::parse_error& e) {
  std::fprintf(stderr, "jobmaster: error: %s\n  %s\n  %s^\n",
               cron::to_string(e).c_str(), expr.c_str(),
               std::string(std::min(e.position, expr.size()), ' ').c_str());
  return 2;
}

int run_cron_next(const std::string& expr, size_t count,
                  const std::string& from, const std::string& tz) {
  auto parsed = cron::parse(expr);
  if (!parsed)
    return fail_expression(expr, parsed.error());
  auto start = now();
  if (!from.empty()) {
    auto t = cli::parse_when(from);
    if (!t)
      return fail(t.error());
    start = *t;
  }
  cron::search_options opts;
  if (!tz.empty()) {
    if (!cron::is_known_time_zone(tz))
      return fail("unknown time zone '" + tz + "'", 2);
    opts.default_zone = tz;
  }
  auto after = std::chrono::floor<std::chrono::seconds>(start);
  auto xs = cron::next_occurrences(*parsed, after, count, opts);
  if (xs.empty())
    std::printf("(no occurrence)\n");
  for (auto x : xs)
    std::printf("%s\n", format_timestamp(x).c_str());
  return 0;
}

std::string map_text(const value_map& m) {
  std::string out;
  for (auto& [k, v] : m)
    out += (out.empty() ? "" : ", ") + k + "=" + to_string(v) + " ("
           + std::string{type_name(v)} + ")";
  return out.empty() ? std::string{"-"} : out;
}

void print_schedules(const std::vector<recurring_schedule>& xs) {
  std::printf("%-36s  %-12s  %-9s  %-20s  %-24s  %s\n", "ID", "HANDLER",
              "STATUS", "NAME", "PLANNED UNTIL", "EXPRESSION");
  for (auto& x : xs)
    std::printf("%-36s  %-12s  %-9s  %-20s  %-24s  %s\n",
                to_string(x.id).c_str(), x.spec.handler.c_str(),
                std::string{to_string(x.status)}.c_str(),
                x.spec.static_name.empty() ? "-" : x.spec.static_name.c_str(),
                short_time(x.planned_until).c_str(),
                (x.spec.expression_type == expression_types::natural_cron
                   ? x.spec.expression
                   : x.spec.expression_type + " " + x.spec.expression)
                  .c_str());
}

void print_schedule_detail(const schedule_detail& d) {
  auto& x = d.schedule;
  auto& spec = x.spec;
  auto opt_time = [](const std::optional<timestamp>& t) {
    return t ? short_time(*t) : std::string{"-"};
  };
  std::printf("id:                 %s\n", to_string(x.id).c_str());
  std::printf("handler:            %s\n", spec.handler.c_str());
  std::printf("status:             %s\n",
              std::string{to_string(x.status)}.c_str());
  std::printf("kind:               %s\n",
              spec.static_name.empty()
                ? "dynamic"
                : ("static '" + spec.static_name + "'").c_str());
  std::printf("expression:         %s (%s)\n", spec.expression.c_str(),
              spec.expression_type.c_str());
  std::printf("time zone:          %s\n", spec.time_zone.c_str());
  std::printf("start after:        %s\n", opt_time(spec.start_after).c_str());
  std::printf("end before:         %s\n", opt_time(spec.end_before).c_str());
  std::printf("catch-up:           %s",
              std::string{to_string(spec.catch_up)}.c_str());
  if (spec.catch_up == catch_up_policy::all)
    std::printf(" (at most %u)", spec.catch_up_limit);
  std::printf("\noverlap:            %s\n",
              std::string{to_string(spec.overlap)}.c_str());
  std::printf("priority:           %s\n",
              spec.priority ? std::string{to_string(*spec.priority)}.c_str()
                            : "(handler default)");
  std::printf("lane:               %s\n",
              spec.lane ? (spec.lane->empty() ? "-" : spec.lane->c_str())
                        : "(handler default)");
  std::printf("data:               %s\n", map_text(spec.data).c_str());
  std::printf("metadata:           %s\n", map_text(spec.metadata).c_str());
  std::printf("created at:         %s\n", short_time(x.created_at).c_str());
  std::printf("terminated at:      %s\n", opt_time(x.terminated_at).c_str());
  std::printf("last occurrence:    %s\n", short_time(x.cursor).c_str());
  std::printf("planned until:      %s\n", short_time(x.planned_until).c_str());
  std::printf("next to plan:       %s\n", d.upcoming.empty() ? "-" : "");
  for (auto t : d.upcoming)
    std::printf("  %s\n", short_time(t).c_str());
  std::printf("latest jobs (24 h): %zu\n", d.jobs.size());
  if (!d.jobs.empty())
    print_jobs(d.jobs);
}

template <class F>
int with_client(const std::string& node, double timeout_s, F&& f) {
  auto c = connect(node, timeout_s);
  if (!c)
    return fail(c.error());
  return f(**c);
}

// Parses every `--status` value; the first bad one is the error.
template <class Parse, class T>
caf::error parse_each(const std::vector<std::string>& texts, Parse parse,
                      std::vector<T>& out) {
  for (auto& text : texts) {
    auto x = parse(text);
    if (!x)
      return x.error();
    out.push_back(*x);
  }
  return {};
}

caf::expected<job_id> parse_id(const std::string& text) {
  return parse_uuid(text);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobmaster: a distributed background-job system"};
  app.require_subcommand(1);
  std::string node_addr = "127.0.0.1:4710";
  if (auto env = std::getenv("JOBMASTER_NODE"))
    node_addr = env;
  double timeout_s = 10;

  node_args nargs;
  auto node_cmd = app.add_subcommand(
    "node", "run a node (standalone SQLite cluster unless --config says "
            "otherwise)");
  node_cmd->add_option("-c,--config", nargs.config_file, "TOML config file");
  node_cmd->add_option("--db", nargs.db, "SQLite file (overrides use_sqlite)");
  node_cmd->add_option("--listen", nargs.listen,
                       "host:port to listen on (default 127.0.0.1:4710)");
  node_cmd->add_option("--log-level", nargs.log_level,
                       "trace, debug, info, warn, error, off");
  node_cmd->add_flag("--demo", nargs.demo, "schedule a few sample jobs");

  auto add_node_option = [&](CLI::App* cmd) {
    cmd->add_option("--node", node_addr,
                    "node address host:port (default 127.0.0.1:4710, or "
                    "$JOBMASTER_NODE)");
    cmd->add_option("--timeout-seconds", timeout_s, "how long to wait")
      ->check(CLI::PositiveNumber);
  };

  cli::schedule_args sargs;
  auto sched = app.add_subcommand("schedule", "schedule a job, print its id");
  sched->add_option("handler", sargs.handler, "handler name")->required();
  sched->add_option("--data", sargs.data, "message data key[:type]=value");
  sched->add_option("--metadata", sargs.metadata, "metadata key[:type]=value");
  sched->add_option("--at", sargs.at, "when: ISO-8601 time, now, or +30s");
  sched->add_option("--after", sargs.after, "delay, e.g. 30s, 5m");
  sched->add_option("--priority", sargs.priority,
                    "very_low, low, medium, high, critical");
  auto lane_opt = sched->add_option("--lane", sargs.lane, "worker lane");
  sched->add_option("--timeout", sargs.timeout, "per-run timeout, e.g. 10s");
  sched->add_option("--max-retries", sargs.max_retries,
                    "retries after a failure");
  uint32_t count = 1;
  auto count_opt
    = sched->add_option("--count", count, "schedule this many identical jobs")
        ->check(CLI::Range(1, 100000));
  sched->add_option("--every", sargs.every,
                    "recurring: a NaturalCron expression, e.g. \"every 5 "
                    "minutes\"");
  sched->add_option("--interval", sargs.interval,
                    "recurring: a fixed interval as a TimeSpan, e.g. "
                    "00:00:30");
  sched->add_option("--tz", sargs.tz,
                    "recurring: zone for an expression without tz (default: "
                    "the cluster's time_zone)");
  sched->add_option("--start-after", sargs.start_after,
                    "recurring: no occurrence before (ISO-8601, now, +1h)");
  sched->add_option("--end-before", sargs.end_before,
                    "recurring: no occurrence from then on; the schedule "
                    "then completes");
  sched->add_option("--catch-up", sargs.catch_up,
                    "recurring: missed occurrences after downtime: all, "
                    "latest (default), skip");
  sched
    ->add_option("--catch-up-limit", sargs.catch_up_limit,
                 "recurring: with --catch-up all, at most this many "
                 "(default 100)")
    ->check(CLI::Range(1, 10000));
  sched->add_option("--overlap", sargs.overlap,
                    "recurring: allow (default) or skip an occurrence while "
                    "the previous run is still going");
  add_node_option(sched);

  auto schedules = app.add_subcommand(
    "schedules", "list, show, cancel, run-now recurring schedules");
  schedules->require_subcommand(1);
  std::vector<std::string> sched_statuses;
  schedule_filter sfilter;
  auto slist = schedules->add_subcommand("list", "list schedules");
  slist->add_option("--status", sched_statuses,
                    "active, cancelled, inactive, completed (repeatable)");
  slist->add_option("--handler", sfilter.handler, "filter by handler");
  slist->add_option("--limit", sfilter.limit,
                    "at most this many (default 100)");
  add_node_option(slist);
  std::string sched_id_text;
  auto sshow = schedules->add_subcommand(
    "show", "show a schedule, its next occurrences and latest jobs");
  sshow->add_option("id", sched_id_text, "schedule id")->required();
  add_node_option(sshow);
  auto scancel = schedules->add_subcommand(
    "cancel", "cancel a schedule and its jobs that have not started");
  scancel->add_option("id", sched_id_text, "schedule id")->required();
  add_node_option(scancel);
  auto srun = schedules->add_subcommand(
    "run-now", "run one extra occurrence of a schedule now");
  srun->add_option("id", sched_id_text, "schedule id")->required();
  add_node_option(srun);

  auto jobs = app.add_subcommand("jobs", "list, show, cancel, reschedule jobs");
  jobs->require_subcommand(1);
  std::vector<std::string> statuses;
  job_filter filter;
  auto list = jobs->add_subcommand("list", "list jobs");
  list->add_option("--status", statuses, "filter by status (repeatable)");
  list->add_option("--handler", filter.handler, "filter by handler");
  list->add_option("--lane", filter.lane, "filter by lane");
  list->add_option("--limit", filter.limit, "at most this many (default 100)");
  std::string list_from, list_to;
  list->add_option("--from", list_from,
                   "scheduled at or after (ISO-8601, now, or +30s)");
  list->add_option("--to", list_to, "scheduled at or before");
  add_node_option(list);
  std::string id_text;
  auto show = jobs->add_subcommand("show", "show a job and its attempts");
  show->add_option("id", id_text, "job id")->required();
  add_node_option(show);
  auto cancel = jobs->add_subcommand("cancel", "cancel a job not yet started");
  cancel->add_option("id", id_text, "job id")->required();
  add_node_option(cancel);
  std::string at_text, after_text;
  auto resched
    = jobs->add_subcommand("reschedule", "move a job not yet started");
  resched->add_option("id", id_text, "job id")->required();
  resched->add_option("--at", at_text, "new time: ISO-8601, now, or +30s");
  resched->add_option("--after", after_text, "new delay from now");
  add_node_option(resched);

  bench_args bargs;
  auto bench = app.add_subcommand(
    "bench", "measure end-to-end throughput and latency on a fresh cluster "
             "(SQLite or PostgreSQL), next to raw store baselines");
  bench->add_option("--jobs", bargs.jobs, "no-op jobs to run (default 20000)")
    ->check(CLI::Range(1, 10'000'000));
  bench
    ->add_option("--latency-samples", bargs.latency_samples,
                 "single jobs timed while idle (default 200)")
    ->check(CLI::Range(1, 100'000));
  bench->add_flag("--delete-succeeded", bargs.delete_succeeded,
                  "the cluster deletes succeeded jobs (delete_succeeded); "
                  "the baselines delete too");
  bench
    ->add_option("--parallelism", bargs.parallelism,
                 "handler threads (default 2)")
    ->check(CLI::Range(1, 256));
  bench->add_option("--batch-size", bargs.batch_size, "bucket batch size")
    ->check(CLI::Range(1, 10000));
  bench
    ->add_option("--store", bargs.store, "sqlite (default), postgres or mysql")
    ->check(CLI::IsMember({"sqlite", "postgres", "mysql"}));
  bench->add_option("--url", bargs.url,
                    "server stores: connection string of a throwaway "
                    "database (tables jmbench_*, dropped at the end)");
  bench
    ->add_option("--latency-rate", bargs.latency_rate,
                 "open-loop latency run: jobs per second (default 200)")
    ->check(CLI::Range(0, 100'000));
  bench
    ->add_option("--latency-seconds", bargs.latency_seconds,
                 "open-loop latency run: seconds (default 20; 0 skips it)")
    ->check(CLI::Range(0, 3600));
  bench->add_option("--dir", bargs.dir,
                    "SQLite: where to put the database files");
  bench->add_flag("--full-sync", bargs.full_sync,
                  "fsync every commit (sqlite_full_sync) in every run");
  bench
    ->add_option("--agent-connections", bargs.agent_connections,
                 "server stores: the nodes' agent_connections (default 2)")
    ->check(CLI::Range(1, 32));
  bench
    ->add_option("--agent", bargs.agent,
                 "a separate agent store: sqlite, postgres or mysql")
    ->check(CLI::IsMember({"sqlite", "postgres", "mysql"}));
  bench->add_option("--agent-url", bargs.agent_url,
                    "--agent postgres|mysql: connection string of a "
                    "throwaway database (tables jmbench_agent_*)");

  auto cron_cmd = app.add_subcommand("cron", "check NaturalCron expressions");
  cron_cmd->require_subcommand(1);
  std::string cron_expr, cron_from, cron_tz;
  size_t cron_count = 5;
  auto cron_next = cron_cmd->add_subcommand(
    "next", "print the next occurrences of an expression");
  cron_next
    ->add_option("expression", cron_expr,
                 "e.g. \"every day between mon and fri at 9am\"")
    ->required();
  cron_next->add_option("--count", cron_count, "how many (default 5)")
    ->check(CLI::Range(1, 10000));
  cron_next->add_option("--from", cron_from,
                        "reference time (ISO-8601; default now)");
  cron_next->add_option("--tz", cron_tz,
                        "zone when the expression has none (default UTC)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*node_cmd)
    return run_node(nargs);
  if (*cron_next)
    return run_cron_next(cron_expr, cron_count, cron_from, cron_tz);
  if (*bench)
    return run_bench(bargs);
  if (*sched && cli::is_recurring(sargs)) {
    sargs.lane_set = lane_opt->count() > 0;
    if (count_opt->count() > 0)
      return fail("--count is for one-off jobs", 2);
    auto spec = cli::make_recurring_spec(sargs);
    if (!spec)
      return fail(spec.error());
    if (!sargs.every.empty())
      if (auto parsed = cron::parse(sargs.every); !parsed)
        return fail_expression(sargs.every, parsed.error());
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto ids = reply_as<std::vector<job_id>>(c.call(request{*spec}));
      if (!ids)
        return fail(ids.error());
      if (ids->size() != 1)
        return fail("unexpected reply from the node");
      std::printf("%s\n", to_string(ids->front()).c_str());
      return 0;
    });
  }
  if (*slist) {
    if (auto err
        = parse_each(sched_statuses, parse_schedule_status, sfilter.statuses))
      return fail(err);
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto xs
        = reply_as<std::vector<recurring_schedule>>(c.call(request{sfilter}));
      if (!xs)
        return fail(xs.error());
      print_schedules(*xs);
      return 0;
    });
  }
  if (*sshow || *scancel || *srun) {
    auto sid = parse_id(sched_id_text);
    if (!sid)
      return fail(sid.error());
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      if (*sshow) {
        auto d = reply_as<schedule_detail>(
          c.call(request{get_schedule_request{*sid}}));
        if (!d)
          return fail(d.error());
        print_schedule_detail(*d);
        return 0;
      }
      if (*scancel) {
        auto r = reply_as<cancelled_reply>(
          c.call(request{cancel_schedule_request{*sid}}));
        if (!r)
          return fail(r.error());
        std::printf("cancelled schedule %s and %llu unstarted jobs\n",
                    to_string(*sid).c_str(),
                    static_cast<unsigned long long>(r->jobs));
        return 0;
      }
      auto ids = reply_as<std::vector<job_id>>(
        c.call(request{run_schedule_now_request{*sid}}));
      if (!ids)
        return fail(ids.error());
      if (ids->size() != 1)
        return fail("unexpected reply from the node");
      std::printf("%s\n", to_string(ids->front()).c_str());
      return 0;
    });
  }
  if (*sched) {
    sargs.lane_set = lane_opt->count() > 0;
    auto spec = cli::make_spec(sargs);
    if (!spec)
      return fail(spec.error());
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto ids = reply_as<std::vector<job_id>>(
        c.call(request{std::vector<job_spec>(count, *spec)}));
      if (!ids)
        return fail(ids.error());
      if (ids->size() != count)
        return fail("unexpected reply from the node");
      for (auto& id : *ids)
        std::printf("%s\n", to_string(id).c_str());
      return 0;
    });
  }
  if (*list) {
    if (auto err = parse_each(statuses, parse_job_status, filter.statuses))
      return fail(err);
    struct window_option {
      const char* name;
      const std::string* text;
      std::optional<timestamp>* slot;
    };
    for (auto opt :
         {window_option{"--from", &list_from, &filter.scheduled_from},
          window_option{"--to", &list_to, &filter.scheduled_to}}) {
      if (opt.text->empty())
        continue;
      auto t = cli::parse_when(*opt.text);
      if (!t)
        return fail(
          make_error(ec::invalid_argument,
                     std::string{opt.name} + ": " + describe(t.error())));
      *opt.slot = *t;
    }
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto xs = reply_as<std::vector<job>>(c.call(request{filter}));
      if (!xs)
        return fail(xs.error());
      print_jobs(*xs);
      return 0;
    });
  }
  auto id = parse_id(id_text);
  if (!id)
    return fail(id.error());
  if (*show)
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto d = reply_as<job_detail>(c.call(request{get_job_request{*id}}));
      if (!d)
        return fail(d.error());
      print_detail(*d);
      return 0;
    });
  if (*cancel)
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto r = c.call(request{cancel_request{*id}});
      if (!r)
        return fail(r.error());
      std::printf("cancelled %s\n", to_string(*id).c_str());
      return 0;
    });
  if (*resched) {
    if (at_text.empty() == after_text.empty())
      return fail("give exactly one of --at and --after", 2);
    caf::expected<timestamp> at = make_error(ec::invalid_argument, "");
    if (!at_text.empty()) {
      at = cli::parse_when(at_text);
    } else {
      auto d = parse_duration(after_text);
      if (d)
        at = now() + *d;
      else
        at = d.error();
    }
    if (!at)
      return fail(at.error());
    return with_client(node_addr, timeout_s, [&](remote_client& c) {
      auto r = c.call(request{reschedule_request{*id, *at}});
      if (!r)
        return fail(r.error());
      std::printf("rescheduled %s to %s\n", to_string(*id).c_str(),
                  format_timestamp(*at).c_str());
      return 0;
    });
  }
  return fail("nothing to do", 2);
}
