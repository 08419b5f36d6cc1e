#define CAF_SUITE providers.sqlite_store
#include "tests/support/test.hpp"

#include "tests/providers/conformance.hpp"
#include "tests/providers/store_helpers.hpp"

#include "providers/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace jm;
using jm::sqlite::sqlite_store;
using jm::test::check_stored;
using jm::test::in_bucket;
using jm::test::make_job;
using jm::test::require_ok;
using jm::test::t0;
using jm::test::unbox;
using namespace std::chrono_literals;

namespace {

/// Runs one SQL statement on the file with a connection of its own.
void raw_exec(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE_EQUAL(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* msg = nullptr;
  auto rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
  std::string text = msg != nullptr ? msg : "";
  sqlite3_free(msg);
  sqlite3_close(db);
  if (rc != SQLITE_OK)
    FAIL("raw sqlite3 failed: " << text);
}

/// Runs one query returning one integer on the file.
int64_t raw_int(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE_EQUAL(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  auto rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
  int64_t result = -1;
  if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    result = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return result;
}

std::string hex(const job_id& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : id.bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

/// A fresh database file in a directory of its own.
class sqlite_database : public jm::test::store_database {
public:
  sqlite_database() {
    std::string tmpl
      = (std::filesystem::temp_directory_path() / "jm-sqlite-conf-XXXXXX")
          .string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed");
    dir_ = tmpl;
  }

  ~sqlite_database() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::filesystem::path& dir() const { return dir_; }

  std::string file() const { return (dir_ / "jobs.db").string(); }

  caf::expected<jm::test::store_connection> connect() override {
    auto s = sqlite_store::open(file());
    if (!s)
      return s.error();
    return jm::test::make_connection(std::move(*s));
  }

private:
  std::filesystem::path dir_;
};

struct fixture {
  sqlite_database db;
  std::filesystem::path dir = db.dir();
  std::string file = db.file();
  std::unique_ptr<sqlite_store> store = open();

  std::unique_ptr<sqlite_store> open() {
    return unbox(sqlite_store::open(file));
  }

  void insert(const std::vector<job>& xs) {
    require_ok(store->insert_jobs(xs));
  }

  job get(const job_id& id) {
    auto x = unbox(store->get_job(id));
    if (!x)
      CAF_FAIL("job " << to_string(id) << " not found");
    return std::move(*x);
  }
};

} // namespace

std::unique_ptr<jm::test::store_database> jm::test::make_database() {
  return std::make_unique<sqlite_database>();
}

CAF_TEST_FIXTURE_SCOPE(sqlite_store_tests, fixture)

TEST(migrate is idempotent) {
  require_ok(store->migrate());
  require_ok(store->migrate());
  auto other = open();
  require_ok(other->migrate());
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM schema_version"), 4);
  CHECK_EQUAL(raw_int(file, "SELECT MAX(version) FROM schema_version"), 4);
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM sqlite_master WHERE "
                            "name IN ('jm_jobs', 'jm_attempts', 'jm_nodes', "
                            "'jm_buckets', 'jm_schedules')"),
              5);
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM sqlite_master WHERE "
                            "type = 'index' AND name LIKE 'jm_jobs_%'"),
              7);
  // A store keeps working after another one migrated the file.
  insert({make_job("a", t0)});
  CHECK_EQUAL(unbox(other->list_jobs({})).size(), 1u);
}

TEST(parallel opens of a new file all migrate it) {
  auto fresh = (dir / "parallel.db").string();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto s = sqlite_store::open(fresh);
      if (!s || (*s)->insert_jobs({make_job("x", t0)}))
        ++failures;
    });
  for (auto& t : threads)
    t.join();
  CHECK_EQUAL(failures.load(), 0);
  CHECK_EQUAL(raw_int(fresh, "SELECT COUNT(*) FROM schema_version"), 4);
  CHECK_EQUAL(raw_int(fresh, "SELECT COUNT(*) FROM jm_jobs"), 4);
}

TEST(a newer schema is refused) {
  raw_exec(file, "INSERT INTO schema_version VALUES (99, 0)");
  auto other = sqlite_store::open(file);
  REQUIRE(!other);
  CHECK(code_of(other.error()) == ec::store_failure);
}

TEST(a corrupt row is malformed and set aside not a crash) {
  auto good = make_job("good", t0 + 1s);
  auto bad = in_bucket(make_job("bad", t0), "b1");
  bad.data["k"] = std::string{"v"};
  insert({good, bad});
  raw_exec(file, "UPDATE jm_jobs SET data = x'DEADBEEF00112233445566' "
                 "WHERE id = x'"
                   + hex(bad.id) + "'");
  auto got = store->get_job(bad.id);
  REQUIRE(!got);
  CHECK(code_of(got.error()) == ec::malformed_message);
  CHECK(describe(got.error()).find(to_string(bad.id)) != std::string::npos);
  MESSAGE("error: " << describe(got.error()));
  // A listing shows what decodes.
  auto listed = unbox(store->list_jobs({}));
  REQUIRE_EQUAL(listed.size(), 1u);
  CHECK(listed[0].id == good.id);
  // A claim sets the corrupt job aside instead of failing forever: it
  // becomes failed, with an attempt that says why.
  auto claimed
    = unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 10, 1s));
  CHECK(claimed.empty());
  CHECK_EQUAL(raw_int(file, "SELECT status FROM jm_jobs WHERE id = x'"
                              + hex(bad.id) + "'"),
              7);
  auto notes = unbox(store->list_attempts(bad.id));
  REQUIRE_EQUAL(notes.size(), 1u);
  CHECK(notes[0].outcome == attempt_outcome::failed);
  CHECK(notes[0].error.find("could not be decoded") != std::string::npos);
  CHECK(unbox(store->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 10, 1s))
          .empty());
  // Rows that are fine still read.
  check_stored(get(good.id), good);
  // Other kinds of damage.
  raw_exec(file, "UPDATE jm_jobs SET data = NULL, status = 77 WHERE id = x'"
                   + hex(bad.id) + "'");
  got = store->get_job(bad.id);
  REQUIRE(!got);
  CHECK(code_of(got.error()) == ec::malformed_message);
  auto counts = store->count_by_status();
  REQUIRE(!counts);
  CHECK(code_of(counts.error()) == ec::malformed_message);
  raw_exec(file, "UPDATE jm_jobs SET status = 2, priority = 'high' WHERE id "
                 "= x'"
                   + hex(bad.id) + "'");
  got = store->get_job(bad.id);
  REQUIRE(!got);
  CHECK(code_of(got.error()) == ec::malformed_message);
  raw_exec(file, "UPDATE jm_jobs SET priority = 3, recurring_schedule_id = "
                 "x'0102' WHERE id = x'"
                   + hex(bad.id) + "'");
  got = store->get_job(bad.id);
  REQUIRE(!got);
  CHECK(code_of(got.error()) == ec::malformed_message);
  raw_exec(file, "UPDATE jm_jobs SET recurring_schedule_id = NULL, id = x'01' "
                 "WHERE id = x'"
                   + hex(bad.id) + "'");
  // Even a row with a broken id does not hide the others from a listing.
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  raw_exec(file, "DELETE FROM jm_jobs WHERE id = x'01'");
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  // Attempts too.
  raw_exec(file, "INSERT INTO jm_attempts VALUES (x'" + hex(good.id)
                   + "', 1, 'w', 0, 0, 9, '')");
  auto attempts = store->list_attempts(good.id);
  REQUIRE(!attempts);
  CHECK(code_of(attempts.error()) == ec::malformed_message);
}

TEST(queue entries that do not decode are moved aside) {
  test::check_corrupt_entries_move_aside(
    *store,
    [&] {
      raw_exec(file, "INSERT INTO jm_agent_queue (bucket_id, job_id, "
                     "pushed_at, payload) VALUES ('b1', x'00', 0, "
                     "x'DEADBEEF00112233445566')");
    },
    [&] {
      return raw_int(file, "SELECT COUNT(*) FROM jm_agent_queue "
                           "WHERE bucket_id = '!corrupt'");
    });
}

TEST(store errors name the operation) {
  raw_exec(file, "DROP TABLE jm_nodes");
  auto res = store->list_nodes();
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  auto text = describe(res.error());
  MESSAGE("error: " << text);
  CHECK(text.find("sqlite: list_nodes: ") == 0);
  auto opened = sqlite_store::open((dir / "missing" / "x.db").string());
  REQUIRE(!opened);
  CHECK(code_of(opened.error()) == ec::store_failure);
}

CAF_TEST_FIXTURE_SCOPE_END()
