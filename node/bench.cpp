#include "node/bench.hpp"

#include "config/cluster_builder.hpp"
#include "messages/error.hpp"
#include "node/logging.hpp"
#include "node/runtime.hpp"
#include "providers/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace jm {

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

// Shared between the bench and its handler: when each job started.
struct probe {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t started = 0;
  /// Schedule-to-start of the throughput run, from the master's acceptance.
  std::vector<double> latencies_ms;
  /// When the latest job started (steady clock).
  steady::time_point last_start;
};

probe* the_probe = nullptr;

struct bench_noop {
  static constexpr std::string_view name = "bench-noop";
  void handle(job_context& ctx) {
    auto t = steady::now();
    auto wall = now();
    std::lock_guard guard{the_probe->mtx};
    ++the_probe->started;
    the_probe->last_start = t;
    the_probe->latencies_ms.push_back(
      std::chrono::duration<double, std::milli>(wall - ctx.job().created_at)
        .count());
    the_probe->cv.notify_all();
  }
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  return xs[idx];
}

job make_bench_job(timestamp t, std::string_view bucket) {
  job x;
  x.id = uuid::random();
  x.handler = "bench-noop";
  x.status = job_status::assigned_to_bucket;
  x.bucket_id = std::string{bucket};
  x.worker_id = "bench";
  x.original_scheduled_at = x.scheduled_at = x.created_at = t;
  x.timeout = std::chrono::minutes{5};
  x.max_retries = 3;
  return x;
}

// The store alone, no actors: per job one insert, one claim, one result
// write with its attempt row, all in batches. What the end-to-end path
// could reach if everything but the storage were free.
caf::expected<double> raw_store_rate(const std::string& path, uint64_t n,
                                     uint32_t batch) {
  auto db = sqlite::sqlite_store::open(path);
  if (!db)
    return db.error();
  if (auto err = (*db)->migrate())
    return err;
  auto t0 = steady::now();
  uint64_t done = 0;
  while (done < n) {
    auto count = static_cast<uint32_t>(std::min<uint64_t>(batch, n - done));
    std::vector<job> xs;
    xs.reserve(count);
    auto t = now();
    for (uint32_t i = 0; i < count; ++i)
      xs.push_back(make_bench_job(t, "raw"));
    if (auto err = (*db)->insert_jobs(xs))
      return err;
    auto claimed
      = (*db)->claim_bucket_jobs("raw", now(), count, std::chrono::minutes{1});
    if (!claimed)
      return claimed.error();
    std::vector<job_write> writes;
    writes.reserve(claimed->size());
    auto end = now();
    for (auto& x : *claimed) {
      job_write w;
      w.expected_version = x.version;
      w.job = x;
      w.job.status = job_status::succeeded;
      w.job.bucket_id.clear();
      w.attempt
        = attempt{x.id, 0, "bench", end, end, attempt_outcome::succeeded, {}};
      writes.push_back(std::move(w));
    }
    auto applied = (*db)->write_results(writes);
    if (!applied)
      return applied.error();
    done += count;
  }
  return static_cast<double>(n) / seconds_since(t0);
}

} // namespace

int run_bench(const bench_args& args) {
  namespace fs = std::filesystem;
  logging_config quiet;
  quiet.level = "warn";
  if (auto err = setup_logging(quiet)) {
    std::fprintf(stderr, "jobmaster: error: %s\n", describe(err).c_str());
    return 1;
  }
  fs::path dir = args.dir;
  bool own_dir = dir.empty();
  if (!own_dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::remove(dir / "raw.db", ec);
    fs::remove(dir / "e2e.db", ec);
    for (auto suffix : {"-wal", "-shm"}) {
      fs::remove(dir / (std::string{"raw.db"} + suffix), ec);
      fs::remove(dir / (std::string{"e2e.db"} + suffix), ec);
    }
  }
  if (own_dir) {
    char tmpl[] = "/tmp/jobmaster-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::fprintf(stderr, "jobmaster: error: cannot create a temp dir\n");
      return 1;
    }
    dir = tmpl;
  }
  std::printf("jobmaster bench: %llu no-op jobs, %u handler threads, batch "
              "%u, files in %s\n",
              static_cast<unsigned long long>(args.jobs), args.parallelism,
              args.batch_size, dir.c_str());
  std::fflush(stdout);

  // 1. Baseline: the store alone.
  std::printf("[1/3] raw store baseline ...\n");
  std::fflush(stdout);
  auto raw
    = raw_store_rate((dir / "raw.db").string(), args.jobs, args.batch_size);
  if (!raw) {
    std::fprintf(stderr, "jobmaster: error: %s\n",
                 describe(raw.error()).c_str());
    return 1;
  }
  std::printf("      %.0f jobs/s (insert + claim + result write + attempt "
              "row, batches of %u)\n",
              *raw, args.batch_size);

  // 2. End to end: schedule through the master, run, record.
  probe p;
  the_probe = &p;
  auto cfg = use_standalone_cluster()
               .cluster_id("bench")
               .use_sqlite((dir / "e2e.db").string())
               .listen("127.0.0.1", 0)
               .log_level("warn")
               .add_worker("bench")
               .parallelism(args.parallelism)
               .batch_size(args.batch_size)
               .build();
  if (!cfg) {
    std::fprintf(stderr, "jobmaster: error: %s\n",
                 describe(cfg.error()).c_str());
    return 1;
  }
  runtime rt{*cfg};
  rt.add_handler<bench_noop>();
  if (auto err = rt.start()) {
    std::fprintf(stderr, "jobmaster: error: %s\n", describe(err).c_str());
    return 1;
  }
  std::printf("[2/3] end to end ...\n");
  std::fflush(stdout);
  auto t0 = steady::now();
  uint64_t scheduled = 0;
  constexpr uint64_t chunk = 1000;
  while (scheduled < args.jobs) {
    auto count = std::min(chunk, args.jobs - scheduled);
    std::vector<job_spec> specs(count);
    for (auto& s : specs)
      s.handler = "bench-noop";
    auto ids = rt.scheduler().schedule(std::move(specs));
    if (!ids) {
      std::fprintf(stderr, "jobmaster: error: %s\n",
                   describe(ids.error()).c_str());
      return 1;
    }
    scheduled += count;
  }
  auto schedule_s = seconds_since(t0);
  {
    std::unique_lock guard{p.mtx};
    p.cv.wait(guard, [&] { return p.started >= args.jobs; });
  }
  // Finished means recorded as succeeded in the store, not just started.
  auto check = sqlite::sqlite_store::open((dir / "e2e.db").string());
  if (!check) {
    std::fprintf(stderr, "jobmaster: error: %s\n",
                 describe(check.error()).c_str());
    return 1;
  }
  uint64_t succeeded = 0;
  for (int i = 0; i < 6000 && succeeded < args.jobs; ++i) {
    auto counts = (*check)->count_by_status();
    if (counts)
      succeeded = (*counts)[job_status::succeeded];
    if (succeeded < args.jobs)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  auto e2e_s = seconds_since(t0);
  auto e2e_rate = static_cast<double>(args.jobs) / e2e_s;
  std::vector<double> backlog_latencies;
  {
    std::lock_guard guard{p.mtx};
    backlog_latencies.swap(p.latencies_ms);
  }
  std::printf("      %.0f jobs/s end to end (%llu succeeded in %.2f s; "
              "scheduling alone took %.2f s)\n",
              e2e_rate, static_cast<unsigned long long>(succeeded), e2e_s,
              schedule_s);
  std::printf("      schedule-to-start under this backlog: p50 %.1f ms, p99 "
              "%.1f ms\n",
              percentile(backlog_latencies, 0.5),
              percentile(backlog_latencies, 0.99));

  // 3. Latency while idle: one job at a time, wait until it starts.
  std::printf("[3/3] start latency of single jobs on an idle node ...\n");
  std::fflush(stdout);
  std::vector<double> idle;
  for (uint32_t i = 0; i < args.latency_samples; ++i) {
    job_spec spec;
    spec.handler = "bench-noop";
    uint64_t before;
    {
      std::lock_guard guard{p.mtx};
      before = p.started;
    }
    // From the caller's send to the handler's first instruction.
    auto sent = steady::now();
    auto ids = rt.scheduler().schedule({spec});
    if (!ids) {
      std::fprintf(stderr, "jobmaster: error: %s\n",
                   describe(ids.error()).c_str());
      return 1;
    }
    std::unique_lock guard{p.mtx};
    p.cv.wait(guard, [&] { return p.started > before; });
    idle.push_back(
      std::chrono::duration<double, std::milli>(p.last_start - sent).count());
    guard.unlock();
    // Let the outcome write finish so that each sample starts idle.
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  std::printf("      schedule-to-start while idle: p50 %.2f ms, p99 %.2f ms "
              "(%zu samples)\n",
              percentile(idle, 0.5), percentile(idle, 0.99), idle.size());
  rt.stop();
  std::printf("\nsummary: end to end %.0f jobs/s = %.2fx the raw store "
              "baseline (%.0f jobs/s); idle start latency p50 %.2f ms\n",
              e2e_rate, e2e_rate / *raw, *raw, percentile(idle, 0.5));
  if (own_dir)
    fs::remove_all(dir);
  the_probe = nullptr;
  return 0;
}

} // namespace jm
