#define CAF_SUITE providers.postgres_store
#include "tests/support/test.hpp"

#include "tests/providers/conformance.hpp"
#include "tests/providers/store_helpers.hpp"

#include "providers/postgres/postgres_store.hpp"

#include <libpq-fe.h>

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
using jm::postgres::postgres_store;
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
  "JM_TEST_PG_URL", "jm-test-providers-postgres");

/// Runs SQL on a connection of its own; returns the first value, if any.
std::string raw_query(const std::string& conninfo, const std::string& sql) {
  auto* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    CAF_FAIL("raw connection failed: " << msg);
  }
  auto* res = PQexec(conn, sql.c_str());
  auto st = PQresultStatus(res);
  std::string value;
  if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0)
    value = PQgetvalue(res, 0, 0);
  std::string msg = PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
    CAF_FAIL("raw query failed: " << sql << ": " << msg);
  return value;
}

/// A prefix no other test uses: each test case gets tables of its own.
std::string fresh_prefix() {
  return "jm_t" + to_string(uuid::random()).substr(0, 8) + "_";
}

/// The tables of one prefix, dropped when destroyed.
class pg_database : public test::store_database {
public:
  explicit pg_database(std::string url = server_url)
    : url_(std::move(url)), prefix_(fresh_prefix()) {}

  ~pg_database() override {
    std::string tables;
    for (auto name : {"jobs", "attempts", "nodes", "buckets", "schedules",
                      "agent_queue", "schema_version"})
      tables += (tables.empty() ? "" : ", ") + prefix_ + name;
    raw_query(url_, "DROP TABLE IF EXISTS " + tables);
  }

  const std::string& prefix() const { return prefix_; }

  caf::expected<std::unique_ptr<postgres_store>> open() {
    return postgres_store::open(url_, prefix_);
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

/// The server URL rewritten in keyword form (`host=... port=...`).
std::string keyword_form(const std::string& url) {
  char* msg = nullptr;
  auto* opts = PQconninfoParse(url.c_str(), &msg);
  if (opts == nullptr) {
    PQfreemem(msg);
    CAF_FAIL("cannot parse " << url);
  }
  std::string out;
  for (auto* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0')
      out += std::string{o->keyword} + "='" + o->val + "' ";
  PQconninfoFree(opts);
  return out;
}

struct fixture {
  pg_database db;
  std::unique_ptr<postgres_store> store = unbox(db.open());

  std::string count(const std::string& sql) {
    return raw_query(server_url, sql);
  }
};

} // namespace

std::unique_ptr<test::store_database> test::make_database() {
  return std::make_unique<pg_database>();
}

CAF_TEST_FIXTURE_SCOPE(postgres_store_tests, fixture)

TEST(open accepts keyword and uri connection strings) {
  MESSAGE("server: " << server_url << ", prefix " << db.prefix());
  auto kw = keyword_form(server_url);
  auto other = unbox(postgres_store::open(kw, db.prefix()));
  require_ok(other->insert_jobs({make_job("a", t0)}));
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  CHECK(other->backend_pid() != store->backend_pid());
  CHECK_EQUAL(other->table_prefix(), db.prefix());
}

TEST(open reports bad configuration and unreachable servers) {
  auto bad = postgres_store::open("host=127.0.0.1 port", db.prefix());
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_config);
  MESSAGE("bad conninfo: " << describe(bad.error()));
  CHECK(describe(bad.error()).find("connection string") != std::string::npos);
  bad = postgres_store::open("postgresql://x@127.0.0.1/db?nosuchparam=1");
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_config);
  bad = postgres_store::open("nosuchkeyword=1");
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_config);
  for (auto prefix :
       {"jm-x_", "1jm_", "a_prefix_that_is_far_too_long_", "j m"}) {
    bad = postgres_store::open(server_url, prefix);
    REQUIRE(!bad);
    CHECK(code_of(bad.error()) == ec::invalid_config);
  }
  // Nothing listens on port 1.
  bad = postgres_store::open("host=127.0.0.1 port=1 dbname=x connect_timeout=5",
                             db.prefix());
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::store_failure);
  MESSAGE("unreachable: " << describe(bad.error()));
  CHECK(describe(bad.error()).find("postgres: open: ") == 0);
}

TEST(migrations are versioned and idempotent) {
  require_ok(store->migrate());
  auto p = db.prefix();
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + p + "schema_version"), "3");
  CHECK_EQUAL(count("SELECT MAX(version) FROM " + p + "schema_version"), "3");
  CHECK_EQUAL(
    count("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE '" + p + "%'"),
    "7");
  CHECK_EQUAL(count("SELECT COUNT(*) FROM pg_indexes WHERE indexname LIKE '" + p
                    + "jobs_%'"),
              "8"); // Seven and the primary key.
  CHECK_EQUAL(count("SELECT indexdef LIKE '%UNIQUE%WHERE%' FROM pg_indexes "
                    "WHERE indexname = '"
                    + p + "jobs_occurrence'"),
              "t");
  // Upper-case prefixes name the same tables.
  std::string upper;
  for (auto c : p)
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto same = unbox(postgres_store::open(server_url, upper));
  CHECK_EQUAL(same->table_prefix(), p);
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + p + "schema_version"), "3");
}

TEST(parallel opens of a fresh prefix all migrate it) {
  pg_database fresh;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto s = fresh.open();
      if (!s || (*s)->insert_jobs({make_job("x", t0)}))
        ++failures;
    });
  for (auto& t : threads)
    t.join();
  CHECK_EQUAL(failures.load(), 0);
  CHECK_EQUAL(
    count("SELECT COUNT(*) FROM " + fresh.prefix() + "schema_version"), "3");
  CHECK_EQUAL(count("SELECT COUNT(*) FROM " + fresh.prefix() + "jobs"), "4");
}

TEST(a newer schema is refused) {
  count("INSERT INTO " + db.prefix() + "schema_version VALUES (99, 0)");
  auto other = db.open();
  REQUIRE(!other);
  CHECK(code_of(other.error()) == ec::store_failure);
  CHECK(describe(other.error()).find("newer") != std::string::npos);
}

TEST(a row that does not decode is set aside) {
  auto good = make_job("good", t0 + 1s);
  auto bad = in_bucket(make_job("bad", t0), "b1");
  bad.data["k"] = std::string{"v"};
  require_ok(store->insert_jobs({good, bad}));
  count("UPDATE " + db.prefix()
        + "jobs SET data = '\\xdeadbeef00112233445566'::bytea WHERE id = '"
        + to_string(bad.id) + "'");
  auto got = store->get_job(bad.id);
  REQUIRE(!got);
  CHECK(code_of(got.error()) == ec::malformed_message);
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  CHECK(unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 10, 1s))
          .empty());
  CHECK_EQUAL(count("SELECT status FROM " + db.prefix() + "jobs WHERE id = '"
                    + to_string(bad.id) + "'"),
              "7");
  auto notes = unbox(store->list_attempts(bad.id));
  REQUIRE_EQUAL(notes.size(), 1u);
  CHECK(notes[0].error.find("could not be decoded") != std::string::npos);
  count("UPDATE " + db.prefix() + "jobs SET data = NULL, status = 77");
  auto counts = store->count_by_status();
  REQUIRE(!counts);
  CHECK(code_of(counts.error()) == ec::malformed_message);
}

TEST(errors name the backend and the operation) {
  count("DROP TABLE " + db.prefix() + "nodes");
  auto res = store->list_nodes();
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  MESSAGE("error: " << describe(res.error()));
  CHECK(describe(res.error()).find("postgres: list_nodes: ") == 0);
  // A failed statement leaves the connection usable.
  require_ok(store->insert_jobs({make_job("a", t0)}));
  // Text PostgreSQL cannot store is an error, not a crash.
  auto x = make_job(std::string{"nul\0byte", 8}, t0);
  auto err = store->insert_jobs({x});
  CHECK(code_of(err) == ec::store_failure);
  MESSAGE("error: " << describe(err));
}

TEST(a lost connection fails one call and the next one reconnects) {
  std::vector<job> xs;
  for (int i = 0; i < 50; ++i)
    xs.push_back(in_bucket(make_job("j", t0 + std::chrono::seconds{i}), "b1"));
  require_ok(store->insert_jobs(xs));
  // Statements are prepared on this connection before it breaks.
  auto claimed
    = unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 10s, 5, 1s));
  REQUIRE_EQUAL(claimed.size(), 5u);
  auto old_pid = store->backend_pid();
  REQUIRE(old_pid != 0);
  // Waits (up to 5 s) until the backend has exited.
  CHECK_EQUAL(
    count("SELECT pg_terminate_backend(" + std::to_string(old_pid) + ", 5000)"),
    "t");
  auto lost = store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 5, 1s);
  REQUIRE(!lost);
  CHECK(code_of(lost.error()) == ec::store_failure);
  MESSAGE("first call after the loss: " << describe(lost.error()));
  CHECK_EQUAL(store->backend_pid(), 0);
  // The next call reconnects, prepares again and works.
  auto again
    = unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 10s, 100, 1s));
  CHECK_EQUAL(again.size(), 6u);
  CHECK(store->backend_pid() != 0);
  CHECK(store->backend_pid() != old_pid);
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
  // The router runs inside the assignment's transaction: the backend dies
  // after the held jobs were locked and before they were placed.
  auto route = [&](const job&) -> const bucket_record* {
    if (first) {
      first = false;
      count("SELECT pg_terminate_backend("
            + std::to_string(store->backend_pid()) + ", 5000)");
    }
    return &bucket;
  };
  auto res = store->assign_held_jobs(timestamp{}, t0 + 1h, 10, route);
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts[job_status::held_on_master], 3u);
  CHECK_EQUAL(
    unbox(store->assign_held_jobs(timestamp{}, t0 + 1h, 10, route)).size(), 3u);
}

TEST(reconnects back off while the server refuses) {
  // A database of its own, so that refusing connections to it disturbs
  // nobody else.
  auto name = "jm_backoff_" + to_string(uuid::random()).substr(0, 8);
  count("CREATE DATABASE " + name);
  auto opts = keyword_form(server_url);
  auto pos = opts.find("dbname='");
  REQUIRE(pos != std::string::npos);
  auto end = opts.find('\'', pos + 8);
  opts.replace(pos, end - pos + 1, "dbname='" + name + "'");
  {
    pg_database own{opts};
    auto s = unbox(own.open());
    count("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false");
    count("SELECT pg_terminate_backend(" + std::to_string(s->backend_pid())
          + ", 5000)");
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
      if (text.find("cannot connect") != std::string::npos)
        ++attempts;
      else if (text.find("next attempt in") != std::string::npos)
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
    count("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
    // Within the longest back-off (1 s) the store is back.
    auto deadline = std::chrono::steady_clock::now() + 3s;
    caf::expected<std::map<job_status, uint64_t>> r = s->count_by_status();
    while (!r && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
      r = s->count_by_status();
    }
    CHECK(static_cast<bool>(r));
  }
  count("DROP DATABASE " + name + " WITH (FORCE)");
}

TEST(queue entries that do not decode are moved aside) {
  test::check_corrupt_entries_move_aside(
    *store,
    [&] {
      count("INSERT INTO " + db.prefix()
            + "agent_queue (bucket_id, job_id, pushed_at, payload) VALUES "
              "('b1', gen_random_uuid(), 0, '\\xdeadbeef00112233445566')");
    },
    [&] {
      return std::stoi(count("SELECT COUNT(*) FROM " + db.prefix()
                             + "agent_queue WHERE bucket_id = '!corrupt'"));
    });
}

CAF_TEST_FIXTURE_SCOPE_END()
