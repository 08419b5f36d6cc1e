#include "providers/mysql/mysql_store.hpp"

#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "providers/common.hpp"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <tuple>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

namespace jm::mysql {

namespace {

namespace sc = jm::store_common;

constexpr std::string_view backend = "mysql";

caf::error failure(std::string_view op, std::string_view what) {
  return sc::failure(backend, op, what);
}

caf::error invalid(std::string text) {
  return sc::invalid(backend, std::move(text));
}

caf::error bad_config(std::string text) {
  return make_error(ec::invalid_config,
                    "mysql: invalid connection string: " + std::move(text));
}

// -- SQL ----------------------------------------------------------------------
//
// `{p}` stands for the table prefix. Every value travels as a literal
// rendered by `lit` below (see docs/providers.md for why not prepared
// statements): integers in decimal, ids and blobs as hex literals, text
// quoted with backslash escapes (the session's sql_mode is set so that
// backslashes escape).

// The column list of jobs in the order sc::read_job expects.
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

#define JM_TABLE_OPTIONS                                                       \
  " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

/// Migration N is `migrations[N - 1]`, one statement per entry (no
/// multi-statements); append only, never edit a shipped one. DDL commits
/// implicitly, so every statement is idempotent on its own: a migration cut
/// short is simply run again (it is recorded only after its last statement).
/// Indexes are declared inside CREATE TABLE because MySQL has no CREATE
/// INDEX IF NOT EXISTS.
const std::vector<std::vector<const char*>> migrations = {
  // 1: the schema of PostgreSQL's migration 1.
  {
    "CREATE TABLE IF NOT EXISTS {p}jobs ("
    " id BINARY(16) NOT NULL,"
    " handler TEXT NOT NULL,"
    " status INT NOT NULL,"
    " priority INT NOT NULL,"
    " source INT NOT NULL,"
    " lane VARCHAR(255) NOT NULL DEFAULT '',"
    " original_scheduled_at BIGINT NOT NULL,"
    " scheduled_at BIGINT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " timeout_us BIGINT NOT NULL,"
    " max_retries INT NOT NULL,"
    " failure_count INT NOT NULL,"
    " data LONGBLOB NULL,"
    " metadata LONGBLOB NULL,"
    " recurring_schedule_id BINARY(16) NULL,"
    " bucket_id VARCHAR(255) NOT NULL DEFAULT '',"
    " worker_id VARCHAR(255) NOT NULL DEFAULT '',"
    " process_deadline BIGINT NULL,"
    " skip_if_running BOOLEAN NOT NULL DEFAULT FALSE,"
    " version BIGINT NOT NULL,"
    " PRIMARY KEY (id),"
    // Look-ahead assignment, listings by status, counts, purge.
    " KEY {p}jobs_status_sched (status, scheduled_at, id),"
    // Claims, release, the rescue of a dead node's buckets.
    " KEY {p}jobs_bucket (bucket_id, status, scheduled_at, id),"
    // The deadline sweep (NULLs sort first and fall outside its range).
    " KEY {p}jobs_deadline (process_deadline, status),"
    // The occurrence key: NULLs never collide in a unique index, so jobs
    // without a schedule are not constrained.
    " UNIQUE KEY {p}jobs_occurrence"
    " (recurring_schedule_id, original_scheduled_at),"
    // The overlap guard: is a run of this schedule queued or processing?
    " KEY {p}jobs_schedule_running (recurring_schedule_id, "
    "status))" JM_TABLE_OPTIONS,
    "CREATE TABLE IF NOT EXISTS {p}attempts ("
    " job_id BINARY(16) NOT NULL,"
    " number INT NOT NULL,"
    " worker_id VARCHAR(255) NOT NULL DEFAULT '',"
    " started_at BIGINT NOT NULL,"
    " ended_at BIGINT NOT NULL,"
    " outcome INT NOT NULL,"
    " error TEXT NOT NULL,"
    " PRIMARY KEY (job_id, number))" JM_TABLE_OPTIONS,
    "CREATE TABLE IF NOT EXISTS {p}nodes ("
    " node_id VARCHAR(255) NOT NULL,"
    " host VARCHAR(255) NOT NULL,"
    " port INT NOT NULL,"
    " pid BIGINT NOT NULL,"
    " started_at BIGINT NOT NULL,"
    " lease_expires_at BIGINT NOT NULL,"
    " PRIMARY KEY (node_id))" JM_TABLE_OPTIONS,
    "CREATE TABLE IF NOT EXISTS {p}buckets ("
    " bucket_id VARCHAR(255) NOT NULL,"
    " worker_id VARCHAR(255) NOT NULL,"
    " node_id VARCHAR(255) NOT NULL,"
    " priority INT NOT NULL,"
    " lane VARCHAR(255) NOT NULL DEFAULT '',"
    " PRIMARY KEY (bucket_id),"
    " KEY {p}buckets_node (node_id))" JM_TABLE_OPTIONS,
    "CREATE TABLE IF NOT EXISTS {p}schedules ("
    " id BINARY(16) NOT NULL,"
    " handler TEXT NOT NULL,"
    " expression_type VARCHAR(255) NOT NULL,"
    " expression TEXT NOT NULL,"
    " time_zone VARCHAR(255) NOT NULL DEFAULT '',"
    " data LONGBLOB NULL,"
    " metadata LONGBLOB NULL,"
    " priority INT NULL,"
    " lane VARCHAR(255) NULL,"
    " timeout_us BIGINT NULL,"
    " max_retries INT NULL,"
    " start_after BIGINT NULL,"
    " end_before BIGINT NULL,"
    " catch_up INT NOT NULL,"
    " catch_up_limit BIGINT NOT NULL,"
    " overlap INT NOT NULL,"
    " static_name VARCHAR(255) NOT NULL DEFAULT '',"
    // NULL for dynamic schedules ('' names), so that the unique index
    // constrains only static ones: MySQL has no partial indexes.
    " static_key VARCHAR(255) GENERATED ALWAYS AS (NULLIF(static_name, ''))"
    " STORED,"
    " status INT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " terminated_at BIGINT NULL,"
    " occurrence_cursor BIGINT NOT NULL,"
    " planned_until BIGINT NOT NULL,"
    " ensured_at BIGINT NULL,"
    " version BIGINT NOT NULL,"
    " PRIMARY KEY (id),"
    // The planner's scan.
    " KEY {p}schedules_plan (status, planned_until, id),"
    " UNIQUE KEY {p}schedules_static (static_key),"
    // Retention of final schedules.
    " KEY {p}schedules_final (status, terminated_at))" JM_TABLE_OPTIONS,
  },
  // 2: buckets adopt due held jobs of their route in their claims. (Run
  // again after a cut-short migration, it meets ER_DUP_KEYNAME: done.)
  {
    "ALTER TABLE {p}jobs ADD INDEX {p}jobs_route"
    " (status, priority, lane, skip_if_running, scheduled_at, id)",
  },
  // 3: save-pending queues, when this database is a separate agent store.
  // InnoDB keeps its AUTO_INCREMENT counter across restarts (MariaDB 10.2.4
  // and later, MySQL 8): a deleted entry's seq is not handed out again.
  {
    "CREATE TABLE IF NOT EXISTS {p}agent_queue ("
    " seq BIGINT NOT NULL AUTO_INCREMENT,"
    " bucket_id VARCHAR(255) NOT NULL,"
    " job_id BINARY(16) NOT NULL,"
    " pushed_at BIGINT NOT NULL,"
    " payload LONGBLOB NOT NULL,"
    " PRIMARY KEY (seq),"
    " KEY {p}agent_queue_bucket (bucket_id, seq))" JM_TABLE_OPTIONS,
  },
};

const int latest_schema_version = static_cast<int>(migrations.size());

/// Rows per multi-row statement, and the SQL size at which a chunk ends
/// early (well below the server's default max_allowed_packet of 16 MiB).
constexpr size_t chunk_rows = 500;
constexpr size_t chunk_bytes = 4 << 20;

/// How long a claim waits for the overlap guard of a schedule, and a
/// starter for the migration lock, in seconds.
constexpr int lock_timeout_s = 60;

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

// -- literals -----------------------------------------------------------------

namespace lit {

std::string i64(int64_t x) {
  return std::to_string(x);
}

std::string ts(timestamp x) {
  return i64(to_micros(x));
}

std::string null() {
  return "NULL";
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "X'";
  out.reserve(bytes.size() * 2 + 3);
  for (auto c : bytes) {
    auto b = static_cast<uint8_t>(c);
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  out += '\'';
  return out;
}

std::string id(const uuid& x) {
  return hex({reinterpret_cast<const char*>(x.bytes.data()), x.bytes.size()});
}

/// Quoted text. The connection's character set is utf8mb4, in which no
/// multi-byte character contains a quote or backslash byte, and the session
/// does not set NO_BACKSLASH_ESCAPES.
std::string text(std::string_view x) {
  std::string out = "'";
  out.reserve(x.size() + 2);
  for (auto c : x) {
    switch (c) {
    case '\'':
      out += "\\'";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\0':
      out += "\\0";
      break;
    default:
      out += c;
    }
  }
  out += '\'';
  return out;
}

/// An empty map is stored as NULL: no encoding, no decoding.
std::string map(const value_map& x) {
  if (x.empty())
    return null();
  auto buf = encode(x);
  return hex({reinterpret_cast<const char*>(buf.data()), buf.size()});
}

std::string boolean(bool x) {
  return x ? "TRUE" : "FALSE";
}

template <class T, class F>
std::string optional(const std::optional<T>& x, F f) {
  return x ? f(*x) : null();
}

/// `(a, b, c)` of the ids.
template <class Ids>
std::string id_list(const Ids& ids) {
  std::string out = "(";
  for (auto& x : ids) {
    if (out.size() > 1)
      out += ", ";
    out += id(x);
  }
  return out + ")";
}

} // namespace lit

/// The values of a job row in JM_JOB_COLUMNS order, `(...)`.
std::string job_values(const job& x, int64_t version) {
  std::string out = "(";
  auto add = [&out](const std::string& v) {
    if (out.size() > 1)
      out += ", ";
    out += v;
  };
  add(lit::id(x.id));
  add(lit::text(x.handler));
  add(lit::i64(static_cast<int64_t>(x.status)));
  add(lit::i64(static_cast<int64_t>(x.priority)));
  add(lit::i64(static_cast<int64_t>(x.source)));
  add(lit::text(x.lane));
  add(lit::ts(x.original_scheduled_at));
  add(lit::ts(x.scheduled_at));
  add(lit::ts(x.created_at));
  add(lit::i64(x.timeout.count()));
  add(lit::i64(x.max_retries));
  add(lit::i64(x.failure_count));
  add(lit::map(x.data));
  add(lit::map(x.metadata));
  add(lit::optional(x.recurring_schedule_id, lit::id));
  add(lit::text(x.bucket_id));
  add(lit::text(x.worker_id));
  add(lit::optional(x.process_deadline, lit::ts));
  add(lit::boolean(x.skip_if_running));
  add(lit::i64(version));
  return out + ")";
}

/// The `col = value` list of all schedule columns but the id.
std::string schedule_assignments(const recurring_schedule& x, int64_t version) {
  auto& spec = x.spec;
  auto i64 = [](int64_t v) { return lit::i64(v); };
  std::string out;
  auto set = [&out](const char* col, const std::string& v) {
    if (!out.empty())
      out += ", ";
    out += col;
    out += " = ";
    out += v;
  };
  set("handler", lit::text(spec.handler));
  set("expression_type", lit::text(spec.expression_type));
  set("expression", lit::text(spec.expression));
  set("time_zone", lit::text(spec.time_zone));
  set("data", lit::map(spec.data));
  set("metadata", lit::map(spec.metadata));
  set("priority", lit::optional(spec.priority, [](priority v) {
        return lit::i64(static_cast<int64_t>(v));
      }));
  set("lane", lit::optional(spec.lane, lit::text));
  set("timeout_us", lit::optional(spec.timeout, [](duration v) {
        return lit::i64(v.count());
      }));
  set("max_retries", lit::optional(spec.max_retries, i64));
  set("start_after", lit::optional(spec.start_after, lit::ts));
  set("end_before", lit::optional(spec.end_before, lit::ts));
  set("catch_up", lit::i64(static_cast<int64_t>(spec.catch_up)));
  set("catch_up_limit", lit::i64(spec.catch_up_limit));
  set("overlap", lit::i64(static_cast<int64_t>(spec.overlap)));
  set("static_name", lit::text(spec.static_name));
  set("status", lit::i64(static_cast<int64_t>(x.status)));
  set("created_at", lit::ts(x.created_at));
  set("terminated_at", lit::optional(x.terminated_at, lit::ts));
  set("occurrence_cursor", lit::ts(x.cursor));
  set("planned_until", lit::ts(x.planned_until));
  set("ensured_at", lit::optional(x.ensured_at, lit::ts));
  set("version", lit::i64(version));
  return out;
}

/// `INSERT ... SET` of a whole schedule: the column names come with the
/// values, so they cannot drift apart.
std::string insert_schedule_sql(const std::string& prefix,
                                const recurring_schedule& x) {
  return "INSERT INTO " + prefix + "schedules SET id = " + lit::id(x.id) + ", "
         + schedule_assignments(x, x.version)
         + " ON DUPLICATE KEY UPDATE id = id";
}

// The deadline of a claim: `base` = due_by + grace, computed in SQL like
// sc::claim_deadline computes it in C++ (saturating, not overflowing, which
// would be an error).
std::string claim_deadline_sql(int64_t base) {
  auto room = base >= 0 ? std::numeric_limits<int64_t>::max() - base
                        : std::numeric_limits<int64_t>::max();
  return "process_deadline = CASE WHEN timeout_us > " + lit::i64(room)
         + " THEN 9223372036854775807 WHEN timeout_us < 0 THEN "
         + lit::i64(base) + " ELSE " + lit::i64(base) + " + timeout_us END";
}

/// Splits rows into multi-row statements `head + rows + tail`.
std::vector<std::string> chunked(const std::string& head,
                                 const std::vector<std::string>& rows,
                                 const std::string& sep,
                                 const std::string& tail) {
  std::vector<std::string> out;
  std::string cur;
  size_t n = 0;
  for (auto& r : rows) {
    if (n > 0 && (n >= chunk_rows || cur.size() + r.size() > chunk_bytes)) {
      out.push_back(cur + tail);
      cur.clear();
      n = 0;
    }
    cur += n == 0 ? head : sep;
    cur += r;
    ++n;
  }
  if (n > 0)
    out.push_back(cur + tail);
  return out;
}

// -- results ------------------------------------------------------------------

struct result_deleter {
  void operator()(MYSQL_RES* x) const { mysql_free_result(x); }
};

using result = std::unique_ptr<MYSQL_RES, result_deleter>;

/// One row of a text-protocol result, for the sc::read_* readers.
struct row {
  MYSQL_ROW r;
  unsigned long* len;

  bool null(int col) const { return r[col] == nullptr; }

  std::string_view bytes(int col) const {
    return r[col] != nullptr ? std::string_view{r[col], len[col]}
                             : std::string_view{};
  }

  std::string text(int col) const { return std::string{bytes(col)}; }

  bool i64(int col, int64_t& out) const {
    if (null(col))
      return false;
    auto b = bytes(col);
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), out);
    return ec == std::errc{} && end == b.data() + b.size();
  }

  bool id(int col, uuid& out) const {
    auto b = bytes(col);
    if (null(col) || b.size() != 16)
      return false;
    std::memcpy(out.bytes.data(), b.data(), 16);
    return true;
  }

  bool boolean(int col, bool& out) const {
    int64_t n = 0;
    if (!i64(col, n) || (n != 0 && n != 1))
      return false;
    out = n == 1;
    return true;
  }

  caf::expected<value_map> map(int col) const {
    if (null(col))
      return value_map{};
    auto b = bytes(col);
    return decode_value_map(
      {reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  }
};

/// Calls `f(row)` for every row of `r`.
template <class F>
void each_row(const result& r, F f) {
  if (r == nullptr)
    return;
  while (MYSQL_ROW x = mysql_fetch_row(r.get()))
    f(row{x, mysql_fetch_lengths(r.get())});
}

/// Reads every row with `read`; the first row that does not read fails the
/// whole result.
template <class T, class Reader>
caf::expected<std::vector<T>> read_all(const result& r, Reader read) {
  std::vector<T> out;
  caf::error err;
  each_row(r, [&](const row& x) {
    if (err)
      return;
    auto v = read(x);
    if (v)
      out.emplace_back(std::move(*v));
    else
      err = std::move(v.error());
  });
  if (err)
    return err;
  return out;
}

caf::expected<std::vector<recurring_schedule>>
read_schedules(const caf::expected<result>& r) {
  if (!r)
    return r.error();
  return read_all<recurring_schedule>(
    *r, [](const row& x) { return sc::read_schedule(backend, x); });
}

/// The first column of the first row as an integer, if any.
std::optional<int64_t> first_int(const result& r) {
  std::optional<int64_t> out;
  each_row(r, [&out](const row& x) {
    int64_t n = 0;
    if (!out && x.i64(0, n))
      out = n;
  });
  return out;
}

/// Errors after which the connection is gone: the client library's own
/// (2000-2999: server gone, lost, out of sync...) and a server that killed
/// the connection or shuts down.
bool connection_lost(unsigned code) {
  return (code >= 2000 && code < 3000) || code == ER_CONNECTION_KILLED
         || code == ER_SERVER_SHUTDOWN || code == 4031;
}

void library_init() {
  // mysql_init would do it too, but not thread-safely.
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

// -- connection strings -------------------------------------------------------

caf::expected<std::string> percent_decode(std::string_view x,
                                          std::string_view what) {
  std::string out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] != '%') {
      out += x[i];
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= x.size())
      return bad_config("bad percent escape in the " + std::string{what});
    auto [end, ec] = std::from_chars(x.data() + i + 1, x.data() + i + 3, v, 16);
    if (ec != std::errc{} || end != x.data() + i + 3)
      return bad_config("bad percent escape in the " + std::string{what});
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

caf::error set_option(connection_options& o, std::string_view key,
                      std::string value, std::set<std::string>& seen) {
  if (!seen.insert(std::string{key}).second)
    return bad_config("'" + std::string{key} + "' given twice");
  auto number
    = [&](unsigned long max, const char* what) -> caf::expected<unsigned long> {
    unsigned long n = 0;
    auto [end, ec]
      = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc{} || end != value.data() + value.size()
        || n == 0 || n > max)
      return bad_config("bad " + std::string{what} + " '" + value + "'");
    return n;
  };
  if (key == "host") {
    o.host = std::move(value);
  } else if (key == "port") {
    auto n = number(65535, "port");
    if (!n)
      return n.error();
    o.port = static_cast<uint16_t>(*n);
  } else if (key == "user") {
    o.user = std::move(value);
  } else if (key == "password") {
    o.password = std::move(value);
  } else if (key == "database" || key == "dbname") {
    if (seen.count(key == "database" ? "dbname" : "database") > 0)
      return bad_config("'database' given twice");
    o.database = std::move(value);
  } else if (key == "socket") {
    o.socket = std::move(value);
  } else if (key == "connect_timeout") {
    auto n = number(3600, "connect_timeout");
    if (!n)
      return n.error();
    o.connect_timeout = static_cast<unsigned>(*n);
  } else if (key == "read_timeout" || key == "write_timeout") {
    auto n
      = number(86400, key == "read_timeout" ? "read_timeout" : "write_timeout");
    if (!n)
      return n.error();
    (key == "read_timeout" ? o.read_timeout : o.write_timeout)
      = static_cast<unsigned>(*n);
  } else {
    return bad_config("unknown key '" + std::string{key} + "'");
  }
  return {};
}

caf::expected<connection_options> parse_url(std::string_view s) {
  connection_options o;
  std::set<std::string> seen;
  auto scheme = s.find("://");
  s.remove_prefix(scheme + 3);
  std::string_view query;
  if (auto q = s.find('?'); q != std::string_view::npos) {
    query = s.substr(q + 1);
    s = s.substr(0, q);
  }
  auto slash = s.find('/');
  if (slash == std::string_view::npos)
    return bad_config("missing database (mysql://user:pass@host:port/db)");
  auto authority = s.substr(0, slash);
  auto db = percent_decode(s.substr(slash + 1), "database");
  if (!db)
    return db.error();
  if (db->empty())
    return bad_config("missing database (mysql://user:pass@host:port/db)");
  if (db->find('/') != std::string::npos)
    return bad_config("bad database name '" + *db + "'");
  o.database = std::move(*db);
  seen.insert("database");
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto info = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = info.find(':');
    auto user = percent_decode(info.substr(0, colon), "user");
    if (!user)
      return user.error();
    o.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto pass = percent_decode(info.substr(colon + 1), "password");
      if (!pass)
        return pass.error();
      o.password = std::move(*pass);
    }
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return bad_config("unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':')
        return bad_config("unexpected '" + std::string{rest}
                          + "' after the host");
      port = rest.substr(1);
    }
  } else if (auto colon = authority.rfind(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!host.empty()) {
    auto h = percent_decode(host, "host");
    if (!h)
      return h.error();
    o.host = std::move(*h);
  }
  if (!port.empty() || authority.ends_with(':'))
    if (auto err = set_option(o, "port", std::string{port}, seen))
      return err;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (param.empty())
      continue;
    auto eq = param.find('=');
    if (eq == std::string_view::npos)
      return bad_config("missing '=' in the parameter '" + std::string{param}
                        + "'");
    auto key = param.substr(0, eq);
    if (key != "socket" && key != "connect_timeout" && key != "read_timeout"
        && key != "write_timeout")
      return bad_config("unknown parameter '" + std::string{key}
                        + "' (known: socket, connect_timeout, read_timeout, "
                          "write_timeout)");
    auto value = percent_decode(param.substr(eq + 1), key);
    if (!value)
      return value.error();
    if (auto err = set_option(o, key, std::move(*value), seen))
      return err;
  }
  return o;
}

caf::expected<connection_options> parse_keywords(std::string_view s) {
  connection_options o;
  std::set<std::string> seen;
  size_t i = 0;
  auto space = [&s](size_t k) {
    return std::isspace(static_cast<unsigned char>(s[k])) != 0;
  };
  for (;;) {
    while (i < s.size() && space(i))
      ++i;
    if (i == s.size())
      break;
    auto start = i;
    while (i < s.size() && s[i] != '=' && !space(i))
      ++i;
    auto key = s.substr(start, i - start);
    while (i < s.size() && space(i))
      ++i;
    if (i == s.size() || s[i] != '=')
      return bad_config("missing '=' after '" + std::string{key} + "'");
    if (key.empty())
      return bad_config("missing key before '='");
    ++i;
    while (i < s.size() && space(i))
      ++i;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      for (;;) {
        if (i == s.size())
          return bad_config("unterminated quoted value of '" + std::string{key}
                            + "'");
        if (s[i] == '\'')
          break;
        if (s[i] == '\\' && i + 1 < s.size())
          ++i;
        value += s[i++];
      }
      ++i;
    } else {
      while (i < s.size() && !space(i))
        value += s[i++];
    }
    if (auto err = set_option(o, key, std::move(value), seen))
      return err;
  }
  if (o.database.empty())
    return bad_config("missing database (database=...)");
  return o;
}

} // namespace

caf::expected<connection_options>
parse_connection_string(const std::string& text) {
  std::string_view s = text;
  if (s.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return bad_config("empty");
  auto scheme = s.find("://");
  if (scheme != std::string_view::npos) {
    auto name = s.substr(0, scheme);
    if (name != "mysql" && name != "mariadb")
      return bad_config("unknown scheme '" + std::string{name}
                        + "' (use mysql:// or mariadb://)");
    return parse_url(s);
  }
  return parse_keywords(s);
}

// -- connection ---------------------------------------------------------------

struct mysql_store::impl {
  using clock = std::chrono::steady_clock;

  connection_options options;
  std::string prefix;
  MYSQL* conn = nullptr;
  /// SQL of the fixed statements, with the prefix filled in.
  std::unordered_map<const char*, std::string> sql_cache;
  /// No reconnect attempt before this instant.
  clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  std::string last_connect_error;
  /// True between START TRANSACTION and COMMIT or ROLLBACK.
  bool in_transaction = false;

  ~impl() { drop(); }

  const std::string& sql(const char* text) {
    auto i = sql_cache.find(text);
    if (i == sql_cache.end())
      i = sql_cache.emplace(text, expand(text, prefix)).first;
    return i->second;
  }

  bool connected() const { return conn != nullptr; }

  void drop() {
    if (conn != nullptr)
      mysql_close(conn);
    conn = nullptr;
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
    library_init();
    conn = mysql_init(nullptr);
    if (conn == nullptr) {
      last_connect_error = "out of memory";
    } else {
      unsigned timeout = options.connect_timeout;
      mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
      // 0: wait for the server as long as it takes (the library's default).
      if (options.read_timeout > 0)
        mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &options.read_timeout);
      if (options.write_timeout > 0)
        mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &options.write_timeout);
      // The library's reconnect would silently lose the session settings,
      // the user locks and the transaction; this store reconnects itself.
      my_bool reconnect = 0;
      mysql_options(conn, MYSQL_OPT_RECONNECT, &reconnect);
      mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
      auto opt
        = [](const std::string& x) { return x.empty() ? nullptr : x.c_str(); };
      if (mysql_real_connect(conn, options.host.c_str(), opt(options.user),
                             opt(options.password), options.database.c_str(),
                             options.port, opt(options.socket), 0)
            == nullptr
          || !setup_session()) {
        last_connect_error = mysql_error(conn);
        drop();
      } else {
        backoff = std::chrono::milliseconds{0};
        next_attempt = {};
        return {};
      }
    }
    backoff = std::clamp(backoff * 2, std::chrono::milliseconds{100},
                         std::chrono::milliseconds{1000});
    next_attempt = now + backoff;
    return failure(op, "cannot connect: " + last_connect_error);
  }

  /// Session settings every connection needs; false on error.
  bool setup_session() {
    // READ COMMITTED: each statement of a transaction sees what others
    // committed before it, as in PostgreSQL. The overlap guard depends on
    // it (under REPEATABLE READ a claim would not see the run another
    // claim committed while it waited for the schedule's lock), and InnoDB
    // takes no gap locks, so concurrent claims and inserts do not deadlock.
    // Strict mode: bad text is an error, not silently truncated; no
    // NO_BACKSLASH_ESCAPES or ANSI_QUOTES, which lit::text relies on.
    for (auto* s :
         {"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
          "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
          "SET SESSION autocommit = 1"})
      if (mysql_query(conn, s) != 0)
        return false;
    return true;
  }

  /// A working connection for the next statement. Outside a transaction a
  /// lost one is replaced; inside one, the transaction is gone with it.
  caf::error ready(std::string_view op) {
    if (connected())
      return {};
    if (in_transaction)
      return failure(op, "the connection was lost during the transaction");
    return connect(op);
  }

  /// The error of the last statement; forgets a broken connection.
  caf::error fail(std::string_view op) {
    auto code = mysql_errno(conn);
    auto err = failure(op, std::string{mysql_error(conn)} + " ("
                             + std::to_string(code) + ")");
    if (connection_lost(code))
      drop();
    return err;
  }

  /// Runs one statement; its result set, or nullptr for statements without
  /// one.
  caf::expected<result> query(const std::string& text, std::string_view op) {
    if (auto err = ready(op))
      return err;
    if (mysql_real_query(conn, text.data(), text.size()) != 0)
      return fail(op);
    result r{mysql_store_result(conn)};
    if (r == nullptr && mysql_field_count(conn) != 0)
      return fail(op);
    return r;
  }

  /// Runs one statement without a result set; the number of rows it changed.
  caf::expected<uint64_t> exec(const std::string& text, std::string_view op) {
    auto r = query(text, op);
    if (!r)
      return r.error();
    return static_cast<uint64_t>(mysql_affected_rows(conn));
  }

  /// `exec` of SQL with `{p}`.
  caf::expected<uint64_t> exec_p(std::string_view text, std::string_view op) {
    return exec(expand(text, prefix), op);
  }

  caf::expected<result> query_p(std::string_view text, std::string_view op) {
    return query(expand(text, prefix), op);
  }
};

namespace {

using impl = mysql_store::impl;

/// A transaction that rolls back unless committed. User locks (GET_LOCK)
/// belong to the session, not the transaction: they are released right
/// after the transaction ends, however it ends.
class transaction {
public:
  explicit transaction(impl& d) : d_(d) {}

  ~transaction() {
    if (!active_)
      return;
    d_.in_transaction = false;
    // A broken connection rolled back on the server already.
    if (d_.connected()) {
      (void)d_.exec("ROLLBACK", "rollback");
      release_locks();
    }
  }

  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  caf::error begin(std::string_view op) {
    auto r = d_.exec("START TRANSACTION", std::string{op} + ": begin");
    if (!r)
      return r.error();
    active_ = true;
    d_.in_transaction = true;
    return {};
  }

  caf::error commit(std::string_view op) {
    auto r = d_.exec("COMMIT", std::string{op} + ": commit");
    if (!r)
      return r.error();
    active_ = false;
    d_.in_transaction = false;
    release_locks();
    return {};
  }

  /// Takes the user lock `name`, held until the transaction ends.
  caf::error lock(const std::string& name, std::string_view op) {
    has_locks_ = true;
    auto r = d_.query("SELECT GET_LOCK(" + lit::text(name) + ", "
                        + std::to_string(lock_timeout_s) + ")",
                      op);
    if (!r)
      return r.error();
    if (first_int(*r) != 1)
      return failure(op, "timed out after " + std::to_string(lock_timeout_s)
                           + " s waiting for the lock " + name);
    return {};
  }

private:
  void release_locks() {
    if (!has_locks_ || !d_.connected())
      return;
    has_locks_ = false;
    // A lock that stayed behind would block its schedule for good: rather
    // drop the connection, which releases it on the server.
    if (!d_.exec("DO RELEASE_ALL_LOCKS()", "release locks"))
      d_.drop();
  }

  impl& d_;
  bool active_ = false;
  bool has_locks_ = false;
};

/// Runs `f(d, op)` with its failures and exceptions as values. Statements
/// connect on demand, so that argument checks come first.
template <class F>
auto call(impl& d, std::string_view op, F f) -> decltype(f(d, op)) {
  return sc::guarded(backend, op, [&] { return f(d, op); });
}

/// Runs a statement that returns job rows, tolerantly: rows that do not
/// decode go to `bad`.
caf::error read_jobs(impl& d, const std::string& sql, std::string_view op,
                     std::vector<job>& out, std::vector<sc::corrupt_row>& bad) {
  auto r = d.query(sql, op);
  if (!r)
    return r.error();
  caf::error err;
  each_row(*r, [&](const row& x) {
    if (!err)
      err = sc::read_job_tolerant(backend, x, out, bad);
  });
  return err;
}

/// Runs all `statements` or none.
caf::error exec_atomically(impl& d, const std::vector<std::string>& statements,
                           std::string_view op) {
  if (statements.empty())
    return {};
  // One statement is atomic without a transaction.
  if (statements.size() == 1) {
    auto n = d.exec(statements.front(), op);
    return n ? caf::error{} : n.error();
  }
  transaction tx{d};
  if (auto err = tx.begin(op))
    return err;
  for (auto& s : statements)
    if (auto n = d.exec(s, op); !n)
      return n.error();
  return tx.commit(op);
}

/// The ids in column `col` of the rows `sql` returns.
caf::expected<std::vector<uuid>> query_ids(impl& d, const std::string& sql,
                                           std::string_view op, int col = 0) {
  auto r = d.query(sql, op);
  if (!r)
    return r.error();
  return read_all<uuid>(*r, [col](const row& x) -> caf::expected<uuid> {
    uuid id;
    if (!x.id(col, id))
      return sc::malformed(backend, "a row has an invalid id");
    return id;
  });
}

/// Runs `head` (with `{p}`) followed by the list of `ids`; nothing to do
/// for no ids. Returns the number of rows changed.
template <class Ids>
caf::expected<uint64_t> exec_for_ids(impl& d, std::string_view head,
                                     const Ids& ids, std::string_view op) {
  if (ids.empty())
    return uint64_t{0};
  return d.exec(expand(head, d.prefix) + lit::id_list(ids), op);
}

/// Appends attempts to their jobs' histories, numbered max + 1, in order.
/// The caller's transaction holds the jobs' row locks, which keeps the
/// numbers unique.
caf::error insert_attempts(impl& d, std::string_view op,
                           const std::vector<std::pair<job_id, attempt>>& xs) {
  if (xs.empty())
    return {};
  std::set<job_id> ids;
  for (auto& x : xs)
    ids.insert(x.first);
  std::map<job_id, int64_t> last;
  auto r = d.query(expand("SELECT job_id, MAX(number) FROM {p}attempts "
                          "WHERE job_id IN ",
                          d.prefix)
                     + lit::id_list(ids) + " GROUP BY job_id",
                   op);
  if (!r)
    return r.error();
  each_row(*r, [&last](const row& x) {
    uuid id;
    int64_t n = 0;
    if (x.id(0, id) && x.i64(1, n))
      last[id] = n;
  });
  std::vector<std::string> rows;
  rows.reserve(xs.size());
  for (auto& [id, a] : xs) {
    if (!sc::valid_outcome(static_cast<int64_t>(a.outcome)))
      return invalid("job " + to_string(id) + ": invalid attempt outcome");
    rows.push_back("(" + lit::id(id) + ", " + lit::i64(++last[id]) + ", "
                   + lit::text(a.worker_id) + ", " + lit::ts(a.started_at)
                   + ", " + lit::ts(a.ended_at) + ", "
                   + lit::i64(static_cast<int64_t>(a.outcome)) + ", "
                   + lit::text(a.error) + ")");
  }
  for (auto& s : chunked(expand("INSERT INTO {p}attempts (" JM_ATTEMPT_COLUMNS
                                ") VALUES ",
                                d.prefix),
                         rows, ", ", ""))
    if (auto n = d.exec(s, op); !n)
      return n.error();
  return {};
}

// Marks corrupt rows failed, with an attempt that says why, inside the
// caller's transaction: visible to operators, never picked up again.
caf::error quarantine(impl& d, std::string_view op,
                      const std::vector<sc::corrupt_row>& bad) {
  if (bad.empty())
    return {};
  std::vector<uuid> ids;
  std::vector<std::pair<job_id, attempt>> notes;
  for (auto& x : bad) {
    ids.push_back(x.id);
    notes.emplace_back(x.id, sc::quarantine_note(x.why));
  }
  auto n = exec_for_ids(d,
                        "UPDATE {p}jobs SET status = 7, bucket_id = '', "
                        "worker_id = '', process_deadline = NULL, "
                        "version = version + 1 WHERE id IN ",
                        ids, op);
  if (!n)
    return n.error();
  return insert_attempts(d, op, notes);
}

/// Reads job rows, setting aside those that do not decode.
caf::error read_jobs_tolerant(impl& d, const std::string& sql,
                              std::string_view op, std::vector<job>& out) {
  std::vector<sc::corrupt_row> bad;
  if (auto err = read_jobs(d, sql, op, out, bad))
    return err;
  return quarantine(d, op, bad);
}

std::vector<uuid> ids_of(const std::vector<job>& xs) {
  std::vector<uuid> out;
  out.reserve(xs.size());
  for (auto& x : xs)
    out.push_back(x.id);
  return out;
}

// Takes a node out of the cluster inside the caller's transaction: `lost`
// attempts for its processing jobs, its live placed jobs back to
// held_on_master (appended to `rescued`; undecodable ones set aside), its
// buckets and its row deleted.
caf::error evacuate_node(impl& d, std::string_view op, std::string_view node_id,
                         timestamp now, const std::string& why,
                         std::vector<job>& rescued) {
  auto node = lit::text(node_id);
  // Locked first, so that nobody finishes one between its `lost` attempt
  // and its return.
  std::vector<job> live;
  if (auto err = read_jobs_tolerant(
        d,
        expand("SELECT " JM_J_COLUMNS " FROM {p}buckets b STRAIGHT_JOIN "
               "{p}jobs j FORCE INDEX ({p}jobs_bucket) ON j.bucket_id = "
               "b.bucket_id AND j.status IN " JM_LIVE_PLACED
               " WHERE b.node_id = ",
               d.prefix)
          + node + " ORDER BY j.id FOR UPDATE",
        op, live))
    return err;
  std::vector<std::pair<job_id, attempt>> notes;
  for (auto& x : live) {
    if (x.status == job_status::processing)
      notes.emplace_back(x.id, sc::lost_note(x.worker_id, now, why));
    x.status = job_status::held_on_master;
    clear_placement(x);
    x.version += 1;
  }
  if (!live.empty()) {
    auto n = d.exec(expand("UPDATE {p}jobs SET status = 2, bucket_id = '', "
                           "worker_id = '', process_deadline = NULL, "
                           "version = version + 1 WHERE id IN ",
                           d.prefix)
                      + lit::id_list(ids_of(live)),
                    op);
    if (!n)
      return n.error();
  }
  if (auto err = insert_attempts(d, op, notes))
    return err;
  for (auto* s : {"DELETE FROM {p}buckets WHERE node_id = ",
                  "DELETE FROM {p}nodes WHERE node_id = "})
    if (auto n = d.exec(expand(s, d.prefix) + node, op); !n)
      return n.error();
  rescued.insert(rescued.end(), std::make_move_iterator(live.begin()),
                 std::make_move_iterator(live.end()));
  return {};
}

caf::expected<std::vector<bool>>
write_jobs_impl(impl& d, const std::vector<job_write>& writes,
                std::string_view op) {
  std::vector<bool> result(writes.size(), false);
  if (writes.empty())
    return result;
  std::set<job_id> ids;
  for (auto& w : writes) {
    if (auto err = sc::check_job(backend, w.job))
      return err;
    if (w.attempt
        && !sc::valid_outcome(static_cast<int64_t>(w.attempt->outcome)))
      return invalid("job " + to_string(w.job.id)
                     + ": invalid attempt outcome");
    ids.insert(w.job.id);
  }
  transaction tx{d};
  if (auto err = tx.begin(op))
    return err;
  // Lock the rows and decide the fences here: a job written twice in one
  // call is fenced the second time by the version the first write gave it.
  auto r
    = d.query(expand("SELECT id, version FROM {p}jobs WHERE id IN ", d.prefix)
                + lit::id_list(ids) + " ORDER BY id FOR UPDATE",
              op);
  if (!r)
    return r.error();
  std::map<job_id, int64_t> stored;
  each_row(*r, [&stored](const row& x) {
    uuid id;
    int64_t v = 0;
    if (x.id(0, id) && x.i64(1, v))
      stored[id] = v;
  });
  auto current = stored;
  // Per job: the last write that applies (its final state).
  std::map<job_id, const job_write*> last;
  std::vector<std::pair<job_id, attempt>> notes;
  std::set<job_id> removed;
  for (size_t i = 0; i < writes.size(); ++i) {
    auto& w = writes[i];
    auto it = current.find(w.job.id);
    if (it == current.end() || it->second != w.expected_version)
      continue;
    result[i] = true;
    if (w.remove) {
      // Gone with its history: earlier writes of this call need not run,
      // later ones find no row.
      current.erase(it);
      last.erase(w.job.id);
      std::erase_if(notes, [&](const auto& x) { return x.first == w.job.id; });
      removed.insert(w.job.id);
      continue;
    }
    it->second = w.expected_version + 1;
    last[w.job.id] = &w;
    if (w.attempt)
      notes.emplace_back(w.job.id, *w.attempt);
  }
  // One multi-table UPDATE per chunk joins the new states, given as a
  // derived table, to the locked rows.
  std::vector<std::string> rows;
  for (auto& [id, w] : last) {
    auto& x = w->job;
    rows.push_back(
      lit::id(x.id) + ", " + lit::i64(stored[id]) + ", " + lit::text(x.handler)
      + ", " + lit::i64(static_cast<int64_t>(x.status)) + ", "
      + lit::i64(static_cast<int64_t>(x.priority)) + ", "
      + lit::i64(static_cast<int64_t>(x.source)) + ", " + lit::text(x.lane)
      + ", " + lit::ts(x.original_scheduled_at) + ", " + lit::ts(x.scheduled_at)
      + ", " + lit::ts(x.created_at) + ", " + lit::i64(x.timeout.count()) + ", "
      + lit::i64(x.max_retries) + ", " + lit::i64(x.failure_count) + ", "
      + lit::map(x.data) + ", " + lit::map(x.metadata) + ", "
      + lit::optional(x.recurring_schedule_id, lit::id) + ", "
      + lit::text(x.bucket_id) + ", " + lit::text(x.worker_id) + ", "
      + lit::optional(x.process_deadline, lit::ts) + ", "
      + lit::boolean(x.skip_if_running) + ", "
      + lit::i64(w->expected_version + 1));
  }
  auto head = expand(
    "UPDATE (SELECT NULL AS id, NULL AS stored, NULL AS handler, NULL AS "
    "status, NULL AS priority, NULL AS source, NULL AS lane, NULL AS "
    "original_scheduled_at, NULL AS scheduled_at, NULL AS created_at, NULL "
    "AS timeout_us, NULL AS max_retries, NULL AS failure_count, NULL AS data, "
    "NULL AS metadata, NULL AS recurring_schedule_id, NULL AS bucket_id, NULL "
    "AS worker_id, NULL AS process_deadline, NULL AS skip_if_running, NULL "
    "AS version FROM DUAL WHERE FALSE UNION ALL SELECT ",
    d.prefix);
  auto tail = expand(
    ") w STRAIGHT_JOIN {p}jobs j ON j.id = w.id AND j.version = w.stored "
    "SET j.handler = w.handler, j.status = w.status, j.priority = "
    "w.priority, j.source = w.source, j.lane = w.lane, "
    "j.original_scheduled_at = w.original_scheduled_at, j.scheduled_at = "
    "w.scheduled_at, j.created_at = w.created_at, j.timeout_us = "
    "w.timeout_us, j.max_retries = w.max_retries, j.failure_count = "
    "w.failure_count, j.data = w.data, j.metadata = w.metadata, "
    "j.recurring_schedule_id = w.recurring_schedule_id, j.bucket_id = "
    "w.bucket_id, j.worker_id = w.worker_id, j.process_deadline = "
    "w.process_deadline, j.skip_if_running = w.skip_if_running, j.version = "
    "w.version",
    d.prefix);
  for (auto& s : chunked(head, rows, " UNION ALL SELECT ", tail))
    if (auto n = d.exec(s, op); !n)
      return n.error();
  if (auto err = insert_attempts(d, op, notes))
    return err;
  for (auto* sql : {"DELETE FROM {p}attempts WHERE job_id IN ",
                    "DELETE FROM {p}jobs WHERE id IN "})
    if (auto n = exec_for_ids(d, sql, removed, op); !n)
      return n.error();
  if (auto err = tx.commit(op))
    return err;
  return result;
}

// The multi-row inserts of checked jobs; a known id or occurrence is
// skipped (the no-op update leaves the row as it is and counts as no row
// changed). Not INSERT IGNORE: that turns every error, bad text included,
// into a warning.
std::vector<std::string> insert_jobs_sql(impl& d,
                                         const std::vector<job>& jobs) {
  std::vector<std::string> rows;
  rows.reserve(jobs.size());
  for (auto& x : jobs)
    rows.push_back(job_values(x, x.version));
  return chunked(
    expand("INSERT INTO {p}jobs (" JM_JOB_COLUMNS ") VALUES ", d.prefix), rows,
    ", ", " ON DUPLICATE KEY UPDATE id = id");
}

// Inserts inside the caller's transaction; returns how many were new.
caf::expected<uint64_t> insert_new_jobs(impl& d, const std::vector<job>& jobs,
                                        std::string_view op) {
  uint64_t added = 0;
  for (auto& s : insert_jobs_sql(d, jobs)) {
    auto n = d.exec(s, op);
    if (!n)
      return n.error();
    added += *n;
  }
  return added;
}

// Where a claim takes jobs from: an index and the condition it serves.
struct claim_source {
  const char* index;
  std::string where;
};

// Held jobs are adopted only by a registered bucket of a node alive at
// `due_by`, so that a node already declared dead (and its jobs rescued)
// takes no more, and whatever a bucket holds can be found by the rescue of
// its node.
std::vector<claim_source> claim_sources(const impl& d,
                                        std::string_view bucket_id,
                                        const std::optional<held_route>& adopt,
                                        timestamp due_by) {
  std::vector<claim_source> result;
  result.push_back({"{p}jobs_bucket",
                    "bucket_id = " + lit::text(bucket_id) + " AND status = 3"});
  if (adopt)
    result.push_back(
      {"{p}jobs_route",
       "status = 2 AND priority = "
         + std::to_string(static_cast<int>(adopt->priority))
         + " AND lane = " + lit::text(adopt->lane)
         + expand(" AND EXISTS (SELECT 1 FROM {p}buckets b JOIN {p}nodes n "
                  "ON n.node_id = b.node_id WHERE b.bucket_id = ",
                  d.prefix)
         + lit::text(bucket_id) + " AND n.lease_expires_at > " + lit::ts(due_by)
         + ")"});
  return result;
}

// Locks up to `limit` due jobs of a bucket, the overlap-guarded ones or the
// others, skipping rows other connections hold; appends those that decode
// to `out`, earliest first, and sets aside the others. Two steps, because
// a locking range scan in InnoDB also locks the first row past its range
// until the commit, even under READ COMMITTED: that row is often the
// earliest job of the next bucket, which its own claimer would then skip.
// So: the ids without locks, then the rows by primary key, which locks
// exactly them. A row that changed meanwhile is re-checked by the locking
// read; one another claimer took (or is taking) is skipped. Claimers of one
// route read the same earliest ids, so a round that lost some of its rows
// to others reads on past the ids it tried, a few rounds at most: a claim
// comes back empty only when nothing it could take was left.
// The sources (the bucket's own jobs, and the held ones of its route when
// it adopts them) are merged in due order: a stream of the bucket's own
// jobs must not starve retries and rescued jobs.
caf::error lock_due(impl& d, std::string_view op,
                    const std::vector<claim_source>& sources, timestamp due_by,
                    uint32_t limit, bool guarded, std::vector<job>& out) {
  constexpr int max_rounds = 4;
  auto where
    = " AND scheduled_at <= " + lit::ts(due_by)
      + (guarded ? " AND skip_if_running" : " AND NOT skip_if_running");
  struct pick {
    int64_t at;
    uuid id;
    size_t source;
  };
  std::set<uuid> tried;
  auto first = out.size();
  for (int round = 0; round < max_rounds; ++round) {
    auto room = limit - static_cast<uint32_t>(out.size() - first);
    if (room == 0)
      break;
    auto skip
      = tried.empty() ? std::string{} : " AND id NOT IN " + lit::id_list(tried);
    std::vector<pick> picks;
    for (size_t i = 0; i < sources.size(); ++i) {
      auto r = d.query(expand("SELECT id, scheduled_at FROM {p}jobs FORCE "
                              "INDEX (",
                              d.prefix)
                         + expand(sources[i].index, d.prefix) + ") WHERE "
                         + sources[i].where + where + skip
                         + " ORDER BY scheduled_at, id LIMIT "
                         + std::to_string(room),
                       op);
      if (!r)
        return r.error();
      each_row(*r, [&](const row& x) {
        pick p{0, {}, i};
        if (x.id(0, p.id) && x.i64(1, p.at))
          picks.push_back(p);
      });
    }
    if (picks.empty())
      break;
    std::sort(picks.begin(), picks.end(), [](const pick& x, const pick& y) {
      return std::tie(x.at, x.id) < std::tie(y.at, y.id);
    });
    if (picks.size() > room)
      picks.resize(room);
    auto before = out.size();
    for (size_t i = 0; i < sources.size(); ++i) {
      std::vector<uuid> ids;
      for (auto& p : picks)
        if (p.source == i)
          ids.push_back(p.id);
      if (ids.empty())
        continue;
      tried.insert(ids.begin(), ids.end());
      if (auto err = read_jobs_tolerant(
            d,
            expand("SELECT " JM_JOB_COLUMNS " FROM {p}jobs FORCE INDEX "
                   "(PRIMARY) WHERE id IN ",
                   d.prefix)
              + lit::id_list(ids) + " AND " + sources[i].where + where
              + " ORDER BY scheduled_at, id FOR UPDATE SKIP LOCKED",
            op, out))
        return err;
    }
    // Every row it read is ours: nothing was lost to other claimers.
    if (out.size() - before == picks.size())
      break;
  }
  // Read per source and per round; appended in due order.
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            sc::earlier);
  return {};
}

/// The name of the user lock that serialises the overlap guard of one
/// schedule (at most 20 + 3 + 32 characters; the limit is 64).
std::string overlap_lock(const std::string& prefix, const schedule_id& id) {
  auto hex = lit::id(id);
  return prefix + "ov_" + hex.substr(2, 32);
}

// Claims the jobs `xs` (locked by the caller) for the bucket, with
// deadlines from `base`; adopted ones take its worker.
caf::error claim_rows(impl& d, std::string_view op, std::vector<job>& xs,
                      int64_t base, std::string_view bucket_id,
                      const std::optional<held_route>& adopt) {
  if (xs.empty())
    return {};
  auto n = d.exec(
    expand("UPDATE {p}jobs SET status = 6, ", d.prefix)
      + claim_deadline_sql(base) + ", bucket_id = " + lit::text(bucket_id)
      + (adopt ? ", worker_id = " + lit::text(adopt->worker_id) : std::string{})
      + ", version = version + 1 WHERE id IN " + lit::id_list(ids_of(xs)),
    op);
  if (!n)
    return n.error();
  for (auto& x : xs) {
    sc::take_placement(x, bucket_id, adopt);
    x.status = job_status::queued;
    x.process_deadline
      = from_micros(sc::claim_deadline(base, x.timeout.count()));
    x.version += 1;
  }
  return {};
}

// The overlap guard of a claim, inside its transaction: each due job with
// `skip_if_running` is claimed (appended to `claimed`, deadline from `base`)
// unless a job of its schedule is queued or processing, or was claimed just
// before in this call; then it is cancelled with a `skipped` attempt.
caf::error claim_exclusive(impl& d, transaction& tx, std::string_view bucket_id,
                           const std::optional<held_route>& adopt,
                           timestamp due_by, int64_t base, uint32_t limit,
                           std::vector<job>& claimed) {
  constexpr std::string_view op = "claim_bucket_jobs";
  std::vector<job> candidates;
  if (auto err = lock_due(d, op, claim_sources(d, bucket_id, adopt, due_by),
                          due_by, limit, true, candidates))
    return err;
  if (candidates.empty())
    return {};
  // One user lock per schedule, taken in id order so that two claims never
  // wait for each other in a cycle; held until the transaction ended, after
  // which the claimed run is visible to the next one to get the lock (READ
  // COMMITTED: each statement sees the latest commits).
  std::set<uuid> schedules;
  for (auto& x : candidates)
    if (x.recurring_schedule_id)
      schedules.insert(*x.recurring_schedule_id);
  for (auto& id : schedules)
    if (auto err = tx.lock(overlap_lock(d.prefix, id), op))
      return err;
  std::set<uuid> running;
  if (!schedules.empty()) {
    auto r = d.query(expand("SELECT DISTINCT recurring_schedule_id FROM "
                            "{p}jobs WHERE status IN (4, 6) AND "
                            "recurring_schedule_id IN ",
                            d.prefix)
                       + lit::id_list(schedules),
                     op);
    if (!r)
      return r.error();
    each_row(*r, [&running](const row& x) {
      uuid id;
      if (x.id(0, id))
        running.insert(id);
    });
  }
  std::vector<job> runs;
  std::vector<uuid> skipped;
  std::vector<std::pair<job_id, attempt>> notes;
  for (auto& x : candidates) {
    if (x.recurring_schedule_id
        && !running.insert(*x.recurring_schedule_id).second) {
      skipped.push_back(x.id);
      notes.emplace_back(x.id, sc::skipped_note(*x.recurring_schedule_id));
      continue;
    }
    runs.push_back(std::move(x));
  }
  if (auto n = exec_for_ids(d,
                            "UPDATE {p}jobs SET status = 8, bucket_id = '', "
                            "worker_id = '', process_deadline = NULL, "
                            "version = version + 1 WHERE id IN ",
                            skipped, op);
      !n)
    return n.error();
  if (auto err = insert_attempts(d, op, notes))
    return err;
  if (auto err = claim_rows(d, op, runs, base, bucket_id, adopt))
    return err;
  claimed.insert(claimed.end(), std::make_move_iterator(runs.begin()),
                 std::make_move_iterator(runs.end()));
  return {};
}

} // namespace

// -- construction -------------------------------------------------------------

mysql_store::mysql_store(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {}

mysql_store::~mysql_store() = default;

const std::string& mysql_store::table_prefix() const {
  return impl_->prefix;
}

uint64_t mysql_store::connection_id() const {
  return impl_->connected() ? mysql_thread_id(impl_->conn) : 0;
}

caf::expected<std::unique_ptr<mysql_store>>
mysql_store::open(const std::string& url, std::string table_prefix) {
  return sc::guarded(
    backend, "open", [&]() -> caf::expected<std::unique_ptr<mysql_store>> {
      auto prefix = sc::table_prefix(backend, std::move(table_prefix));
      if (!prefix)
        return prefix.error();
      // Checked here, so that a typo is a configuration error and not a
      // connection failure retried forever.
      auto options = parse_connection_string(url);
      if (!options)
        return options.error();
      auto d = std::make_unique<impl>();
      d->options = std::move(*options);
      d->prefix = std::move(*prefix);
      if (auto err = d->connect("open"))
        return err;
      std::unique_ptr<mysql_store> result{new mysql_store(std::move(d))};
      if (auto err = result->migrate())
        return err;
      return result;
    });
}

// -- master_store -------------------------------------------------------------

caf::error mysql_store::migrate() {
  return call(
    *impl_, "migrate", [&](impl& d, std::string_view op) -> caf::error {
      auto version = [&]() -> caf::expected<int64_t> {
        auto has_table = d.query(
          "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema "
          "= DATABASE() AND table_name = "
            + lit::text(d.prefix + "schema_version"),
          op);
        if (!has_table)
          return has_table.error();
        if (first_int(*has_table).value_or(0) == 0)
          return int64_t{0};
        auto r = d.query_p(
          "SELECT COALESCE(MAX(version), 0) FROM {p}schema_version", op);
        if (!r)
          return r.error();
        return first_int(*r).value_or(0);
      };
      // Fast path: nothing to do, no lock taken.
      auto current = version();
      if (!current)
        return current.error();
      if (*current == latest_schema_version)
        return {};
      // Concurrent starters queue here (a session lock: DDL commits
      // implicitly, so no transaction could hold it). Other prefixes are
      // not held up.
      auto name = lit::text(d.prefix + "migrate");
      auto got = d.query("SELECT GET_LOCK(" + name + ", "
                           + std::to_string(lock_timeout_s) + ")",
                         op);
      if (!got)
        return got.error();
      if (first_int(*got) != 1)
        return failure(op, "timed out waiting for the migration lock");
      auto migrate_locked = [&]() -> caf::error {
        if (auto n = d.exec_p("CREATE TABLE IF NOT EXISTS {p}schema_version"
                              " (version INT NOT NULL PRIMARY KEY,"
                              " applied_at BIGINT NOT NULL)" JM_TABLE_OPTIONS,
                              op);
            !n)
          return n.error();
        current = version();
        if (!current)
          return current.error();
        if (*current > latest_schema_version)
          return make_error(ec::store_failure,
                            "mysql: migrate: the database has schema version "
                              + std::to_string(*current)
                              + ", newer than the supported "
                              + std::to_string(latest_schema_version));
        for (auto v = *current + 1; v <= latest_schema_version; ++v) {
          auto step = "migrate: version " + std::to_string(v);
          for (auto* s : migrations[v - 1])
            if (auto n = d.exec_p(s, step);
                !n && !(d.connected() && mysql_errno(d.conn) == ER_DUP_KEYNAME))
              return n.error();
          if (auto n = d.exec_p("INSERT INTO {p}schema_version VALUES ("
                                  + std::to_string(v) + ", "
                                  + std::to_string(to_micros(now())) + ")",
                                step);
              !n)
            return n.error();
        }
        return {};
      };
      auto err = migrate_locked();
      if (d.connected() && !d.exec("DO RELEASE_LOCK(" + name + ")", op))
        d.drop();
      return err;
    });
}

caf::error mysql_store::insert_jobs(const std::vector<job>& jobs) {
  return call(*impl_, "insert_jobs",
              [&](impl& d, std::string_view op) -> caf::error {
                for (auto& x : jobs)
                  if (auto err = sc::check_job(backend, x))
                    return err;
                return exec_atomically(d, insert_jobs_sql(d, jobs), op);
              });
}

caf::expected<std::optional<job>> mysql_store::get_job(const job_id& id) {
  return call(
    *impl_, "get_job",
    [&](impl& d, std::string_view op) -> caf::expected<std::optional<job>> {
      auto r = d.query(
        expand("SELECT " JM_JOB_COLUMNS " FROM {p}jobs WHERE id = ", d.prefix)
          + lit::id(id),
        op);
      if (!r)
        return r.error();
      auto xs = read_all<job>(
        *r, [](const row& x) { return sc::read_job(backend, x); });
      if (!xs)
        return xs.error();
      if (xs->empty())
        return std::optional<job>{};
      return std::optional<job>{std::move(xs->front())};
    });
}

caf::expected<std::vector<job>> mysql_store::list_jobs(const job_filter& f) {
  return call(
    *impl_, "list_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      auto statuses
        = sc::status_clause(backend, f.statuses, sc::valid_status, op);
      if (!statuses)
        return statuses.error();
      std::string sql = expand("SELECT " JM_JOB_COLUMNS " FROM {p}jobs "
                               "WHERE TRUE",
                               d.prefix)
                        + *statuses;
      if (!f.handler.empty())
        sql += " AND handler = " + lit::text(f.handler);
      if (!f.lane.empty())
        sql += " AND lane = " + lit::text(f.lane);
      if (f.scheduled_from)
        sql += " AND scheduled_at >= " + lit::ts(*f.scheduled_from);
      if (f.scheduled_to)
        sql += " AND scheduled_at <= " + lit::ts(*f.scheduled_to);
      if (f.schedule_id)
        sql += " AND recurring_schedule_id = " + lit::id(*f.schedule_id);
      sql += " ORDER BY scheduled_at, id";
      // Metadata is stored encoded: its filter applies after decoding, so the
      // limit does too.
      if (f.limit > 0 && f.metadata.empty())
        sql += " LIMIT " + std::to_string(f.limit);
      std::vector<job> result;
      // A listing shows what decodes; `jobs show` of a corrupt job reports it.
      std::vector<sc::corrupt_row> bad;
      if (auto err = read_jobs(d, sql, op, result, bad))
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
mysql_store::list_attempts(const job_id& id) {
  return call(
    *impl_, "list_attempts",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<attempt>> {
      auto r = d.query(expand("SELECT " JM_ATTEMPT_COLUMNS " FROM {p}attempts "
                              "WHERE job_id = ",
                              d.prefix)
                         + lit::id(id) + " ORDER BY number",
                       op);
      if (!r)
        return r.error();
      return read_all<attempt>(
        *r, [](const row& x) { return sc::read_attempt(backend, x); });
    });
}

caf::expected<std::vector<bool>>
mysql_store::write_jobs(const std::vector<job_write>& writes) {
  return call(
    *impl_, "write_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<bool>> {
      return write_jobs_impl(d, writes, op);
    });
}

caf::expected<std::vector<job>>
mysql_store::assign_held_jobs(timestamp after, timestamp horizon,
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
      if (auto err = read_jobs_tolerant(
            d,
            expand("SELECT " JM_JOB_COLUMNS " FROM {p}jobs FORCE INDEX "
                   "({p}jobs_status_sched) WHERE status = 2 "
                   "AND scheduled_at > ",
                   d.prefix)
              + lit::ts(after) + " AND scheduled_at <= " + lit::ts(horizon)
              + " ORDER BY scheduled_at, id LIMIT " + std::to_string(limit)
              + " FOR UPDATE SKIP LOCKED",
            op, held))
        return err;
      std::vector<std::string> rows;
      for (auto& x : held) {
        const bucket_record* bucket = route ? route(x) : nullptr;
        if (bucket == nullptr)
          continue;
        rows.push_back(lit::id(x.id) + ", " + lit::text(bucket->bucket_id)
                       + ", " + lit::text(bucket->worker_id));
        x.status = job_status::assigned_to_bucket;
        x.bucket_id = bucket->bucket_id;
        x.worker_id = bucket->worker_id;
        // A deadline left over from an earlier placement would let the
        // sweep take the job back before its new owner even claimed it.
        x.process_deadline = std::nullopt;
        x.version += 1;
        result.push_back(std::move(x));
      }
      for (auto& s : chunked(
             "UPDATE (SELECT NULL AS id, NULL AS bucket_id, NULL AS worker_id "
             "FROM DUAL WHERE FALSE UNION ALL SELECT ",
             rows, " UNION ALL SELECT ",
             expand(") u STRAIGHT_JOIN {p}jobs j ON j.id = u.id SET j.status = "
                    "3, j.bucket_id = u.bucket_id, j.worker_id = u.worker_id, "
                    "j.process_deadline = NULL, j.version = j.version + 1 "
                    "WHERE j.status = 2",
                    d.prefix)))
        if (auto n = d.exec(s, op); !n)
          return n.error();
      if (auto err = tx.commit(op))
        return err;
      return result;
    });
}

caf::expected<std::map<job_status, uint64_t>> mysql_store::count_by_status() {
  return call(
    *impl_, "count_by_status",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::map<job_status, uint64_t>> {
      auto r
        = d.query_p("SELECT status, COUNT(*) FROM {p}jobs GROUP BY status", op);
      if (!r)
        return r.error();
      std::map<job_status, uint64_t> result;
      caf::error err;
      each_row(*r, [&](const row& x) {
        int64_t status = 0;
        int64_t n = 0;
        x.i64(1, n);
        if (!x.i64(0, status) || !sc::valid_status(status)) {
          err = sc::malformed(backend, "count_by_status: " + std::to_string(n)
                                         + " job rows have the invalid status "
                                         + std::to_string(status));
          return;
        }
        result[static_cast<job_status>(status)] = static_cast<uint64_t>(n);
      });
      if (err)
        return err;
      return result;
    });
}

// -- membership ---------------------------------------------------------------

caf::error mysql_store::upsert_node(const node_record& x) {
  return call(
    *impl_, "upsert_node", [&](impl& d, std::string_view op) -> caf::error {
      auto set = "host = " + lit::text(x.host) + ", port = " + lit::i64(x.port)
                 + ", pid = " + lit::i64(x.pid)
                 + ", started_at = " + lit::ts(x.started_at)
                 + ", lease_expires_at = " + lit::ts(x.lease_expires_at);
      auto n = d.exec(expand("INSERT INTO {p}nodes SET node_id = ", d.prefix)
                        + lit::text(x.node_id) + ", " + set
                        + " ON DUPLICATE KEY UPDATE " + set,
                      op);
      return n ? caf::error{} : n.error();
    });
}

caf::expected<bool> mysql_store::renew_node(std::string_view node_id,
                                            timestamp lease_expires_at) {
  return call(
    *impl_, "renew_node",
    [&](impl& d, std::string_view op) -> caf::expected<bool> {
      auto where = " WHERE node_id = " + lit::text(node_id);
      auto n
        = d.exec(expand("UPDATE {p}nodes SET lease_expires_at = ", d.prefix)
                   + lit::ts(lease_expires_at) + where,
                 op);
      if (!n)
        return n.error();
      if (*n > 0)
        return true;
      // Affected rows count changed rows only: the same lease again changes
      // nothing, yet the node is there.
      auto r = d.query(expand("SELECT 1 FROM {p}nodes", d.prefix) + where, op);
      if (!r)
        return r.error();
      return first_int(*r).has_value();
    });
}

caf::error mysql_store::remove_node(std::string_view node_id) {
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

caf::expected<std::vector<node_record>> mysql_store::list_nodes() {
  return call(
    *impl_, "list_nodes",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<node_record>> {
      auto r = d.query_p("SELECT node_id, host, port, pid, started_at, "
                         "lease_expires_at FROM {p}nodes ORDER BY node_id",
                         op);
      if (!r)
        return r.error();
      return read_all<node_record>(
        *r, [](const row& rw) -> caf::expected<node_record> {
          node_record x;
          x.node_id = rw.text(0);
          x.host = rw.text(1);
          auto bad = [&x](const char* what) {
            return sc::malformed(backend,
                                 "node " + x.node_id + ": invalid " + what);
          };
          int64_t n = 0;
          if (!rw.i64(2, n) || !sc::in_range(n, 0, 65535))
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

caf::error mysql_store::upsert_buckets(const std::vector<bucket_record>& xs) {
  return call(
    *impl_, "upsert_buckets", [&](impl& d, std::string_view op) -> caf::error {
      if (xs.empty())
        return {};
      for (auto& x : xs)
        if (!sc::valid_priority(static_cast<int64_t>(x.priority)))
          return invalid("bucket " + x.bucket_id + ": invalid priority");
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      // One row at a time: a bucket listed twice is updated twice, in order.
      for (auto& x : xs) {
        auto set = "worker_id = " + lit::text(x.worker_id)
                   + ", node_id = " + lit::text(x.node_id) + ", priority = "
                   + lit::i64(static_cast<int64_t>(x.priority))
                   + ", lane = " + lit::text(x.lane);
        auto n
          = d.exec(expand("INSERT INTO {p}buckets SET bucket_id = ", d.prefix)
                     + lit::text(x.bucket_id) + ", " + set
                     + " ON DUPLICATE KEY UPDATE " + set,
                   op);
        if (!n)
          return n.error();
      }
      return tx.commit(op);
    });
}

caf::expected<std::vector<bucket_record>>
mysql_store::live_buckets(timestamp now) {
  return call(
    *impl_, "live_buckets",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<bucket_record>> {
      auto r = d.query(
        expand("SELECT b.bucket_id, b.worker_id, b.node_id, b.priority, b.lane "
               "FROM {p}buckets b JOIN {p}nodes n ON n.node_id = b.node_id "
               "WHERE n.lease_expires_at > ",
               d.prefix)
          + lit::ts(now) + " ORDER BY b.bucket_id",
        op);
      if (!r)
        return r.error();
      return read_all<bucket_record>(
        *r, [](const row& rw) -> caf::expected<bucket_record> {
          bucket_record x;
          x.bucket_id = rw.text(0);
          x.worker_id = rw.text(1);
          x.node_id = rw.text(2);
          int64_t n = 0;
          if (!rw.i64(3, n) || !sc::valid_priority(n))
            return sc::malformed(backend, "bucket " + x.bucket_id
                                            + ": invalid priority");
          x.priority = static_cast<jm::priority>(n);
          x.lane = rw.text(4);
          return x;
        });
    });
}

caf::expected<std::vector<job>> mysql_store::rescue_dead_nodes(timestamp now) {
  return call(
    *impl_, "rescue_dead_nodes",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      std::vector<job> result;
      // A node is dead once it is no longer alive (its lease is not in the
      // future).
      auto node_ids
        = [&](const char* lock) -> caf::expected<std::vector<std::string>> {
        auto r = d.query(
          expand("SELECT node_id FROM {p}nodes WHERE lease_expires_at <= ",
                 d.prefix)
            + lit::ts(now) + " ORDER BY node_id" + lock,
          op);
        if (!r)
          return r.error();
        return read_all<std::string>(
          *r,
          [](const row& x) -> caf::expected<std::string> { return x.text(0); });
      };
      // Fast path without a transaction: usually nobody died.
      auto ids = node_ids("");
      if (!ids)
        return ids.error();
      if (ids->empty())
        return result;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      // Locked: a concurrent rescuer waits, then finds them gone.
      ids = node_ids(" FOR UPDATE");
      if (!ids)
        return ids.error();
      for (auto& id : *ids)
        if (auto err = evacuate_node(
              d, op, id, now, "node " + id + " lost (lease expired)", result))
          return err;
      if (auto err = tx.commit(op))
        return err;
      std::sort(result.begin(), result.end(), sc::earlier);
      return result;
    });
}

caf::expected<uint64_t> mysql_store::sweep_deadlines(timestamp now) {
  return call(*impl_, "sweep_deadlines",
              [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
                return d.exec(
                  expand("UPDATE {p}jobs SET status = 2, bucket_id = '', "
                         "worker_id = '', process_deadline = NULL, version = "
                         "version + 1 WHERE process_deadline < ",
                         d.prefix)
                    + lit::ts(now) + " AND status IN " JM_LIVE_PLACED,
                  op);
              });
}

// -- recurring schedules ------------------------------------------------------

caf::error mysql_store::insert_schedule(const recurring_schedule& x) {
  return call(*impl_, "insert_schedule",
              [&](impl& d, std::string_view op) -> caf::error {
                if (auto err = sc::check_schedule(backend, x))
                  return err;
                auto n = d.exec(insert_schedule_sql(d.prefix, x), op);
                return n ? caf::error{} : n.error();
              });
}

caf::expected<recurring_schedule>
mysql_store::upsert_static_schedule(const recurring_schedule& x) {
  return call(
    *impl_, "upsert_static_schedule",
    [&](impl& d, std::string_view op) -> caf::expected<recurring_schedule> {
      if (x.spec.static_name.empty())
        return invalid("upsert_static_schedule: no static name");
      if (auto err = sc::check_schedule(backend, x))
        return err;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto lookup = expand("SELECT " JM_SCHEDULE_COLUMNS " FROM {p}schedules "
                           "WHERE static_key = ",
                           d.prefix)
                    + lit::text(x.spec.static_name) + " FOR UPDATE";
      // Two rounds at most: when another node inserts the name between our
      // lookup and our insert, the insert does nothing and the second
      // lookup (READ COMMITTED: it sees the other's commit) finds and locks
      // its row.
      for (int round = 0; round < 2; ++round) {
        auto found = read_schedules(d.query(lookup, op));
        if (!found)
          return found.error();
        recurring_schedule result = x;
        if (found->empty()) {
          auto n = d.exec(insert_schedule_sql(d.prefix, x), op);
          if (!n)
            return n.error();
          if (*n == 0)
            continue;
        } else {
          auto& old = found->front();
          result.id = old.id;
          result.created_at = old.created_at;
          result.cursor = old.cursor;
          result.planned_until = old.planned_until;
          result.version = old.version + 1;
          auto n = d.exec(expand("UPDATE {p}schedules SET ", d.prefix)
                            + schedule_assignments(result, result.version)
                            + " WHERE id = " + lit::id(old.id),
                          op);
          if (!n)
            return n.error();
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
mysql_store::get_schedule(const schedule_id& id) {
  return call(
    *impl_, "get_schedule",
    [&](impl& d, std::string_view op)
      -> caf::expected<std::optional<recurring_schedule>> {
      auto xs = read_schedules(d.query(expand("SELECT " JM_SCHEDULE_COLUMNS
                                              " FROM {p}schedules WHERE id = ",
                                              d.prefix)
                                         + lit::id(id),
                                       op));
      if (!xs)
        return xs.error();
      if (xs->empty())
        return std::optional<recurring_schedule>{};
      return std::optional<recurring_schedule>{std::move(xs->front())};
    });
}

caf::expected<std::vector<recurring_schedule>>
mysql_store::list_schedules(const schedule_filter& f) {
  return call(
    *impl_, "list_schedules",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<recurring_schedule>> {
      auto statuses
        = sc::status_clause(backend, f.statuses, sc::valid_schedule_status, op);
      if (!statuses)
        return statuses.error();
      std::string sql
        = expand("SELECT " JM_SCHEDULE_COLUMNS " FROM {p}schedules WHERE TRUE",
                 d.prefix)
          + *statuses;
      if (!f.handler.empty())
        sql += " AND handler = " + lit::text(f.handler);
      sql += " ORDER BY created_at DESC, id";
      if (f.limit > 0)
        sql += " LIMIT " + std::to_string(f.limit);
      return read_schedules(d.query(sql, op));
    });
}

caf::expected<std::vector<recurring_schedule>>
mysql_store::schedules_to_plan(timestamp horizon, uint32_t limit) {
  return call(
    *impl_, "schedules_to_plan",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<recurring_schedule>> {
      return read_schedules(
        d.query(expand("SELECT " JM_SCHEDULE_COLUMNS " FROM {p}schedules "
                       "WHERE status = 2 AND planned_until < ",
                       d.prefix)
                  + lit::ts(horizon) + " ORDER BY planned_until, id LIMIT "
                  + std::to_string(limit),
                op));
    });
}

caf::expected<std::optional<uint64_t>>
mysql_store::write_schedule(const recurring_schedule& x,
                            int64_t expected_version,
                            const std::vector<job>& jobs) {
  return call(
    *impl_, "write_schedule",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::optional<uint64_t>> {
      if (auto err = sc::check_schedule(backend, x))
        return err;
      for (auto& j : jobs)
        if (auto err = sc::check_job(backend, j))
          return err;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto n = d.exec(expand("UPDATE {p}schedules SET ", d.prefix)
                        + schedule_assignments(x, expected_version + 1)
                        + " WHERE id = " + lit::id(x.id)
                        + " AND version = " + lit::i64(expected_version),
                      op);
      if (!n)
        return n.error();
      if (*n == 0)
        return std::optional<uint64_t>{};
      auto added = insert_new_jobs(d, jobs, op);
      if (!added)
        return added.error();
      if (auto err = tx.commit(op))
        return err;
      return std::optional<uint64_t>{*added};
    });
}

caf::error mysql_store::touch_static_schedules(
  const std::vector<std::string>& static_names, timestamp now) {
  return call(
    *impl_, "touch_static_schedules",
    [&](impl& d, std::string_view op) -> caf::error {
      if (static_names.empty())
        return {};
      std::string names;
      for (auto& x : static_names)
        names += (names.empty() ? "(" : ", ") + lit::text(x);
      auto n = d.exec(
        expand("UPDATE {p}schedules SET ensured_at = ", d.prefix) + lit::ts(now)
          + ", version = version + 1 WHERE static_key IN " + names + ")",
        op);
      return n ? caf::error{} : n.error();
    });
}

caf::expected<std::vector<recurring_schedule>>
mysql_store::retire_static_schedules(timestamp stale_before, timestamp now) {
  return call(
    *impl_, "retire_static_schedules",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<recurring_schedule>> {
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto xs = read_schedules(d.query(
        expand("SELECT " JM_SCHEDULE_COLUMNS " FROM {p}schedules WHERE "
               "status = 2 AND static_key IS NOT NULL AND (ensured_at IS NULL "
               "OR ensured_at < ",
               d.prefix)
          + lit::ts(stale_before) + ") ORDER BY id FOR UPDATE",
        op));
      if (!xs)
        return xs.error();
      if (xs->empty())
        return xs;
      std::vector<uuid> ids;
      for (auto& x : *xs) {
        ids.push_back(x.id);
        x.status = schedule_status::inactive;
        x.terminated_at = now;
        x.version += 1;
      }
      auto n = d.exec(expand("UPDATE {p}schedules SET status = 4, "
                             "terminated_at = ",
                             d.prefix)
                        + lit::ts(now) + ", version = version + 1 WHERE id IN "
                        + lit::id_list(ids),
                      op);
      if (!n)
        return n.error();
      if (auto err = tx.commit(op))
        return err;
      return xs;
    });
}

// -- retention ----------------------------------------------------------------

caf::expected<uint64_t> mysql_store::purge(timestamp before, uint32_t limit) {
  return call(
    *impl_, "purge",
    [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
      if (limit == 0)
        return uint64_t{0};
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto victims = [&](const char* sql) -> caf::expected<std::vector<uuid>> {
        return query_ids(d,
                         expand(sql, d.prefix) + lit::ts(before)
                           + " ORDER BY 1, 2, id LIMIT " + std::to_string(limit)
                           + " FOR UPDATE SKIP LOCKED",
                         op, 2);
      };
      uint64_t deleted = 0;
      // In the order of the status index: no sort of every final job.
      auto jobs = victims("SELECT status, scheduled_at, id FROM {p}jobs "
                          "WHERE status IN (5, 7, 8) AND scheduled_at < ");
      if (!jobs)
        return jobs.error();
      if (auto n = exec_for_ids(d, "DELETE FROM {p}attempts WHERE job_id IN ",
                                *jobs, op);
          !n)
        return n.error();
      auto n = exec_for_ids(d, "DELETE FROM {p}jobs WHERE id IN ", *jobs, op);
      if (!n)
        return n.error();
      deleted += *n;
      auto schedules = victims("SELECT status, terminated_at, id FROM "
                               "{p}schedules WHERE status IN (3, 5) AND "
                               "terminated_at < ");
      if (!schedules)
        return schedules.error();
      n = exec_for_ids(d, "DELETE FROM {p}schedules WHERE id IN ", *schedules,
                       op);
      if (!n)
        return n.error();
      deleted += *n;
      if (auto err = tx.commit(op))
        return err;
      return deleted;
    });
}

// -- agent_store --------------------------------------------------------------

caf::expected<std::vector<job>> mysql_store::claim_bucket_jobs(
  std::string_view bucket_id, const std::optional<held_route>& adopt,
  timestamp due_by, uint32_t limit, duration grace) {
  return call(
    *impl_, "claim_bucket_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<job>> {
      std::vector<job> result;
      if (limit == 0)
        return result;
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto base = sc::saturating_add(to_micros(due_by), grace.count());
      // Every due job but the overlap-guarded ones; rows another connection
      // is claiming are skipped, never waited for or taken twice.
      if (auto err = lock_due(d, op, claim_sources(d, bucket_id, adopt, due_by),
                              due_by, limit, false, result))
        return err;
      if (auto err = claim_rows(d, op, result, base, bucket_id, adopt))
        return err;
      // The first statement took every due job but the overlap-guarded ones
      // unless it hit the limit; those come next, behind the guard.
      if (result.size() < limit)
        if (auto err = claim_exclusive(
              d, tx, bucket_id, adopt, due_by, base,
              limit - static_cast<uint32_t>(result.size()), result))
          return err;
      if (auto err = tx.commit(op))
        return err;
      std::sort(result.begin(), result.end(), sc::earlier);
      return result;
    });
}

caf::expected<uint64_t>
mysql_store::release_bucket_jobs(std::string_view bucket_id, timestamp now) {
  return call(
    *impl_, "release_bucket_jobs",
    [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
      transaction tx{d};
      if (auto err = tx.begin(op))
        return err;
      auto bucket = lit::text(bucket_id);
      auto why
        = "bucket " + std::string{bucket_id} + " restarted while running it";
      // Locked first, so that nobody finishes one between its `lost` attempt
      // and its return. Only ids and workers are read: nothing to decode.
      auto r = d.query(expand("SELECT id, worker_id FROM {p}jobs WHERE "
                              "bucket_id = ",
                              d.prefix)
                         + bucket + " AND status = 4 ORDER BY id FOR UPDATE",
                       op);
      if (!r)
        return r.error();
      std::vector<std::pair<job_id, attempt>> notes;
      each_row(*r, [&](const row& x) {
        uuid id;
        if (x.id(0, id))
          notes.emplace_back(id, sc::lost_note(x.text(1), now, why));
      });
      auto n = d.exec(expand("UPDATE {p}jobs SET status = 3, process_deadline "
                             "= NULL, version = version + 1 WHERE bucket_id = ",
                             d.prefix)
                        + bucket + " AND status IN (4, 6)",
                      op);
      if (!n)
        return n.error();
      if (auto err = insert_attempts(d, op, notes))
        return err;
      if (auto err = tx.commit(op))
        return err;
      return *n;
    });
}

caf::expected<std::vector<bool>>
mysql_store::write_results(const std::vector<job_write>& writes) {
  return call(
    *impl_, "write_results",
    [&](impl& d, std::string_view op) -> caf::expected<std::vector<bool>> {
      return write_jobs_impl(d, writes, op);
    });
}

// -- agent_queue --------------------------------------------------------------

namespace {

std::string seq_list(const std::vector<int64_t>& seqs) {
  std::string out = "(";
  for (auto seq : seqs) {
    if (out.size() > 1)
      out += ", ";
    out += lit::i64(seq);
  }
  return out + ")";
}

} // namespace

caf::error mysql_store::push_pending(const std::vector<job>& jobs) {
  return call(
    *impl_, "push_pending", [&](impl& d, std::string_view op) -> caf::error {
      for (auto& x : jobs)
        if (auto err = sc::check_pending(backend, x))
          return err;
      auto t = lit::ts(jm::now());
      std::vector<std::string> rows;
      rows.reserve(jobs.size());
      for (auto& x : jobs) {
        auto bytes = encode(x);
        rows.push_back("(" + lit::text(x.bucket_id) + ", " + lit::id(x.id)
                       + ", " + t + ", "
                       + lit::hex({reinterpret_cast<const char*>(bytes.data()),
                                   bytes.size()})
                       + ")");
      }
      return exec_atomically(
        d,
        chunked(expand("INSERT INTO {p}agent_queue (bucket_id, "
                       "job_id, pushed_at, payload) VALUES ",
                       d.prefix),
                rows, ", ", ""),
        op);
    });
}

caf::expected<pending_read>
mysql_store::read_pending(std::string_view bucket_id, uint32_t limit) {
  return call(
    *impl_, "read_pending",
    [&](impl& d, std::string_view op) -> caf::expected<pending_read> {
      pending_read result;
      if (limit == 0)
        return result;
      auto r = d.query(expand("SELECT seq, payload FROM {p}agent_queue "
                              "WHERE bucket_id = ",
                              d.prefix)
                         + lit::text(bucket_id) + " ORDER BY seq LIMIT "
                         + lit::i64(limit),
                       op);
      if (!r)
        return r.error();
      caf::error err;
      each_row(*r, [&](const row& x) {
        int64_t seq = 0;
        if (!x.i64(0, seq))
          err = sc::malformed(backend, "a queue entry has no seq");
        else
          sc::read_pending_entry(seq, bucket_id, x.bytes(1), result);
      });
      if (err)
        return err;
      if (!result.corrupt.empty())
        if (auto n = d.exec(expand("UPDATE {p}agent_queue SET bucket_id = "
                                   "'!corrupt' WHERE seq IN ",
                                   d.prefix)
                              + seq_list(result.corrupt),
                            op);
            !n)
          return n.error();
      return result;
    });
}

caf::expected<std::vector<std::string>> mysql_store::pending_buckets() {
  return call(
    *impl_, "pending_buckets",
    [&](impl& d,
        std::string_view op) -> caf::expected<std::vector<std::string>> {
      auto r = d.query_p("SELECT DISTINCT bucket_id FROM {p}agent_queue "
                         "WHERE bucket_id <> '!corrupt' ORDER BY bucket_id",
                         op);
      if (!r)
        return r.error();
      std::vector<std::string> result;
      each_row(*r, [&](const row& x) { result.push_back(x.text(0)); });
      return result;
    });
}

caf::expected<uint64_t>
mysql_store::remove_pending(const std::vector<int64_t>& seqs) {
  return call(*impl_, "remove_pending",
              [&](impl& d, std::string_view op) -> caf::expected<uint64_t> {
                if (seqs.empty())
                  return uint64_t{0};
                return d.exec(
                  expand("DELETE FROM {p}agent_queue WHERE seq IN ", d.prefix)
                    + seq_list(seqs),
                  op);
              });
}

} // namespace jm::mysql
