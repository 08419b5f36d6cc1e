#define CAF_SUITE providers.mysql_store
#include "tests/support/test.hpp"

#include "tests/providers/conformance.hpp"
#include "tests/providers/store_helpers.hpp"

#include "providers/mysql/mysql_store.hpp"

#include <mysql.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace jm;
using jm::mysql::connection_options;
using jm::mysql::mysql_store;
using jm::mysql::parse_connection_string;
using jm::test::in_bucket;
using jm::test::make_job;
using jm::test::require_ok;
using jm::test::t0;
using jm::test::unbox;
using namespace std::chrono_literals;

namespace {

// The server comes from tools/test-services.sh (DIR/env.sh). Without one
// the binary skips, unless CI demands the servers.
const std::string server_url = jm::test::server_url_or_exit(
  "JM_TEST_MYSQL_URL", "jm-test-providers-mysql");

/// A raw connection of its own, for what the store must not do itself:
/// damaging rows, killing connections, inspecting the schema.
class raw_connection {
public:
  explicit raw_connection(const std::string& url = server_url) {
    auto o = unbox(parse_connection_string(url));
    conn_ = mysql_init(nullptr);
    if (mysql_real_connect(conn_, o.host.c_str(), o.user.c_str(),
                           o.password.c_str(), o.database.c_str(), o.port,
                           o.socket.empty() ? nullptr : o.socket.c_str(), 0)
        == nullptr) {
      std::string msg = mysql_error(conn_);
      mysql_close(conn_);
      CAF_FAIL("raw connection failed: " << msg);
    }
  }

  ~raw_connection() { mysql_close(conn_); }

  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Runs SQL; returns the first value, if any ("NULL" for NULL).
  std::string query(const std::string& sql) {
    if (mysql_query(conn_, sql.c_str()) != 0)
      CAF_FAIL("raw query failed: " << sql << ": " << mysql_error(conn_));
    std::string value;
    if (auto* res = mysql_store_result(conn_)) {
      if (auto row = mysql_fetch_row(res);
          row != nullptr && mysql_num_fields(res) > 0)
        value = row[0] != nullptr ? row[0] : "NULL";
      mysql_free_result(res);
    }
    return value;
  }

private:
  MYSQL* conn_ = nullptr;
};

std::string raw_query(const std::string& sql) {
  raw_connection conn;
  return conn.query(sql);
}

/// A prefix no other test uses: each test case gets tables of its own.
std::string fresh_prefix() {
  return "jm_t" + to_string(uuid::random()).substr(0, 8) + "_";
}

/// The tables of one prefix, dropped when destroyed.
class my_database : public test::store_database {
public:
  explicit my_database(std::string url = server_url)
    : url_(std::move(url)), prefix_(fresh_prefix()) {}

  ~my_database() override {
    std::string tables;
    for (auto name : {"jobs", "attempts", "nodes", "buckets", "schedules",
                      "agent_queue", "schema_version"})
      tables += (tables.empty() ? "" : ", ") + prefix_ + name;
    raw_query("DROP TABLE IF EXISTS " + tables);
  }

  const std::string& prefix() const { return prefix_; }

  caf::expected<std::unique_ptr<mysql_store>> open() {
    return mysql_store::open(url_, prefix_);
  }

  caf::expected<test::store_connection> connect() override {
    auto s = open();
    if (!s)
      return s.error();
    return test::make_connection(std::move(*s));
  }

private:
  std::string url_;
  std::string prefix_;
};

/// The server URL rewritten in key=value form.
std::string keyword_form(const std::string& url) {
  auto o = unbox(parse_connection_string(url));
  return "host=" + o.host + " port=" + std::to_string(o.port) + " user='"
         + o.user + "' password='" + o.password + "' database=" + o.database;
}

struct fixture {
  my_database db;
  std::unique_ptr<mysql_store> store = unbox(db.open());

  std::string count(const std::string& sql) { return raw_query(sql); }

  std::string table(const char* name) const { return db.prefix() + name; }
};

/// The error text of a connection string that does not parse.
std::string parse_error(const std::string& text) {
  auto res = parse_connection_string(text);
  if (res) {
    CAF_FAIL("parsed: " << text);
    return {};
  }
  CAF_CHECK(code_of(res.error()) == ec::invalid_config);
  return describe(res.error());
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

std::unique_ptr<test::store_database> test::make_database() {
  return std::make_unique<my_database>();
}

// -- connection strings (no server needed) ------------------------------------

TEST(connection strings in url form) {
  auto o
    = unbox(parse_connection_string("mysql://jm:s3cret@db.example:3307/jobs"));
  CHECK_EQUAL(o.host, "db.example");
  CHECK_EQUAL(o.port, 3307);
  CHECK_EQUAL(o.user, "jm");
  CHECK_EQUAL(o.password, "s3cret");
  CHECK_EQUAL(o.database, "jobs");
  CHECK_EQUAL(o.socket, "");
  CHECK_EQUAL(o.connect_timeout, 10u);
  // Defaults, percent-decoding, the mariadb scheme and parameters.
  o = unbox(parse_connection_string(
    "mariadb://a%40b:p%3Aw%2Fd%25@db/my%20db?socket=%2Frun%2Fm.sock"
    "&connect_timeout=3"));
  CHECK_EQUAL(o.host, "db");
  CHECK_EQUAL(o.port, 3306);
  CHECK_EQUAL(o.user, "a@b");
  CHECK_EQUAL(o.password, "p:w/d%");
  CHECK_EQUAL(o.database, "my db");
  CHECK_EQUAL(o.socket, "/run/m.sock");
  CHECK_EQUAL(o.connect_timeout, 3u);
  // A password may hold '@' unescaped: the last one ends the user info.
  o = unbox(parse_connection_string("mysql://u:a@b@h/d"));
  CHECK_EQUAL(o.password, "a@b");
  CHECK_EQUAL(o.host, "h");
  o = unbox(parse_connection_string("mysql://[::1]:3310/d"));
  CHECK_EQUAL(o.host, "::1");
  CHECK_EQUAL(o.port, 3310);
  CHECK_EQUAL(o.user, "");
  o = unbox(parse_connection_string("mysql:///d?socket=/tmp/s"));
  CHECK_EQUAL(o.host, "localhost");
  CHECK_EQUAL(o.socket, "/tmp/s");
  CHECK_EQUAL(o.read_timeout, 0u);
  CHECK_EQUAL(o.write_timeout, 0u);
  o = unbox(
    parse_connection_string("mysql://h/d?read_timeout=30&write_timeout=20"));
  CHECK_EQUAL(o.read_timeout, 30u);
  CHECK_EQUAL(o.write_timeout, 20u);
  o = unbox(parse_connection_string("host=h database=d read_timeout=5"));
  CHECK_EQUAL(o.read_timeout, 5u);
}

TEST(connection strings in key value form) {
  auto o = unbox(parse_connection_string(
    "host=db.example port=3307 user=jm password=secret database=jobs"));
  CHECK_EQUAL(o.host, "db.example");
  CHECK_EQUAL(o.port, 3307);
  CHECK_EQUAL(o.user, "jm");
  CHECK_EQUAL(o.password, "secret");
  CHECK_EQUAL(o.database, "jobs");
  o = unbox(parse_connection_string(
    "  dbname = jobs  password='it\\'s a \\\\ secret' socket=/run/m.sock "
    "connect_timeout=2 "));
  CHECK_EQUAL(o.database, "jobs");
  CHECK_EQUAL(o.password, "it's a \\ secret");
  CHECK_EQUAL(o.socket, "/run/m.sock");
  CHECK_EQUAL(o.connect_timeout, 2u);
  CHECK_EQUAL(o.host, "localhost");
  CHECK_EQUAL(o.port, 3306);
  o = unbox(parse_connection_string("database=d password=''"));
  CHECK_EQUAL(o.password, "");
}

TEST(bad connection strings name the problem) {
  CHECK(mentions(parse_error(""), "empty"));
  CHECK(mentions(parse_error("   "), "empty"));
  CHECK(mentions(parse_error("host=h user=u"), "missing database"));
  CHECK(mentions(parse_error("mysql://u@h:3306"), "missing database"));
  CHECK(mentions(parse_error("mysql://u@h:3306/"), "missing database"));
  CHECK(mentions(parse_error("host=h databse=x"), "unknown key 'databse'"));
  CHECK(mentions(parse_error("host=h port database=x"), "missing '='"));
  CHECK(mentions(parse_error("host=h port=abc database=x"), "bad port 'abc'"));
  CHECK(mentions(parse_error("host=h port=0 database=x"), "bad port"));
  CHECK(mentions(parse_error("host=h port=65536 database=x"), "bad port"));
  CHECK(mentions(parse_error("mysql://h:99999/d"), "bad port '99999'"));
  CHECK(mentions(parse_error("mysql://h:/d"), "bad port"));
  CHECK(mentions(parse_error("mysql://h:33x/d"), "bad port '33x'"));
  CHECK(mentions(parse_error("mysql://h/d?sslmode=on"),
                 "unknown parameter 'sslmode'"));
  CHECK(mentions(parse_error("mysql://h/d?socket"), "missing '='"));
  CHECK(mentions(parse_error("mysql://u:p%zz@h/d"), "percent escape"));
  CHECK(mentions(parse_error("mysql://u:p%4@h/d"), "percent escape"));
  CHECK(mentions(parse_error("postgresql://h/d"), "unknown scheme"));
  CHECK(mentions(parse_error("mysql://[::1/d"), "'['"));
  CHECK(mentions(parse_error("database=a dbname=b"), "twice"));
  CHECK(mentions(parse_error("port=1 port=2 database=d"), "twice"));
  CHECK(mentions(parse_error("password='open database=d"), "unterminated"));
  CHECK(mentions(parse_error("database=d connect_timeout=-1"),
                 "bad connect_timeout"));
  for (auto text : {"", "host=h databse=x"})
    CHECK(mentions(parse_error(text), "mysql: invalid connection string: "));
}

CAF_TEST_FIXTURE_SCOPE(mysql_store_tests, fixture)

TEST(open accepts url and key value connection strings) {
  MESSAGE("server: " << server_url << ", prefix " << db.prefix());
  auto other = unbox(mysql_store::open(keyword_form(server_url), db.prefix()));
  require_ok(other->insert_jobs({make_job("a", t0)}));
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  CHECK(other->connection_id() != 0);
  CHECK(other->connection_id() != store->connection_id());
  CHECK_EQUAL(other->table_prefix(), db.prefix());
}

TEST(open reports bad configuration and unreachable servers) {
  auto bad = mysql_store::open("host=127.0.0.1 port", db.prefix());
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_config);
  MESSAGE("bad string: " << describe(bad.error()));
  bad = mysql_store::open("mysql://x@127.0.0.1/db?nosuchparam=1");
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_config);
  for (auto prefix :
       {"jm-x_", "1jm_", "a_prefix_that_is_far_too_long_", "j m", "jm;"}) {
    bad = mysql_store::open(server_url, prefix);
    REQUIRE(!bad);
    CHECK(code_of(bad.error()) == ec::invalid_config);
  }
  // Nothing listens on port 1.
  bad = mysql_store::open("mysql://jm:jm@127.0.0.1:1/x?connect_timeout=5",
                          db.prefix());
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::store_failure);
  MESSAGE("unreachable: " << describe(bad.error()));
  CHECK(describe(bad.error()).find("mysql: open: cannot connect: ") == 0);
  // A wrong password is the server's message.
  auto o = unbox(parse_connection_string(server_url));
  bad = mysql_store::open("host=" + o.host + " port=" + std::to_string(o.port)
                            + " user=jm password=wrong database=" + o.database,
                          db.prefix());
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::store_failure);
  CHECK(mentions(describe(bad.error()), "Access denied"));
}

TEST(migrations are versioned and idempotent) {
  require_ok(store->migrate());
  auto p = db.prefix();
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + p + "schema_version"), "3");
  CHECK_EQUAL(count("SELECT MAX(version) FROM " + p + "schema_version"), "3");
  auto in_schema = "FROM information_schema.tables WHERE table_schema = "
                   "DATABASE() AND table_name LIKE '"
                   + p + "%'";
  CHECK_EQUAL(count("SELECT COUNT(*) " + in_schema), "7");
  CHECK_EQUAL(count("SELECT COUNT(*) " + in_schema
                    + " AND (engine <> 'InnoDB' OR table_collation <> "
                      "'utf8mb4_bin')"),
              "0");
  // Six indexes and the primary key.
  CHECK_EQUAL(count("SELECT COUNT(DISTINCT index_name) FROM "
                    "information_schema.statistics WHERE table_schema = "
                    "DATABASE() AND table_name = '"
                    + p + "jobs'"),
              "7");
  CHECK_EQUAL(count("SELECT MIN(non_unique) FROM information_schema.statistics "
                    "WHERE table_schema = DATABASE() AND index_name = '"
                    + p + "jobs_occurrence'"),
              "0");
  // Upper-case prefixes name the same tables.
  std::string upper;
  for (auto c : p)
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto same = unbox(mysql_store::open(server_url, upper));
  CHECK_EQUAL(same->table_prefix(), p);
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + p + "schema_version"), "3");
  // Migrations cut short after their DDL (recorded only at their end) run
  // again: the index and the table they meet are no error.
  count("DELETE FROM " + p + "schema_version WHERE version >= 2");
  require_ok(unbox(mysql_store::open(server_url, p))->migrate());
  CHECK_EQUAL(count("SELECT MAX(version) FROM " + p + "schema_version"), "3");
}

TEST(parallel opens of a fresh prefix all migrate it) {
  my_database fresh;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto s = fresh.open();
      if (!s) {
        MESSAGE("open failed: " << describe(s.error()));
        ++failures;
      } else if (auto err = (*s)->insert_jobs({make_job("x", t0)})) {
        MESSAGE("insert failed: " << describe(err));
        ++failures;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK_EQUAL(failures.load(), 0);
  CHECK_EQUAL(
    count("SELECT COUNT(*) FROM " + fresh.prefix() + "schema_version"), "3");
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + fresh.prefix() + "jobs"), "4");
}

TEST(a newer schema is refused) {
  count("INSERT INTO " + table("schema_version") + " VALUES (99, 0)");
  auto other = db.open();
  REQUIRE(!other);
  CHECK(code_of(other.error()) == ec::store_failure);
  CHECK(mentions(describe(other.error()), "newer"));
}

TEST(a row that does not decode is set aside) {
  auto good = make_job("good", t0 + 1s);
  auto bad = in_bucket(make_job("bad", t0), "b1");
  bad.data["k"] = std::string{"v"};
  require_ok(store->insert_jobs({good, bad}));
  auto where = " WHERE id = X'" + to_string(bad.id) + "'";
  where.erase(std::remove(where.begin(), where.end(), '-'), where.end());
  count("UPDATE " + table("jobs") + " SET data = X'deadbeef00112233445566'"
        + where);
  auto got = store->get_job(bad.id);
  REQUIRE(!got);
  CHECK(code_of(got.error()) == ec::malformed_message);
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  CHECK(unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 10, 1s))
          .empty());
  CHECK_EQUAL(count("SELECT status FROM " + table("jobs") + where), "7");
  auto notes = unbox(store->list_attempts(bad.id));
  REQUIRE_EQUAL(notes.size(), 1u);
  CHECK(mentions(notes[0].error, "could not be decoded"));
  count("UPDATE " + table("jobs") + " SET data = NULL, status = 77");
  auto counts = store->count_by_status();
  REQUIRE(!counts);
  CHECK(code_of(counts.error()) == ec::malformed_message);
}

TEST(errors name the backend and the operation) {
  count("DROP TABLE " + table("nodes"));
  auto res = store->list_nodes();
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  MESSAGE("error: " << describe(res.error()));
  CHECK(describe(res.error()).find("mysql: list_nodes: ") == 0);
  // A failed statement leaves the connection usable.
  require_ok(store->insert_jobs({make_job("a", t0)}));
  // Text that is not UTF-8 is refused (strict mode), not mangled.
  auto x = make_job("bad \xff\xfe utf-8", t0);
  auto err = store->insert_jobs({x});
  CHECK(code_of(err) == ec::store_failure);
  MESSAGE("error: " << describe(err));
  CHECK(!unbox(store->get_job(x.id)));
  // Quotes, backslashes and NUL bytes are data, not SQL.
  auto y = make_job(std::string{"it's a \\'; DROP TABLE x; -- \0 end", 33}, t0);
  y.lane = "\\";
  require_ok(store->insert_jobs({y}));
  auto z = unbox(store->get_job(y.id));
  REQUIRE(z);
  CHECK_EQUAL(z->handler, y.handler);
  CHECK_EQUAL(z->lane, "\\");
  // Text compares exactly: no case folding, as in the other stores.
  job_filter f;
  f.handler = "A";
  CHECK(unbox(store->list_jobs(f)).empty());
}

TEST(thousands of jobs go in as a few multi row statements) {
  std::vector<job> xs;
  for (int i = 0; i < 5000; ++i) {
    auto x = make_job("bulk", t0 + std::chrono::milliseconds{i});
    x.data["payload"] = std::string(100, 'x');
    xs.push_back(std::move(x));
  }
  raw_connection raw;
  auto before = std::stoll(raw.query("SELECT VARIABLE_VALUE FROM "
                                     "information_schema.global_status WHERE "
                                     "VARIABLE_NAME = 'COM_INSERT'"));
  require_ok(store->insert_jobs(xs));
  auto after = std::stoll(raw.query("SELECT VARIABLE_VALUE FROM "
                                    "information_schema.global_status WHERE "
                                    "VARIABLE_NAME = 'COM_INSERT'"));
  MESSAGE((after - before) << " INSERT statements for 5000 jobs");
  // Other tests may run on the same server: a loose upper bound.
  CHECK(after - before <= 20);
  CHECK_EQUAL(unbox(store->count_by_status())[job_status::held_on_master],
              5000u);
  // Again: all known, nothing changes.
  require_ok(store->insert_jobs(xs));
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + table("jobs")), "5000");
}

TEST(a killed connection fails one call and the next one reconnects) {
  std::vector<job> xs;
  for (int i = 0; i < 50; ++i)
    xs.push_back(in_bucket(make_job("j", t0 + std::chrono::seconds{i}), "b1"));
  require_ok(store->insert_jobs(xs));
  auto claimed
    = unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 10s, 5, 1s));
  REQUIRE_EQUAL(claimed.size(), 5u);
  auto old_id = store->connection_id();
  REQUIRE(old_id != 0);
  count("KILL CONNECTION " + std::to_string(old_id));
  auto lost = store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 5, 1s);
  REQUIRE(!lost);
  CHECK(code_of(lost.error()) == ec::store_failure);
  MESSAGE("first call after the kill: " << describe(lost.error()));
  CHECK_EQUAL(store->connection_id(), 0u);
  // The next call reconnects, sets the session up again and works.
  auto again
    = unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 10s, 100, 1s));
  CHECK_EQUAL(again.size(), 6u);
  CHECK(store->connection_id() != 0);
  CHECK(store->connection_id() != old_id);
  std::vector<job_write> ws;
  for (auto& x : claimed) {
    auto y = x;
    y.status = job_status::succeeded;
    ws.push_back(job_write{y, x.version, std::nullopt});
  }
  auto res = unbox(store->write_results(ws));
  CHECK(std::all_of(res.begin(), res.end(), [](bool b) { return b; }));
  // Nothing was lost: the failed claim changed nothing.
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts[job_status::succeeded], 5u);
  CHECK_EQUAL(counts[job_status::queued], 6u);
  CHECK_EQUAL(counts[job_status::assigned_to_bucket], 39u);
  for (auto& x : xs)
    CHECK(unbox(store->get_job(x.id)).has_value());
}

TEST(a lost connection inside a transaction rolls it back) {
  std::vector<job> xs;
  for (int i = 0; i < 3; ++i)
    xs.push_back(make_job("j", t0 + std::chrono::seconds{i}));
  require_ok(store->insert_jobs(xs));
  bucket_record bucket{"bk", "wk", "n1", priority::medium, ""};
  bool first = true;
  // The router runs inside the assignment's transaction: the connection
  // dies after the held jobs were locked and before they were placed.
  auto route = [&](const job&) -> const bucket_record* {
    if (first) {
      first = false;
      count("KILL CONNECTION " + std::to_string(store->connection_id()));
    }
    return &bucket;
  };
  auto res = store->assign_held_jobs(timestamp{}, t0 + 1h, 10, route);
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  MESSAGE("the transaction's error: " << describe(res.error()));
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts[job_status::held_on_master], 3u);
  CHECK_EQUAL(
    unbox(store->assign_held_jobs(timestamp{}, t0 + 1h, 10, route)).size(), 3u);
}

TEST(the overlap guard locks end with the claim) {
  // User locks belong to the session, not the transaction: one left behind
  // would block its schedule for every other claimer.
  auto other = unbox(db.open());
  auto s = uuid::random();
  auto a = in_bucket(make_job("tick", t0), "b1");
  a.recurring_schedule_id = s;
  a.skip_if_running = true;
  auto b = a;
  b.id = uuid::random();
  b.bucket_id = "b2";
  b.original_scheduled_at = t0 + 1s;
  require_ok(store->insert_jobs({a, b}));
  CHECK_EQUAL(
    unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 10, 1s)).size(),
    1u);
  auto hex = to_string(s);
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  CHECK_EQUAL(count("SELECT IS_USED_LOCK('" + db.prefix() + "ov_" + hex + "')"),
              "NULL");
  // The run of `a` is queued: `b` is skipped, without waiting.
  auto started = std::chrono::steady_clock::now();
  CHECK(unbox(other->claim_bucket_jobs("b2", std::nullopt, t0 + 1h, 10, 1s))
          .empty());
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(unbox(other->get_job(b.id))->status == job_status::cancelled);
}

TEST(reconnects back off while the server refuses) {
  // A user of its own, locked while the store is cut off, so that refusing
  // its connections disturbs nobody else.
  auto user = "jm_bo_" + to_string(uuid::random()).substr(0, 8);
  auto o = unbox(parse_connection_string(server_url));
  count("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw'");
  count("GRANT ALL ON `" + o.database + "`.* TO '" + user + "'@'%'");
  {
    my_database own{"mysql://" + user + ":pw@" + o.host + ":"
                    + std::to_string(o.port) + "/" + o.database};
    auto s = unbox(own.open());
    count("ALTER USER '" + user + "'@'%' ACCOUNT LOCK");
    count("KILL CONNECTION " + std::to_string(s->connection_id()));
    CHECK(!s->count_by_status()); // The loss.
    // Over 1.5 s of calls, only a handful try to connect: 100, 200, 400,
    // 800 ms apart.
    int attempts = 0;
    int refused = 0;
    auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until) {
      auto r = s->count_by_status();
      REQUIRE(!r);
      auto text = describe(r.error());
      if (mentions(text, "cannot connect"))
        ++attempts;
      else if (mentions(text, "next attempt in"))
        ++refused;
      else
        FAIL("unexpected error: " << text);
      std::this_thread::sleep_for(5ms);
    }
    MESSAGE(attempts << " connection attempts, " << refused
                     << " calls refused without one");
    CHECK(attempts >= 2);
    CHECK(attempts <= 5);
    CHECK(refused > attempts);
    count("ALTER USER '" + user + "'@'%' ACCOUNT UNLOCK");
    // Within the longest back-off (1 s) the store is back.
    auto deadline = std::chrono::steady_clock::now() + 3s;
    auto r = s->count_by_status();
    while (!r && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
      r = s->count_by_status();
    }
    CHECK(static_cast<bool>(r));
  }
  count("DROP USER '" + user + "'@'%'");
}

TEST(queue entries that do not decode are moved aside) {
  test::check_corrupt_entries_move_aside(
    *store,
    [&] {
      count("INSERT INTO " + db.prefix()
            + "agent_queue (bucket_id, job_id, pushed_at, payload) VALUES "
              "('b1', X'00000000000000000000000000000000', 0, "
              "X'DEADBEEF00112233445566')");
    },
    [&] {
      return std::stoi(count("SELECT COUNT(*) FROM " + db.prefix()
                             + "agent_queue WHERE bucket_id = '!corrupt'"));
    });
}

CAF_TEST_FIXTURE_SCOPE_END()
