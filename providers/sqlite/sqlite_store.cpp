#include "providers/sqlite/sqlite_store.hpp"

#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "providers/common.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <limits>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace jm::sqlite {

namespace {

// -- SQL ----------------------------------------------------------------------

// The column list of jm_jobs in the order read_job expects and bind_job binds
// (as ?1 .. ?20).
#define JM_JOB_COLUMNS                                                         \
  "id, handler, status, priority, source, lane, original_scheduled_at, "       \
  "scheduled_at, created_at, timeout_us, max_retries, failure_count, data, "   \
  "metadata, recurring_schedule_id, bucket_id, worker_id, process_deadline, "  \
  "skip_if_running, version"

// The column list of jm_schedules in the order read_schedule expects and
// bind_schedule binds (as ?1 .. ?25).
#define JM_SCHEDULE_COLUMNS                                                    \
  "id, handler, expression_type, expression, time_zone, data, metadata, "      \
  "priority, lane, timeout_us, max_retries, start_after, end_before, "         \
  "catch_up, catch_up_limit, overlap, static_name, status, created_at, "       \
  "terminated_at, occurrence_cursor, planned_until, ensured_at, version"

#define JM_ATTEMPT_COLUMNS                                                     \
  "job_id, number, worker_id, started_at, ended_at, outcome, error"

// Statuses of a job that a bucket owns: assigned_to_bucket, processing,
// queued.
#define JM_LIVE_PLACED "(3, 4, 6)"

/// Migration N is `migrations[N - 1]`; append only, never edit a shipped one.
constexpr const char* migrations[] = {
  // 1: the initial schema.
  "CREATE TABLE IF NOT EXISTS jm_jobs ("
  " id BLOB NOT NULL PRIMARY KEY,"
  " handler TEXT NOT NULL,"
  " status INTEGER NOT NULL,"
  " priority INTEGER NOT NULL,"
  " source INTEGER NOT NULL,"
  " lane TEXT NOT NULL DEFAULT '',"
  " original_scheduled_at INTEGER NOT NULL,"
  " scheduled_at INTEGER NOT NULL,"
  " created_at INTEGER NOT NULL,"
  " timeout_us INTEGER NOT NULL,"
  " max_retries INTEGER NOT NULL,"
  " failure_count INTEGER NOT NULL,"
  " data BLOB,"
  " metadata BLOB,"
  " recurring_schedule_id BLOB,"
  " bucket_id TEXT NOT NULL DEFAULT '',"
  " worker_id TEXT NOT NULL DEFAULT '',"
  " process_deadline INTEGER,"
  " version INTEGER NOT NULL);"
  // Look-ahead assignment, list_jobs by status, count_by_status.
  "CREATE INDEX IF NOT EXISTS jm_jobs_status_sched"
  " ON jm_jobs (status, scheduled_at, id);"
  // Claims and the rescue of a dead node's buckets.
  "CREATE INDEX IF NOT EXISTS jm_jobs_bucket"
  " ON jm_jobs (bucket_id, status, scheduled_at, id);"
  // The deadline sweep: only live placed jobs, so that finished jobs that
  // kept their last deadline do not pile up in it.
  "CREATE INDEX IF NOT EXISTS jm_jobs_deadline ON jm_jobs (process_deadline)"
  " WHERE process_deadline IS NOT NULL AND status IN " JM_LIVE_PLACED ";"
  "CREATE TABLE IF NOT EXISTS jm_attempts ("
  " job_id BLOB NOT NULL,"
  " number INTEGER NOT NULL,"
  " worker_id TEXT NOT NULL DEFAULT '',"
  " started_at INTEGER NOT NULL,"
  " ended_at INTEGER NOT NULL,"
  " outcome INTEGER NOT NULL,"
  " error TEXT NOT NULL DEFAULT '',"
  " PRIMARY KEY (job_id, number)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS jm_nodes ("
  " node_id TEXT NOT NULL PRIMARY KEY,"
  " host TEXT NOT NULL,"
  " port INTEGER NOT NULL,"
  " pid INTEGER NOT NULL,"
  " started_at INTEGER NOT NULL,"
  " lease_expires_at INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS jm_buckets ("
  " bucket_id TEXT NOT NULL PRIMARY KEY,"
  " worker_id TEXT NOT NULL,"
  " node_id TEXT NOT NULL,"
  " priority INTEGER NOT NULL,"
  " lane TEXT NOT NULL DEFAULT '');"
  "CREATE INDEX IF NOT EXISTS jm_buckets_node ON jm_buckets (node_id);",
  // 2: recurring schedules, the occurrence key, the overlap guard.
  "ALTER TABLE jm_jobs ADD COLUMN skip_if_running INTEGER NOT NULL DEFAULT 0;"
  // The occurrence key: one job per (schedule, occurrence), whoever plans.
  "CREATE UNIQUE INDEX IF NOT EXISTS jm_jobs_occurrence"
  " ON jm_jobs (recurring_schedule_id, original_scheduled_at)"
  " WHERE recurring_schedule_id IS NOT NULL;"
  // The overlap guard: is a run of this schedule queued or processing?
  "CREATE INDEX IF NOT EXISTS jm_jobs_schedule_running"
  " ON jm_jobs (recurring_schedule_id)"
  " WHERE recurring_schedule_id IS NOT NULL AND status IN (4, 6);"
  "CREATE TABLE IF NOT EXISTS jm_schedules ("
  " id BLOB NOT NULL PRIMARY KEY,"
  " handler TEXT NOT NULL,"
  " expression_type TEXT NOT NULL,"
  " expression TEXT NOT NULL,"
  " time_zone TEXT NOT NULL DEFAULT '',"
  " data BLOB,"
  " metadata BLOB,"
  " priority INTEGER,"
  " lane TEXT,"
  " timeout_us INTEGER,"
  " max_retries INTEGER,"
  " start_after INTEGER,"
  " end_before INTEGER,"
  " catch_up INTEGER NOT NULL,"
  " catch_up_limit INTEGER NOT NULL,"
  " overlap INTEGER NOT NULL,"
  " static_name TEXT NOT NULL DEFAULT '',"
  " status INTEGER NOT NULL,"
  " created_at INTEGER NOT NULL,"
  " terminated_at INTEGER,"
  " occurrence_cursor INTEGER NOT NULL,"
  " planned_until INTEGER NOT NULL,"
  " ensured_at INTEGER,"
  " version INTEGER NOT NULL);"
  // The planner's scan.
  "CREATE INDEX IF NOT EXISTS jm_schedules_plan"
  " ON jm_schedules (status, planned_until);"
  "CREATE UNIQUE INDEX IF NOT EXISTS jm_schedules_static"
  " ON jm_schedules (static_name) WHERE static_name <> '';"
  // Retention of final jobs.
  "CREATE INDEX IF NOT EXISTS jm_jobs_final"
  " ON jm_jobs (scheduled_at) WHERE status IN (5, 7, 8);",
  // 3: buckets adopt due held jobs of their route in their claims.
  "CREATE INDEX IF NOT EXISTS jm_jobs_route"
  " ON jm_jobs (priority, lane, skip_if_running, scheduled_at, id)"
  " WHERE status = 2;",
  // 4: save-pending queues, when this database is a separate agent store.
  // AUTOINCREMENT: a deleted entry's seq is never handed out again.
  "CREATE TABLE IF NOT EXISTS jm_agent_queue ("
  " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  " bucket_id TEXT NOT NULL,"
  " job_id BLOB NOT NULL,"
  " pushed_at INTEGER NOT NULL,"
  " payload BLOB NOT NULL);"
  "CREATE INDEX IF NOT EXISTS jm_agent_queue_bucket"
  " ON jm_agent_queue (bucket_id, seq);",
};

constexpr int latest_schema_version
  = static_cast<int>(sizeof(migrations) / sizeof(migrations[0]));

constexpr const char* sql_begin = "BEGIN IMMEDIATE";
constexpr const char* sql_commit = "COMMIT";
constexpr const char* sql_rollback = "ROLLBACK";

constexpr const char* sql_schema_version
  = "SELECT COALESCE(MAX(version), 0) FROM schema_version";

// Skips a known id and a known occurrence alike.
constexpr const char* sql_insert_job
  = "INSERT OR IGNORE INTO jm_jobs (" JM_JOB_COLUMNS ") VALUES (?1, ?2, ?3, "
    "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20)";

constexpr const char* sql_get_job
  = "SELECT " JM_JOB_COLUMNS " FROM jm_jobs WHERE id = ?1";

constexpr const char* sql_list_attempts
  = "SELECT " JM_ATTEMPT_COLUMNS " FROM jm_attempts WHERE job_id = ?1 "
    "ORDER BY number";

// Parameters as in sql_insert_job; ?20 is the expected version.
constexpr const char* sql_write_job
  = "UPDATE jm_jobs SET handler = ?2, status = ?3, priority = ?4, source = ?5, "
    "lane = ?6, original_scheduled_at = ?7, scheduled_at = ?8, created_at = "
    "?9, "
    "timeout_us = ?10, max_retries = ?11, failure_count = ?12, data = ?13, "
    "metadata = ?14, recurring_schedule_id = ?15, bucket_id = ?16, "
    "worker_id = ?17, process_deadline = ?18, skip_if_running = ?19, "
    "version = ?20 + 1 WHERE id = ?1 AND version = ?20";

// A remove write: ?1 the job, ?2 the expected version.
constexpr const char* sql_remove_job
  = "DELETE FROM jm_jobs WHERE id = ?1 AND version = ?2";

constexpr const char* sql_remove_attempts
  = "DELETE FROM jm_attempts WHERE job_id = ?1";

// Numbers the attempt max + 1 within the same statement.
constexpr const char* sql_insert_attempt
  = "INSERT INTO jm_attempts (" JM_ATTEMPT_COLUMNS ") "
    "SELECT ?1, COALESCE(MAX(number), 0) + 1, ?2, ?3, ?4, ?5, ?6 "
    "FROM jm_attempts WHERE job_id = ?1";

constexpr const char* sql_quarantine_job
  = "UPDATE jm_jobs SET status = 7, bucket_id = '', worker_id = '', "
    "process_deadline = NULL, version = version + 1 WHERE id = ?1";

// Held jobs due after ?3 and by ?1, ?2 at most.
constexpr const char* sql_select_held
  = "SELECT " JM_JOB_COLUMNS " FROM jm_jobs WHERE status = 2 "
    "AND scheduled_at > ?3 AND scheduled_at <= ?1 "
    "ORDER BY scheduled_at, id LIMIT ?2";

constexpr const char* sql_assign_job
  = "UPDATE jm_jobs SET status = 3, bucket_id = ?2, worker_id = ?3, "
    "process_deadline = NULL, version = version + 1 "
    "WHERE id = ?1 AND status = 2";

constexpr const char* sql_count_by_status
  = "SELECT status, COUNT(*) FROM jm_jobs GROUP BY status";

constexpr const char* sql_upsert_node
  = "INSERT INTO jm_nodes (node_id, host, port, pid, started_at, "
    "lease_expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, "
    "port = excluded.port, pid = excluded.pid, "
    "started_at = excluded.started_at, "
    "lease_expires_at = excluded.lease_expires_at";

constexpr const char* sql_renew_node
  = "UPDATE jm_nodes SET lease_expires_at = ?2 WHERE node_id = ?1";

constexpr const char* sql_delete_node_buckets
  = "DELETE FROM jm_buckets WHERE node_id = ?1";

constexpr const char* sql_delete_node
  = "DELETE FROM jm_nodes WHERE node_id = ?1";

constexpr const char* sql_list_nodes
  = "SELECT node_id, host, port, pid, started_at, lease_expires_at "
    "FROM jm_nodes ORDER BY node_id";

constexpr const char* sql_upsert_bucket
  = "INSERT INTO jm_buckets (bucket_id, worker_id, node_id, priority, lane) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (bucket_id) DO UPDATE SET "
    "worker_id = excluded.worker_id, node_id = excluded.node_id, "
    "priority = excluded.priority, lane = excluded.lane";

constexpr const char* sql_live_buckets
  = "SELECT b.bucket_id, b.worker_id, b.node_id, b.priority, b.lane "
    "FROM jm_buckets b JOIN jm_nodes n ON n.node_id = b.node_id "
    "WHERE n.lease_expires_at > ?1 ORDER BY b.bucket_id";

// A node is dead once it is no longer alive (its lease is not in the future).
constexpr const char* sql_dead_nodes
  = "SELECT node_id FROM jm_nodes WHERE lease_expires_at <= ?1 "
    "ORDER BY node_id";

constexpr const char* sql_rescue_lost_attempts
  = "INSERT INTO jm_attempts (" JM_ATTEMPT_COLUMNS ") "
    "SELECT j.id, (SELECT COALESCE(MAX(a.number), 0) + 1 FROM jm_attempts a "
    "WHERE a.job_id = j.id), j.worker_id, ?2, ?2, 4, ?3 FROM jm_jobs j "
    "WHERE j.status = 4 AND j.bucket_id IN "
    "(SELECT bucket_id FROM jm_buckets WHERE node_id = ?1)";

constexpr const char* sql_rescue_jobs
  = "UPDATE jm_jobs SET status = 2, bucket_id = '', worker_id = '', "
    "process_deadline = NULL, version = version + 1 "
    "WHERE status IN " JM_LIVE_PLACED " AND bucket_id IN "
    "(SELECT bucket_id FROM jm_buckets WHERE node_id = ?1) "
    "RETURNING " JM_JOB_COLUMNS;

constexpr const char* sql_release_lost_attempts
  = "INSERT INTO jm_attempts (" JM_ATTEMPT_COLUMNS ") "
    "SELECT j.id, (SELECT COALESCE(MAX(a.number), 0) + 1 FROM jm_attempts a "
    "WHERE a.job_id = j.id), j.worker_id, ?2, ?2, 4, ?3 FROM jm_jobs j "
    "WHERE j.bucket_id = ?1 AND j.status = 4";

constexpr const char* sql_release_jobs
  = "UPDATE jm_jobs SET status = 3, process_deadline = NULL, "
    "version = version + 1 WHERE bucket_id = ?1 AND status IN (4, 6)";

constexpr const char* sql_sweep_deadlines
  = "UPDATE jm_jobs INDEXED BY jm_jobs_deadline SET status = 2, "
    "bucket_id = '', worker_id = '', process_deadline = NULL, "
    "version = version + 1 WHERE process_deadline IS NOT NULL "
    "AND process_deadline < ?1 AND status IN " JM_LIVE_PLACED;

// The due held jobs of a route: P = priority (NULL: none), L = lane;
// adopted only by a registered bucket (?1) of a node alive at ?2, so that a
// node already declared dead (and its jobs rescued) takes no more, and
// whatever a bucket holds can be found by the rescue of its node.
#define JM_DUE_HELD(P, L)                                                      \
  "status = 2 AND priority = " P " AND lane = " L " AND scheduled_at <= ?2 "   \
  "AND EXISTS (SELECT 1 FROM jm_buckets b JOIN jm_nodes n ON n.node_id = "     \
  "b.node_id WHERE b.bucket_id = ?1 AND n.lease_expires_at > ?2)"

// Every due job but the overlap-guarded ones, earliest first: the bucket's
// (?1) and held ones of its route (?6 = priority, NULL when it adopts none,
// ?7 = lane; they take the worker ?8), ?4 at most. Merged in due order: a
// stream of the bucket's own jobs must not starve retries and rescued jobs.
constexpr const char* sql_claim
  = "UPDATE jm_jobs SET status = 6, "
    // ?3 = due_by + grace, ?5 = the room left above ?3 in an INTEGER: the
    // deadline saturates instead of overflowing into a REAL.
    "process_deadline = CASE WHEN timeout_us > ?5 THEN 9223372036854775807 "
    "WHEN timeout_us < 0 THEN ?3 ELSE ?3 + timeout_us END, "
    "bucket_id = ?1, worker_id = COALESCE(?8, worker_id), "
    "version = version + 1 "
    "WHERE rowid IN (SELECT r FROM (SELECT * FROM (SELECT rowid AS r, "
    "scheduled_at AS s, id AS i FROM jm_jobs WHERE bucket_id = ?1 "
    "AND status = 3 AND scheduled_at <= ?2 AND skip_if_running = 0 "
    "ORDER BY scheduled_at, id LIMIT ?4) UNION ALL SELECT * FROM (SELECT "
    "rowid, scheduled_at, id FROM jm_jobs WHERE " JM_DUE_HELD(
      "?6",
      "?7") " AND skip_if_running = 0 ORDER BY scheduled_at, id "
            "LIMIT ?4)) ORDER BY s, i LIMIT ?4) RETURNING " JM_JOB_COLUMNS;

// The overlap-guarded jobs of a claim, the bucket's (?1) and held ones of
// its route (?4 = priority or NULL, ?5 = lane), in due order; ?3 = limit.
constexpr const char* sql_select_exclusive
  = "SELECT " JM_JOB_COLUMNS " FROM jm_jobs WHERE ((bucket_id = ?1 "
    "AND status = 3 AND scheduled_at <= ?2) OR (" JM_DUE_HELD(
      "?4", "?5") ")) AND skip_if_running = 1 "
                  "ORDER BY scheduled_at, id LIMIT ?3";

constexpr const char* sql_schedule_running
  = "SELECT 1 FROM jm_jobs INDEXED BY jm_jobs_schedule_running "
    "WHERE recurring_schedule_id = ?1 AND status IN (4, 6) LIMIT 1";

// Claims one job (?1) as sql_claim does (?3, ?5 as there; ?6 = the bucket,
// ?7 = the worker of an adopted job or NULL).
constexpr const char* sql_claim_one
  = "UPDATE jm_jobs SET status = 6, "
    "process_deadline = CASE WHEN timeout_us > ?5 THEN 9223372036854775807 "
    "WHEN timeout_us < 0 THEN ?3 ELSE ?3 + timeout_us END, "
    "bucket_id = ?6, worker_id = COALESCE(?7, worker_id), "
    "version = version + 1 WHERE id = ?1 AND status IN (2, 3)";

constexpr const char* sql_skip_job
  = "UPDATE jm_jobs SET status = 8, bucket_id = '', worker_id = '', "
    "process_deadline = NULL, version = version + 1 "
    "WHERE id = ?1 AND status IN (2, 3)";

// -- schedules --

constexpr const char* sql_insert_schedule
  = "INSERT INTO jm_schedules (" JM_SCHEDULE_COLUMNS ") VALUES (?1, ?2, ?3, "
    "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24) ON CONFLICT DO NOTHING";

constexpr const char* sql_get_schedule
  = "SELECT " JM_SCHEDULE_COLUMNS " FROM jm_schedules WHERE id = ?1";

constexpr const char* sql_get_static_schedule
  = "SELECT " JM_SCHEDULE_COLUMNS " FROM jm_schedules WHERE static_name = ?1 "
    "AND static_name <> ''";

// Parameters as in sql_insert_schedule; ?24 is the expected version.
constexpr const char* sql_write_schedule
  = "UPDATE jm_schedules SET handler = ?2, expression_type = ?3, "
    "expression = ?4, time_zone = ?5, data = ?6, metadata = ?7, "
    "priority = ?8, lane = ?9, timeout_us = ?10, max_retries = ?11, "
    "start_after = ?12, end_before = ?13, catch_up = ?14, "
    "catch_up_limit = ?15, overlap = ?16, static_name = ?17, status = ?18, "
    "created_at = ?19, terminated_at = ?20, occurrence_cursor = ?21, "
    "planned_until = ?22, ensured_at = ?23, version = ?24 + 1 "
    "WHERE id = ?1 AND version = ?24";

constexpr const char* sql_schedules_to_plan
  = "SELECT " JM_SCHEDULE_COLUMNS " FROM jm_schedules WHERE status = 2 "
    "AND planned_until < ?1 ORDER BY planned_until, id LIMIT ?2";

constexpr const char* sql_touch_static
  = "UPDATE jm_schedules SET ensured_at = ?2, version = version + 1 "
    "WHERE static_name = ?1 "
    "AND static_name <> ''";

constexpr const char* sql_retire_static
  = "UPDATE jm_schedules SET status = 4, terminated_at = ?2, "
    "version = version + 1 WHERE status = 2 AND static_name <> '' "
    "AND (ensured_at IS NULL OR ensured_at < ?1) "
    "RETURNING " JM_SCHEDULE_COLUMNS;

// -- retention --

constexpr const char* sql_purge_attempts
  = "DELETE FROM jm_attempts WHERE job_id IN (SELECT id FROM jm_jobs "
    "INDEXED BY jm_jobs_final WHERE status IN (5, 7, 8) AND scheduled_at < ?1 "
    "ORDER BY scheduled_at, rowid LIMIT ?2)";

constexpr const char* sql_purge_jobs
  = "DELETE FROM jm_jobs WHERE id IN (SELECT id FROM jm_jobs "
    "INDEXED BY jm_jobs_final WHERE status IN (5, 7, 8) AND scheduled_at < ?1 "
    "ORDER BY scheduled_at, rowid LIMIT ?2)";

constexpr const char* sql_purge_schedules
  = "DELETE FROM jm_schedules WHERE id IN (SELECT id FROM jm_schedules "
    "WHERE status IN (3, 5) AND terminated_at < ?1 LIMIT ?2)";

constexpr const char* sql_push_pending
  = "INSERT INTO jm_agent_queue (bucket_id, job_id, pushed_at, payload) "
    "VALUES (?1, ?2, ?3, ?4)";

constexpr const char* sql_read_pending
  = "SELECT seq, payload FROM jm_agent_queue WHERE bucket_id = ?1 "
    "ORDER BY seq LIMIT ?2";

constexpr const char* sql_quarantine_pending
  = "UPDATE jm_agent_queue SET bucket_id = '!corrupt' WHERE seq = ?1";

constexpr const char* sql_pending_buckets
  = "SELECT DISTINCT bucket_id FROM jm_agent_queue "
    "WHERE bucket_id <> '!corrupt' ORDER BY bucket_id";

constexpr const char* sql_remove_pending
  = "DELETE FROM jm_agent_queue WHERE seq = ?1";

// -- errors -------------------------------------------------------------------

caf::error malformed(std::string text) {
  return make_error(ec::malformed_message, "sqlite: " + std::move(text));
}

caf::error bad_job(const job_id& id, std::string what) {
  return malformed("job " + to_string(id) + ": " + std::move(what));
}

template <class F>
auto guarded(std::string_view op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return make_error(ec::store_failure,
                      "sqlite: " + std::string{op} + ": " + e.what());
  } catch (...) {
    return make_error(ec::store_failure,
                      "sqlite: " + std::string{op} + ": unknown exception");
  }
}

// -- enum checks --------------------------------------------------------------

bool valid_status(int64_t x) {
  return x >= 1 && x <= 8;
}

bool valid_priority(int64_t x) {
  return x >= 1 && x <= num_priorities;
}

bool valid_source(int64_t x) {
  return x >= 1 && x <= 3;
}

bool valid_outcome(int64_t x) {
  return x >= 1 && x <= 5;
}

/// Rejects jobs that would be written as rows that cannot be read back.
caf::error check_job(const job& x) {
  auto bad = [&x](std::string what) {
    return make_error(ec::invalid_argument,
                      "sqlite: job " + to_string(x.id) + ": " + what);
  };
  if (!valid_status(static_cast<int64_t>(x.status)))
    return bad("invalid status " + std::to_string(static_cast<int>(x.status)));
  if (!valid_priority(static_cast<int64_t>(x.priority)))
    return bad("invalid priority "
               + std::to_string(static_cast<int>(x.priority)));
  if (!valid_source(static_cast<int64_t>(x.source)))
    return bad("invalid trigger source "
               + std::to_string(static_cast<int>(x.source)));
  return {};
}

// -- binding ------------------------------------------------------------------

/// Binds parameters and remembers the first failure.
struct binder {
  sqlite3_stmt* s;
  int rc = SQLITE_OK;

  void check(int x) {
    if (rc == SQLITE_OK)
      rc = x;
  }

  void i64(int idx, int64_t x) { check(sqlite3_bind_int64(s, idx, x)); }

  void null(int idx) { check(sqlite3_bind_null(s, idx)); }

  /// The text must outlive the statement's next step.
  void text(int idx, std::string_view x) {
    const char* ptr = x.data() != nullptr ? x.data() : "";
    check(sqlite3_bind_text(s, idx, ptr, static_cast<int>(x.size()),
                            SQLITE_STATIC));
  }

  /// The bytes must outlive the statement's next step.
  void blob(int idx, const void* data, size_t size) {
    static const uint8_t empty = 0;
    check(sqlite3_bind_blob(s, idx, size == 0 ? &empty : data,
                            static_cast<int>(size), SQLITE_STATIC));
  }

  void blob(int idx, const uuid& x) {
    blob(idx, x.bytes.data(), x.bytes.size());
  }

  void timestamp(int idx, jm::timestamp x) { i64(idx, to_micros(x)); }
};

/// Encoded data and metadata of a job; kept alive while a statement runs.
struct encoded_maps {
  bytes data;
  bytes metadata;
};

/// Binds all columns of `x` as ?1 .. ?20 with `version` as ?20.
void bind_job(binder& b, const job& x, int64_t version, encoded_maps& buf) {
  b.blob(1, x.id);
  b.text(2, x.handler);
  b.i64(3, static_cast<int64_t>(x.status));
  b.i64(4, static_cast<int64_t>(x.priority));
  b.i64(5, static_cast<int64_t>(x.source));
  b.text(6, x.lane);
  b.timestamp(7, x.original_scheduled_at);
  b.timestamp(8, x.scheduled_at);
  b.timestamp(9, x.created_at);
  b.i64(10, x.timeout.count());
  b.i64(11, x.max_retries);
  b.i64(12, x.failure_count);
  // An empty map is stored as NULL: no encoding, no decoding.
  if (x.data.empty()) {
    b.null(13);
  } else {
    buf.data = encode(x.data);
    b.blob(13, buf.data.data(), buf.data.size());
  }
  if (x.metadata.empty()) {
    b.null(14);
  } else {
    buf.metadata = encode(x.metadata);
    b.blob(14, buf.metadata.data(), buf.metadata.size());
  }
  if (x.recurring_schedule_id)
    b.blob(15, *x.recurring_schedule_id);
  else
    b.null(15);
  b.text(16, x.bucket_id);
  b.text(17, x.worker_id);
  if (x.process_deadline)
    b.timestamp(18, *x.process_deadline);
  else
    b.null(18);
  b.i64(19, x.skip_if_running ? 1 : 0);
  b.i64(20, version);
}

// -- reading ------------------------------------------------------------------

std::string column_text(sqlite3_stmt* s, int col) {
  auto ptr = sqlite3_column_text(s, col);
  if (ptr == nullptr)
    return {};
  auto len = sqlite3_column_bytes(s, col);
  return std::string{reinterpret_cast<const char*>(ptr),
                     static_cast<size_t>(len)};
}

bool column_int(sqlite3_stmt* s, int col, int64_t& out) {
  if (sqlite3_column_type(s, col) != SQLITE_INTEGER)
    return false;
  out = sqlite3_column_int64(s, col);
  return true;
}

bool column_uuid(sqlite3_stmt* s, int col, uuid& out) {
  if (sqlite3_column_type(s, col) != SQLITE_BLOB
      || sqlite3_column_bytes(s, col) != 16)
    return false;
  std::memcpy(out.bytes.data(), sqlite3_column_blob(s, col), 16);
  return true;
}

bool fits_int32(int64_t x) {
  return x >= std::numeric_limits<int32_t>::min()
         && x <= std::numeric_limits<int32_t>::max();
}

caf::expected<value_map> column_map(sqlite3_stmt* s, int col) {
  switch (sqlite3_column_type(s, col)) {
  case SQLITE_NULL:
    return value_map{};
  case SQLITE_BLOB: {
    auto ptr = static_cast<const uint8_t*>(sqlite3_column_blob(s, col));
    auto len = static_cast<size_t>(sqlite3_column_bytes(s, col));
    return decode_value_map({ptr, len});
  }
  default:
    return make_error(ec::malformed_message, "not a BLOB");
  }
}

/// Reads a job from columns 0 .. 19 (JM_JOB_COLUMNS) of the current row.
caf::expected<job> read_job(sqlite3_stmt* s) {
  job x;
  if (!column_uuid(s, 0, x.id)) {
    if (sqlite3_column_type(s, 0) == SQLITE_BLOB)
      return malformed("a job row has an id of "
                       + std::to_string(sqlite3_column_bytes(s, 0))
                       + " bytes instead of 16");
    return malformed("a job row has an id that is not a BLOB");
  }
  int64_t n = 0;
  x.handler = column_text(s, 1);
  if (!column_int(s, 2, n) || !valid_status(n))
    return bad_job(x.id, "invalid status");
  x.status = static_cast<job_status>(n);
  if (!column_int(s, 3, n) || !valid_priority(n))
    return bad_job(x.id, "invalid priority");
  x.priority = static_cast<jm::priority>(n);
  if (!column_int(s, 4, n) || !valid_source(n))
    return bad_job(x.id, "invalid trigger source");
  x.source = static_cast<trigger_source>(n);
  x.lane = column_text(s, 5);
  if (!column_int(s, 6, n))
    return bad_job(x.id, "invalid original_scheduled_at");
  x.original_scheduled_at = from_micros(n);
  if (!column_int(s, 7, n))
    return bad_job(x.id, "invalid scheduled_at");
  x.scheduled_at = from_micros(n);
  if (!column_int(s, 8, n))
    return bad_job(x.id, "invalid created_at");
  x.created_at = from_micros(n);
  if (!column_int(s, 9, n))
    return bad_job(x.id, "invalid timeout");
  x.timeout = duration{n};
  if (!column_int(s, 10, n) || !fits_int32(n))
    return bad_job(x.id, "invalid max_retries");
  x.max_retries = static_cast<int32_t>(n);
  if (!column_int(s, 11, n) || !fits_int32(n))
    return bad_job(x.id, "invalid failure_count");
  x.failure_count = static_cast<int32_t>(n);
  if (auto m = column_map(s, 12))
    x.data = std::move(*m);
  else
    return bad_job(x.id, "data does not decode: " + describe(m.error()));
  if (auto m = column_map(s, 13))
    x.metadata = std::move(*m);
  else
    return bad_job(x.id, "metadata does not decode: " + describe(m.error()));
  if (sqlite3_column_type(s, 14) != SQLITE_NULL) {
    uuid u;
    if (!column_uuid(s, 14, u))
      return bad_job(x.id, "invalid recurring_schedule_id");
    x.recurring_schedule_id = u;
  }
  x.bucket_id = column_text(s, 15);
  x.worker_id = column_text(s, 16);
  if (sqlite3_column_type(s, 17) != SQLITE_NULL) {
    if (!column_int(s, 17, n))
      return bad_job(x.id, "invalid process_deadline");
    x.process_deadline = from_micros(n);
  }
  if (!column_int(s, 18, n))
    return bad_job(x.id, "invalid skip_if_running");
  x.skip_if_running = n != 0;
  if (!column_int(s, 19, n))
    return bad_job(x.id, "invalid version");
  x.version = n;
  return x;
}

caf::expected<attempt> read_attempt(sqlite3_stmt* s) {
  attempt x;
  if (!column_uuid(s, 0, x.job))
    return malformed("an attempt row has an invalid job id");
  auto bad = [&x](std::string what) {
    return malformed("attempt of job " + to_string(x.job) + ": " + what);
  };
  int64_t n = 0;
  if (!column_int(s, 1, n) || !fits_int32(n) || n < 1)
    return bad("invalid number");
  x.number = static_cast<int32_t>(n);
  x.worker_id = column_text(s, 2);
  if (!column_int(s, 3, n))
    return bad("invalid started_at");
  x.started_at = from_micros(n);
  if (!column_int(s, 4, n))
    return bad("invalid ended_at");
  x.ended_at = from_micros(n);
  if (!column_int(s, 5, n) || !valid_outcome(n))
    return bad("invalid outcome");
  x.outcome = static_cast<attempt_outcome>(n);
  x.error = column_text(s, 6);
  return x;
}

bool valid_schedule_status(int64_t x) {
  return x >= 2 && x <= 5;
}

bool valid_catch_up(int64_t x) {
  return x >= 1 && x <= 3;
}

bool valid_overlap(int64_t x) {
  return x >= 1 && x <= 2;
}

/// Rejects schedules that would be written as rows that cannot be read back.
caf::error check_schedule(const recurring_schedule& x) {
  auto bad = [&x](std::string what) {
    return make_error(ec::invalid_argument,
                      "sqlite: schedule " + to_string(x.id) + ": " + what);
  };
  if (!valid_schedule_status(static_cast<int64_t>(x.status)))
    return bad("invalid status");
  if (!valid_catch_up(static_cast<int64_t>(x.spec.catch_up)))
    return bad("invalid catch-up policy");
  if (!valid_overlap(static_cast<int64_t>(x.spec.overlap)))
    return bad("invalid overlap policy");
  if (x.spec.priority
      && !valid_priority(static_cast<int64_t>(*x.spec.priority)))
    return bad("invalid priority");
  return {};
}

template <class T, class F>
void bind_optional(binder& b, int idx, const std::optional<T>& x, F&& f) {
  if (x)
    f(idx, *x);
  else
    b.null(idx);
}

/// Binds all columns of `x` as ?1 .. ?24 with `version` as ?24.
void bind_schedule(binder& b, const recurring_schedule& x, int64_t version,
                   encoded_maps& buf) {
  auto& spec = x.spec;
  b.blob(1, x.id);
  b.text(2, spec.handler);
  b.text(3, spec.expression_type);
  b.text(4, spec.expression);
  b.text(5, spec.time_zone);
  if (spec.data.empty()) {
    b.null(6);
  } else {
    buf.data = encode(spec.data);
    b.blob(6, buf.data.data(), buf.data.size());
  }
  if (spec.metadata.empty()) {
    b.null(7);
  } else {
    buf.metadata = encode(spec.metadata);
    b.blob(7, buf.metadata.data(), buf.metadata.size());
  }
  auto i64 = [&b](int idx, int64_t v) { b.i64(idx, v); };
  auto ts = [&b](int idx, timestamp v) { b.timestamp(idx, v); };
  bind_optional(b, 8, spec.priority,
                [&b](int idx, priority v) { b.i64(idx, static_cast<int>(v)); });
  bind_optional(b, 9, spec.lane,
                [&b](int idx, const std::string& v) { b.text(idx, v); });
  bind_optional(b, 10, spec.timeout,
                [&b](int idx, duration v) { b.i64(idx, v.count()); });
  bind_optional(b, 11, spec.max_retries, i64);
  bind_optional(b, 12, spec.start_after, ts);
  bind_optional(b, 13, spec.end_before, ts);
  b.i64(14, static_cast<int64_t>(spec.catch_up));
  b.i64(15, spec.catch_up_limit);
  b.i64(16, static_cast<int64_t>(spec.overlap));
  b.text(17, spec.static_name);
  b.i64(18, static_cast<int64_t>(x.status));
  b.timestamp(19, x.created_at);
  bind_optional(b, 20, x.terminated_at, ts);
  b.timestamp(21, x.cursor);
  b.timestamp(22, x.planned_until);
  bind_optional(b, 23, x.ensured_at, ts);
  b.i64(24, version);
}

/// Reads a schedule from columns 0 .. 23 (JM_SCHEDULE_COLUMNS).
caf::expected<recurring_schedule> read_schedule(sqlite3_stmt* s) {
  recurring_schedule x;
  if (!column_uuid(s, 0, x.id))
    return malformed("a schedule row has an invalid id");
  auto bad = [&x](std::string what) {
    return malformed("schedule " + to_string(x.id) + ": " + what);
  };
  auto& spec = x.spec;
  int64_t n = 0;
  spec.handler = column_text(s, 1);
  spec.expression_type = column_text(s, 2);
  spec.expression = column_text(s, 3);
  spec.time_zone = column_text(s, 4);
  if (auto m = column_map(s, 5))
    spec.data = std::move(*m);
  else
    return bad("data does not decode: " + describe(m.error()));
  if (auto m = column_map(s, 6))
    spec.metadata = std::move(*m);
  else
    return bad("metadata does not decode: " + describe(m.error()));
  auto is_null
    = [s](int col) { return sqlite3_column_type(s, col) == SQLITE_NULL; };
  // Reads an optional integer column; false when it holds something else.
  auto opt_int = [&](int col, std::optional<int64_t>& out) {
    if (is_null(col))
      return true;
    int64_t v = 0;
    if (!column_int(s, col, v))
      return false;
    out = v;
    return true;
  };
  std::optional<int64_t> v;
  if (!opt_int(7, v) || (v && !valid_priority(*v)))
    return bad("invalid priority");
  if (v)
    spec.priority = static_cast<priority>(*v);
  if (!is_null(8))
    spec.lane = column_text(s, 8);
  v.reset();
  if (!opt_int(9, v))
    return bad("invalid timeout");
  if (v)
    spec.timeout = duration{*v};
  v.reset();
  if (!opt_int(10, v) || (v && !fits_int32(*v)))
    return bad("invalid max_retries");
  if (v)
    spec.max_retries = static_cast<int32_t>(*v);
  v.reset();
  if (!opt_int(11, v))
    return bad("invalid start_after");
  if (v)
    spec.start_after = from_micros(*v);
  v.reset();
  if (!opt_int(12, v))
    return bad("invalid end_before");
  if (v)
    spec.end_before = from_micros(*v);
  if (!column_int(s, 13, n) || !valid_catch_up(n))
    return bad("invalid catch_up");
  spec.catch_up = static_cast<catch_up_policy>(n);
  if (!column_int(s, 14, n) || n < 0 || n > UINT32_MAX)
    return bad("invalid catch_up_limit");
  spec.catch_up_limit = static_cast<uint32_t>(n);
  if (!column_int(s, 15, n) || !valid_overlap(n))
    return bad("invalid overlap");
  spec.overlap = static_cast<overlap_policy>(n);
  spec.static_name = column_text(s, 16);
  if (!column_int(s, 17, n) || !valid_schedule_status(n))
    return bad("invalid status");
  x.status = static_cast<schedule_status>(n);
  if (!column_int(s, 18, n))
    return bad("invalid created_at");
  x.created_at = from_micros(n);
  v.reset();
  if (!opt_int(19, v))
    return bad("invalid terminated_at");
  if (v)
    x.terminated_at = from_micros(*v);
  if (!column_int(s, 20, n))
    return bad("invalid occurrence_cursor");
  x.cursor = from_micros(n);
  if (!column_int(s, 21, n))
    return bad("invalid planned_until");
  x.planned_until = from_micros(n);
  v.reset();
  if (!opt_int(22, v))
    return bad("invalid ensured_at");
  if (v)
    x.ensured_at = from_micros(*v);
  if (!column_int(s, 23, n))
    return bad("invalid version");
  x.version = n;
  return x;
}

int64_t saturating_add(int64_t x, int64_t y) {
  int64_t result = 0;
  if (!__builtin_add_overflow(x, y, &result))
    return result;
  return y > 0 ? std::numeric_limits<int64_t>::max()
               : std::numeric_limits<int64_t>::min();
}

bool earlier(const job& x, const job& y) {
  if (x.scheduled_at != y.scheduled_at)
    return x.scheduled_at < y.scheduled_at;
  return x.id < y.id;
}

} // namespace

// -- connection ---------------------------------------------------------------

struct sqlite_store::impl {
  sqlite3* db = nullptr;
  std::string path;
  bool full_sync = false;
  /// Statements with static SQL, keyed by the address of their text.
  std::unordered_map<const char*, sqlite3_stmt*> stmts;
  /// Statements with generated SQL (list_jobs), keyed by their text.
  std::unordered_map<std::string, sqlite3_stmt*> dyn_stmts;

  ~impl() {
    for (auto& kvp : stmts)
      sqlite3_finalize(kvp.second);
    for (auto& kvp : dyn_stmts)
      sqlite3_finalize(kvp.second);
    if (db != nullptr)
      sqlite3_close_v2(db);
  }

  caf::error fail(std::string_view op) const {
    return make_error(ec::store_failure,
                      "sqlite: " + std::string{op} + ": " + sqlite3_errmsg(db));
  }

  caf::error fail(std::string_view op, int rc) const {
    // Prefer the connection's message; fall back to the code's text when the
    // connection's last error is some other one.
    if (sqlite3_errcode(db) == rc)
      return fail(op);
    return make_error(ec::store_failure,
                      "sqlite: " + std::string{op} + ": " + sqlite3_errstr(rc));
  }

  caf::expected<sqlite3_stmt*> prepare_new(const char* sql, int len,
                                           std::string_view op) {
    sqlite3_stmt* s = nullptr;
    auto rc = sqlite3_prepare_v3(db, sql, len, SQLITE_PREPARE_PERSISTENT, &s,
                                 nullptr);
    if (rc != SQLITE_OK) {
      auto err = fail(op);
      sqlite3_finalize(s);
      return err;
    }
    return s;
  }

  /// A cached statement for static SQL.
  caf::expected<sqlite3_stmt*> prepare(const char* sql, std::string_view op) {
    if (auto i = stmts.find(sql); i != stmts.end())
      return i->second;
    auto s = prepare_new(sql, -1, op);
    if (s)
      stmts.emplace(sql, *s);
    return s;
  }

  /// A cached statement for generated SQL.
  caf::expected<sqlite3_stmt*> prepare(const std::string& sql,
                                       std::string_view op) {
    if (auto i = dyn_stmts.find(sql); i != dyn_stmts.end())
      return i->second;
    auto s = prepare_new(sql.c_str(), static_cast<int>(sql.size()) + 1, op);
    if (s)
      dyn_stmts.emplace(sql, *s);
    return s;
  }

  /// Runs SQL text without caching (pragmas, migrations).
  caf::error exec(const char* sql, std::string_view op) {
    char* msg = nullptr;
    auto rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
    if (rc == SQLITE_OK)
      return {};
    std::string text = msg != nullptr ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return make_error(ec::store_failure,
                      "sqlite: " + std::string{op} + ": " + text);
  }

  /// Runs a statement that returns no rows to completion, then resets it.
  caf::error run(sqlite3_stmt* s, std::string_view op) {
    auto rc = sqlite3_step(s);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
      sqlite3_reset(s);
      return {};
    }
    auto err = fail(op, rc);
    sqlite3_reset(s);
    return err;
  }

  /// Reads the current schema version; 0 when there is none yet.
  caf::expected<int> schema_version() {
    sqlite3_stmt* s = nullptr;
    auto rc = sqlite3_prepare_v2(db, sql_schema_version, -1, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      return 0; // No schema_version table yet.
    }
    int result = 0;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
      result = sqlite3_column_int(s, 0);
    else if (rc != SQLITE_DONE) {
      auto err = fail("read schema version", rc);
      sqlite3_finalize(s);
      return err;
    }
    sqlite3_finalize(s);
    return result;
  }
};

namespace {

using impl = sqlite_store::impl;

/// Resets a statement when leaving the scope, so that no read transaction
/// lingers and the statement is ready for its next use.
class stmt_guard {
public:
  explicit stmt_guard(sqlite3_stmt* s) : s_(s) {}

  ~stmt_guard() { sqlite3_reset(s_); }

  stmt_guard(const stmt_guard&) = delete;
  stmt_guard& operator=(const stmt_guard&) = delete;

private:
  sqlite3_stmt* s_;
};

/// A `BEGIN IMMEDIATE` transaction that rolls back unless committed.
class transaction {
public:
  explicit transaction(impl& d) : d_(d) {}

  ~transaction() {
    if (active_ && sqlite3_get_autocommit(d_.db) == 0) {
      if (auto s = d_.prepare(sql_rollback, "rollback"))
        d_.run(*s, "rollback");
    }
  }

  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  caf::error begin(std::string_view op) {
    auto s = d_.prepare(sql_begin, op);
    if (!s)
      return s.error();
    if (auto err = d_.run(*s, std::string{op} + ": begin"))
      return err;
    active_ = true;
    return {};
  }

  caf::error commit(std::string_view op) {
    auto s = d_.prepare(sql_commit, op);
    if (!s)
      return s.error();
    if (auto err = d_.run(*s, std::string{op} + ": commit"))
      return err;
    active_ = false;
    return {};
  }

private:
  impl& d_;
  bool active_ = false;
};

/// Steps through all rows of `s`, reading each with `read` into `out`.
template <class T, class Reader>
caf::error read_all(impl& d, sqlite3_stmt* s, std::string_view op, Reader read,
                    std::vector<T>& out) {
  for (;;) {
    auto rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return d.fail(op, rc);
    auto x = read(s);
    if (!x)
      return std::move(x.error());
    out.emplace_back(std::move(*x));
  }
}

// A job row that does not decode (bad bytes in the file, or written by a
// newer version). Identified by its raw id so that it can be set aside.
struct corrupt_row {
  std::vector<uint8_t> id;
  std::string why;
};

// Reads job rows; rows that do not decode are collected in `bad` instead of
// failing the whole read, so that one bad row cannot stall a bucket or the
// assigner forever. A row whose id itself is unusable still fails the read.
caf::error read_jobs_tolerant(impl& d, sqlite3_stmt* s, std::string_view op,
                              std::vector<job>& out,
                              std::vector<corrupt_row>& bad) {
  for (;;) {
    auto rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return d.fail(op, rc);
    auto x = read_job(s);
    if (x) {
      out.emplace_back(std::move(*x));
      continue;
    }
    if (sqlite3_column_type(s, 0) != SQLITE_BLOB)
      return std::move(x.error());
    auto data = static_cast<const uint8_t*>(sqlite3_column_blob(s, 0));
    auto size = static_cast<size_t>(sqlite3_column_bytes(s, 0));
    bad.push_back(corrupt_row{std::vector<uint8_t>(data, data + size),
                              describe(x.error())});
  }
}

caf::error bind_failed(impl& d, std::string_view op, int rc);

// Marks corrupt rows failed, with an attempt that says why, inside the
// caller's transaction: visible to operators, never picked up again.
caf::error quarantine(impl& d, std::string_view op,
                      const std::vector<corrupt_row>& bad) {
  if (bad.empty())
    return {};
  auto fail_job = d.prepare(sql_quarantine_job, op);
  if (!fail_job)
    return fail_job.error();
  auto note = d.prepare(sql_insert_attempt, op);
  if (!note)
    return note.error();
  auto t = to_micros(jm::now());
  for (auto& row : bad) {
    auto rc
      = sqlite3_bind_blob(*fail_job, 1, row.id.data(),
                          static_cast<int>(row.id.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
      sqlite3_reset(*fail_job);
      return bind_failed(d, op, rc);
    }
    if (auto err = d.run(*fail_job, op))
      return err;
    auto text
      = "the stored job could not be decoded and was set aside: " + row.why;
    sqlite3_bind_blob(*note, 1, row.id.data(), static_cast<int>(row.id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(*note, 2, "store", -1, SQLITE_STATIC);
    sqlite3_bind_int64(*note, 3, t);
    sqlite3_bind_int64(*note, 4, t);
    sqlite3_bind_int64(*note, 5, static_cast<int64_t>(attempt_outcome::failed));
    sqlite3_bind_text(*note, 6, text.c_str(), -1, SQLITE_TRANSIENT);
    if (auto err = d.run(*note, op))
      return err;
  }
  return {};
}

// Reads the jobs a statement selects, inside the caller's transaction;
// rows that do not decode are set aside (quarantine) instead of returned.
caf::error read_or_set_aside(impl& d, sqlite3_stmt* s, std::string_view op,
                             std::vector<job>& out) {
  std::vector<corrupt_row> bad;
  if (auto err = read_jobs_tolerant(d, s, op, out, bad))
    return err;
  sqlite3_reset(s);
  return quarantine(d, op, bad);
}

// Inserts one attempt of job `id` with the prepared sql_insert_attempt.
caf::error insert_attempt(impl& d, sqlite3_stmt* ins, const job_id& id,
                          const attempt& a, std::string_view op) {
  binder b{ins};
  b.blob(1, id);
  b.text(2, a.worker_id);
  b.timestamp(3, a.started_at);
  b.timestamp(4, a.ended_at);
  b.i64(5, static_cast<int64_t>(a.outcome));
  b.text(6, a.error);
  if (b.rc != SQLITE_OK) {
    sqlite3_reset(ins);
    return bind_failed(d, op, b.rc);
  }
  return d.run(ins, op);
}

// Records `lost` attempts for the processing jobs selected by `sql`, keyed
// by a node or bucket id (?1), at `now` (?2), with the reason `why` (?3).
caf::error insert_lost_attempts(impl& d, std::string_view op, const char* sql,
                                std::string_view key, timestamp now,
                                const std::string& why) {
  auto s = d.prepare(sql, op);
  if (!s)
    return s.error();
  // `why` is bound as SQLITE_STATIC: it outlives the step (it is ours).
  binder b{*s};
  b.text(1, key);
  b.timestamp(2, now);
  b.text(3, why);
  if (b.rc != SQLITE_OK) {
    sqlite3_reset(*s);
    return bind_failed(d, op, b.rc);
  }
  return d.run(*s, op);
}

caf::error bind_failed(impl& d, std::string_view op, int rc) {
  return d.fail(std::string{op} + ": bind", rc);
}

// Takes a node out of the cluster inside the caller's transaction: `lost`
// attempts for its processing jobs, its live placed jobs back to
// held_on_master (appended to `rescued`; undecodable ones set aside), its
// buckets and its row deleted. Shared by a graceful leave and the rescue
// of a dead node.
caf::error evacuate_node(impl& d, std::string_view op, std::string_view node_id,
                         timestamp now, const std::string& why,
                         std::vector<job>& rescued) {
  if (auto err = insert_lost_attempts(d, op, sql_rescue_lost_attempts, node_id,
                                      now, why))
    return err;
  auto rescue = d.prepare(sql_rescue_jobs, op);
  if (!rescue)
    return rescue.error();
  {
    stmt_guard guard{*rescue};
    binder b{*rescue};
    b.text(1, node_id);
    if (b.rc != SQLITE_OK)
      return bind_failed(d, op, b.rc);
    if (auto err = read_or_set_aside(d, *rescue, op, rescued))
      return err;
  }
  for (auto sql : {sql_delete_node_buckets, sql_delete_node}) {
    auto del = d.prepare(sql, op);
    if (!del)
      return del.error();
    binder b{*del};
    b.text(1, node_id);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*del);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*del, op))
      return err;
  }
  return {};
}

// A fenced remove write: deletes the job and its attempts when the stored
// version is the expected one. Returns whether it applied.
caf::expected<bool> remove_job(impl& d, const job_write& w,
                               std::string_view op) {
  auto del = d.prepare(sql_remove_job, op);
  if (!del)
    return del.error();
  binder b{*del};
  b.blob(1, w.job.id);
  b.i64(2, w.expected_version);
  if (b.rc != SQLITE_OK) {
    sqlite3_reset(*del);
    return bind_failed(d, op, b.rc);
  }
  if (auto err = d.run(*del, op))
    return err;
  if (sqlite3_changes(d.db) == 0)
    return false;
  auto history = d.prepare(sql_remove_attempts, op);
  if (!history)
    return history.error();
  binder h{*history};
  h.blob(1, w.job.id);
  if (h.rc != SQLITE_OK) {
    sqlite3_reset(*history);
    return bind_failed(d, op, h.rc);
  }
  if (auto err = d.run(*history, op))
    return err;
  return true;
}

caf::expected<std::vector<bool>>
write_jobs_impl(impl& d, const std::vector<job_write>& writes,
                std::string_view op) {
  std::vector<bool> result;
  if (writes.empty())
    return result;
  for (auto& w : writes) {
    if (auto err = check_job(w.job))
      return err;
    if (w.attempt && !valid_outcome(static_cast<int64_t>(w.attempt->outcome)))
      return make_error(ec::invalid_argument, "sqlite: job "
                                                + to_string(w.job.id)
                                                + ": invalid attempt outcome");
  }
  result.reserve(writes.size());
  transaction tx{d};
  if (auto err = tx.begin(op))
    return err;
  auto upd = d.prepare(sql_write_job, op);
  if (!upd)
    return upd.error();
  auto ins = d.prepare(sql_insert_attempt, op);
  if (!ins)
    return ins.error();
  encoded_maps buf;
  for (auto& w : writes) {
    if (w.remove) {
      auto applied = remove_job(d, w, op);
      if (!applied)
        return applied.error();
      result.push_back(*applied);
      continue;
    }
    binder b{*upd};
    bind_job(b, w.job, w.expected_version, buf);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*upd);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*upd, op))
      return err;
    auto applied = sqlite3_changes(d.db) > 0;
    result.push_back(applied);
    if (applied && w.attempt)
      if (auto err = insert_attempt(d, *ins, w.job.id, *w.attempt, op))
        return err;
  }
  if (auto err = tx.commit(op))
    return err;
  return result;
}

// Inserts checked jobs inside the caller's transaction, skipping known ids
// and known occurrences. Returns how many were new.
caf::expected<uint64_t> insert_new_jobs(impl& d, const std::vector<job>& jobs,
                                        std::string_view op) {
  auto s = d.prepare(sql_insert_job, op);
  if (!s)
    return s.error();
  uint64_t added = 0;
  encoded_maps buf;
  for (auto& x : jobs) {
    binder b{*s};
    bind_job(b, x, x.version, buf);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*s);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*s, op))
      return err;
    added += static_cast<uint64_t>(sqlite3_changes(d.db));
  }
  return added;
}

// Runs a statement with one bound schedule (?1 .. ?24, version ?24).
caf::error run_schedule(impl& d, const char* sql, const recurring_schedule& x,
                        int64_t version, std::string_view op) {
  auto s = d.prepare(sql, op);
  if (!s)
    return s.error();
  encoded_maps buf;
  binder b{*s};
  bind_schedule(b, x, version, buf);
  if (b.rc != SQLITE_OK) {
    sqlite3_reset(*s);
    return bind_failed(d, op, b.rc);
  }
  return d.run(*s, op);
}

// Reads the schedules a statement (already bound) returns.
caf::expected<std::vector<recurring_schedule>>
read_schedules(impl& d, sqlite3_stmt* s, std::string_view op) {
  std::vector<recurring_schedule> result;
  if (auto err = read_all(d, s, op, read_schedule, result))
    return err;
  return result;
}

// The route of the held jobs a claim adopts at `idx` (priority, NULL when
// none) and `idx + 1` (lane).
void bind_route(binder& b, int idx, const std::optional<held_route>& adopt) {
  if (adopt)
    b.i64(idx, static_cast<int64_t>(adopt->priority));
  else
    b.null(idx);
  b.text(idx + 1, adopt ? std::string_view{adopt->lane} : std::string_view{});
}

// The worker an adopted job takes (NULL: it keeps its own).
void bind_worker(binder& b, int idx, const std::optional<held_route>& adopt) {
  if (adopt)
    b.text(idx, adopt->worker_id);
  else
    b.null(idx);
}

// The overlap guard of a claim, inside its transaction: each due job with
// `skip_if_running` is claimed (appended to `claimed`, deadline from `base`)
// unless a job of its schedule is queued or processing, or was claimed just
// before in this call; then it is cancelled with a `skipped` attempt.
caf::error claim_exclusive(impl& d, std::string_view bucket_id,
                           const std::optional<held_route>& adopt,
                           timestamp due_by, int64_t base, uint32_t limit,
                           std::vector<job>& claimed) {
  constexpr std::string_view op = "claim_bucket_jobs";
  auto sel = d.prepare(sql_select_exclusive, op);
  if (!sel)
    return sel.error();
  std::vector<job> candidates;
  {
    stmt_guard guard{*sel};
    binder b{*sel};
    b.text(1, bucket_id);
    b.timestamp(2, due_by);
    b.i64(3, limit);
    bind_route(b, 4, adopt);
    if (b.rc != SQLITE_OK)
      return bind_failed(d, op, b.rc);
    if (auto err = read_or_set_aside(d, *sel, op, candidates))
      return err;
  }
  if (candidates.empty())
    return {};
  auto running = d.prepare(sql_schedule_running, op);
  if (!running)
    return running.error();
  auto claim = d.prepare(sql_claim_one, op);
  if (!claim)
    return claim.error();
  auto skip = d.prepare(sql_skip_job, op);
  if (!skip)
    return skip.error();
  auto note = d.prepare(sql_insert_attempt, op);
  if (!note)
    return note.error();
  auto room = base >= 0 ? std::numeric_limits<int64_t>::max() - base
                        : std::numeric_limits<int64_t>::max();
  std::set<uuid> started;
  for (auto& x : candidates) {
    bool busy = false;
    if (x.recurring_schedule_id) {
      busy = started.count(*x.recurring_schedule_id) > 0;
      if (!busy) {
        stmt_guard guard{*running};
        binder b{*running};
        b.blob(1, *x.recurring_schedule_id);
        if (b.rc != SQLITE_OK)
          return bind_failed(d, op, b.rc);
        auto rc = sqlite3_step(*running);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
          return d.fail(op, rc);
        busy = rc == SQLITE_ROW;
      }
    }
    binder b{busy ? *skip : *claim};
    b.blob(1, x.id);
    if (!busy) {
      b.i64(3, base);
      b.i64(5, room);
      b.text(6, bucket_id);
      bind_worker(b, 7, adopt);
    }
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(busy ? *skip : *claim);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(busy ? *skip : *claim, op))
      return err;
    if (busy) {
      auto t = jm::now();
      auto why = "skipped: an earlier run of schedule "
                 + to_string(*x.recurring_schedule_id)
                 + " was still queued or processing (overlap policy skip)";
      attempt skipped;
      skipped.started_at = skipped.ended_at = t;
      skipped.outcome = attempt_outcome::skipped;
      skipped.error = why;
      if (auto err = insert_attempt(d, *note, x.id, skipped, op))
        return err;
      continue;
    }
    if (x.recurring_schedule_id)
      started.insert(*x.recurring_schedule_id);
    store_common::take_placement(x, bucket_id, adopt);
    x.status = job_status::queued;
    auto timeout = x.timeout.count();
    x.process_deadline = from_micros(timeout > room ? INT64_MAX
                                     : timeout < 0  ? base
                                                    : base + timeout);
    x.version += 1;
    claimed.push_back(std::move(x));
  }
  return {};
}

} // namespace

// -- construction -------------------------------------------------------------

sqlite_store::sqlite_store(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {}

sqlite_store::~sqlite_store() = default;

const std::string& sqlite_store::path() const {
  return impl_->path;
}

caf::expected<std::unique_ptr<sqlite_store>>
sqlite_store::open(const std::string& path, bool full_sync) {
  return guarded("open", [&]() -> caf::expected<std::unique_ptr<sqlite_store>> {
    auto d = std::make_unique<impl>();
    d->path = path;
    d->full_sync = full_sync;
    auto flags
      = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    auto rc = sqlite3_open_v2(path.c_str(), &d->db, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg
        = d->db != nullptr ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);
      return make_error(ec::store_failure, "sqlite: open " + path + ": " + msg);
    }
    sqlite3_busy_timeout(d->db, 5000);
    // Switching to WAL needs an exclusive lock; another process opening
    // the same new file at the same moment may hold it briefly.
    caf::error err;
    for (int i = 0; i < 50; ++i) {
      err = d->exec("PRAGMA journal_mode = WAL", "open: journal_mode");
      if (!err)
        break;
      auto code = sqlite3_errcode(d->db);
      if (code != SQLITE_BUSY && code != SQLITE_LOCKED)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    if (err)
      return err;
    if (auto err = d->exec(full_sync ? "PRAGMA synchronous = FULL"
                                     : "PRAGMA synchronous = NORMAL",
                           "open: synchronous"))
      return err;
    if (auto err = d->exec("PRAGMA foreign_keys = OFF", "open: foreign_keys"))
      return err;
    std::unique_ptr<sqlite_store> result{new sqlite_store(std::move(d))};
    if (auto err = result->migrate())
      return err;
    return result;
  });
}

// -- master_store -------------------------------------------------------------

caf::error sqlite_store::migrate() {
  return guarded("migrate", [&]() -> caf::error {
    auto& d = *impl_;
    // Fast path: nothing to do, no write lock taken.
    auto current = d.schema_version();
    if (current && *current == latest_schema_version)
      return {};
    transaction tx{d};
    if (auto err = tx.begin("migrate"))
      return err;
    if (auto err = d.exec("CREATE TABLE IF NOT EXISTS schema_version ("
                          " version INTEGER NOT NULL PRIMARY KEY,"
                          " applied_at INTEGER NOT NULL)",
                          "migrate: schema_version"))
      return err;
    // Re-read under the write lock: another process may have migrated.
    current = d.schema_version();
    if (!current)
      return current.error();
    if (*current > latest_schema_version)
      return make_error(ec::store_failure,
                        "sqlite: migrate: the database has schema version "
                          + std::to_string(*current)
                          + ", newer than the supported "
                          + std::to_string(latest_schema_version));
    for (int v = *current + 1; v <= latest_schema_version; ++v) {
      auto op = "migrate: version " + std::to_string(v);
      if (auto err = d.exec(migrations[v - 1], op))
        return err;
      auto sql = "INSERT INTO schema_version (version, applied_at) VALUES ("
                 + std::to_string(v) + ", " + std::to_string(to_micros(now()))
                 + ")";
      if (auto err = d.exec(sql.c_str(), op))
        return err;
    }
    return tx.commit("migrate");
  });
}

caf::error sqlite_store::insert_jobs(const std::vector<job>& jobs) {
  return guarded("insert_jobs", [&]() -> caf::error {
    constexpr std::string_view op = "insert_jobs";
    if (jobs.empty())
      return {};
    for (auto& x : jobs)
      if (auto err = check_job(x))
        return err;
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    if (auto n = insert_new_jobs(d, jobs, op); !n)
      return n.error();
    return tx.commit(op);
  });
}

caf::expected<std::optional<job>> sqlite_store::get_job(const job_id& id) {
  return guarded("get_job", [&]() -> caf::expected<std::optional<job>> {
    constexpr std::string_view op = "get_job";
    auto& d = *impl_;
    auto s = d.prepare(sql_get_job, op);
    if (!s)
      return s.error();
    stmt_guard guard{*s};
    binder b{*s};
    b.blob(1, id);
    if (b.rc != SQLITE_OK)
      return bind_failed(d, op, b.rc);
    auto rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE)
      return std::optional<job>{};
    if (rc != SQLITE_ROW)
      return d.fail(op, rc);
    auto x = read_job(*s);
    if (!x)
      return x.error();
    return std::optional<job>{std::move(*x)};
  });
}

caf::expected<std::vector<job>> sqlite_store::list_jobs(const job_filter& f) {
  return guarded("list_jobs", [&]() -> caf::expected<std::vector<job>> {
    constexpr std::string_view op = "list_jobs";
    auto& d = *impl_;
    // Statuses are inlined (sorted, deduplicated) so that each filter shape
    // maps to one cached statement.
    std::vector<int> statuses;
    for (auto x : f.statuses) {
      auto n = static_cast<int>(x);
      if (!valid_status(n))
        return make_error(ec::invalid_argument,
                          "sqlite: list_jobs: invalid status "
                            + std::to_string(n));
      statuses.push_back(n);
    }
    std::sort(statuses.begin(), statuses.end());
    statuses.erase(std::unique(statuses.begin(), statuses.end()),
                   statuses.end());
    std::string sql = "SELECT " JM_JOB_COLUMNS " FROM jm_jobs WHERE 1 = 1";
    if (!statuses.empty()) {
      sql += " AND status IN (";
      for (size_t i = 0; i < statuses.size(); ++i) {
        if (i > 0)
          sql += ", ";
        sql += std::to_string(statuses[i]);
      }
      sql += ')';
    }
    if (!f.handler.empty())
      sql += " AND handler = ?1";
    if (!f.lane.empty())
      sql += " AND lane = ?2";
    if (f.scheduled_from)
      sql += " AND scheduled_at >= ?3";
    if (f.scheduled_to)
      sql += " AND scheduled_at <= ?4";
    if (f.schedule_id)
      sql += " AND recurring_schedule_id = ?6";
    sql += " ORDER BY scheduled_at, id";
    // Metadata is stored encoded: its filter applies after decoding, so the
    // limit does too.
    bool sql_limit = f.limit > 0 && f.metadata.empty();
    if (sql_limit)
      sql += " LIMIT ?5";
    auto s = d.prepare(sql, op);
    if (!s)
      return s.error();
    stmt_guard guard{*s};
    binder b{*s};
    if (!f.handler.empty())
      b.text(1, f.handler);
    if (!f.lane.empty())
      b.text(2, f.lane);
    if (f.scheduled_from)
      b.timestamp(3, *f.scheduled_from);
    if (f.scheduled_to)
      b.timestamp(4, *f.scheduled_to);
    if (sql_limit)
      b.i64(5, f.limit);
    if (f.schedule_id)
      b.blob(6, *f.schedule_id);
    if (b.rc != SQLITE_OK)
      return bind_failed(d, op, b.rc);
    std::vector<job> result;
    // A listing shows what decodes; `jobs show` of a corrupt job reports it.
    std::vector<corrupt_row> bad;
    if (auto err = read_jobs_tolerant(d, *s, op, result, bad))
      return err;
    if (!f.metadata.empty()) {
      std::erase_if(
        result, [&f](const job& x) { return !has_metadata(x, f.metadata); });
      if (f.limit > 0 && result.size() > f.limit)
        result.resize(f.limit);
    }
    return result;
  });
}

caf::expected<std::vector<attempt>>
sqlite_store::list_attempts(const job_id& id) {
  return guarded("list_attempts", [&]() -> caf::expected<std::vector<attempt>> {
    constexpr std::string_view op = "list_attempts";
    auto& d = *impl_;
    auto s = d.prepare(sql_list_attempts, op);
    if (!s)
      return s.error();
    stmt_guard guard{*s};
    binder b{*s};
    b.blob(1, id);
    if (b.rc != SQLITE_OK)
      return bind_failed(d, op, b.rc);
    std::vector<attempt> result;
    if (auto err = read_all(d, *s, op, read_attempt, result))
      return err;
    return result;
  });
}

caf::expected<std::vector<bool>>
sqlite_store::write_jobs(const std::vector<job_write>& writes) {
  return guarded("write_jobs", [&]() -> caf::expected<std::vector<bool>> {
    return write_jobs_impl(*impl_, writes, "write_jobs");
  });
}

caf::expected<std::vector<job>>
sqlite_store::assign_held_jobs(timestamp after, timestamp horizon,
                               uint32_t limit, const bucket_router& route) {
  return guarded("assign_held_jobs", [&]() -> caf::expected<std::vector<job>> {
    constexpr std::string_view op = "assign_held_jobs";
    std::vector<job> result;
    if (limit == 0)
      return result;
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    auto sel = d.prepare(sql_select_held, op);
    if (!sel)
      return sel.error();
    auto upd = d.prepare(sql_assign_job, op);
    if (!upd)
      return upd.error();
    // Read all candidates first: no updates while the scan is open.
    std::vector<job> held;
    {
      stmt_guard guard{*sel};
      binder b{*sel};
      b.timestamp(1, horizon);
      b.i64(2, limit);
      b.timestamp(3, after);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      if (auto err = read_or_set_aside(d, *sel, op, held))
        return err;
    }
    for (auto& x : held) {
      const bucket_record* bucket = route ? route(x) : nullptr;
      if (bucket == nullptr)
        continue;
      binder b{*upd};
      b.blob(1, x.id);
      b.text(2, bucket->bucket_id);
      b.text(3, bucket->worker_id);
      if (b.rc != SQLITE_OK) {
        sqlite3_reset(*upd);
        return bind_failed(d, op, b.rc);
      }
      if (auto err = d.run(*upd, op))
        return err;
      if (sqlite3_changes(d.db) == 0)
        continue;
      x.status = job_status::assigned_to_bucket;
      x.bucket_id = bucket->bucket_id;
      x.worker_id = bucket->worker_id;
      // A deadline left over from an earlier placement would let the sweep
      // take the job back before its new owner even claimed it.
      x.process_deadline = std::nullopt;
      x.version += 1;
      result.push_back(std::move(x));
    }
    if (auto err = tx.commit(op))
      return err;
    return result;
  });
}

caf::expected<std::map<job_status, uint64_t>> sqlite_store::count_by_status() {
  return guarded(
    "count_by_status", [&]() -> caf::expected<std::map<job_status, uint64_t>> {
      constexpr std::string_view op = "count_by_status";
      auto& d = *impl_;
      auto s = d.prepare(sql_count_by_status, op);
      if (!s)
        return s.error();
      stmt_guard guard{*s};
      std::map<job_status, uint64_t> result;
      for (;;) {
        auto rc = sqlite3_step(*s);
        if (rc == SQLITE_DONE)
          return result;
        if (rc != SQLITE_ROW)
          return d.fail(op, rc);
        int64_t status = 0;
        if (!column_int(*s, 0, status) || !valid_status(status))
          return malformed(
            "count_by_status: " + std::to_string(sqlite3_column_int64(*s, 1))
            + " job rows have the invalid status '" + column_text(*s, 0) + "'");
        result[static_cast<job_status>(status)]
          = static_cast<uint64_t>(sqlite3_column_int64(*s, 1));
      }
    });
}

// -- membership ---------------------------------------------------------------

caf::error sqlite_store::upsert_node(const node_record& x) {
  return guarded("upsert_node", [&]() -> caf::error {
    constexpr std::string_view op = "upsert_node";
    auto& d = *impl_;
    auto s = d.prepare(sql_upsert_node, op);
    if (!s)
      return s.error();
    binder b{*s};
    b.text(1, x.node_id);
    b.text(2, x.host);
    b.i64(3, x.port);
    b.i64(4, x.pid);
    b.timestamp(5, x.started_at);
    b.timestamp(6, x.lease_expires_at);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*s);
      return bind_failed(d, op, b.rc);
    }
    return d.run(*s, op);
  });
}

caf::expected<bool> sqlite_store::renew_node(std::string_view node_id,
                                             timestamp lease_expires_at) {
  return guarded("renew_node", [&]() -> caf::expected<bool> {
    constexpr std::string_view op = "renew_node";
    auto& d = *impl_;
    auto s = d.prepare(sql_renew_node, op);
    if (!s)
      return s.error();
    binder b{*s};
    b.text(1, node_id);
    b.timestamp(2, lease_expires_at);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*s);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*s, op))
      return err;
    return sqlite3_changes(d.db) > 0;
  });
}

caf::error sqlite_store::remove_node(std::string_view node_id) {
  return guarded("remove_node", [&]() -> caf::error {
    constexpr std::string_view op = "remove_node";
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    // Jobs still placed in the leaving node's buckets (assigned but never
    // claimed, or a run that outlived the drain) go back to the master;
    // otherwise nobody would ever pick them up again.
    std::vector<job> handed_back;
    if (auto err = evacuate_node(d, op, node_id, jm::now(),
                                 "node " + std::string{node_id}
                                   + " left while running it",
                                 handed_back))
      return err;
    return tx.commit(op);
  });
}

caf::expected<std::vector<node_record>> sqlite_store::list_nodes() {
  return guarded(
    "list_nodes", [&]() -> caf::expected<std::vector<node_record>> {
      constexpr std::string_view op = "list_nodes";
      auto& d = *impl_;
      auto s = d.prepare(sql_list_nodes, op);
      if (!s)
        return s.error();
      stmt_guard guard{*s};
      auto read = [](sqlite3_stmt* s) -> caf::expected<node_record> {
        node_record x;
        x.node_id = column_text(s, 0);
        x.host = column_text(s, 1);
        int64_t n = 0;
        if (!column_int(s, 2, n) || n < 0 || n > 65535)
          return malformed("node " + x.node_id + ": invalid port");
        x.port = static_cast<uint16_t>(n);
        if (!column_int(s, 3, n))
          return malformed("node " + x.node_id + ": invalid pid");
        x.pid = n;
        if (!column_int(s, 4, n))
          return malformed("node " + x.node_id + ": invalid started_at");
        x.started_at = from_micros(n);
        if (!column_int(s, 5, n))
          return malformed("node " + x.node_id + ": invalid lease_expires_at");
        x.lease_expires_at = from_micros(n);
        return x;
      };
      std::vector<node_record> result;
      if (auto err = read_all(d, *s, op, read, result))
        return err;
      return result;
    });
}

caf::error sqlite_store::upsert_buckets(const std::vector<bucket_record>& xs) {
  return guarded("upsert_buckets", [&]() -> caf::error {
    constexpr std::string_view op = "upsert_buckets";
    if (xs.empty())
      return {};
    for (auto& x : xs)
      if (!valid_priority(static_cast<int64_t>(x.priority)))
        return make_error(ec::invalid_argument, "sqlite: bucket " + x.bucket_id
                                                  + ": invalid priority");
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    auto s = d.prepare(sql_upsert_bucket, op);
    if (!s)
      return s.error();
    for (auto& x : xs) {
      binder b{*s};
      b.text(1, x.bucket_id);
      b.text(2, x.worker_id);
      b.text(3, x.node_id);
      b.i64(4, static_cast<int64_t>(x.priority));
      b.text(5, x.lane);
      if (b.rc != SQLITE_OK) {
        sqlite3_reset(*s);
        return bind_failed(d, op, b.rc);
      }
      if (auto err = d.run(*s, op))
        return err;
    }
    return tx.commit(op);
  });
}

caf::expected<std::vector<bucket_record>>
sqlite_store::live_buckets(timestamp now) {
  return guarded(
    "live_buckets", [&]() -> caf::expected<std::vector<bucket_record>> {
      constexpr std::string_view op = "live_buckets";
      auto& d = *impl_;
      auto s = d.prepare(sql_live_buckets, op);
      if (!s)
        return s.error();
      stmt_guard guard{*s};
      binder b{*s};
      b.timestamp(1, now);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      auto read = [](sqlite3_stmt* s) -> caf::expected<bucket_record> {
        bucket_record x;
        x.bucket_id = column_text(s, 0);
        x.worker_id = column_text(s, 1);
        x.node_id = column_text(s, 2);
        int64_t n = 0;
        if (!column_int(s, 3, n) || !valid_priority(n))
          return malformed("bucket " + x.bucket_id + ": invalid priority");
        x.priority = static_cast<jm::priority>(n);
        x.lane = column_text(s, 4);
        return x;
      };
      std::vector<bucket_record> result;
      if (auto err = read_all(d, *s, op, read, result))
        return err;
      return result;
    });
}

caf::expected<std::vector<job>> sqlite_store::rescue_dead_nodes(timestamp now) {
  return guarded("rescue_dead_nodes", [&]() -> caf::expected<std::vector<job>> {
    constexpr std::string_view op = "rescue_dead_nodes";
    auto& d = *impl_;
    std::vector<job> result;
    auto sel = d.prepare(sql_dead_nodes, op);
    if (!sel)
      return sel.error();
    auto dead_nodes = [&]() -> caf::expected<std::vector<std::string>> {
      stmt_guard guard{*sel};
      binder b{*sel};
      b.timestamp(1, now);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      std::vector<std::string> ids;
      auto read = [](sqlite3_stmt* s) -> caf::expected<std::string> {
        return column_text(s, 0);
      };
      if (auto err = read_all(d, *sel, op, read, ids))
        return err;
      return ids;
    };
    // Fast path without the write lock: usually nobody died.
    auto ids = dead_nodes();
    if (!ids)
      return ids.error();
    if (ids->empty())
      return result;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    ids = dead_nodes();
    if (!ids)
      return ids.error();
    for (auto& id : *ids)
      if (auto err = evacuate_node(
            d, op, id, now, "node " + id + " lost (lease expired)", result))
        return err;
    if (auto err = tx.commit(op))
      return err;
    std::sort(result.begin(), result.end(), earlier);
    return result;
  });
}

caf::expected<uint64_t> sqlite_store::sweep_deadlines(timestamp now) {
  return guarded("sweep_deadlines", [&]() -> caf::expected<uint64_t> {
    constexpr std::string_view op = "sweep_deadlines";
    auto& d = *impl_;
    auto s = d.prepare(sql_sweep_deadlines, op);
    if (!s)
      return s.error();
    binder b{*s};
    b.timestamp(1, now);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*s);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*s, op))
      return err;
    return static_cast<uint64_t>(sqlite3_changes(d.db));
  });
}

// -- recurring schedules ------------------------------------------------------

caf::error sqlite_store::insert_schedule(const recurring_schedule& x) {
  return guarded("insert_schedule", [&]() -> caf::error {
    if (auto err = check_schedule(x))
      return err;
    return run_schedule(*impl_, sql_insert_schedule, x, x.version,
                        "insert_schedule");
  });
}

caf::expected<recurring_schedule>
sqlite_store::upsert_static_schedule(const recurring_schedule& x) {
  return guarded(
    "upsert_static_schedule", [&]() -> caf::expected<recurring_schedule> {
      constexpr std::string_view op = "upsert_static_schedule";
      if (x.spec.static_name.empty())
        return make_error(ec::invalid_argument,
                          "sqlite: upsert_static_schedule: no static name");
      if (auto err = check_schedule(x))
        return err;
      auto& d = *impl_;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto sel = d.prepare(sql_get_static_schedule, op);
      if (!sel)
        return sel.error();
      std::vector<recurring_schedule> found;
      {
        stmt_guard guard{*sel};
        binder b{*sel};
        b.text(1, x.spec.static_name);
        if (b.rc != SQLITE_OK)
          return bind_failed(d, op, b.rc);
        auto xs = read_schedules(d, *sel, op);
        if (!xs)
          return xs.error();
        found = std::move(*xs);
      }
      recurring_schedule result = x;
      if (found.empty()) {
        if (auto err = run_schedule(d, sql_insert_schedule, x, x.version, op))
          return err;
      } else {
        auto& old = found.front();
        result.id = old.id;
        result.created_at = old.created_at;
        result.cursor = old.cursor;
        result.planned_until = old.planned_until;
        result.version = old.version + 1;
        if (auto err
            = run_schedule(d, sql_write_schedule, result, old.version, op))
          return err;
      }
      if (auto err = tx.commit(op))
        return err;
      return result;
    });
}

caf::expected<std::optional<recurring_schedule>>
sqlite_store::get_schedule(const schedule_id& id) {
  return guarded(
    "get_schedule", [&]() -> caf::expected<std::optional<recurring_schedule>> {
      constexpr std::string_view op = "get_schedule";
      auto& d = *impl_;
      auto s = d.prepare(sql_get_schedule, op);
      if (!s)
        return s.error();
      stmt_guard guard{*s};
      binder b{*s};
      b.blob(1, id);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      auto xs = read_schedules(d, *s, op);
      if (!xs)
        return xs.error();
      if (xs->empty())
        return std::optional<recurring_schedule>{};
      return std::optional<recurring_schedule>{std::move(xs->front())};
    });
}

caf::expected<std::vector<recurring_schedule>>
sqlite_store::list_schedules(const schedule_filter& f) {
  return guarded(
    "list_schedules", [&]() -> caf::expected<std::vector<recurring_schedule>> {
      constexpr std::string_view op = "list_schedules";
      auto& d = *impl_;
      std::string sql
        = "SELECT " JM_SCHEDULE_COLUMNS " FROM jm_schedules WHERE 1 = 1";
      std::set<int> statuses;
      for (auto x : f.statuses) {
        auto n = static_cast<int>(x);
        if (!valid_schedule_status(n))
          return make_error(ec::invalid_argument,
                            "sqlite: list_schedules: invalid status "
                              + std::to_string(n));
        statuses.insert(n);
      }
      if (!statuses.empty()) {
        sql += " AND status IN (";
        for (auto n : statuses)
          sql += std::to_string(n) + (n == *statuses.rbegin() ? ")" : ", ");
      }
      if (!f.handler.empty())
        sql += " AND handler = ?1";
      sql += " ORDER BY created_at DESC, id";
      if (f.limit > 0)
        sql += " LIMIT ?2";
      auto s = d.prepare(sql, op);
      if (!s)
        return s.error();
      stmt_guard guard{*s};
      binder b{*s};
      if (!f.handler.empty())
        b.text(1, f.handler);
      if (f.limit > 0)
        b.i64(2, f.limit);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      return read_schedules(d, *s, op);
    });
}

caf::expected<std::vector<recurring_schedule>>
sqlite_store::schedules_to_plan(timestamp horizon, uint32_t limit) {
  return guarded("schedules_to_plan",
                 [&]() -> caf::expected<std::vector<recurring_schedule>> {
                   constexpr std::string_view op = "schedules_to_plan";
                   auto& d = *impl_;
                   auto s = d.prepare(sql_schedules_to_plan, op);
                   if (!s)
                     return s.error();
                   stmt_guard guard{*s};
                   binder b{*s};
                   b.timestamp(1, horizon);
                   b.i64(2, limit);
                   if (b.rc != SQLITE_OK)
                     return bind_failed(d, op, b.rc);
                   return read_schedules(d, *s, op);
                 });
}

caf::expected<std::optional<uint64_t>>
sqlite_store::write_schedule(const recurring_schedule& x,
                             int64_t expected_version,
                             const std::vector<job>& jobs) {
  return guarded(
    "write_schedule", [&]() -> caf::expected<std::optional<uint64_t>> {
      constexpr std::string_view op = "write_schedule";
      if (auto err = check_schedule(x))
        return err;
      for (auto& j : jobs)
        if (auto err = check_job(j))
          return err;
      auto& d = *impl_;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      if (auto err
          = run_schedule(d, sql_write_schedule, x, expected_version, op))
        return err;
      if (sqlite3_changes(d.db) == 0)
        return std::optional<uint64_t>{};
      auto added = insert_new_jobs(d, jobs, op);
      if (!added)
        return added.error();
      if (auto err = tx.commit(op))
        return err;
      return std::optional<uint64_t>{*added};
    });
}

caf::error sqlite_store::touch_static_schedules(
  const std::vector<std::string>& static_names, timestamp now) {
  return guarded("touch_static_schedules", [&]() -> caf::error {
    constexpr std::string_view op = "touch_static_schedules";
    if (static_names.empty())
      return {};
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    auto s = d.prepare(sql_touch_static, op);
    if (!s)
      return s.error();
    for (auto& name : static_names) {
      binder b{*s};
      b.text(1, name);
      b.timestamp(2, now);
      if (b.rc != SQLITE_OK) {
        sqlite3_reset(*s);
        return bind_failed(d, op, b.rc);
      }
      if (auto err = d.run(*s, op))
        return err;
    }
    return tx.commit(op);
  });
}

caf::expected<std::vector<recurring_schedule>>
sqlite_store::retire_static_schedules(timestamp stale_before, timestamp now) {
  return guarded("retire_static_schedules",
                 [&]() -> caf::expected<std::vector<recurring_schedule>> {
                   constexpr std::string_view op = "retire_static_schedules";
                   auto& d = *impl_;
                   transaction tx{d};
                   if (auto err = tx.begin(op))
                     return err;
                   auto s = d.prepare(sql_retire_static, op);
                   if (!s)
                     return s.error();
                   std::vector<recurring_schedule> result;
                   {
                     stmt_guard guard{*s};
                     binder b{*s};
                     b.timestamp(1, stale_before);
                     b.timestamp(2, now);
                     if (b.rc != SQLITE_OK)
                       return bind_failed(d, op, b.rc);
                     auto xs = read_schedules(d, *s, op);
                     if (!xs)
                       return xs.error();
                     result = std::move(*xs);
                   }
                   if (auto err = tx.commit(op))
                     return err;
                   return result;
                 });
}

// -- retention ----------------------------------------------------------------

caf::expected<uint64_t> sqlite_store::purge(timestamp before, uint32_t limit) {
  return guarded("purge", [&]() -> caf::expected<uint64_t> {
    constexpr std::string_view op = "purge";
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    uint64_t deleted = 0;
    for (auto sql : {sql_purge_attempts, sql_purge_jobs, sql_purge_schedules}) {
      auto s = d.prepare(sql, op);
      if (!s)
        return s.error();
      binder b{*s};
      b.timestamp(1, before);
      b.i64(2, limit);
      if (b.rc != SQLITE_OK) {
        sqlite3_reset(*s);
        return bind_failed(d, op, b.rc);
      }
      if (auto err = d.run(*s, op))
        return err;
      if (sql != sql_purge_attempts)
        deleted += static_cast<uint64_t>(sqlite3_changes(d.db));
    }
    if (auto err = tx.commit(op))
      return err;
    return deleted;
  });
}

// -- agent_store --------------------------------------------------------------

caf::expected<std::vector<job>> sqlite_store::claim_bucket_jobs(
  std::string_view bucket_id, const std::optional<held_route>& adopt,
  timestamp due_by, uint32_t limit, duration grace) {
  return guarded("claim_bucket_jobs", [&]() -> caf::expected<std::vector<job>> {
    constexpr std::string_view op = "claim_bucket_jobs";
    std::vector<job> result;
    if (limit == 0)
      return result;
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    auto s = d.prepare(sql_claim, op);
    if (!s)
      return s.error();
    {
      stmt_guard guard{*s};
      binder b{*s};
      b.text(1, bucket_id);
      b.timestamp(2, due_by);
      auto base = saturating_add(to_micros(due_by), grace.count());
      b.i64(3, base);
      b.i64(4, limit);
      b.i64(5, base >= 0 ? std::numeric_limits<int64_t>::max() - base
                         : std::numeric_limits<int64_t>::max());
      bind_route(b, 6, adopt);
      bind_worker(b, 8, adopt);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      result.reserve(limit);
      if (auto err = read_or_set_aside(d, *s, op, result))
        return err;
    }
    // The first statement took every due job but the overlap-guarded ones
    // unless it hit the limit; those come one by one, behind the guard. The
    // write lock held since BEGIN IMMEDIATE serialises the guard.
    if (result.size() < limit) {
      auto base = saturating_add(to_micros(due_by), grace.count());
      if (auto err = claim_exclusive(
            d, bucket_id, adopt, due_by, base,
            limit - static_cast<uint32_t>(result.size()), result))
        return err;
    }
    if (auto err = tx.commit(op))
      return err;
    // RETURNING yields rows in no particular order.
    std::sort(result.begin(), result.end(), earlier);
    return result;
  });
}

caf::expected<uint64_t>
sqlite_store::release_bucket_jobs(std::string_view bucket_id, timestamp now) {
  return guarded("release_bucket_jobs", [&]() -> caf::expected<uint64_t> {
    constexpr std::string_view op = "release_bucket_jobs";
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    if (auto err = insert_lost_attempts(
          d, op, sql_release_lost_attempts, bucket_id, now,
          "bucket " + std::string{bucket_id} + " restarted while running it"))
      return err;
    auto release = d.prepare(sql_release_jobs, op);
    if (!release)
      return release.error();
    binder b{*release};
    b.text(1, bucket_id);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*release);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*release, op))
      return err;
    auto n = static_cast<uint64_t>(sqlite3_changes(d.db));
    if (auto err = tx.commit(op))
      return err;
    return n;
  });
}

caf::expected<std::vector<bool>>
sqlite_store::write_results(const std::vector<job_write>& writes) {
  return guarded("write_results", [&]() -> caf::expected<std::vector<bool>> {
    return write_jobs_impl(*impl_, writes, "write_results");
  });
}

// -- agent_queue --------------------------------------------------------------

namespace {

/// Runs `sql` once per seq, in the caller's transaction; how many rows it
/// changed in all.
caf::expected<uint64_t> for_each_seq(impl& d, const char* sql,
                                     const std::vector<int64_t>& seqs,
                                     std::string_view op) {
  auto s = d.prepare(sql, op);
  if (!s)
    return s.error();
  uint64_t n = 0;
  for (auto seq : seqs) {
    binder b{*s};
    b.i64(1, seq);
    if (b.rc != SQLITE_OK) {
      sqlite3_reset(*s);
      return bind_failed(d, op, b.rc);
    }
    if (auto err = d.run(*s, op))
      return err;
    n += static_cast<uint64_t>(sqlite3_changes(d.db));
  }
  return n;
}

} // namespace

caf::error sqlite_store::push_pending(const std::vector<job>& jobs) {
  return guarded("push_pending", [&]() -> caf::error {
    constexpr std::string_view op = "push_pending";
    for (auto& x : jobs)
      if (auto err = store_common::check_pending("sqlite", x))
        return err;
    if (jobs.empty())
      return {};
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    auto s = d.prepare(sql_push_pending, op);
    if (!s)
      return s.error();
    auto t = now();
    for (auto& x : jobs) {
      auto payload = encode(x);
      binder b{*s};
      b.text(1, x.bucket_id);
      b.blob(2, x.id);
      b.timestamp(3, t);
      b.blob(4, payload.data(), payload.size());
      if (b.rc != SQLITE_OK) {
        sqlite3_reset(*s);
        return bind_failed(d, op, b.rc);
      }
      if (auto err = d.run(*s, op))
        return err;
    }
    return tx.commit(op);
  });
}

caf::expected<pending_read>
sqlite_store::read_pending(std::string_view bucket_id, uint32_t limit) {
  return guarded("read_pending", [&]() -> caf::expected<pending_read> {
    constexpr std::string_view op = "read_pending";
    pending_read result;
    if (limit == 0)
      return result;
    auto& d = *impl_;
    auto s = d.prepare(sql_read_pending, op);
    if (!s)
      return s.error();
    {
      stmt_guard guard{*s};
      binder b{*s};
      b.text(1, bucket_id);
      b.i64(2, limit);
      if (b.rc != SQLITE_OK)
        return bind_failed(d, op, b.rc);
      int rc;
      while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
        auto ptr = static_cast<const char*>(sqlite3_column_blob(*s, 1));
        auto len = static_cast<size_t>(sqlite3_column_bytes(*s, 1));
        store_common::read_pending_entry(
          sqlite3_column_int64(*s, 0), bucket_id,
          ptr != nullptr ? std::string_view{ptr, len} : std::string_view{},
          result);
      }
      if (rc != SQLITE_DONE)
        return d.fail(op, rc);
    }
    if (!result.corrupt.empty()) {
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      if (auto n = for_each_seq(d, sql_quarantine_pending, result.corrupt, op);
          !n)
        return n.error();
      if (auto err = tx.commit(op))
        return err;
    }
    return result;
  });
}

caf::expected<std::vector<std::string>> sqlite_store::pending_buckets() {
  return guarded("pending_buckets",
                 [&]() -> caf::expected<std::vector<std::string>> {
                   constexpr std::string_view op = "pending_buckets";
                   auto& d = *impl_;
                   auto s = d.prepare(sql_pending_buckets, op);
                   if (!s)
                     return s.error();
                   stmt_guard guard{*s};
                   std::vector<std::string> result;
                   int rc;
                   while ((rc = sqlite3_step(*s)) == SQLITE_ROW)
                     result.push_back(column_text(*s, 0));
                   if (rc != SQLITE_DONE)
                     return d.fail(op, rc);
                   return result;
                 });
}

caf::expected<uint64_t>
sqlite_store::remove_pending(const std::vector<int64_t>& seqs) {
  return guarded("remove_pending", [&]() -> caf::expected<uint64_t> {
    constexpr std::string_view op = "remove_pending";
    if (seqs.empty())
      return uint64_t{0};
    auto& d = *impl_;
    transaction tx{d};
    if (auto err = tx.begin(op))
      return err;
    auto n = for_each_seq(d, sql_remove_pending, seqs, op);
    if (!n)
      return n.error();
    if (auto err = tx.commit(op))
      return err;
    return *n;
  });
}

} // namespace jm::sqlite
