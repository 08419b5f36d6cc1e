#include "providers/postgres/postgres_store.hpp"

#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "providers/common.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

namespace jm::postgres {

namespace {

// -- SQL ----------------------------------------------------------------------
//
// `{p}` stands for the table prefix; it is replaced once per connection.
// Parameters and results travel in binary form.

// The column list of jobs in the order read_job expects and job_arrays
// binds.
#define JM_JOB_COLUMNS                                                         \
  "id, handler, status, priority, source, lane, original_scheduled_at, "       \
  "scheduled_at, created_at, timeout_us, max_retries, failure_count, data, "   \
  "metadata, recurring_schedule_id, bucket_id, worker_id, process_deadline, "  \
  "skip_if_running, version"

// The same, qualified by the alias j.
#define JM_J_COLUMNS                                                           \
  "j.id, j.handler, j.status, j.priority, j.source, j.lane, "                  \
  "j.original_scheduled_at, j.scheduled_at, j.created_at, j.timeout_us, "      \
  "j.max_retries, j.failure_count, j.data, j.metadata, "                       \
  "j.recurring_schedule_id, j.bucket_id, j.worker_id, j.process_deadline, "    \
  "j.skip_if_running, j.version"

// The parameters $1 .. $20 of a batch of jobs, one array per column.
#define JM_JOB_ARRAYS                                                          \
  "$1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::text[], "   \
  "$7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], "             \
  "$12::int8[], $13::bytea[], $14::bytea[], $15::uuid[], $16::text[], "        \
  "$17::text[], $18::int8[], $19::bool[], $20::int8[]"

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

// The deadline of a claim: $B = due_by + grace, $R = the room left above $B
// in a bigint; saturates instead of overflowing (which would be an error).
#define JM_CLAIM_DEADLINE(B, R)                                                \
  "process_deadline = CASE WHEN timeout_us > " R                               \
  " THEN 9223372036854775807 WHEN timeout_us < 0 THEN " B " ELSE " B           \
  " + timeout_us END"

/// Migration N is `migrations[N - 1]`; append only, never edit a shipped one.
constexpr const char* migrations[] = {
  // 1: the initial schema: the tables of SQLite's schema version 2, with
  // partial indexes where SQLite has full ones.
  "CREATE TABLE IF NOT EXISTS {p}jobs ("
  " id uuid NOT NULL PRIMARY KEY,"
  " handler text NOT NULL,"
  " status integer NOT NULL,"
  " priority integer NOT NULL,"
  " source integer NOT NULL,"
  " lane text NOT NULL DEFAULT '',"
  " original_scheduled_at bigint NOT NULL,"
  " scheduled_at bigint NOT NULL,"
  " created_at bigint NOT NULL,"
  " timeout_us bigint NOT NULL,"
  " max_retries integer NOT NULL,"
  " failure_count integer NOT NULL,"
  " data bytea,"
  " metadata bytea,"
  " recurring_schedule_id uuid,"
  " bucket_id text NOT NULL DEFAULT '',"
  " worker_id text NOT NULL DEFAULT '',"
  " process_deadline bigint,"
  " skip_if_running boolean NOT NULL DEFAULT false,"
  " version bigint NOT NULL);"
  // Every status change writes a new row version and an entry in every
  // index whose predicate the new version meets (the indexed columns
  // change, so no HOT update): partial indexes keep that to the primary key
  // plus one or two per transition instead of every index.
  // Look-ahead assignment, listings of held jobs.
  "CREATE INDEX IF NOT EXISTS {p}jobs_held"
  " ON {p}jobs (scheduled_at, id) WHERE status IN (1, 2);"
  // Claims, release, the rescue of a dead node's buckets, listings of
  // placed jobs.
  "CREATE INDEX IF NOT EXISTS {p}jobs_bucket"
  " ON {p}jobs (bucket_id, status, scheduled_at, id)"
  " WHERE status IN " JM_LIVE_PLACED ";"
  // The deadline sweep: only live placed jobs.
  "CREATE INDEX IF NOT EXISTS {p}jobs_deadline ON {p}jobs (process_deadline)"
  " WHERE process_deadline IS NOT NULL AND status IN " JM_LIVE_PLACED ";"
  // The occurrence key: one job per (schedule, occurrence), whoever plans.
  "CREATE UNIQUE INDEX IF NOT EXISTS {p}jobs_occurrence"
  " ON {p}jobs (recurring_schedule_id, original_scheduled_at)"
  " WHERE recurring_schedule_id IS NOT NULL;"
  // The overlap guard: is a run of this schedule queued or processing?
  "CREATE INDEX IF NOT EXISTS {p}jobs_schedule_running"
  " ON {p}jobs (recurring_schedule_id)"
  " WHERE recurring_schedule_id IS NOT NULL AND status IN (4, 6);"
  // Retention of final jobs, listings of final jobs.
  "CREATE INDEX IF NOT EXISTS {p}jobs_final"
  " ON {p}jobs (scheduled_at, id) WHERE status IN (5, 7, 8);"
  "CREATE TABLE IF NOT EXISTS {p}attempts ("
  " job_id uuid NOT NULL,"
  " number integer NOT NULL,"
  " worker_id text NOT NULL DEFAULT '',"
  " started_at bigint NOT NULL,"
  " ended_at bigint NOT NULL,"
  " outcome integer NOT NULL,"
  " error text NOT NULL DEFAULT '',"
  " PRIMARY KEY (job_id, number));"
  "CREATE TABLE IF NOT EXISTS {p}nodes ("
  " node_id text NOT NULL PRIMARY KEY,"
  " host text NOT NULL,"
  " port integer NOT NULL,"
  " pid bigint NOT NULL,"
  " started_at bigint NOT NULL,"
  " lease_expires_at bigint NOT NULL);"
  "CREATE TABLE IF NOT EXISTS {p}buckets ("
  " bucket_id text NOT NULL PRIMARY KEY,"
  " worker_id text NOT NULL,"
  " node_id text NOT NULL,"
  " priority integer NOT NULL,"
  " lane text NOT NULL DEFAULT '');"
  "CREATE INDEX IF NOT EXISTS {p}buckets_node ON {p}buckets (node_id);"
  "CREATE TABLE IF NOT EXISTS {p}schedules ("
  " id uuid NOT NULL PRIMARY KEY,"
  " handler text NOT NULL,"
  " expression_type text NOT NULL,"
  " expression text NOT NULL,"
  " time_zone text NOT NULL DEFAULT '',"
  " data bytea,"
  " metadata bytea,"
  " priority integer,"
  " lane text,"
  " timeout_us bigint,"
  " max_retries integer,"
  " start_after bigint,"
  " end_before bigint,"
  " catch_up integer NOT NULL,"
  " catch_up_limit bigint NOT NULL,"
  " overlap integer NOT NULL,"
  " static_name text NOT NULL DEFAULT '',"
  " status integer NOT NULL,"
  " created_at bigint NOT NULL,"
  " terminated_at bigint,"
  " occurrence_cursor bigint NOT NULL,"
  " planned_until bigint NOT NULL,"
  " ensured_at bigint,"
  " version bigint NOT NULL);"
  // The planner's scan.
  "CREATE INDEX IF NOT EXISTS {p}schedules_plan"
  " ON {p}schedules (status, planned_until, id);"
  "CREATE UNIQUE INDEX IF NOT EXISTS {p}schedules_static"
  " ON {p}schedules (static_name) WHERE static_name <> '';"
  // Retention of final schedules.
  "CREATE INDEX IF NOT EXISTS {p}schedules_final"
  " ON {p}schedules (terminated_at) WHERE status IN (3, 5);",
  // 2: buckets adopt due held jobs of their route in their claims.
  "CREATE INDEX IF NOT EXISTS {p}jobs_route"
  " ON {p}jobs (priority, lane, skip_if_running, scheduled_at, id)"
  " WHERE status = 2;",
  // 3: save-pending queues, when this database is a separate agent store.
  "CREATE TABLE IF NOT EXISTS {p}agent_queue ("
  " seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
  " bucket_id text NOT NULL,"
  " job_id uuid NOT NULL,"
  " pushed_at bigint NOT NULL,"
  " payload bytea NOT NULL);"
  "CREATE INDEX IF NOT EXISTS {p}agent_queue_bucket"
  " ON {p}agent_queue (bucket_id, seq);",
};

constexpr int latest_schema_version
  = static_cast<int>(sizeof(migrations) / sizeof(migrations[0]));

/// A statement prepared once per connection under its name.
struct statement {
  const char* name;
  const char* sql;
};

constexpr statement sql_schema_table{
  "schema_table", "SELECT to_regclass('{p}schema_version') IS NOT NULL"};

constexpr statement sql_schema_version{"schema_version",
                                       "SELECT COALESCE(MAX(version), 0)::int8 "
                                       "FROM {p}schema_version"};

// Skips a known id and a known occurrence alike (any unique index); rows
// go in in array order, so within one batch the first of a pair wins.
constexpr statement sql_insert_jobs{
  "insert_jobs", "INSERT INTO {p}jobs (" JM_JOB_COLUMNS ") SELECT * FROM "
                 "unnest(" JM_JOB_ARRAYS ") ON CONFLICT DO NOTHING"};

constexpr statement sql_get_job{"get_job", "SELECT " JM_JOB_COLUMNS
                                           " FROM {p}jobs WHERE id = $1"};

constexpr statement sql_list_attempts{
  "list_attempts", "SELECT " JM_ATTEMPT_COLUMNS " FROM {p}attempts "
                   "WHERE job_id = $1 ORDER BY number"};

// A batch of fenced writes with distinct job ids: $1 .. $20 the new states,
// $21 the expected versions, $22 .. $27 the attempts (has one, worker,
// started, ended, outcome, error). Returns the ids that applied. An attempt
// is numbered max + 1; the row lock the update holds keeps that unique.
constexpr statement sql_write_jobs{
  "write_jobs",
  "WITH w AS (SELECT * FROM unnest(" JM_JOB_ARRAYS
  ", $21::int8[], $22::bool[], $23::text[], $24::int8[], $25::int8[], "
  "$26::int8[], $27::text[]) AS w (id, handler, status, priority, source, "
  "lane, original_scheduled_at, scheduled_at, created_at, timeout_us, "
  "max_retries, failure_count, data, metadata, recurring_schedule_id, "
  "bucket_id, worker_id, process_deadline, skip_if_running, version, "
  "expected, has_attempt, a_worker, a_started, a_ended, a_outcome, "
  "a_error)), "
  "u AS (UPDATE {p}jobs j SET handler = w.handler, status = w.status, "
  "priority = w.priority, source = w.source, lane = w.lane, "
  "original_scheduled_at = w.original_scheduled_at, "
  "scheduled_at = w.scheduled_at, created_at = w.created_at, "
  "timeout_us = w.timeout_us, max_retries = w.max_retries, "
  "failure_count = w.failure_count, data = w.data, metadata = w.metadata, "
  "recurring_schedule_id = w.recurring_schedule_id, bucket_id = w.bucket_id, "
  "worker_id = w.worker_id, process_deadline = w.process_deadline, "
  "skip_if_running = w.skip_if_running, version = w.expected + 1 FROM w "
  "WHERE j.id = w.id AND j.version = w.expected RETURNING j.id), "
  "a AS (INSERT INTO {p}attempts (" JM_ATTEMPT_COLUMNS ") SELECT w.id, "
  "COALESCE((SELECT MAX(n.number) FROM {p}attempts n WHERE n.job_id = w.id), "
  "0) + 1, w.a_worker, w.a_started, w.a_ended, w.a_outcome, w.a_error "
  "FROM w JOIN u ON u.id = w.id WHERE w.has_attempt) "
  "SELECT id FROM u"};

// The remove writes of such a batch: $1 the jobs, $2 the expected
// versions. Only the fences travel, not the states. Returns the ids that
// applied; their attempts go with them.
constexpr statement sql_remove_jobs{
  "remove_jobs",
  "WITH d AS (DELETE FROM {p}jobs j USING unnest($1::uuid[], $2::int8[]) "
  "AS w (id, expected) WHERE j.id = w.id AND j.version = w.expected "
  "RETURNING j.id), "
  "a AS (DELETE FROM {p}attempts n USING d WHERE n.job_id = d.id) "
  "SELECT id FROM d"};

// Numbers the attempt max + 1 within the same statement.
constexpr statement sql_insert_attempt{
  "insert_attempt",
  "INSERT INTO {p}attempts (" JM_ATTEMPT_COLUMNS ") "
  "SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4, $5, $6 "
  "FROM {p}attempts WHERE job_id = $1"};

constexpr statement sql_quarantine_job{
  "quarantine_job",
  "UPDATE {p}jobs SET status = 7, bucket_id = '', worker_id = '', "
  "process_deadline = NULL, version = version + 1 WHERE id = $1"};

// Held jobs due after $3 and by $1, $2 at most.
constexpr statement sql_select_held{
  "select_held", "SELECT " JM_JOB_COLUMNS " FROM {p}jobs WHERE status = 2 "
                 "AND scheduled_at > $3 AND scheduled_at <= $1 "
                 "ORDER BY scheduled_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"};

constexpr statement sql_assign_jobs{
  "assign_jobs",
  "UPDATE {p}jobs j SET status = 3, bucket_id = u.bucket_id, "
  "worker_id = u.worker_id, process_deadline = NULL, "
  "version = j.version + 1 FROM unnest($1::uuid[], $2::text[], $3::text[]) "
  "AS u (id, bucket_id, worker_id) WHERE j.id = u.id AND j.status = 2 "
  "RETURNING j.id"};

constexpr statement sql_count_by_status{
  "count_by_status",
  "SELECT status, COUNT(*)::int8 FROM {p}jobs GROUP BY status"};

constexpr statement sql_upsert_node{
  "upsert_node", "INSERT INTO {p}nodes (node_id, host, port, pid, started_at, "
                 "lease_expires_at) VALUES ($1, $2, $3, $4, $5, $6) "
                 "ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, "
                 "port = excluded.port, pid = excluded.pid, "
                 "started_at = excluded.started_at, "
                 "lease_expires_at = excluded.lease_expires_at"};

constexpr statement sql_renew_node{
  "renew_node", "UPDATE {p}nodes SET lease_expires_at = $2 WHERE node_id = $1"};

constexpr statement sql_delete_node_buckets{
  "delete_node_buckets", "DELETE FROM {p}buckets WHERE node_id = $1"};

constexpr statement sql_delete_node{"delete_node",
                                    "DELETE FROM {p}nodes WHERE node_id = $1"};

constexpr statement sql_list_nodes{
  "list_nodes", "SELECT node_id, host, port, pid, started_at, "
                "lease_expires_at FROM {p}nodes ORDER BY node_id"};

constexpr statement sql_upsert_bucket{
  "upsert_bucket",
  "INSERT INTO {p}buckets (bucket_id, worker_id, node_id, priority, lane) "
  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bucket_id) DO UPDATE SET "
  "worker_id = excluded.worker_id, node_id = excluded.node_id, "
  "priority = excluded.priority, lane = excluded.lane"};

constexpr statement sql_live_buckets{
  "live_buckets",
  "SELECT b.bucket_id, b.worker_id, b.node_id, b.priority, b.lane "
  "FROM {p}buckets b JOIN {p}nodes n ON n.node_id = b.node_id "
  "WHERE n.lease_expires_at > $1 ORDER BY b.bucket_id"};

// A node is dead once it is no longer alive (its lease is not in the future).
constexpr statement sql_dead_nodes{
  "dead_nodes", "SELECT node_id FROM {p}nodes WHERE lease_expires_at <= $1 "
                "ORDER BY node_id"};

// Under the transaction: concurrent rescuers take turns per node.
constexpr statement sql_lock_dead_nodes{
  "lock_dead_nodes", "SELECT node_id FROM {p}nodes WHERE lease_expires_at "
                     "<= $1 ORDER BY node_id FOR UPDATE"};

// The live jobs of a node's buckets ($1) or of one bucket ($2), locked
// first so that nobody finishes one between its `lost` attempt and its
// return.
constexpr statement sql_lock_placed{
  "lock_placed",
  "SELECT id FROM {p}jobs WHERE status IN " JM_LIVE_PLACED " AND "
  "(bucket_id IN (SELECT bucket_id FROM {p}buckets WHERE node_id = $1) "
  "OR bucket_id = $2) ORDER BY id FOR UPDATE"};

// `lost` attempts for the processing jobs of a node's buckets ($1) or of a
// bucket ($4), at $2, with the reason $3.
constexpr statement sql_lost_attempts{
  "lost_attempts",
  "INSERT INTO {p}attempts (" JM_ATTEMPT_COLUMNS ") "
  "SELECT j.id, (SELECT COALESCE(MAX(a.number), 0) + 1 FROM {p}attempts a "
  "WHERE a.job_id = j.id), j.worker_id, $2, $2, 4, $3 FROM {p}jobs j "
  "WHERE j.status = 4 AND (j.bucket_id IN (SELECT bucket_id FROM {p}buckets "
  "WHERE node_id = $1) OR j.bucket_id = $4)"};

constexpr statement sql_rescue_jobs{
  "rescue_jobs",
  "UPDATE {p}jobs SET status = 2, bucket_id = '', worker_id = '', "
  "process_deadline = NULL, version = version + 1 "
  "WHERE status IN " JM_LIVE_PLACED " AND bucket_id IN "
  "(SELECT bucket_id FROM {p}buckets WHERE node_id = $1) "
  "RETURNING " JM_JOB_COLUMNS};

constexpr statement sql_release_jobs{
  "release_jobs", "UPDATE {p}jobs SET status = 3, process_deadline = NULL, "
                  "version = version + 1 WHERE bucket_id = $1 "
                  "AND status IN (4, 6)"};

constexpr statement sql_sweep_deadlines{
  "sweep_deadlines",
  "UPDATE {p}jobs SET status = 2, bucket_id = '', worker_id = '', "
  "process_deadline = NULL, version = version + 1 "
  "WHERE process_deadline IS NOT NULL AND process_deadline < $1 "
  "AND status IN " JM_LIVE_PLACED};

// The due held jobs of a route: $P = priority (NULL: none), $L = lane;
// adopted only by a registered bucket ($1) of a node alive at $2, so that a
// node already declared dead (and its jobs rescued) takes no more, and
// whatever a bucket holds can be found by the rescue of its node.
#define JM_DUE_HELD(P, L)                                                      \
  "status = 2 AND priority = " P " AND lane = " L " AND scheduled_at <= $2 "   \
  "AND EXISTS (SELECT 1 FROM {p}buckets b JOIN {p}nodes n ON n.node_id = "     \
  "b.node_id WHERE b.bucket_id = $1 AND n.lease_expires_at > $2)"

// Every due job but the overlap-guarded ones, earliest first: the bucket's
// ($1) and held ones of its route ($6 = priority, NULL when it adopts none,
// $7 = lane; they take the worker $8), $4 at most; $3 = due_by + grace, $5 =
// the room above it. One statement, committed on its own: the hot path of a
// busy bucket costs one round trip and one commit, and a held job one
// write. The last column, `more`, says whether overlap-guarded jobs are due
// too (asked only when the limit left room: the scans walk the due jobs); a
// claim that took nothing still returns one row, with a NULL id.
constexpr statement sql_claim{
  "claim",
  // A CTE with FOR UPDATE is evaluated once; `id IN (subquery)` may be
  // evaluated again per outer row and then exceeds its LIMIT. FOR UPDATE is
  // not allowed under UNION, hence two CTEs, merged in due order: a stream
  // of the bucket's own jobs must not starve retries and rescued jobs.
  // Rows locked but not taken are free again when the statement ends.
  "WITH c1 AS (SELECT id, scheduled_at FROM {p}jobs WHERE bucket_id = $1 "
  "AND status = 3 AND scheduled_at <= $2 AND NOT skip_if_running "
  "ORDER BY scheduled_at, id LIMIT $4 FOR UPDATE SKIP LOCKED), "
  "c2 AS (SELECT id, scheduled_at FROM {p}jobs WHERE " JM_DUE_HELD(
    "$6", "$7") " AND NOT skip_if_running ORDER BY scheduled_at, id LIMIT "
                "$4 FOR UPDATE SKIP LOCKED), "
                "c AS (SELECT id FROM (SELECT * FROM c1 UNION ALL SELECT * "
                "FROM c2) x ORDER BY scheduled_at, id LIMIT $4), "
                "u AS (UPDATE {p}jobs j SET status = 6, " JM_CLAIM_DEADLINE(
                  "$3", "$5") ", bucket_id = $1, worker_id = COALESCE($8, "
                              "j.worker_id), version = j.version + 1 FROM c "
                              "WHERE j.id = c.id RETURNING " JM_J_COLUMNS
                              ") SELECT u.*, x.more FROM (SELECT CASE WHEN "
                              "(SELECT count(*) FROM u) < $4 THEN EXISTS "
                              "(SELECT 1 FROM {p}jobs WHERE bucket_id = $1 "
                              "AND status = 3 AND scheduled_at <= $2 AND "
                              "skip_if_running) OR EXISTS (SELECT 1 FROM "
                              "{p}jobs WHERE " JM_DUE_HELD(
                                "$6", "$7") " AND skip_if_running) ELSE false "
                                            "END AS more) x LEFT JOIN u ON "
                                            "true"};

// The overlap-guarded jobs of a claim, the bucket's ($1) and held ones of
// its route ($4 = priority or NULL, $5 = lane), in due order; $3 = limit.
constexpr statement sql_select_exclusive{
  "select_exclusive",
  "SELECT " JM_JOB_COLUMNS " FROM {p}jobs WHERE ((bucket_id = $1 AND "
  "status = 3 AND scheduled_at <= $2) OR (" JM_DUE_HELD(
    "$4", "$5") ")) AND skip_if_running ORDER BY scheduled_at, id LIMIT $3 "
                "FOR UPDATE SKIP LOCKED"};

// Serialises the overlap guard of one schedule across connections until
// the transaction ends.
constexpr statement sql_lock_schedule{
  "lock_schedule",
  "SELECT pg_advisory_xact_lock(hashtext('{p}overlap'), hashtext($1::text))"};

constexpr statement sql_schedule_running{
  "schedule_running", "SELECT 1 FROM {p}jobs WHERE recurring_schedule_id = "
                      "$1 AND status IN (4, 6) LIMIT 1"};

// Claims one job ($1) as sql_claim does ($2 = base, $3 = room, $4 = the
// bucket, $5 = the worker of an adopted job or NULL).
constexpr statement sql_claim_one{
  "claim_one", "UPDATE {p}jobs SET status = 6, " JM_CLAIM_DEADLINE(
                 "$2", "$3") ", bucket_id = $4, worker_id = COALESCE($5, "
                             "worker_id), version = version + 1 WHERE id = "
                             "$1 AND status IN (2, 3)"};

constexpr statement sql_skip_job{
  "skip_job", "UPDATE {p}jobs SET status = 8, bucket_id = '', worker_id = "
              "'', process_deadline = NULL, version = version + 1 "
              "WHERE id = $1 AND status IN (2, 3)"};

// -- schedules --

constexpr statement sql_insert_schedule{
  "insert_schedule",
  "INSERT INTO {p}schedules (" JM_SCHEDULE_COLUMNS ") VALUES ($1, $2, $3, "
  "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
  "$19, $20, $21, $22, $23, $24) ON CONFLICT DO NOTHING"};

constexpr statement sql_get_schedule{"get_schedule",
                                     "SELECT " JM_SCHEDULE_COLUMNS
                                     " FROM {p}schedules WHERE id = $1"};

constexpr statement sql_lock_static_schedule{
  "lock_static_schedule",
  "SELECT " JM_SCHEDULE_COLUMNS " FROM {p}schedules WHERE static_name = $1 "
  "AND static_name <> '' FOR UPDATE"};

// Parameters as in sql_insert_schedule; $24 is the expected version.
constexpr statement sql_write_schedule{
  "write_schedule",
  "UPDATE {p}schedules SET handler = $2, expression_type = $3, "
  "expression = $4, time_zone = $5, data = $6, metadata = $7, "
  "priority = $8, lane = $9, timeout_us = $10, max_retries = $11, "
  "start_after = $12, end_before = $13, catch_up = $14, "
  "catch_up_limit = $15, overlap = $16, static_name = $17, status = $18, "
  "created_at = $19, terminated_at = $20, occurrence_cursor = $21, "
  "planned_until = $22, ensured_at = $23, version = $24 + 1 "
  "WHERE id = $1 AND version = $24"};

constexpr statement sql_schedules_to_plan{
  "schedules_to_plan",
  "SELECT " JM_SCHEDULE_COLUMNS " FROM {p}schedules WHERE status = 2 "
  "AND planned_until < $1 ORDER BY planned_until, id LIMIT $2"};

constexpr statement sql_touch_static{
  "touch_static",
  "UPDATE {p}schedules SET ensured_at = $2, version = version + 1 "
  "WHERE static_name = ANY($1) "
  "AND static_name <> ''"};

constexpr statement sql_retire_static{
  "retire_static",
  "UPDATE {p}schedules SET status = 4, terminated_at = $2, "
  "version = version + 1 WHERE status = 2 AND static_name <> '' "
  "AND (ensured_at IS NULL OR ensured_at < $1) "
  "RETURNING " JM_SCHEDULE_COLUMNS};

// -- retention --

constexpr statement sql_purge_jobs{
  "purge_jobs",
  "WITH v AS (SELECT id FROM {p}jobs WHERE status IN (5, 7, 8) "
  "AND scheduled_at < $1 ORDER BY scheduled_at, id LIMIT $2 "
  "FOR UPDATE SKIP LOCKED), "
  "a AS (DELETE FROM {p}attempts WHERE job_id IN (SELECT id FROM v)) "
  "DELETE FROM {p}jobs WHERE id IN (SELECT id FROM v)"};

constexpr statement sql_purge_schedules{
  "purge_schedules",
  "DELETE FROM {p}schedules WHERE id IN (SELECT id FROM {p}schedules "
  "WHERE status IN (3, 5) AND terminated_at < $1 ORDER BY terminated_at, id "
  "LIMIT $2 FOR UPDATE SKIP LOCKED)"};

// Several jobs in one statement; in array order, so seq follows push order.
constexpr statement sql_push_pending{
  "push_pending",
  "INSERT INTO {p}agent_queue (bucket_id, job_id, pushed_at, payload) "
  "SELECT b, j, $3, x FROM unnest($1::text[], $2::uuid[], $4::bytea[]) "
  "WITH ORDINALITY AS u(b, j, x, n) ORDER BY n"};

constexpr statement sql_read_pending{
  "read_pending", "SELECT seq, payload FROM {p}agent_queue "
                  "WHERE bucket_id = $1 ORDER BY seq LIMIT $2"};

constexpr statement sql_quarantine_pending{
  "quarantine_pending", "UPDATE {p}agent_queue SET bucket_id = '!corrupt' "
                        "WHERE seq = ANY($1::int8[])"};

constexpr statement sql_pending_buckets{
  "pending_buckets", "SELECT DISTINCT bucket_id FROM {p}agent_queue "
                     "WHERE bucket_id <> '!corrupt' ORDER BY bucket_id"};

constexpr statement sql_remove_pending{
  "remove_pending", "DELETE FROM {p}agent_queue WHERE seq = ANY($1::int8[])"};

// -- type ids (pg_type.oid; stable across server versions) --------------------

constexpr Oid oid_bool = 16;
constexpr Oid oid_bytea = 17;
constexpr Oid oid_int8 = 20;
constexpr Oid oid_text = 25;
constexpr Oid oid_uuid = 2950;
constexpr Oid oid_bool_array = 1000;
constexpr Oid oid_bytea_array = 1001;
constexpr Oid oid_text_array = 1009;
constexpr Oid oid_int8_array = 1016;
constexpr Oid oid_uuid_array = 2951;

Oid array_of(Oid elem) {
  switch (elem) {
  case oid_bool:
    return oid_bool_array;
  case oid_bytea:
    return oid_bytea_array;
  case oid_text:
    return oid_text_array;
  case oid_uuid:
    return oid_uuid_array;
  default:
    return oid_int8_array;
  }
}

// -- errors -------------------------------------------------------------------

caf::error malformed(std::string text) {
  return make_error(ec::malformed_message, "postgres: " + std::move(text));
}

caf::error bad_job(const job_id& id, std::string what) {
  return malformed("job " + to_string(id) + ": " + std::move(what));
}

constexpr std::string_view backend = "postgres";

caf::error failure(std::string_view op, std::string_view what) {
  return store_common::failure(backend, op, what);
}

caf::error invalid(std::string text) {
  return store_common::invalid(backend, std::move(text));
}

/// libpq's messages end with a newline and may span lines; one line here.
std::string one_line(const char* msg) {
  std::string x = msg != nullptr ? msg : "";
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.back())))
    x.pop_back();
  for (size_t i = 0; (i = x.find('\n', i)) != std::string::npos;)
    x.replace(i, 1, "; ");
  return x.empty() ? "unknown error" : x;
}

template <class F>
auto guarded(std::string_view op, F&& f) -> decltype(f()) {
  return store_common::guarded(backend, op, std::forward<F>(f));
}

// -- enum checks --------------------------------------------------------------

using store_common::fits_int32;
using store_common::in_range;
using store_common::take_placement;
using store_common::valid_outcome;
using store_common::valid_priority;
using store_common::valid_schedule_status;
using store_common::valid_status;

template <class Status>
caf::expected<std::string> status_clause(const std::vector<Status>& xs,
                                         bool (*valid)(int64_t),
                                         std::string_view op) {
  return store_common::status_clause(backend, xs, valid, op);
}

caf::error check_job(const job& x) {
  return store_common::check_job(backend, x);
}

caf::error check_schedule(const recurring_schedule& x) {
  return store_common::check_schedule(backend, x);
}

// -- binary encoding ----------------------------------------------------------

void put_be(std::string& out, uint64_t x, int size) {
  for (int i = size - 1; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xFF));
}

std::string be64(int64_t x) {
  std::string out;
  put_be(out, static_cast<uint64_t>(x), 8);
  return out;
}

std::string raw(const uuid& x) {
  return std::string{reinterpret_cast<const char*>(x.bytes.data()),
                     x.bytes.size()};
}

/// An empty map is stored as NULL: no encoding, no decoding.
std::optional<std::string> encoded(const value_map& x) {
  if (x.empty())
    return std::nullopt;
  auto buf = encode(x);
  return std::string{reinterpret_cast<const char*>(buf.data()), buf.size()};
}

/// A one-dimensional array parameter in the binary wire format.
class array_param {
public:
  explicit array_param(Oid elem) : elem_(elem) {}

  Oid type() const { return array_of(elem_); }

  void add(std::optional<std::string_view> x) {
    ++count_;
    if (!x) {
      has_null_ = true;
      put_be(body_, static_cast<uint32_t>(-1), 4);
      return;
    }
    put_be(body_, static_cast<uint32_t>(x->size()), 4);
    body_.append(x->data(), x->size());
  }

  void i64(int64_t x) { add(be64(x)); }

  std::string finish() const {
    std::string out;
    put_be(out, count_ > 0 ? 1 : 0, 4); // dimensions
    put_be(out, has_null_ ? 1 : 0, 4);
    put_be(out, elem_, 4);
    if (count_ > 0) {
      put_be(out, static_cast<uint32_t>(count_), 4);
      put_be(out, 1, 4); // lower bound
    }
    return out + body_;
  }

private:
  Oid elem_;
  std::string body_;
  size_t count_ = 0;
  bool has_null_ = false;
};

/// The parameters of one statement, all in binary form.
class params {
public:
  void add(Oid type, std::optional<std::string> x) {
    types_.push_back(type);
    values_.push_back(std::move(x));
  }

  void i64(int64_t x) { add(oid_int8, be64(x)); }

  void ts(timestamp x) { i64(to_micros(x)); }

  void text(std::string_view x) { add(oid_text, std::string{x}); }

  void id(const uuid& x) { add(oid_uuid, raw(x)); }

  void boolean(bool x) { add(oid_bool, std::string(1, x ? '\1' : '\0')); }

  void map(const value_map& x) { add(oid_bytea, encoded(x)); }

  void array(const array_param& x) { add(x.type(), x.finish()); }

  template <class T, class F>
  void optional(const std::optional<T>& x, Oid type, F f) {
    if (x)
      f(*x);
    else
      add(type, std::nullopt);
  }

  /// The placeholder of the parameter added last.
  std::string last() const { return "$" + std::to_string(values_.size()); }

  int size() const { return static_cast<int>(values_.size()); }

  const Oid* types() const { return types_.data(); }

  /// Pointers for libpq; valid while this object is unchanged.
  struct view {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
  };

  view make_view() const {
    view v;
    for (auto& x : values_) {
      v.values.push_back(x ? x->data() : nullptr);
      v.lengths.push_back(x ? static_cast<int>(x->size()) : 0);
      v.formats.push_back(1);
    }
    return v;
  }

private:
  std::vector<Oid> types_;
  std::vector<std::optional<std::string>> values_;
};

/// The 20 column arrays of a batch of jobs ($1 .. $20, JM_JOB_ARRAYS).
class job_arrays {
public:
  job_arrays()
    : cols_{
      array_param{oid_uuid},  array_param{oid_text},  array_param{oid_int8},
      array_param{oid_int8},  array_param{oid_int8},  array_param{oid_text},
      array_param{oid_int8},  array_param{oid_int8},  array_param{oid_int8},
      array_param{oid_int8},  array_param{oid_int8},  array_param{oid_int8},
      array_param{oid_bytea}, array_param{oid_bytea}, array_param{oid_uuid},
      array_param{oid_text},  array_param{oid_text},  array_param{oid_int8},
      array_param{oid_bool},  array_param{oid_int8}} {}

  void add(const job& x, int64_t version) {
    cols_[0].add(raw(x.id));
    cols_[1].add(x.handler);
    cols_[2].i64(static_cast<int64_t>(x.status));
    cols_[3].i64(static_cast<int64_t>(x.priority));
    cols_[4].i64(static_cast<int64_t>(x.source));
    cols_[5].add(x.lane);
    cols_[6].i64(to_micros(x.original_scheduled_at));
    cols_[7].i64(to_micros(x.scheduled_at));
    cols_[8].i64(to_micros(x.created_at));
    cols_[9].i64(x.timeout.count());
    cols_[10].i64(x.max_retries);
    cols_[11].i64(x.failure_count);
    auto data = encoded(x.data);
    cols_[12].add(data ? std::optional<std::string_view>{*data} : std::nullopt);
    auto metadata = encoded(x.metadata);
    cols_[13].add(metadata ? std::optional<std::string_view>{*metadata}
                           : std::nullopt);
    if (x.recurring_schedule_id)
      cols_[14].add(raw(*x.recurring_schedule_id));
    else
      cols_[14].add(std::nullopt);
    cols_[15].add(x.bucket_id);
    cols_[16].add(x.worker_id);
    if (x.process_deadline)
      cols_[17].i64(to_micros(*x.process_deadline));
    else
      cols_[17].add(std::nullopt);
    cols_[18].add(std::string(1, x.skip_if_running ? '\1' : '\0'));
    cols_[19].i64(version);
  }

  void bind(params& p) const {
    for (auto& col : cols_)
      p.array(col);
  }

private:
  std::array<array_param, 20> cols_;
};

/// Binds all columns of `x` as $1 .. $24 with `version` as $24.
void bind_schedule(params& p, const recurring_schedule& x, int64_t version) {
  auto& spec = x.spec;
  p.id(x.id);
  p.text(spec.handler);
  p.text(spec.expression_type);
  p.text(spec.expression);
  p.text(spec.time_zone);
  p.map(spec.data);
  p.map(spec.metadata);
  auto i64 = [&p](int64_t v) { p.i64(v); };
  auto ts = [&p](timestamp v) { p.ts(v); };
  p.optional(spec.priority, oid_int8,
             [&p](priority v) { p.i64(static_cast<int64_t>(v)); });
  p.optional(spec.lane, oid_text, [&p](const std::string& v) { p.text(v); });
  p.optional(spec.timeout, oid_int8, [&p](duration v) { p.i64(v.count()); });
  p.optional(spec.max_retries, oid_int8, i64);
  p.optional(spec.start_after, oid_int8, ts);
  p.optional(spec.end_before, oid_int8, ts);
  p.i64(static_cast<int64_t>(spec.catch_up));
  p.i64(spec.catch_up_limit);
  p.i64(static_cast<int64_t>(spec.overlap));
  p.text(spec.static_name);
  p.i64(static_cast<int64_t>(x.status));
  p.ts(x.created_at);
  p.optional(x.terminated_at, oid_int8, ts);
  p.ts(x.cursor);
  p.ts(x.planned_until);
  p.optional(x.ensured_at, oid_int8, ts);
  p.i64(version);
}

// -- results ------------------------------------------------------------------

struct result_deleter {
  void operator()(PGresult* x) const { PQclear(x); }
};

using result = std::unique_ptr<PGresult, result_deleter>;

uint64_t affected(const result& r) {
  const char* n = PQcmdTuples(r.get());
  return n != nullptr && *n != '\0' ? std::stoull(n) : 0;
}

/// One row of a binary result.
struct row {
  const PGresult* r;
  int i;

  bool null(int col) const { return PQgetisnull(r, i, col) != 0; }

  std::string_view bytes(int col) const {
    return {PQgetvalue(r, i, col), static_cast<size_t>(PQgetlength(r, i, col))};
  }

  std::string text(int col) const { return std::string{bytes(col)}; }

  /// Reads a smallint, integer or bigint.
  bool i64(int col, int64_t& out) const {
    if (null(col))
      return false;
    auto b = bytes(col);
    if (b.size() != 2 && b.size() != 4 && b.size() != 8)
      return false;
    uint64_t x = 0;
    for (auto c : b)
      x = (x << 8) | static_cast<uint8_t>(c);
    auto bits = static_cast<int>(b.size() * 8);
    if (bits < 64 && (x >> (bits - 1)) != 0)
      x |= ~uint64_t{0} << bits; // sign extension
    out = static_cast<int64_t>(x);
    return true;
  }

  bool id(int col, uuid& out) const {
    auto b = bytes(col);
    if (null(col) || b.size() != 16)
      return false;
    std::memcpy(out.bytes.data(), b.data(), 16);
    return true;
  }

  bool boolean(int col, bool& out) const {
    auto b = bytes(col);
    if (null(col) || b.size() != 1)
      return false;
    out = b[0] != 0;
    return true;
  }

  caf::expected<value_map> map(int col) const {
    if (null(col))
      return value_map{};
    auto b = bytes(col);
    return decode_value_map(
      {reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  }

  /// An optional bigint column; false when it holds something else.
  template <class T, class F>
  bool optional(int col, std::optional<T>& out, F convert) const {
    if (null(col))
      return true;
    int64_t v = 0;
    if (!i64(col, v))
      return false;
    return convert(v, out);
  }
};

/// Reads a job from columns 0 .. 19 (JM_JOB_COLUMNS).
caf::expected<job> read_job(const row& r) {
  job x;
  if (!r.id(0, x.id))
    return malformed("a job row has an invalid id");
  int64_t n = 0;
  x.handler = r.text(1);
  if (!r.i64(2, n) || !valid_status(n))
    return bad_job(x.id, "invalid status");
  x.status = static_cast<job_status>(n);
  if (!r.i64(3, n) || !valid_priority(n))
    return bad_job(x.id, "invalid priority");
  x.priority = static_cast<jm::priority>(n);
  if (!r.i64(4, n) || !in_range(n, 1, 3))
    return bad_job(x.id, "invalid trigger source");
  x.source = static_cast<trigger_source>(n);
  x.lane = r.text(5);
  if (!r.i64(6, n))
    return bad_job(x.id, "invalid original_scheduled_at");
  x.original_scheduled_at = from_micros(n);
  if (!r.i64(7, n))
    return bad_job(x.id, "invalid scheduled_at");
  x.scheduled_at = from_micros(n);
  if (!r.i64(8, n))
    return bad_job(x.id, "invalid created_at");
  x.created_at = from_micros(n);
  if (!r.i64(9, n))
    return bad_job(x.id, "invalid timeout");
  x.timeout = duration{n};
  if (!r.i64(10, n) || !fits_int32(n))
    return bad_job(x.id, "invalid max_retries");
  x.max_retries = static_cast<int32_t>(n);
  if (!r.i64(11, n) || !fits_int32(n))
    return bad_job(x.id, "invalid failure_count");
  x.failure_count = static_cast<int32_t>(n);
  if (auto m = r.map(12))
    x.data = std::move(*m);
  else
    return bad_job(x.id, "data does not decode: " + describe(m.error()));
  if (auto m = r.map(13))
    x.metadata = std::move(*m);
  else
    return bad_job(x.id, "metadata does not decode: " + describe(m.error()));
  if (!r.null(14)) {
    uuid u;
    if (!r.id(14, u))
      return bad_job(x.id, "invalid recurring_schedule_id");
    x.recurring_schedule_id = u;
  }
  x.bucket_id = r.text(15);
  x.worker_id = r.text(16);
  if (!r.null(17)) {
    if (!r.i64(17, n))
      return bad_job(x.id, "invalid process_deadline");
    x.process_deadline = from_micros(n);
  }
  if (!r.boolean(18, x.skip_if_running))
    return bad_job(x.id, "invalid skip_if_running");
  if (!r.i64(19, n))
    return bad_job(x.id, "invalid version");
  x.version = n;
  return x;
}

caf::expected<attempt> read_attempt(const row& r) {
  attempt x;
  if (!r.id(0, x.job))
    return malformed("an attempt row has an invalid job id");
  auto bad = [&x](std::string what) {
    return malformed("attempt of job " + to_string(x.job) + ": " + what);
  };
  int64_t n = 0;
  if (!r.i64(1, n) || !fits_int32(n) || n < 1)
    return bad("invalid number");
  x.number = static_cast<int32_t>(n);
  x.worker_id = r.text(2);
  if (!r.i64(3, n))
    return bad("invalid started_at");
  x.started_at = from_micros(n);
  if (!r.i64(4, n))
    return bad("invalid ended_at");
  x.ended_at = from_micros(n);
  if (!r.i64(5, n) || !valid_outcome(n))
    return bad("invalid outcome");
  x.outcome = static_cast<attempt_outcome>(n);
  x.error = r.text(6);
  return x;
}

/// Reads a schedule from columns 0 .. 23 (JM_SCHEDULE_COLUMNS).
caf::expected<recurring_schedule> read_schedule(const row& r) {
  recurring_schedule x;
  if (!r.id(0, x.id))
    return malformed("a schedule row has an invalid id");
  auto bad = [&x](std::string what) {
    return malformed("schedule " + to_string(x.id) + ": " + what);
  };
  auto& spec = x.spec;
  int64_t n = 0;
  spec.handler = r.text(1);
  spec.expression_type = r.text(2);
  spec.expression = r.text(3);
  spec.time_zone = r.text(4);
  if (auto m = r.map(5))
    spec.data = std::move(*m);
  else
    return bad("data does not decode: " + describe(m.error()));
  if (auto m = r.map(6))
    spec.metadata = std::move(*m);
  else
    return bad("metadata does not decode: " + describe(m.error()));
  auto to_time = [](int64_t v, std::optional<timestamp>& out) {
    out = from_micros(v);
    return true;
  };
  if (!r.optional(7, spec.priority, [](int64_t v, auto& out) {
        if (!valid_priority(v))
          return false;
        out = static_cast<priority>(v);
        return true;
      }))
    return bad("invalid priority");
  if (!r.null(8))
    spec.lane = r.text(8);
  if (!r.optional(9, spec.timeout, [](int64_t v, auto& out) {
        out = duration{v};
        return true;
      }))
    return bad("invalid timeout");
  if (!r.optional(10, spec.max_retries, [](int64_t v, auto& out) {
        out = static_cast<int32_t>(v);
        return fits_int32(v);
      }))
    return bad("invalid max_retries");
  if (!r.optional(11, spec.start_after, to_time))
    return bad("invalid start_after");
  if (!r.optional(12, spec.end_before, to_time))
    return bad("invalid end_before");
  if (!r.i64(13, n) || !in_range(n, 1, 3))
    return bad("invalid catch_up");
  spec.catch_up = static_cast<catch_up_policy>(n);
  if (!r.i64(14, n) || !in_range(n, 0, UINT32_MAX))
    return bad("invalid catch_up_limit");
  spec.catch_up_limit = static_cast<uint32_t>(n);
  if (!r.i64(15, n) || !in_range(n, 1, 2))
    return bad("invalid overlap");
  spec.overlap = static_cast<overlap_policy>(n);
  spec.static_name = r.text(16);
  if (!r.i64(17, n) || !valid_schedule_status(n))
    return bad("invalid status");
  x.status = static_cast<schedule_status>(n);
  if (!r.i64(18, n))
    return bad("invalid created_at");
  x.created_at = from_micros(n);
  if (!r.optional(19, x.terminated_at, to_time))
    return bad("invalid terminated_at");
  if (!r.i64(20, n))
    return bad("invalid occurrence_cursor");
  x.cursor = from_micros(n);
  if (!r.i64(21, n))
    return bad("invalid planned_until");
  x.planned_until = from_micros(n);
  if (!r.optional(22, x.ensured_at, to_time))
    return bad("invalid ensured_at");
  if (!r.i64(23, n))
    return bad("invalid version");
  x.version = n;
  return x;
}

/// Reads every row of `r` with `read`; the first row that does not read
/// fails the whole result.
template <class Reader>
auto read_all(const result& r, Reader read) -> caf::expected<
  std::vector<typename decltype(read(std::declval<row>()))::value_type>> {
  std::vector<typename decltype(read(std::declval<row>()))::value_type> out;
  auto n = PQntuples(r.get());
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto x = read(row{r.get(), i});
    if (!x)
      return std::move(x.error());
    out.emplace_back(std::move(*x));
  }
  return out;
}

// A job row that does not decode (written by a newer version, or damaged
// by hand). Identified by its id so that it can be set aside.
struct corrupt_row {
  uuid id;
  std::string why;
};

// Reads job rows; rows that do not decode are collected in `bad` instead of
// failing the whole read, so that one bad row cannot stall a bucket or the
// assigner forever.
caf::error read_jobs_tolerant(const result& r, std::vector<job>& out,
                              std::vector<corrupt_row>& bad) {
  auto n = PQntuples(r.get());
  for (int i = 0; i < n; ++i) {
    row rw{r.get(), i};
    auto x = read_job(rw);
    if (x) {
      out.emplace_back(std::move(*x));
      continue;
    }
    uuid id;
    if (!rw.id(0, id))
      return std::move(x.error());
    bad.push_back(corrupt_row{id, describe(x.error())});
  }
  return {};
}

int64_t saturating_add(int64_t x, int64_t y) {
  int64_t result = 0;
  if (!__builtin_add_overflow(x, y, &result))
    return result;
  return y > 0 ? std::numeric_limits<int64_t>::max()
               : std::numeric_limits<int64_t>::min();
}

using store_common::earlier;

void ignore_notice(void*, const char*) {
  // CREATE ... IF NOT EXISTS and friends send notices; libpq would print
  // them on stderr.
}

/// Replaces every `{p}` in `sql` with the table prefix.
std::string expand(std::string_view sql, const std::string& prefix) {
  std::string out;
  out.reserve(sql.size() + 64);
  for (size_t i = 0; i < sql.size();) {
    if (sql.compare(i, 3, "{p}") == 0) {
      out += prefix;
      i += 3;
    } else {
      out += sql[i++];
    }
  }
  return out;
}

} // namespace

// -- connection ---------------------------------------------------------------

struct postgres_store::impl {
  using clock = std::chrono::steady_clock;

  std::string conninfo;
  std::string prefix;
  PGconn* conn = nullptr;
  /// Statements prepared on the current connection.
  std::set<std::string, std::less<>> prepared;
  /// SQL of the statements, with the prefix filled in.
  std::unordered_map<const char*, std::string> sql_cache;
  /// No reconnect attempt before this instant.
  clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  std::string last_connect_error;

  ~impl() {
    if (conn != nullptr)
      PQfinish(conn);
  }

  const std::string& sql(const char* text) {
    auto i = sql_cache.find(text);
    if (i == sql_cache.end())
      i = sql_cache.emplace(text, expand(text, prefix)).first;
    return i->second;
  }

  bool connected() const {
    return conn != nullptr && PQstatus(conn) == CONNECTION_OK;
  }

  /// Makes sure there is a working connection: reconnects after a loss, but
  /// at most once per `backoff`, which grows from 100 ms to 1 s while the
  /// server stays unreachable.
  caf::error connect(std::string_view op) {
    if (connected())
      return {};
    auto now = clock::now();
    if (now < next_attempt) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_attempt - now);
      return failure(op, "not connected (next attempt in "
                           + std::to_string(wait.count())
                           + " ms; last error: " + last_connect_error + ")");
    }
    if (conn != nullptr)
      PQfinish(conn);
    prepared.clear();
    // The caller's string comes last (expanded), so that its own
    // connect_timeout wins over this default.
    const char* keys[] = {"connect_timeout", "dbname", nullptr};
    const char* values[] = {"10", conninfo.c_str(), nullptr};
    conn = PQconnectdbParams(keys, values, 1);
    if (conn == nullptr) {
      last_connect_error = "out of memory";
    } else if (PQstatus(conn) != CONNECTION_OK) {
      last_connect_error = one_line(PQerrorMessage(conn));
      PQfinish(conn);
      conn = nullptr;
    } else {
      PQsetNoticeProcessor(conn, ignore_notice, nullptr);
      backoff = std::chrono::milliseconds{0};
      next_attempt = {};
      return {};
    }
    backoff = std::clamp(backoff * 2, std::chrono::milliseconds{100},
                         std::chrono::milliseconds{1000});
    next_attempt = now + backoff;
    return failure(op, "cannot connect: " + last_connect_error);
  }

  /// True between BEGIN and COMMIT or ROLLBACK.
  bool in_transaction = false;

  /// A working connection for the next statement. Outside a transaction a
  /// lost one is replaced; inside one, the transaction is gone with it.
  caf::error ready(std::string_view op) {
    if (connected())
      return {};
    if (in_transaction)
      return failure(op, "the connection was lost during the transaction");
    return connect(op);
  }

  caf::error check(const result& r, std::string_view op) const {
    if (r != nullptr) {
      auto st = PQresultStatus(r.get());
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return {};
      return failure(op, one_line(PQresultErrorMessage(r.get())));
    }
    return failure(op, one_line(PQerrorMessage(conn)));
  }

  /// Runs a prepared statement, preparing it on first use per connection.
  caf::expected<result> run(const statement& s, const params& p,
                            std::string_view op) {
    if (auto err = ready(op))
      return err;
    if (prepared.count(s.name) == 0) {
      result r{
        PQprepare(conn, s.name, sql(s.sql).c_str(), p.size(), p.types())};
      if (auto err = check(r, op))
        return err;
      prepared.emplace(s.name);
    }
    auto v = p.make_view();
    result r{PQexecPrepared(conn, s.name, p.size(), v.values.data(),
                            v.lengths.data(), v.formats.data(), 1)};
    if (auto err = check(r, op))
      return err;
    return r;
  }

  /// Runs generated SQL (list filters) without preparing it.
  caf::expected<result> run(const std::string& text, const params& p,
                            std::string_view op) {
    if (auto err = ready(op))
      return err;
    auto v = p.make_view();
    result r{PQexecParams(conn, text.c_str(), p.size(), p.types(),
                          v.values.data(), v.lengths.data(), v.formats.data(),
                          1)};
    if (auto err = check(r, op))
      return err;
    return r;
  }

  /// Runs SQL text without parameters (transaction control, migrations).
  caf::error exec(const std::string& text, std::string_view op) {
    if (auto err = ready(op))
      return err;
    result r{PQexec(conn, text.c_str())};
    return check(r, op);
  }
};

namespace {

using impl = postgres_store::impl;

/// A transaction that rolls back unless committed.
class transaction {
public:
  explicit transaction(impl& d) : d_(d) {}

  ~transaction() {
    if (!active_)
      return;
    d_.in_transaction = false;
    // A broken connection rolled back on the server already.
    if (d_.connected() && PQtransactionStatus(d_.conn) != PQTRANS_IDLE)
      d_.exec("ROLLBACK", "rollback");
  }

  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  caf::error begin(std::string_view op) {
    if (auto err = d_.exec("BEGIN", std::string{op} + ": begin"))
      return err;
    active_ = true;
    d_.in_transaction = true;
    return {};
  }

  caf::error commit(std::string_view op) {
    auto err = d_.exec("COMMIT", std::string{op} + ": commit");
    if (!err) {
      active_ = false;
      d_.in_transaction = false;
    }
    return err;
  }

private:
  impl& d_;
  bool active_ = false;
};

/// Runs `f(d, op)` with its failures and exceptions as values. Statements
/// connect on demand, so that argument checks come first.
template <class F>
auto call(impl& d, std::string_view op, F f) -> decltype(f(d, op)) {
  return guarded(op, [&] { return f(d, op); });
}

/// Appends an attempt to a job's history, numbered by the store.
caf::error insert_attempt(impl& d, std::string_view op, const job_id& id,
                          const attempt& a) {
  params p;
  p.id(id);
  p.text(a.worker_id);
  p.ts(a.started_at);
  p.ts(a.ended_at);
  p.i64(static_cast<int64_t>(a.outcome));
  p.text(a.error);
  auto r = d.run(sql_insert_attempt, p, op);
  return r ? caf::error{} : r.error();
}

// Marks corrupt rows failed, with an attempt that says why, inside the
// caller's transaction: visible to operators, never picked up again.
caf::error quarantine(impl& d, std::string_view op,
                      const std::vector<corrupt_row>& bad) {
  for (auto& x : bad) {
    params p;
    p.id(x.id);
    if (auto r = d.run(sql_quarantine_job, p, op); !r)
      return r.error();
    attempt a;
    a.worker_id = "store";
    a.started_at = a.ended_at = jm::now();
    a.outcome = attempt_outcome::failed;
    a.error = "the stored job could not be decoded and was set aside: " + x.why;
    if (auto err = insert_attempt(d, op, x.id, a))
      return err;
  }
  return {};
}

/// Runs a statement that returns job rows, tolerantly: rows that do not
/// decode are set aside (quarantined) inside the caller's transaction.
caf::error run_jobs_tolerant(impl& d, const statement& s, const params& p,
                             std::string_view op, std::vector<job>& out) {
  auto r = d.run(s, p, op);
  if (!r)
    return r.error();
  std::vector<corrupt_row> bad;
  if (auto err = read_jobs_tolerant(*r, out, bad))
    return err;
  return quarantine(d, op, bad);
}

// Locks the live jobs of a node's buckets or of one bucket (the other key
// NULL), records `lost` attempts for the
// processing ones, inside the caller's transaction.
caf::error lose_running(impl& d, std::string_view op,
                        std::optional<std::string> node_id,
                        std::optional<std::string> bucket_id, timestamp now,
                        const std::string& why) {
  params lock;
  lock.add(oid_text, node_id);
  lock.add(oid_text, bucket_id);
  if (auto r = d.run(sql_lock_placed, lock, op); !r)
    return r.error();
  params p;
  p.add(oid_text, node_id);
  p.ts(now);
  p.text(why);
  p.add(oid_text, bucket_id);
  auto r = d.run(sql_lost_attempts, p, op);
  return r ? caf::error{} : r.error();
}

// Takes a node out of the cluster inside the caller's transaction: `lost`
// attempts for its processing jobs, its live placed jobs back to
// held_on_master (appended to `rescued`; undecodable ones set aside), its
// buckets and its row deleted.
caf::error evacuate_node(impl& d, std::string_view op, std::string_view node_id,
                         timestamp now, const std::string& why,
                         std::vector<job>& rescued) {
  if (auto err
      = lose_running(d, op, std::string{node_id}, std::nullopt, now, why))
    return err;
  params p;
  p.text(node_id);
  if (auto err = run_jobs_tolerant(d, sql_rescue_jobs, p, op, rescued))
    return err;
  for (auto* s : {&sql_delete_node_buckets, &sql_delete_node})
    if (auto r = d.run(*s, p, op); !r)
      return r.error();
  return {};
}

caf::expected<std::vector<bool>>
write_jobs_impl(impl& d, const std::vector<job_write>& writes,
                std::string_view op) {
  std::vector<bool> result(writes.size(), false);
  if (writes.empty())
    return result;
  for (auto& w : writes) {
    if (auto err = check_job(w.job))
      return err;
    if (w.attempt && !valid_outcome(static_cast<int64_t>(w.attempt->outcome)))
      return invalid("job " + to_string(w.job.id)
                     + ": invalid attempt outcome");
  }
  // One statement per batch of distinct jobs (two when it both removes and
  // writes). A job written twice in one call splits the batch there: the
  // second write is fenced by the version the first one wrote. The usual
  // call is one batch: one statement, atomic on its own, so no BEGIN and
  // COMMIT round trips.
  bool one_statement = [&] {
    std::set<job_id> ids;
    bool removes = false;
    bool updates = false;
    for (auto& w : writes) {
      if (!ids.insert(w.job.id).second)
        return false;
      (w.remove ? removes : updates) = true;
    }
    return !(removes && updates);
  }();
  transaction tx{d};
  if (!one_statement)
    if (auto err = tx.begin(op))
      return err;
  // Runs one statement and marks the writes whose ids came back.
  auto run = [&](const statement& sql, const params& p,
                 const std::vector<size_t>& which) -> caf::error {
    auto r = d.run(sql, p, op);
    if (!r)
      return r.error();
    std::set<job_id> applied;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      uuid id;
      if (row{r->get(), i}.id(0, id))
        applied.insert(id);
    }
    for (auto i : which)
      result[i] = applied.count(writes[i].job.id) > 0;
    return {};
  };
  size_t first = 0;
  while (first < writes.size()) {
    std::set<job_id> ids;
    size_t last = first;
    while (last < writes.size() && ids.insert(writes[last].job.id).second)
      ++last;
    std::vector<size_t> updates;
    std::vector<size_t> removes;
    for (size_t i = first; i < last; ++i)
      (writes[i].remove ? removes : updates).push_back(i);
    if (!updates.empty()) {
      job_arrays jobs;
      array_param expected{oid_int8};
      array_param has_attempt{oid_bool};
      array_param worker{oid_text};
      array_param started{oid_int8};
      array_param ended{oid_int8};
      array_param outcome{oid_int8};
      array_param error{oid_text};
      for (auto i : updates) {
        auto& w = writes[i];
        jobs.add(w.job, w.expected_version);
        expected.i64(w.expected_version);
        auto a = w.attempt.value_or(attempt{});
        has_attempt.add(std::string(1, w.attempt ? '\1' : '\0'));
        worker.add(a.worker_id);
        started.i64(to_micros(a.started_at));
        ended.i64(to_micros(a.ended_at));
        outcome.i64(static_cast<int64_t>(a.outcome));
        error.add(a.error);
      }
      params p;
      jobs.bind(p);
      for (auto* x : {&expected, &has_attempt, &worker, &started, &ended,
                      &outcome, &error})
        p.array(*x);
      if (auto err = run(sql_write_jobs, p, updates))
        return err;
    }
    if (!removes.empty()) {
      array_param ids{oid_uuid};
      array_param expected{oid_int8};
      for (auto i : removes) {
        ids.add(raw(writes[i].job.id));
        expected.i64(writes[i].expected_version);
      }
      params p;
      p.array(ids);
      p.array(expected);
      if (auto err = run(sql_remove_jobs, p, removes))
        return err;
    }
    first = last;
  }
  if (!one_statement)
    if (auto err = tx.commit(op))
      return err;
  return result;
}

// Inserts checked jobs inside the caller's transaction, skipping known ids
// and known occurrences, in one statement. Returns how many were new.
caf::expected<uint64_t> insert_new_jobs(impl& d, const std::vector<job>& jobs,
                                        std::string_view op) {
  if (jobs.empty())
    return uint64_t{0};
  job_arrays cols;
  for (auto& x : jobs)
    cols.add(x, x.version);
  params p;
  cols.bind(p);
  auto r = d.run(sql_insert_jobs, p, op);
  if (!r)
    return r.error();
  return affected(*r);
}

caf::expected<std::vector<recurring_schedule>>
read_schedules(const caf::expected<result>& r) {
  if (!r)
    return r.error();
  return read_all(*r, read_schedule);
}

// The route of the held jobs a claim adopts: priority (NULL: none), lane.
void bind_route(params& p, const std::optional<held_route>& adopt) {
  p.optional(adopt, oid_int8, [&](const held_route& x) {
    p.i64(static_cast<int64_t>(x.priority));
  });
  p.text(adopt ? std::string_view{adopt->lane} : std::string_view{});
}

// The worker an adopted job takes (NULL: it keeps its own).
void bind_worker(params& p, const std::optional<held_route>& adopt) {
  p.optional(adopt, oid_text,
             [&](const held_route& x) { p.text(x.worker_id); });
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
  std::vector<job> candidates;
  params sel;
  sel.text(bucket_id);
  sel.ts(due_by);
  sel.i64(limit);
  bind_route(sel, adopt);
  if (auto err
      = run_jobs_tolerant(d, sql_select_exclusive, sel, op, candidates))
    return err;
  if (candidates.empty())
    return {};
  // One advisory lock per schedule, taken in id order so that two claims
  // never wait for each other in a cycle; held until the commit, after
  // which the claimed run is visible to the next one to get the lock.
  std::set<uuid> schedules;
  for (auto& x : candidates)
    if (x.recurring_schedule_id)
      schedules.insert(*x.recurring_schedule_id);
  for (auto& id : schedules) {
    params p;
    p.id(id);
    if (auto r = d.run(sql_lock_schedule, p, op); !r)
      return r.error();
  }
  auto room = base >= 0 ? std::numeric_limits<int64_t>::max() - base
                        : std::numeric_limits<int64_t>::max();
  std::set<uuid> started;
  for (auto& x : candidates) {
    bool busy = false;
    if (x.recurring_schedule_id) {
      busy = started.count(*x.recurring_schedule_id) > 0;
      if (!busy) {
        params p;
        p.id(*x.recurring_schedule_id);
        auto r = d.run(sql_schedule_running, p, op);
        if (!r)
          return r.error();
        busy = PQntuples(r->get()) > 0;
      }
    }
    params p;
    p.id(x.id);
    if (busy) {
      if (auto r = d.run(sql_skip_job, p, op); !r)
        return r.error();
      attempt a;
      a.started_at = a.ended_at = jm::now();
      a.outcome = attempt_outcome::skipped;
      a.error = "skipped: an earlier run of schedule "
                + to_string(*x.recurring_schedule_id)
                + " was still queued or processing (overlap policy skip)";
      if (auto err = insert_attempt(d, op, x.id, a))
        return err;
      continue;
    }
    p.i64(base);
    p.i64(room);
    p.text(bucket_id);
    bind_worker(p, adopt);
    if (auto r = d.run(sql_claim_one, p, op); !r)
      return r.error();
    if (x.recurring_schedule_id)
      started.insert(*x.recurring_schedule_id);
    take_placement(x, bucket_id, adopt);
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

caf::error check_prefix(const std::string& prefix) {
  auto ok = prefix.size() <= 20
            && std::all_of(prefix.begin(), prefix.end(),
                           [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c))
                                    || c == '_';
                           })
            && (prefix.empty()
                || !std::isdigit(static_cast<unsigned char>(prefix[0])));
  if (ok)
    return {};
  return make_error(ec::invalid_config,
                    "postgres: invalid table prefix '" + prefix
                      + "': use at most 20 letters, digits and underscores, "
                        "not starting with a digit");
}

} // namespace

// -- construction -------------------------------------------------------------

postgres_store::postgres_store(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {}

postgres_store::~postgres_store() = default;

const std::string& postgres_store::table_prefix() const {
  return impl_->prefix;
}

int postgres_store::backend_pid() const {
  return impl_->connected() ? PQbackendPID(impl_->conn) : 0;
}

caf::expected<std::unique_ptr<postgres_store>>
postgres_store::open(const std::string& conninfo, std::string table_prefix) {
  return guarded(
    "open", [&]() -> caf::expected<std::unique_ptr<postgres_store>> {
      if (auto err = check_prefix(table_prefix))
        return err;
      std::transform(table_prefix.begin(), table_prefix.end(),
                     table_prefix.begin(), [](char c) {
                       return static_cast<char>(
                         std::tolower(static_cast<unsigned char>(c)));
                     });
      // Checked here, so that a typo is a configuration error and not a
      // connection failure retried forever.
      char* msg = nullptr;
      auto* opts = PQconninfoParse(conninfo.c_str(), &msg);
      if (opts == nullptr) {
        std::string text = msg != nullptr ? one_line(msg) : "out of memory";
        PQfreemem(msg);
        return make_error(ec::invalid_config,
                          "postgres: invalid connection string: " + text);
      }
      PQconninfoFree(opts);
      auto d = std::make_unique<impl>();
      d->conninfo = conninfo;
      d->prefix = std::move(table_prefix);
      if (auto err = d->connect("open"))
        return err;
      std::unique_ptr<postgres_store> result{new postgres_store(std::move(d))};
      if (auto err = result->migrate())
        return err;
      return result;
    });
}

// -- master_store -------------------------------------------------------------

caf::error postgres_store::migrate() {
  return call(
    *impl_, "migrate", [&](impl& d, std::string_view op) -> caf::error {
      auto version = [&]() -> caf::expected<int64_t> {
        auto has_table = d.run(sql_schema_table, params{}, op);
        if (!has_table)
          return has_table.error();
        bool exists = false;
        row{has_table->get(), 0}.boolean(0, exists);
        if (!exists)
          return int64_t{0};
        auto r = d.run(sql_schema_version, params{}, op);
        if (!r)
          return r.error();
        int64_t n = 0;
        row{r->get(), 0}.i64(0, n);
        return n;
      };
      auto too_new = [](int64_t n) {
        return make_error(ec::store_failure,
                          "postgres: migrate: the database has schema version "
                            + std::to_string(n) + ", newer than the supported "
                            + std::to_string(latest_schema_version));
      };
      // Fast path: nothing to do, no lock taken.
      auto current = version();
      if (!current)
        return current.error();
      if (*current == latest_schema_version)
        return {};
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      // Concurrent starters queue here; the lock ends with the transaction.
      if (auto err = d.exec(d.sql("SELECT pg_advisory_xact_lock(hashtext("
                                  "'jobmaster migrate {p}'))"),
                            op))
        return err;
      if (auto err = d.exec(d.sql("CREATE TABLE IF NOT EXISTS {p}schema_version"
                                  " (version integer NOT NULL PRIMARY KEY,"
                                  " applied_at bigint NOT NULL)"),
                            op))
        return err;
      current = version();
      if (!current)
        return current.error();
      if (*current > latest_schema_version)
        return too_new(*current);
      for (auto v = *current + 1; v <= latest_schema_version; ++v) {
        auto step = "migrate: version " + std::to_string(v);
        if (auto err = d.exec(d.sql(migrations[v - 1]), step))
          return err;
        if (auto err = d.exec(expand("INSERT INTO {p}schema_version VALUES ("
                                       + std::to_string(v) + ", "
                                       + std::to_string(to_micros(now())) + ")",
                                     d.prefix),
                              step))
          return err;
      }
      return tx.commit(op);
    });
}

caf::error postgres_store::insert_jobs(const std::vector<job>& jobs) {
  return call(*impl_, "insert_jobs",
              [&](impl& d, std::string_view op) -> caf::error {
                if (jobs.empty())
                  return {};
                for (auto& x : jobs)
                  if (auto err = check_job(x))
                    return err;
                // One statement: atomic without an explicit transaction.
                auto n = insert_new_jobs(d, jobs, op);
                return n ? caf::error{} : n.error();
              });
}

caf::expected<std::optional<job>> postgres_store::get_job(const job_id& id) {
  return call(
    *impl_, "get_job",
    [&](impl& d, std::string_view op) -> caf::expected<std::optional<job>> {
      params p;
      p.id(id);
      auto r = d.run(sql_get_job, p, op);
      if (!r)
        return r.error();
      if (PQntuples(r->get()) == 0)
        return std::optional<job>{};
      auto x = read_job(row{r->get(), 0});
      if (!x)
        return x.error();
      return std::optional<job>{std::move(*x)};
    });
}

caf::expected<std::vector<job>> postgres_store::list_jobs(const job_filter& f) {
  return call(
    *impl_, "list_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      auto statuses = status_clause(f.statuses, valid_status, op);
      if (!statuses)
        return statuses.error();
      params p;
      std::string sql
        = "SELECT " JM_JOB_COLUMNS " FROM {p}jobs WHERE TRUE" + *statuses;
      if (!f.handler.empty()) {
        p.text(f.handler);
        sql += " AND handler = " + p.last();
      }
      if (!f.lane.empty()) {
        p.text(f.lane);
        sql += " AND lane = " + p.last();
      }
      if (f.scheduled_from) {
        p.ts(*f.scheduled_from);
        sql += " AND scheduled_at >= " + p.last();
      }
      if (f.scheduled_to) {
        p.ts(*f.scheduled_to);
        sql += " AND scheduled_at <= " + p.last();
      }
      if (f.schedule_id) {
        p.id(*f.schedule_id);
        sql += " AND recurring_schedule_id = " + p.last();
      }
      sql += " ORDER BY scheduled_at, id";
      // Metadata is stored encoded: its filter applies after decoding, so the
      // limit does too.
      if (f.limit > 0 && f.metadata.empty()) {
        p.i64(f.limit);
        sql += " LIMIT " + p.last();
      }
      auto r = d.run(expand(sql, d.prefix), p, op);
      if (!r)
        return r.error();
      std::vector<job> result;
      // A listing shows what decodes; `jobs show` of a corrupt job reports it.
      std::vector<corrupt_row> bad;
      if (auto err = read_jobs_tolerant(*r, result, bad))
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
postgres_store::list_attempts(const job_id& id) {
  return call(
    *impl_, "list_attempts",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<attempt>> {
      params p;
      p.id(id);
      auto r = d.run(sql_list_attempts, p, op);
      if (!r)
        return r.error();
      return read_all(*r, read_attempt);
    });
}

caf::expected<std::vector<bool>>
postgres_store::write_jobs(const std::vector<job_write>& writes) {
  return call(
    *impl_, "write_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<bool>> {
      return write_jobs_impl(d, writes, op);
    });
}

caf::expected<std::vector<job>>
postgres_store::assign_held_jobs(timestamp after, timestamp horizon,
                                 uint32_t limit, const bucket_router& route) {
  return call(
    *impl_, "assign_held_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      std::vector<job> result;
      if (limit == 0)
        return result;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      // Locked and skipped by other assigners: two masters never place the
      // same job.
      std::vector<job> held;
      params sel;
      sel.ts(horizon);
      sel.i64(limit);
      sel.ts(after);
      if (auto err = run_jobs_tolerant(d, sql_select_held, sel, op, held))
        return err;
      array_param ids{oid_uuid};
      array_param buckets{oid_text};
      array_param workers{oid_text};
      for (auto& x : held) {
        const bucket_record* bucket = route ? route(x) : nullptr;
        if (bucket == nullptr)
          continue;
        ids.add(raw(x.id));
        buckets.add(bucket->bucket_id);
        workers.add(bucket->worker_id);
        x.status = job_status::assigned_to_bucket;
        x.bucket_id = bucket->bucket_id;
        x.worker_id = bucket->worker_id;
        // A deadline left over from an earlier placement would let the
        // sweep take the job back before its new owner even claimed it.
        x.process_deadline = std::nullopt;
        x.version += 1;
        result.push_back(std::move(x));
      }
      if (!result.empty()) {
        params p;
        p.array(ids);
        p.array(buckets);
        p.array(workers);
        if (auto r = d.run(sql_assign_jobs, p, op); !r)
          return r.error();
      }
      if (auto err = tx.commit(op))
        return err;
      return result;
    });
}

caf::expected<std::map<job_status, uint64_t>>
postgres_store::count_by_status() {
  return call(
    *impl_, "count_by_status",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::map<job_status, uint64_t>> {
      auto r = d.run(sql_count_by_status, params{}, op);
      if (!r)
        return r.error();
      std::map<job_status, uint64_t> result;
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        row rw{r->get(), i};
        int64_t status = 0;
        int64_t n = 0;
        rw.i64(1, n);
        if (!rw.i64(0, status) || !valid_status(status))
          return malformed("count_by_status: " + std::to_string(n)
                           + " job rows have the invalid status "
                           + std::to_string(status));
        result[static_cast<job_status>(status)] = static_cast<uint64_t>(n);
      }
      return result;
    });
}

// -- membership ---------------------------------------------------------------

caf::error postgres_store::upsert_node(const node_record& x) {
  return call(*impl_, "upsert_node",
              [&](impl& d, std::string_view op) -> caf::error {
                params p;
                p.text(x.node_id);
                p.text(x.host);
                p.i64(x.port);
                p.i64(x.pid);
                p.ts(x.started_at);
                p.ts(x.lease_expires_at);
                auto r = d.run(sql_upsert_node, p, op);
                return r ? caf::error{} : r.error();
              });
}

caf::expected<bool> postgres_store::renew_node(std::string_view node_id,
                                               timestamp lease_expires_at) {
  return call(*impl_, "renew_node",
              [&](impl& d, std::string_view op) -> caf::expected<bool> {
                params p;
                p.text(node_id);
                p.ts(lease_expires_at);
                auto r = d.run(sql_renew_node, p, op);
                if (!r)
                  return r.error();
                return affected(*r) > 0;
              });
}

caf::error postgres_store::remove_node(std::string_view node_id) {
  return call(*impl_, "remove_node",
              [&](impl& d, std::string_view op) -> caf::error {
                transaction tx{d};
                if (auto err = tx.begin(op))
                  return err;
                // Jobs still placed in the leaving node's buckets go back to
                // the master; otherwise nobody would ever pick them up again.
                std::vector<job> handed_back;
                if (auto err = evacuate_node(d, op, node_id, jm::now(),
                                             "node " + std::string{node_id}
                                               + " left while running it",
                                             handed_back))
                  return err;
                return tx.commit(op);
              });
}

caf::expected<std::vector<node_record>> postgres_store::list_nodes() {
  return call(
    *impl_, "list_nodes",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<node_record>> {
      auto r = d.run(sql_list_nodes, params{}, op);
      if (!r)
        return r.error();
      return read_all(*r, [](const row& rw) -> caf::expected<node_record> {
        node_record x;
        x.node_id = rw.text(0);
        x.host = rw.text(1);
        auto bad = [&x](const char* what) {
          return malformed("node " + x.node_id + ": invalid " + what);
        };
        int64_t n = 0;
        if (!rw.i64(2, n) || !in_range(n, 0, 65535))
          return bad("port");
        x.port = static_cast<uint16_t>(n);
        if (!rw.i64(3, x.pid))
          return bad("pid");
        if (!rw.i64(4, n))
          return bad("started_at");
        x.started_at = from_micros(n);
        if (!rw.i64(5, n))
          return bad("lease_expires_at");
        x.lease_expires_at = from_micros(n);
        return x;
      });
    });
}

caf::error
postgres_store::upsert_buckets(const std::vector<bucket_record>& xs) {
  return call(
    *impl_, "upsert_buckets", [&](impl& d, std::string_view op) -> caf::error {
      if (xs.empty())
        return {};
      for (auto& x : xs)
        if (!valid_priority(static_cast<int64_t>(x.priority)))
          return invalid("bucket " + x.bucket_id + ": invalid priority");
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      // One row at a time: a bucket listed twice is updated twice, in order.
      for (auto& x : xs) {
        params p;
        p.text(x.bucket_id);
        p.text(x.worker_id);
        p.text(x.node_id);
        p.i64(static_cast<int64_t>(x.priority));
        p.text(x.lane);
        if (auto r = d.run(sql_upsert_bucket, p, op); !r)
          return r.error();
      }
      return tx.commit(op);
    });
}

caf::expected<std::vector<bucket_record>>
postgres_store::live_buckets(timestamp now) {
  return call(
    *impl_, "live_buckets",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<bucket_record>> {
      params p;
      p.ts(now);
      auto r = d.run(sql_live_buckets, p, op);
      if (!r)
        return r.error();
      return read_all(*r, [](const row& rw) -> caf::expected<bucket_record> {
        bucket_record x;
        x.bucket_id = rw.text(0);
        x.worker_id = rw.text(1);
        x.node_id = rw.text(2);
        int64_t n = 0;
        if (!rw.i64(3, n) || !valid_priority(n))
          return malformed("bucket " + x.bucket_id + ": invalid priority");
        x.priority = static_cast<jm::priority>(n);
        x.lane = rw.text(4);
        return x;
      });
    });
}

caf::expected<std::vector<job>>
postgres_store::rescue_dead_nodes(timestamp now) {
  return call(
    *impl_, "rescue_dead_nodes",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      std::vector<job> result;
      params p;
      p.ts(now);
      auto node_ids
        = [&](const statement& s) -> caf::expected<std::vector<std::string>> {
        auto r = d.run(s, p, op);
        if (!r)
          return r.error();
        return read_all(*r, [](const row& rw) -> caf::expected<std::string> {
          return rw.text(0);
        });
      };
      // Fast path without a transaction: usually nobody died.
      auto ids = node_ids(sql_dead_nodes);
      if (!ids)
        return ids.error();
      if (ids->empty())
        return result;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      // Locked: a concurrent rescuer waits, then finds them gone.
      ids = node_ids(sql_lock_dead_nodes);
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

caf::expected<uint64_t> postgres_store::sweep_deadlines(timestamp now) {
  return call(*impl_, "sweep_deadlines",
              [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
                params p;
                p.ts(now);
                auto r = d.run(sql_sweep_deadlines, p, op);
                if (!r)
                  return r.error();
                return affected(*r);
              });
}

// -- recurring schedules ------------------------------------------------------

caf::error postgres_store::insert_schedule(const recurring_schedule& x) {
  return call(*impl_, "insert_schedule",
              [&](impl& d, std::string_view op) -> caf::error {
                if (auto err = check_schedule(x))
                  return err;
                params p;
                bind_schedule(p, x, x.version);
                auto r = d.run(sql_insert_schedule, p, op);
                return r ? caf::error{} : r.error();
              });
}

caf::expected<recurring_schedule>
postgres_store::upsert_static_schedule(const recurring_schedule& x) {
  return call(
    *impl_, "upsert_static_schedule",
    [&](impl& d, std::string_view op) -> caf::expected<recurring_schedule> {
      if (x.spec.static_name.empty())
        return invalid("upsert_static_schedule: no static name");
      if (auto err = check_schedule(x))
        return err;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      params name;
      name.text(x.spec.static_name);
      // Two rounds at most: when another node inserts the name between our
      // lookup and our insert, the insert does nothing and the second
      // lookup finds (and locks) its row.
      for (int round = 0; round < 2; ++round) {
        auto found = read_schedules(d.run(sql_lock_static_schedule, name, op));
        if (!found)
          return found.error();
        recurring_schedule result = x;
        params p;
        if (found->empty()) {
          bind_schedule(p, x, x.version);
          auto r = d.run(sql_insert_schedule, p, op);
          if (!r)
            return r.error();
          if (affected(*r) == 0)
            continue;
        } else {
          auto& old = found->front();
          result.id = old.id;
          result.created_at = old.created_at;
          result.cursor = old.cursor;
          result.planned_until = old.planned_until;
          result.version = old.version + 1;
          bind_schedule(p, result, old.version);
          if (auto r = d.run(sql_write_schedule, p, op); !r)
            return r.error();
        }
        if (auto err = tx.commit(op))
          return err;
        return result;
      }
      return failure(op, "the schedule '" + x.spec.static_name
                           + "' collides with another schedule's id");
    });
}

caf::expected<std::optional<recurring_schedule>>
postgres_store::get_schedule(const schedule_id& id) {
  return call(*impl_, "get_schedule",
              [&](impl& d, std::string_view op)
                -> caf::expected<std::optional<recurring_schedule>> {
                params p;
                p.id(id);
                auto xs = read_schedules(d.run(sql_get_schedule, p, op));
                if (!xs)
                  return xs.error();
                if (xs->empty())
                  return std::optional<recurring_schedule>{};
                return std::optional<recurring_schedule>{
                  std::move(xs->front())};
              });
}

caf::expected<std::vector<recurring_schedule>>
postgres_store::list_schedules(const schedule_filter& f) {
  return call(
    *impl_, "list_schedules",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<recurring_schedule>> {
      auto statuses = status_clause(f.statuses, valid_schedule_status, op);
      if (!statuses)
        return statuses.error();
      params p;
      std::string sql = "SELECT " JM_SCHEDULE_COLUMNS
                        " FROM {p}schedules WHERE TRUE"
                        + *statuses;
      if (!f.handler.empty()) {
        p.text(f.handler);
        sql += " AND handler = " + p.last();
      }
      sql += " ORDER BY created_at DESC, id";
      if (f.limit > 0) {
        p.i64(f.limit);
        sql += " LIMIT " + p.last();
      }
      return read_schedules(d.run(expand(sql, d.prefix), p, op));
    });
}

caf::expected<std::vector<recurring_schedule>>
postgres_store::schedules_to_plan(timestamp horizon, uint32_t limit) {
  return call(*impl_, "schedules_to_plan",
              [&](impl& d, std::string_view op)
                -> caf::expected<std::vector<recurring_schedule>> {
                params p;
                p.ts(horizon);
                p.i64(limit);
                return read_schedules(d.run(sql_schedules_to_plan, p, op));
              });
}

caf::expected<std::optional<uint64_t>>
postgres_store::write_schedule(const recurring_schedule& x,
                               int64_t expected_version,
                               const std::vector<job>& jobs) {
  return call(*impl_, "write_schedule",
              [&](impl& d, std::string_view op)
                -> caf::expected<std::optional<uint64_t>> {
                if (auto err = check_schedule(x))
                  return err;
                for (auto& j : jobs)
                  if (auto err = check_job(j))
                    return err;
                transaction tx{d};
                if (auto err = tx.begin(op))
                  return err;
                params p;
                bind_schedule(p, x, expected_version);
                auto r = d.run(sql_write_schedule, p, op);
                if (!r)
                  return r.error();
                if (affected(*r) == 0)
                  return std::optional<uint64_t>{};
                auto added = insert_new_jobs(d, jobs, op);
                if (!added)
                  return added.error();
                if (auto err = tx.commit(op))
                  return err;
                return std::optional<uint64_t>{*added};
              });
}

caf::error postgres_store::touch_static_schedules(
  const std::vector<std::string>& static_names, timestamp now) {
  return call(*impl_, "touch_static_schedules",
              [&](impl& d, std::string_view op) -> caf::error {
                if (static_names.empty())
                  return {};
                array_param names{oid_text};
                for (auto& x : static_names)
                  names.add(x);
                params p;
                p.array(names);
                p.ts(now);
                auto r = d.run(sql_touch_static, p, op);
                return r ? caf::error{} : r.error();
              });
}

caf::expected<std::vector<recurring_schedule>>
postgres_store::retire_static_schedules(timestamp stale_before, timestamp now) {
  return call(*impl_, "retire_static_schedules",
              [&](impl& d, std::string_view op)
                -> caf::expected<std::vector<recurring_schedule>> {
                params p;
                p.ts(stale_before);
                p.ts(now);
                return read_schedules(d.run(sql_retire_static, p, op));
              });
}

// -- retention ----------------------------------------------------------------

caf::expected<uint64_t> postgres_store::purge(timestamp before,
                                              uint32_t limit) {
  return call(*impl_, "purge",
              [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
                transaction tx{d};
                if (auto err = tx.begin(op))
                  return err;
                params p;
                p.ts(before);
                p.i64(limit);
                uint64_t deleted = 0;
                for (auto* s : {&sql_purge_jobs, &sql_purge_schedules}) {
                  auto r = d.run(*s, p, op);
                  if (!r)
                    return r.error();
                  deleted += affected(*r);
                }
                if (auto err = tx.commit(op))
                  return err;
                return deleted;
              });
}

// -- agent_store --------------------------------------------------------------

caf::expected<std::vector<job>> postgres_store::claim_bucket_jobs(
  std::string_view bucket_id, const std::optional<held_route>& adopt,
  timestamp due_by, uint32_t limit, duration grace) {
  return call(
    *impl_, "claim_bucket_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      std::vector<job> result;
      if (limit == 0)
        return result;
      auto base = saturating_add(to_micros(due_by), grace.count());
      params p;
      p.text(bucket_id);
      p.ts(due_by);
      p.i64(base);
      p.i64(limit);
      p.i64(base >= 0 ? std::numeric_limits<int64_t>::max() - base
                      : std::numeric_limits<int64_t>::max());
      bind_route(p, adopt);
      bind_worker(p, adopt);
      result.reserve(limit);
      auto r = d.run(sql_claim, p, op);
      if (!r)
        return r.error();
      bool more = false;
      std::vector<corrupt_row> bad;
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        row rw{r->get(), i};
        rw.boolean(20, more);
        if (rw.null(0))
          continue;
        auto x = read_job(rw);
        if (x) {
          result.emplace_back(std::move(*x));
          continue;
        }
        uuid id;
        if (!rw.id(0, id))
          return std::move(x.error());
        bad.push_back(corrupt_row{id, describe(x.error())});
      }
      // Rare: rows that do not decode, and due overlap-guarded jobs, which
      // come one by one behind the guard. Both in a transaction of their
      // own after the claim above committed: when it fails, the jobs
      // claimed above are still returned (they are the bucket's now); the
      // guarded ones stay due for the next claim, and undecodable rows
      // return through the deadline sweep and are set aside then.
      if (!bad.empty() || (more && result.size() < limit)) {
        transaction tx{d};
        auto rest = [&]() -> caf::error {
          if (auto err = tx.begin(op))
            return err;
          if (auto err = quarantine(d, op, bad))
            return err;
          std::vector<job> guarded;
          if (more && result.size() < limit)
            if (auto err = claim_exclusive(
                  d, bucket_id, adopt, due_by, base,
                  limit - static_cast<uint32_t>(result.size()), guarded))
              return err;
          if (auto err = tx.commit(op))
            return err;
          std::move(guarded.begin(), guarded.end(), std::back_inserter(result));
          return {};
        };
        if (auto err = rest(); err && result.empty())
          return err;
      }
      // RETURNING yields rows in no particular order.
      std::sort(result.begin(), result.end(), earlier);
      return result;
    });
}

caf::expected<uint64_t>
postgres_store::release_bucket_jobs(std::string_view bucket_id, timestamp now) {
  return call(*impl_, "release_bucket_jobs",
              [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
                transaction tx{d};
                if (auto err = tx.begin(op))
                  return err;
                if (auto err = lose_running(d, op, std::nullopt,
                                            std::string{bucket_id}, now,
                                            "bucket " + std::string{bucket_id}
                                              + " restarted while running it"))
                  return err;
                params p;
                p.text(bucket_id);
                auto r = d.run(sql_release_jobs, p, op);
                if (!r)
                  return r.error();
                auto n = affected(*r);
                if (auto err = tx.commit(op))
                  return err;
                return n;
              });
}

caf::expected<std::vector<bool>>
postgres_store::write_results(const std::vector<job_write>& writes) {
  return call(
    *impl_, "write_results",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<bool>> {
      return write_jobs_impl(d, writes, op);
    });
}

// -- agent_queue --------------------------------------------------------------

namespace {

array_param seq_array(const std::vector<int64_t>& seqs) {
  array_param xs{oid_int8};
  for (auto seq : seqs)
    xs.i64(seq);
  return xs;
}

} // namespace

caf::error postgres_store::push_pending(const std::vector<job>& jobs) {
  return call(*impl_, "push_pending",
              [&](impl& d, std::string_view op) -> caf::error {
                for (auto& x : jobs)
                  if (auto err = store_common::check_pending(backend, x))
                    return err;
                if (jobs.empty())
                  return {};
                array_param buckets{oid_text};
                array_param ids{oid_uuid};
                array_param payloads{oid_bytea};
                for (auto& x : jobs) {
                  auto bytes = encode(x);
                  buckets.add(x.bucket_id);
                  ids.add(raw(x.id));
                  payloads.add(std::string_view{
                    reinterpret_cast<const char*>(bytes.data()), bytes.size()});
                }
                params p;
                p.array(buckets);
                p.array(ids);
                p.ts(jm::now());
                p.array(payloads);
                auto r = d.run(sql_push_pending, p, op);
                return r ? caf::error{} : r.error();
              });
}

caf::expected<pending_read>
postgres_store::read_pending(std::string_view bucket_id, uint32_t limit) {
  return call(
    *impl_, "read_pending",
    [&](impl& d, std::string_view op) -> caf::expected<pending_read> {
      pending_read result;
      if (limit == 0)
        return result;
      params p;
      p.text(bucket_id);
      p.i64(limit);
      auto r = d.run(sql_read_pending, p, op);
      if (!r)
        return r.error();
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        row x{r->get(), i};
        int64_t seq = 0;
        if (!x.i64(0, seq))
          return store_common::malformed(backend, "a queue entry has no seq");
        store_common::read_pending_entry(seq, bucket_id, x.bytes(1), result);
      }
      if (!result.corrupt.empty()) {
        params q;
        q.array(seq_array(result.corrupt));
        if (auto moved = d.run(sql_quarantine_pending, q, op); !moved)
          return moved.error();
      }
      return result;
    });
}

caf::expected<std::vector<std::string>> postgres_store::pending_buckets() {
  return call(
    *impl_, "pending_buckets",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<std::string>> {
      auto r = d.run(sql_pending_buckets, params{}, op);
      if (!r)
        return r.error();
      return read_all(*r, [](const row& x) -> caf::expected<std::string> {
        return x.text(0);
      });
    });
}

caf::expected<uint64_t>
postgres_store::remove_pending(const std::vector<int64_t>& seqs) {
  return call(*impl_, "remove_pending",
              [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
                if (seqs.empty())
                  return uint64_t{0};
                params p;
                p.array(seq_array(seqs));
                auto r = d.run(sql_remove_pending, p, op);
                if (!r)
                  return r.error();
                return affected(*r);
              });
}

} // namespace jm::postgres
