#include "node/bench.hpp"

#include "config/cluster_builder.hpp"
#include "messages/error.hpp"
#include "node/logging.hpp"
#include "node/runtime.hpp"
#include "providers/factory.hpp"

#include <libpq-fe.h>
#include <mysql.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace jm {

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void fail_line(const caf::error& err) {
  std::fprintf(stderr, "jobmaster: error: %s\n", describe(err).c_str());
}

// Shared between the bench and its handler.
struct probe {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t started = 0;
  /// When the first and the latest job started.
  steady::time_point first_start;
  steady::time_point last_start;
  /// Start times of the open-loop jobs, by the index in their data.
  std::vector<steady::time_point> marked;
  uint64_t marked_count = 0;
};

probe* the_probe = nullptr;

struct bench_noop {
  static constexpr std::string_view name = "bench-noop";
  void handle(job_context& ctx) {
    auto t = steady::now();
    auto& data = ctx.data();
    auto i = data.find("i");
    std::lock_guard guard{the_probe->mtx};
    if (the_probe->started++ == 0)
      the_probe->first_start = t;
    the_probe->last_start = t;
    if (i != data.end())
      if (auto* n = std::get_if<int64_t>(&i->second);
          n != nullptr && *n >= 0
          && static_cast<size_t>(*n) < the_probe->marked.size()) {
        the_probe->marked[static_cast<size_t>(*n)] = t;
        ++the_probe->marked_count;
      }
    the_probe->cv.notify_all();
  }
};

// The peers' percentile (ceil(p * n) - 1), so that p50 and p99 mean the
// same on both sides.
double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx
    = static_cast<long>(std::ceil(p * static_cast<double>(xs.size()))) - 1;
  return xs[static_cast<size_t>(
    std::clamp<long>(idx, 0, static_cast<long>(xs.size()) - 1))];
}

// Busy cores of the whole machine and of this process over a window: says
// whether the database, the node or something else was the limit.
class cpu_meter {
public:
  cpu_meter() : t0_(steady::now()), machine0_(machine_busy()), self0_(self()) {}

  /// {machine cores busy, this process's cores}
  std::pair<double, double> read() const {
    auto wall = seconds_since(t0_);
    if (wall <= 0)
      return {0, 0};
    return {(machine_busy() - machine0_) / wall, (self() - self0_) / wall};
  }

private:
  static double machine_busy() {
    std::ifstream in{"/proc/stat"};
    std::string cpu;
    double f[8] = {};
    in >> cpu;
    for (auto& x : f)
      in >> x;
    double total = 0;
    for (auto x : f)
      total += x;
    return (total - f[3] - f[4]) / 100.0; // USER_HZ
  }

  static double self() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) {
      return static_cast<double>(t.tv_sec)
             + static_cast<double>(t.tv_usec) / 1e6;
    };
    return s(u.ru_utime) + s(u.ru_stime);
  }

  steady::time_point t0_;
  double machine0_;
  double self0_;
};

bool is_postgres(const bench_args& args) {
  return args.store == "postgres";
}

bool is_mysql(const bench_args& args) {
  return args.store == "mysql";
}

// A database server: a URL, table prefixes, tables dropped at the end.
bool is_server(const bench_args& args) {
  return is_postgres(args) || is_mysql(args);
}

// Every phase gets its own database file or its own table prefix, so that
// no phase sees another's rows.
store_config phase_store(const bench_args& args,
                         const std::filesystem::path& dir,
                         std::string_view phase) {
  store_config cfg;
  if (is_server(args)) {
    cfg.kind = is_postgres(args) ? store_kind::postgres : store_kind::mysql;
    cfg.url = args.url;
    cfg.table_prefix = "jmbench_" + std::string{phase} + "_";
  } else {
    cfg.kind = store_kind::sqlite;
    cfg.path = (dir / (std::string{phase} + ".db")).string();
    cfg.full_sync = args.full_sync;
  }
  return cfg;
}

// With --agent, the nodes' separate agent store is its own file, or tables
// prefixed jmbench_agent_ on the agent's server.
cluster_builder phase_cluster(const bench_args& args, const store_config& s,
                              const std::filesystem::path& dir) {
  auto b = use_standalone_cluster();
  b.cluster_id("bench").listen("127.0.0.1", 0).log_level("warn");
  b.delete_succeeded(args.delete_succeeded);
  if (args.agent == "sqlite")
    b.use_agent_sqlite((dir / "agent.db").string());
  else if (args.agent == "postgres")
    b.use_agent_postgres(args.agent_url).agent_table_prefix("jmbench_agent_");
  else if (args.agent == "mysql")
    b.use_agent_mysql(args.agent_url).agent_table_prefix("jmbench_agent_");
  if (s.kind == store_kind::sqlite)
    return b.use_sqlite(s.path).sqlite_full_sync(args.full_sync);
  if (s.kind == store_kind::postgres)
    b.use_postgres(s.url);
  else
    b.use_mysql(s.url);
  return b.table_prefix(s.table_prefix)
    .agent_connections(args.agent_connections);
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
// write with its attempt row (or a remove write), all in batches. What the
// end-to-end path could reach if everything but the storage were free.
caf::expected<double> raw_store_rate(const store_config& cfg, uint64_t n,
                                     uint32_t batch, bool remove) {
  auto db = open_store(cfg);
  if (!db)
    return db.error();
  auto t0 = steady::now();
  uint64_t done = 0;
  while (done < n) {
    auto count = static_cast<uint32_t>(std::min<uint64_t>(batch, n - done));
    std::vector<job> xs;
    xs.reserve(count);
    auto t = now();
    for (uint32_t i = 0; i < count; ++i)
      xs.push_back(make_bench_job(t, "raw"));
    if (auto err = db->master->insert_jobs(xs))
      return err;
    auto claimed = db->agent->claim_bucket_jobs("raw", std::nullopt, now(),
                                                count, std::chrono::minutes{1});
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
      w.remove = remove;
      if (!remove)
        w.attempt
          = attempt{x.id, 0, "bench", end, end, attempt_outcome::succeeded, {}};
      writes.push_back(std::move(w));
    }
    auto applied = db->agent->write_results(writes);
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
                                      uint32_t batch, bool full_sync,
                                      bool remove) {
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
    "DELETE FROM jobs WHERE id = ?1 AND version = 2",
  };
  sqlite3_stmt* stmts[5] = {};
  for (int i = 0; i < 5; ++i)
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
    auto finish = remove ? each({stmts[4]}) : each({stmts[2], stmts[3]});
    if (!each({stmts[0]}) || !each({stmts[1]}) || !finish)
      return fail("step");
  }
  auto rate = static_cast<double>(n) / seconds_since(t0);
  for (auto s : stmts)
    sqlite3_finalize(s);
  sqlite3_close(db);
  return rate;
}

// -- PostgreSQL through plain libpq -------------------------------------------

/// One libpq connection with text-format helpers; enough for baselines
/// and cleanup.
class pg_session {
public:
  ~pg_session() {
    if (conn_ != nullptr)
      PQfinish(conn_);
  }

  caf::error connect(const std::string& url) {
    conn_ = PQconnectdb(url.c_str());
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK)
      return fail("connect");
    PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
    return {};
  }

  caf::error exec(const std::string& sql) {
    auto* r = PQexec(conn_, sql.c_str());
    auto ok = ok_status(r);
    PQclear(r);
    return ok ? caf::error{} : fail(sql.substr(0, 40).c_str());
  }

  caf::error prepare(const char* name, const char* sql) {
    auto* r = PQprepare(conn_, name, sql, 0, nullptr);
    auto ok = ok_status(r);
    PQclear(r);
    return ok ? caf::error{} : fail(name);
  }

  /// Runs a prepared statement; the text of column 0 of each row lands in
  /// `out` when given.
  caf::error run(const char* name, const std::vector<std::string>& args,
                 std::vector<std::string>* out = nullptr) {
    std::vector<const char*> vs;
    for (auto& a : args)
      vs.push_back(a.c_str());
    auto* r = PQexecPrepared(conn_, name, static_cast<int>(vs.size()),
                             vs.data(), nullptr, nullptr, 0);
    auto ok = ok_status(r);
    if (ok && out != nullptr) {
      out->clear();
      for (int i = 0; i < PQntuples(r); ++i)
        out->emplace_back(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return ok ? caf::error{} : fail(name);
  }

  std::string scalar(const std::string& sql) {
    auto* r = PQexec(conn_, sql.c_str());
    std::string x;
    if (ok_status(r) && PQntuples(r) > 0)
      x = PQgetvalue(r, 0, 0);
    PQclear(r);
    return x;
  }

private:
  static bool ok_status(PGresult* r) {
    auto st = PQresultStatus(r);
    return r != nullptr && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
  }

  caf::error fail(const char* what) {
    std::string msg
      = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
      msg.pop_back();
    return make_error(ec::store_failure,
                      std::string{"raw postgres: "} + what + ": " + msg);
  }

  PGconn* conn_ = nullptr;
};

std::string uuid_array(const std::vector<std::string>& ids, size_t first,
                       size_t count) {
  std::string out = "{";
  for (size_t i = first; i < first + count; ++i) {
    if (i > first)
      out += ',';
    out += ids[i];
  }
  return out + "}";
}

struct pg_floor {
  /// Autocommitted single-row inserts, one connection.
  double single_commits = 0;
  /// The job cycle on a minimal table, batched as the store batches.
  double cycle = 0;
  /// Rows per second of the SKIP LOCKED claim statement alone.
  double claim_rows = 0;
};

// The physical floor on PostgreSQL: the commit rate of one connection, and
// the job cycle (batch insert with unnest, SKIP LOCKED claim of a batch,
// result update plus attempt insert in one statement) on a minimal table,
// one connection, no job encoding, no actors.
caf::expected<pg_floor> raw_postgres_rate(const std::string& url, uint64_t n,
                                          uint32_t batch, bool remove) {
  pg_session pg;
  if (auto err = pg.connect(url))
    return err;
  const char* schema
    = "DROP TABLE IF EXISTS jmbench_raw_commit, jmbench_raw_jobs, "
      "jmbench_raw_attempts;"
      "CREATE TABLE jmbench_raw_commit (id uuid PRIMARY KEY, at bigint);"
      "CREATE TABLE jmbench_raw_jobs (id uuid PRIMARY KEY, status int NOT "
      "NULL, due bigint NOT NULL, version bigint NOT NULL);"
      "CREATE INDEX jmbench_raw_jobs_due ON jmbench_raw_jobs (due, id) "
      "WHERE status = 3;"
      "CREATE TABLE jmbench_raw_attempts (id uuid, number int, outcome int, "
      "PRIMARY KEY (id, number));";
  if (auto err = pg.exec(schema))
    return err;
  const std::pair<const char*, const char*> stmts[] = {
    {"commit", "INSERT INTO jmbench_raw_commit VALUES ($1::uuid, $2::int8)"},
    {"insert", "INSERT INTO jmbench_raw_jobs SELECT unnest($1::uuid[]), 3, "
               "$2::int8, 1"},
    {"claim",
     "WITH c AS (SELECT id FROM jmbench_raw_jobs WHERE status = 3 AND due "
     "<= $1::int8 ORDER BY due, id LIMIT $2::int8 FOR UPDATE SKIP LOCKED) "
     "UPDATE jmbench_raw_jobs j SET status = 6, version = j.version + 1 "
     "FROM c WHERE j.id = c.id RETURNING j.id"},
    {"complete",
     "WITH u AS (UPDATE jmbench_raw_jobs SET status = 5, version = version "
     "+ 1 WHERE id = ANY($1::uuid[]) AND version = 2 RETURNING id) "
     "INSERT INTO jmbench_raw_attempts SELECT id, 1, 1 FROM u"},
    {"remove", "DELETE FROM jmbench_raw_jobs WHERE id = ANY($1::uuid[]) AND "
               "version = 2"},
  };
  for (auto& [name, sql] : stmts)
    if (auto err = pg.prepare(name, sql))
      return err;
  pg_floor out;
  // Single-row commits for about two seconds.
  {
    uint64_t count = 0;
    auto t0 = steady::now();
    while (seconds_since(t0) < 2.0) {
      if (auto err = pg.run("commit", {to_string(uuid::random()),
                                       std::to_string(to_micros(now()))}))
        return err;
      ++count;
    }
    out.single_commits = static_cast<double>(count) / seconds_since(t0);
  }
  double claim_s = 0;
  std::vector<std::string> ids;
  std::vector<std::string> claimed;
  auto t0 = steady::now();
  for (uint64_t done = 0; done < n; done += batch) {
    auto count = static_cast<size_t>(std::min<uint64_t>(batch, n - done));
    ids.clear();
    for (size_t i = 0; i < count; ++i)
      ids.push_back(to_string(uuid::random()));
    auto due = std::to_string(to_micros(now()));
    if (auto err = pg.run("insert", {uuid_array(ids, 0, count), due}))
      return err;
    auto tc = steady::now();
    if (auto err = pg.run("claim", {due, std::to_string(count)}, &claimed))
      return err;
    claim_s += seconds_since(tc);
    if (auto err = pg.run(remove ? "remove" : "complete",
                          {uuid_array(claimed, 0, claimed.size())}))
      return err;
  }
  out.cycle = static_cast<double>(n) / seconds_since(t0);
  out.claim_rows = claim_s > 0 ? static_cast<double>(n) / claim_s : 0;
  return out;
}

// The tables the stores of the bench's phases create (and the agent's).
std::vector<std::string> bench_tables() {
  std::vector<std::string> result;
  for (auto phase : {"store", "e2e", "agent"})
    for (auto table : {"jobs", "attempts", "nodes", "buckets", "schedules",
                       "agent_queue", "schema_version"})
      result.push_back(std::string{"jmbench_"} + phase + "_" + table);
  return result;
}

// Drops every table the bench created on the server.
void drop_postgres_tables(const std::string& url) {
  pg_session pg;
  if (pg.connect(url))
    return;
  std::string sql = "DROP TABLE IF EXISTS jmbench_raw_commit, "
                    "jmbench_raw_jobs, jmbench_raw_attempts";
  for (auto& table : bench_tables())
    sql += ", " + table;
  if (auto err = pg.exec(sql))
    fail_line(err);
}

// Drops every table the bench created on a MySQL/MariaDB server. Takes
// `mysql://user[:password]@host[:port]/database` only.
void drop_mysql_tables(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("mysql://", 0) != 0) {
    std::fprintf(stderr,
                 "jobmaster: warning: cannot drop the bench tables: "
                 "--url is not of the form mysql://user@host:port/db\n");
    return;
  }
  rest = rest.substr(8);
  auto at = rest.find('@');
  auto slash = rest.find('/', at == std::string::npos ? 0 : at);
  std::string user = at == std::string::npos ? "" : rest.substr(0, at);
  std::string password;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    password = user.substr(colon + 1);
    user.resize(colon);
  }
  auto hostport = rest.substr(at == std::string::npos ? 0 : at + 1,
                              slash - (at == std::string::npos ? 0 : at + 1));
  std::string db = slash == std::string::npos ? "" : rest.substr(slash + 1);
  unsigned port = 3306;
  if (auto colon = hostport.find(':'); colon != std::string::npos) {
    port = static_cast<unsigned>(std::stoul(hostport.substr(colon + 1)));
    hostport.resize(colon);
  }
  MYSQL* conn = mysql_init(nullptr);
  if (conn == nullptr
      || mysql_real_connect(conn, hostport.c_str(), user.c_str(),
                            password.c_str(), db.c_str(), port, nullptr, 0)
           == nullptr) {
    std::fprintf(stderr,
                 "jobmaster: warning: cannot drop the bench tables: %s\n",
                 conn != nullptr ? mysql_error(conn) : "out of memory");
    mysql_close(conn);
    return;
  }
  std::string sql = "DROP TABLE IF EXISTS ";
  bool first = true;
  for (auto& table : bench_tables()) {
    sql += (first ? "" : ", ") + table;
    first = false;
  }
  if (mysql_query(conn, sql.c_str()) != 0)
    std::fprintf(stderr, "jobmaster: warning: %s\n", mysql_error(conn));
  mysql_close(conn);
}

void drop_server_tables(const bench_args& args) {
  if (is_postgres(args))
    drop_postgres_tables(args.url);
  else if (is_mysql(args))
    drop_mysql_tables(args.url);
  if (args.agent == "postgres")
    drop_postgres_tables(args.agent_url);
  else if (args.agent == "mysql")
    drop_mysql_tables(args.agent_url);
}

// How the bench's cycles finish a job.
const char* finish_label(const bench_args& args) {
  return args.delete_succeeded ? "delete" : "result update + attempt insert";
}

// Waits until the store records `n` jobs as succeeded (finished means
// written, not just started), or, when succeeded jobs are deleted, until
// `n` of the `n` jobs it held are gone; false after `limit`.
bool wait_succeeded(master_store& check, uint64_t n, bool deleted,
                    std::chrono::seconds limit, uint64_t& succeeded) {
  auto t0 = steady::now();
  succeeded = 0;
  while (seconds_since(t0) < static_cast<double>(limit.count())) {
    auto counts = check.count_by_status();
    if (counts && deleted) {
      uint64_t left = 0;
      for (auto& [status, count] : *counts)
        left += count;
      succeeded = n - std::min(n, left);
    } else if (counts) {
      succeeded = (*counts)[job_status::succeeded];
    }
    if (succeeded >= n)
      return true;
    // The peers poll every 20 ms too.
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return false;
}

} // namespace

int run_bench(const bench_args& args) {
  namespace fs = std::filesystem;
  if (args.store != "sqlite" && !is_server(args)) {
    std::fprintf(stderr, "jobmaster: error: --store must be sqlite, postgres "
                         "or mysql\n");
    return 2;
  }
  if (is_server(args) && args.url.empty()) {
    std::fprintf(stderr,
                 "jobmaster: error: --store %s needs --url (a "
                 "throwaway database)\n",
                 args.store.c_str());
    return 2;
  }
  logging_config quiet;
  quiet.level = "warn";
  if (auto err = setup_logging(quiet)) {
    fail_line(err);
    return 1;
  }
  if ((args.agent == "postgres" || args.agent == "mysql")
      && args.agent_url.empty()) {
    std::fprintf(stderr, "jobmaster: error: --agent %s needs --agent-url\n",
                 args.agent.c_str());
    return 2;
  }
  fs::path dir = args.dir;
  bool own_dir = false;
  if (!is_server(args) || args.agent == "sqlite") {
    own_dir = dir.empty();
    if (!own_dir) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      for (auto name : {"floor.db", "store.db", "e2e.db", "agent.db"})
        for (auto suffix : {"", "-wal", "-shm"})
          fs::remove(dir / (std::string{name} + suffix), ec);
    } else {
      char tmpl[] = "/tmp/jobmaster-bench-XXXXXX";
      if (!mkdtemp(tmpl)) {
        std::fprintf(stderr, "jobmaster: error: cannot create a temp dir\n");
        return 1;
      }
      dir = tmpl;
    }
  }
  // Leftovers of an interrupted run would skew every figure.
  drop_server_tables(args);
  struct cleanup_t {
    const bench_args& args;
    fs::path dir;
    bool own_dir;
    ~cleanup_t() {
      drop_server_tables(args);
      if (own_dir)
        fs::remove_all(dir);
      the_probe = nullptr;
    }
  } cleanup{args, dir, own_dir};

  if (is_server(args))
    std::printf("jobmaster bench: %llu no-op jobs, %u handler threads, batch "
                "%u, %s (tables jmbench_*, dropped at the end)\n",
                static_cast<unsigned long long>(args.jobs), args.parallelism,
                args.batch_size, is_postgres(args) ? "PostgreSQL" : "MySQL");
  else
    std::printf("jobmaster bench: %llu no-op jobs, %u handler threads, batch "
                "%u, sqlite synchronous=%s, files in %s\n",
                static_cast<unsigned long long>(args.jobs), args.parallelism,
                args.batch_size, args.full_sync ? "FULL" : "NORMAL",
                dir.c_str());
  if (args.delete_succeeded)
    std::printf("      succeeded jobs are deleted (delete_succeeded)\n");
  if (!args.agent.empty())
    std::printf("      with a separate agent store: %s%s\n", args.agent.c_str(),
                args.agent == "sqlite" ? " (agent.db)"
                                       : " (tables jmbench_agent_*)");
  std::fflush(stdout);

  // 1. Baselines: the storage with plain client calls, then the job store
  // alone.
  std::printf("[1/4] baselines ...\n");
  std::fflush(stdout);
  double floor_rate = 0;
  if (is_postgres(args)) {
    auto floor = raw_postgres_rate(args.url, args.jobs, args.batch_size,
                                   args.delete_succeeded);
    if (!floor) {
      fail_line(floor.error());
      return 1;
    }
    floor_rate = floor->cycle;
    std::printf("      %.0f commits/s raw PostgreSQL single-row INSERT, one "
                "connection, autocommit\n",
                floor->single_commits);
    std::printf("      %.0f jobs/s raw PostgreSQL floor (minimal rows: "
                "unnest insert, SKIP LOCKED claim, %s; batches of %u, one "
                "connection)\n",
                floor->cycle, finish_label(args), args.batch_size);
    std::printf("      %.0f jobs/s of which the SKIP LOCKED claim statement "
                "alone (claims of %u)\n",
                floor->claim_rows, args.batch_size);
  } else if (is_mysql(args)) {
    std::printf("      (no raw floor on MySQL here: the peer harness's "
                "maria-raw measures the server's limits)\n");
  } else {
    auto floor
      = raw_sqlite_rate((dir / "floor.db").string(), args.jobs, args.batch_size,
                        args.full_sync, args.delete_succeeded);
    if (!floor) {
      fail_line(floor.error());
      return 1;
    }
    floor_rate = *floor;
    std::printf("      %.0f jobs/s raw SQLite floor (minimal rows: insert, "
                "claim update, %s; batches of %u)\n",
                *floor, finish_label(args), args.batch_size);
  }
  auto store_rate = raw_store_rate(phase_store(args, dir, "store"), args.jobs,
                                   args.batch_size, args.delete_succeeded);
  if (!store_rate) {
    fail_line(store_rate.error());
    return 1;
  }
  std::printf("      %.0f jobs/s job store alone (the same cycle through "
              "providers/%s with full job rows, one connection)\n",
              *store_rate, args.store.c_str());

  // 2. Enqueue: a node without workers takes the jobs through the master's
  // front door; with no bucket attached they stay held_on_master, so that
  // the drain below starts from a full queue as the peers' does.
  probe p;
  the_probe = &p;
  auto e2e_store = phase_store(args, dir, "e2e");
  std::printf("[2/4] enqueue %llu jobs, then drain them ...\n",
              static_cast<unsigned long long>(args.jobs));
  std::fflush(stdout);
  double enqueue_s = 0;
  {
    auto cfg = phase_cluster(args, e2e_store, dir).build();
    if (!cfg) {
      fail_line(cfg.error());
      return 1;
    }
    runtime rt{*cfg};
    rt.add_handler<bench_noop>();
    if (auto err = rt.start()) {
      fail_line(err);
      return 1;
    }
    auto t0 = steady::now();
    constexpr uint64_t chunk = 1000;
    for (uint64_t scheduled = 0; scheduled < args.jobs;) {
      auto count = std::min(chunk, args.jobs - scheduled);
      std::vector<job_spec> specs(count);
      for (auto& s : specs)
        s.handler = "bench-noop";
      auto ids = rt.scheduler().schedule(std::move(specs));
      if (!ids) {
        fail_line(ids.error());
        return 1;
      }
      scheduled += count;
    }
    enqueue_s = seconds_since(t0);
    rt.stop();
  }
  std::printf("      %.0f jobs/s enqueue through the front door (requests of "
              "1,000; %.2f s)\n",
              static_cast<double>(args.jobs) / enqueue_s, enqueue_s);

  // 3. Drain: the clock starts before the node with the worker starts and
  // stops when the store records every job as succeeded.
  auto cfg = phase_cluster(args, e2e_store, dir)
               .add_worker("bench")
               .parallelism(args.parallelism)
               .batch_size(args.batch_size)
               .build();
  if (!cfg) {
    fail_line(cfg.error());
    return 1;
  }
  // The bench's own connection, which watches the store, is open before
  // the clock starts: its start-up is not the node's.
  auto check = open_store(e2e_store);
  if (!check) {
    fail_line(check.error());
    return 1;
  }
  cpu_meter cpu;
  auto t0 = steady::now();
  runtime rt{*cfg};
  rt.add_handler<bench_noop>();
  if (auto err = rt.start()) {
    fail_line(err);
    return 1;
  }
  double handled_s = 0;
  double first_s = 0;
  {
    std::unique_lock guard{p.mtx};
    if (!p.cv.wait_for(guard, std::chrono::minutes{10},
                       [&] { return p.started >= args.jobs; })) {
      std::fprintf(stderr,
                   "jobmaster: error: only %llu of %llu jobs started "
                   "within 10 minutes\n",
                   static_cast<unsigned long long>(p.started),
                   static_cast<unsigned long long>(args.jobs));
      return 1;
    }
    handled_s = ms_between(t0, p.last_start) / 1000.0;
    first_s = ms_between(t0, p.first_start) / 1000.0;
  }
  uint64_t succeeded = 0;
  if (!wait_succeeded(*check->master, args.jobs, args.delete_succeeded,
                      std::chrono::seconds{120}, succeeded)) {
    std::fprintf(stderr,
                 "jobmaster: error: only %llu of %llu jobs recorded "
                 "as succeeded\n",
                 static_cast<unsigned long long>(succeeded),
                 static_cast<unsigned long long>(args.jobs));
    return 1;
  }
  auto drain_s = seconds_since(t0);
  auto [machine_cores, own_cores] = cpu.read();
  auto e2e_rate = static_cast<double>(args.jobs) / drain_s;
  std::printf("      %.0f jobs/s end to end, drain (%llu succeeded in %.2f s "
              "from the node's start; the first one started at %.2f s, the "
              "last at %.2f s)\n",
              e2e_rate, static_cast<unsigned long long>(succeeded), drain_s,
              first_s, handled_s);
  std::printf("      cores busy during the drain: %.2f machine, %.2f this "
              "process (%s)\n",
              machine_cores, own_cores,
              is_server(args) ? "the rest: the database server and other load"
                              : "SQLite runs in this process");

  // 4. Latency, open loop: jobs scheduled at a fixed rate whether or not
  // earlier ones have started, from just before the schedule call to the
  // handler's first instruction.
  std::vector<double> open_loop;
  double open_machine = 0;
  double open_own = 0;
  if (args.latency_rate > 0 && args.latency_seconds > 0) {
    auto total = static_cast<size_t>(args.latency_rate) * args.latency_seconds;
    std::printf("[3/4] open loop: %u jobs/s for %u s (%zu jobs) ...\n",
                args.latency_rate, args.latency_seconds, total);
    std::fflush(stdout);
    {
      std::lock_guard guard{p.mtx};
      p.marked.assign(total, steady::time_point{});
      p.marked_count = 0;
    }
    std::vector<steady::time_point> sent(total);
    std::atomic<bool> failed{false};
    // Several producers, so that one slow call does not delay the next
    // send (the peers' producer keeps up to 256 calls in flight).
    constexpr size_t producers = 8;
    auto period = std::chrono::duration<double>(1.0 / args.latency_rate);
    cpu_meter open_cpu;
    auto start = steady::now() + std::chrono::milliseconds{50};
    std::vector<std::thread> threads;
    for (size_t k = 0; k < producers; ++k)
      threads.emplace_back([&, k] {
        for (size_t i = k; i < total; i += producers) {
          std::this_thread::sleep_until(
            start
            + std::chrono::duration_cast<steady::duration>(
              period * static_cast<double>(i)));
          job_spec spec;
          spec.handler = "bench-noop";
          spec.data["i"] = static_cast<int64_t>(i);
          sent[i] = steady::now();
          if (!rt.scheduler().schedule({std::move(spec)}))
            failed = true;
        }
      });
    for (auto& t : threads)
      t.join();
    {
      std::unique_lock guard{p.mtx};
      p.cv.wait_for(guard, std::chrono::seconds{60},
                    [&] { return p.marked_count >= total; });
      for (size_t i = 0; i < total; ++i)
        if (p.marked[i] != steady::time_point{})
          open_loop.push_back(ms_between(sent[i], p.marked[i]));
    }
    std::tie(open_machine, open_own) = open_cpu.read();
    if (failed || open_loop.size() < total)
      std::printf("      warning: %zu of %zu jobs started%s\n",
                  open_loop.size(), total,
                  failed ? " (some schedule calls failed)" : "");
    std::printf("      schedule-to-start at %u jobs/s: p50 %.2f ms, p99 %.2f "
                "ms, max %.1f ms; cores busy %.2f machine, %.2f this "
                "process\n",
                args.latency_rate, percentile(open_loop, 0.5),
                percentile(open_loop, 0.99), percentile(open_loop, 1.0),
                open_machine, open_own);
  }

  // 5. Latency while idle: one job at a time, wait until it starts.
  std::printf("[4/4] start latency of single jobs on an idle node ...\n");
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
      fail_line(ids.error());
      return 1;
    }
    std::unique_lock guard{p.mtx};
    p.cv.wait(guard, [&] { return p.started > before; });
    idle.push_back(ms_between(sent, p.last_start));
    guard.unlock();
    // Let the outcome write finish so that each sample starts idle.
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  std::printf("      schedule-to-start while idle: p50 %.2f ms, p99 %.2f ms "
              "(%zu samples)\n",
              percentile(idle, 0.5), percentile(idle, 0.99), idle.size());
  rt.stop();
  std::string vs_floor;
  if (floor_rate > 0) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2fx the raw floor (%.0f jobs/s), ",
                  e2e_rate / floor_rate, floor_rate);
    vs_floor = buf;
  }
  std::printf("\nsummary (%s): end to end %.0f jobs/s (drain) = %s%.2fx the "
              "job store alone (%.0f jobs/s); open-loop start latency p50 "
              "%.2f ms, p99 %.2f ms; idle p50 %.2f ms, p99 %.2f ms\n",
              args.store.c_str(), e2e_rate, vs_floor.c_str(),
              e2e_rate / *store_rate, *store_rate, percentile(open_loop, 0.5),
              percentile(open_loop, 0.99), percentile(idle, 0.5),
              percentile(idle, 0.99));
  return 0;
}

} // namespace jm
