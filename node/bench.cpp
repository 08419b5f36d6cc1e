#include "node/bench.hpp"

#include "config/cluster_builder.hpp"
#include "messages/error.hpp"
#include "node/logging.hpp"
#include "node/runtime.hpp"
#include "providers/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

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
                                     uint32_t batch, bool full_sync) {
  auto db = sqlite::sqlite_store::open(path, full_sync);
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

// The physical floor: the same writes per job (one insert, one claim
// update, one result update plus an attempt insert), batched in the same
// transactions, on a minimal table with plain sqlite3 calls: no job
// encoding, no actors.
caf::expected<double> raw_sqlite_rate(const std::string& path, uint64_t n,
                                      uint32_t batch, bool full_sync) {
  sqlite3* db = nullptr;
  auto fail = [&](const char* what) {
    auto text = std::string{"raw sqlite: "} + what + ": "
                + (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return make_error(ec::store_failure, text);
  };
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK)
    return fail("open");
  std::string setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=";
  setup += full_sync ? "FULL;" : "NORMAL;";
  setup += "CREATE TABLE jobs (id BLOB PRIMARY KEY, status INT, due INT, "
           "version INT);"
           "CREATE TABLE attempts (id BLOB, number INT, outcome INT, "
           "PRIMARY KEY (id, number));";
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("schema");
  const char* sql[] = {
    "INSERT INTO jobs VALUES (?1, 3, ?2, 1)",
    "UPDATE jobs SET status = 6, version = version + 1 WHERE id = ?1",
    "UPDATE jobs SET status = 5, version = version + 1 WHERE id = ?1 "
    "AND version = 2",
    "INSERT INTO attempts VALUES (?1, 1, 1)",
  };
  sqlite3_stmt* stmts[4] = {};
  for (int i = 0; i < 4; ++i)
    if (sqlite3_prepare_v2(db, sql[i], -1, &stmts[i], nullptr) != SQLITE_OK)
      return fail("prepare");
  auto run = [&](sqlite3_stmt* s, const uuid& id, int64_t due) {
    sqlite3_bind_blob(s, 1, id.bytes.data(), 16, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) > 1)
      sqlite3_bind_int64(s, 2, due);
    auto rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE;
  };
  auto in_tx = [&](auto&& body) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    bool ok = body();
    return sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK
           && ok;
  };
  std::vector<uuid> ids(batch);
  auto t0 = steady::now();
  for (uint64_t done = 0; done < n; done += batch) {
    auto count = static_cast<size_t>(std::min<uint64_t>(batch, n - done));
    for (size_t i = 0; i < count; ++i)
      ids[i] = uuid::random();
    auto due = to_micros(now());
    auto each = [&](std::initializer_list<sqlite3_stmt*> ss) {
      return in_tx([&] {
        for (size_t i = 0; i < count; ++i)
          for (auto s : ss)
            if (!run(s, ids[i], due))
              return false;
        return true;
      });
    };
    if (!each({stmts[0]}) || !each({stmts[1]}) || !each({stmts[2], stmts[3]}))
      return fail("step");
  }
  auto rate = static_cast<double>(n) / seconds_since(t0);
  for (auto s : stmts)
    sqlite3_finalize(s);
  sqlite3_close(db);
  return rate;
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
    for (auto name : {"floor.db", "raw.db", "e2e.db"})
      for (auto suffix : {"", "-wal", "-shm"})
        fs::remove(dir / (std::string{name} + suffix), ec);
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
              "%u, sqlite synchronous=%s, files in %s\n",
              static_cast<unsigned long long>(args.jobs), args.parallelism,
              args.batch_size, args.full_sync ? "FULL" : "NORMAL", dir.c_str());
  std::fflush(stdout);

  // 1. Baselines: plain SQLite, then the job store alone.
  std::printf("[1/3] baselines ...\n");
  std::fflush(stdout);
  auto floor = raw_sqlite_rate((dir / "floor.db").string(), args.jobs,
                               args.batch_size, args.full_sync);
  auto raw = raw_store_rate((dir / "raw.db").string(), args.jobs,
                            args.batch_size, args.full_sync);
  for (auto* x : {&floor, &raw}) {
    if (!*x) {
      std::fprintf(stderr, "jobmaster: error: %s\n",
                   describe(x->error()).c_str());
      return 1;
    }
  }
  std::printf("      %.0f jobs/s raw SQLite floor (minimal rows: insert, "
              "claim update, result update + attempt insert; batches of "
              "%u)\n",
              *floor, args.batch_size);
  std::printf("      %.0f jobs/s job store alone (the same writes through "
              "providers/sqlite with full job rows, one connection)\n",
              *raw);

  // 2. End to end: schedule through the master, run, record.
  probe p;
  the_probe = &p;
  auto cfg = use_standalone_cluster()
               .cluster_id("bench")
               .use_sqlite((dir / "e2e.db").string())
               .sqlite_full_sync(args.full_sync)
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
  std::printf("\nsummary: end to end %.0f jobs/s = %.2fx the raw SQLite "
              "floor (%.0f jobs/s), %.2fx the job store alone (%.0f "
              "jobs/s); idle start latency p50 %.2f ms, p99 %.2f ms\n",
              e2e_rate, e2e_rate / *floor, *floor, e2e_rate / *raw, *raw,
              percentile(idle, 0.5), percentile(idle, 0.99));
  if (own_dir)
    fs::remove_all(dir);
  the_probe = nullptr;
  return 0;
}

} // namespace jm
