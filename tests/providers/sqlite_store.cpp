#define CAF_SUITE providers.sqlite_store
#include "tests/support/test.hpp"

#include "providers/sqlite/sqlite_store.hpp"

#include "messages/codec.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace jm;
using jm::sqlite::sqlite_store;
using jm::test::require_ok;
using jm::test::unbox;
using namespace std::chrono_literals;

namespace {

const timestamp t0 = from_micros(1'700'000'000'000'000);

std::string str(job_status x) {
  return std::string{to_string(x)};
}

std::string str(attempt_outcome x) {
  return std::string{to_string(x)};
}

job make_job(std::string handler, timestamp at,
             job_status status = job_status::held_on_master) {
  job x;
  x.id = uuid::random();
  x.handler = std::move(handler);
  x.status = status;
  x.original_scheduled_at = at;
  x.scheduled_at = at;
  x.created_at = t0 - 1s;
  x.timeout = 30s;
  x.version = 1;
  return x;
}

job in_bucket(job x, std::string bucket, std::string worker = "w1") {
  x.status = job_status::assigned_to_bucket;
  x.bucket_id = std::move(bucket);
  x.worker_id = std::move(worker);
  return x;
}

std::vector<job_id> ids_of(const std::vector<job>& xs) {
  std::vector<job_id> result;
  for (auto& x : xs)
    result.push_back(x.id);
  return result;
}

/// Field-by-field comparison with a message naming the first difference.
void check_same(const job& x, const job& y) {
  CHECK(x.id == y.id);
  CHECK_EQUAL(x.handler, y.handler);
  CHECK_EQUAL(str(x.status), str(y.status));
  CHECK(x.priority == y.priority);
  CHECK(x.source == y.source);
  CHECK_EQUAL(x.lane, y.lane);
  CHECK_EQUAL(to_micros(x.original_scheduled_at),
              to_micros(y.original_scheduled_at));
  CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(y.scheduled_at));
  CHECK_EQUAL(to_micros(x.created_at), to_micros(y.created_at));
  CHECK_EQUAL(x.timeout.count(), y.timeout.count());
  CHECK_EQUAL(x.max_retries, y.max_retries);
  CHECK_EQUAL(x.failure_count, y.failure_count);
  CHECK(x.data == y.data);
  CHECK(x.metadata == y.metadata);
  CHECK(x.recurring_schedule_id == y.recurring_schedule_id);
  CHECK_EQUAL(x.bucket_id, y.bucket_id);
  CHECK_EQUAL(x.worker_id, y.worker_id);
  CHECK(x.process_deadline == y.process_deadline);
  CHECK_EQUAL(x.version, y.version);
}

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

struct fixture {
  std::filesystem::path dir;
  std::string file;
  std::unique_ptr<sqlite_store> store;

  fixture() {
    std::string tmpl
      = (std::filesystem::temp_directory_path() / "jm-sqlite-test-XXXXXX")
          .string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed");
    dir = tmpl;
    file = (dir / "jobs.db").string();
    store = open();
  }

  ~fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

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

  void add_node(const std::string& node_id, timestamp lease,
                std::vector<std::string> buckets) {
    node_record n;
    n.node_id = node_id;
    n.host = "127.0.0.1";
    n.port = 4242;
    n.pid = 77;
    n.started_at = t0 - 1h;
    n.lease_expires_at = lease;
    require_ok(store->upsert_node(n));
    std::vector<bucket_record> bs;
    for (auto& b : buckets)
      bs.push_back(bucket_record{b, "w-" + b, node_id, priority::medium, ""});
    require_ok(store->upsert_buckets(bs));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(sqlite_store_tests, fixture)

TEST(migrate is idempotent) {
  require_ok(store->migrate());
  require_ok(store->migrate());
  auto other = open();
  require_ok(other->migrate());
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM schema_version"), 2);
  CHECK_EQUAL(raw_int(file, "SELECT MAX(version) FROM schema_version"), 2);
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM sqlite_master WHERE "
                            "name IN ('jm_jobs', 'jm_attempts', 'jm_nodes', "
                            "'jm_buckets', 'jm_schedules')"),
              5);
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM sqlite_master WHERE "
                            "type = 'index' AND name LIKE 'jm_jobs_%'"),
              6);
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
  CHECK_EQUAL(raw_int(fresh, "SELECT COUNT(*) FROM schema_version"), 2);
  CHECK_EQUAL(raw_int(fresh, "SELECT COUNT(*) FROM jm_jobs"), 4);
}

TEST(a newer schema is refused) {
  raw_exec(file, "INSERT INTO schema_version VALUES (99, 0)");
  auto other = sqlite_store::open(file);
  REQUIRE(!other);
  CHECK(code_of(other.error()) == ec::store_failure);
}

TEST(insert and get round trip every field) {
  auto x = make_job("send-mail", t0 + 5s);
  x.status = job_status::processing;
  x.priority = priority::critical;
  x.source = trigger_source::dynamic_recurring;
  x.lane = "emails";
  x.original_scheduled_at = t0 + 1s;
  x.created_at = t0 - 42us;
  x.timeout = 1500ms;
  x.max_retries = 7;
  x.failure_count = 3;
  x.data["s"] = std::string{"hello"};
  x.data["empty"] = std::string{};
  x.data["i"] = int64_t{-9'000'000'000};
  x.data["d"] = 2.5;
  x.data["b"] = true;
  x.data["t"] = t0 + 123us;
  x.data["raw"] = bytes{0x00, 0xFF, 0x10, 0x00};
  x.data["no-bytes"] = bytes{};
  x.data["u"] = uuid::random();
  x.metadata["trace"] = bytes{1, 2, 3};
  x.metadata["f"] = false;
  x.metadata["when"] = t0;
  x.metadata["n"] = int64_t{0};
  x.metadata["pi"] = 3.14159;
  x.metadata["id"] = uuid::random();
  x.metadata["name"] = std::string{"x"};
  x.recurring_schedule_id = uuid::random();
  x.bucket_id = "bucket-1";
  x.worker_id = "worker-1";
  x.process_deadline = t0 + 1min;
  x.version = 42;
  auto plain = make_job("plain", t0);
  insert({x, plain});
  auto y = get(x.id);
  check_same(y, x);
  REQUIRE(std::holds_alternative<bytes>(y.data["raw"]));
  CHECK(std::get<bytes>(y.data["raw"]) == (bytes{0x00, 0xFF, 0x10, 0x00}));
  CHECK(std::holds_alternative<timestamp>(y.data["t"]));
  auto p = get(plain.id);
  check_same(p, plain);
  CHECK(!p.recurring_schedule_id);
  CHECK(!p.process_deadline);
  CHECK(p.data.empty());
  // Unknown ids are not errors.
  auto none = unbox(store->get_job(uuid::random()));
  CHECK(!none);
  // Inserting nothing is fine.
  require_ok(store->insert_jobs({}));
}

TEST(invalid jobs are rejected before writing) {
  auto x = make_job("a", t0);
  x.status = static_cast<job_status>(42);
  auto err = store->insert_jobs({x});
  CHECK(code_of(err) == ec::invalid_argument);
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 0u);
}

TEST(duplicate insert is ignored) {
  auto x = make_job("first", t0);
  insert({x});
  auto dup = x;
  dup.handler = "second";
  dup.version = 9;
  auto other = make_job("other", t0);
  insert({dup, other});
  auto y = get(x.id);
  CHECK_EQUAL(y.handler, "first");
  CHECK_EQUAL(y.version, 1);
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 2u);
}

TEST(list_jobs filters and orders) {
  auto a = make_job("mail", t0 + 3s);
  auto b = make_job("mail", t0 + 1s, job_status::succeeded);
  auto c = make_job("sms", t0 + 2s);
  c.lane = "fast";
  auto d = make_job("mail", t0 + 2s);
  d.lane = "fast";
  // Same due time as d: the id breaks the tie.
  auto e = make_job("mail", t0 + 2s, job_status::failed);
  insert({a, b, c, d, e});
  auto all = unbox(store->list_jobs({}));
  REQUIRE_EQUAL(all.size(), 5u);
  for (size_t i = 1; i < all.size(); ++i) {
    CHECK(all[i - 1].scheduled_at <= all[i].scheduled_at);
    if (all[i - 1].scheduled_at == all[i].scheduled_at)
      CHECK(all[i - 1].id < all[i].id);
  }
  CHECK(all.front().id == b.id);
  CHECK(all.back().id == a.id);
  job_filter f;
  f.statuses = {job_status::held_on_master};
  auto held = unbox(store->list_jobs(f));
  CHECK_EQUAL(held.size(), 3u);
  f.statuses
    = {job_status::succeeded, job_status::failed, job_status::succeeded};
  auto finished = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(finished.size(), 2u);
  CHECK(finished[0].id == b.id);
  CHECK(finished[1].id == e.id);
  f = job_filter{};
  f.handler = "mail";
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 4u);
  f.lane = "fast";
  auto mail_fast = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(mail_fast.size(), 1u);
  CHECK(mail_fast[0].id == d.id);
  f = job_filter{};
  f.lane = "fast";
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 2u);
  f = job_filter{};
  f.limit = 2;
  auto first_two = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(first_two.size(), 2u);
  CHECK(first_two[0].id == b.id);
  f = job_filter{};
  f.scheduled_from = t0 + 2s;
  f.scheduled_to = t0 + 2s;
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 3u);
  f.scheduled_to = std::nullopt;
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 4u);
  f.statuses = {job_status::cancelled};
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 0u);
  f = job_filter{};
  f.statuses = {static_cast<job_status>(0)};
  auto bad = store->list_jobs(f);
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_argument);
}

TEST(count_by_status counts) {
  insert({make_job("a", t0), make_job("a", t0),
          make_job("a", t0, job_status::succeeded)});
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts.size(), 2u);
  CHECK_EQUAL(counts[job_status::held_on_master], 2u);
  CHECK_EQUAL(counts[job_status::succeeded], 1u);
}

TEST(write_jobs is fenced by version) {
  auto x = make_job("a", t0);
  auto y = make_job("b", t0);
  insert({x, y});
  auto x2 = x;
  x2.status = job_status::assigned_to_bucket;
  x2.bucket_id = "b1";
  x2.data["k"] = int64_t{5};
  x2.version = 1000; // Ignored: the store writes expected + 1.
  auto stale = y;
  stale.handler = "zombie";
  attempt a;
  a.worker_id = "w";
  a.started_at = t0;
  a.ended_at = t0 + 1s;
  a.outcome = attempt_outcome::succeeded;
  auto unknown = make_job("ghost", t0);
  auto res = unbox(
    store->write_jobs({job_write{x2, 1, std::nullopt}, job_write{stale, 0, a},
                       job_write{unknown, 1, a}}));
  REQUIRE_EQUAL(res.size(), 3u);
  CHECK(res[0]);
  CHECK(!res[1]);
  CHECK(!res[2]);
  auto got = get(x.id);
  CHECK_EQUAL(got.version, 2);
  CHECK_EQUAL(str(got.status), "assigned_to_bucket");
  CHECK_EQUAL(got.bucket_id, "b1");
  CHECK(got.data == x2.data);
  CHECK_EQUAL(get(y.id).handler, "b");
  CHECK_EQUAL(get(y.id).version, 1);
  CHECK(unbox(store->list_attempts(y.id)).empty());
  CHECK(!unbox(store->get_job(unknown.id)));
  // The old version is stale now; the new one applies.
  auto again = unbox(store->write_jobs({job_write{x2, 1, a}}));
  CHECK(!again.at(0));
  CHECK(unbox(store->list_attempts(x.id)).empty());
  again = unbox(store->write_results({job_write{x2, 2, a}}));
  CHECK(again.at(0));
  CHECK_EQUAL(get(x.id).version, 3);
  CHECK_EQUAL(unbox(store->list_attempts(x.id)).size(), 1u);
  CHECK(unbox(store->write_jobs({})).empty());
}

TEST(attempts are numbered from one) {
  auto x = make_job("a", t0);
  auto other = make_job("b", t0);
  insert({x, other});
  int64_t version = 1;
  for (int i = 0; i < 3; ++i) {
    attempt a;
    a.job = uuid::random(); // Ignored: the write's job id counts.
    a.number = 99;          // Ignored: the store numbers attempts.
    a.worker_id = "w" + std::to_string(i);
    a.started_at = t0 + std::chrono::seconds{i};
    a.ended_at = a.started_at + 1s;
    a.outcome = i < 2 ? attempt_outcome::failed : attempt_outcome::succeeded;
    a.error = i < 2 ? "boom " + std::to_string(i) : "";
    auto res = unbox(store->write_jobs({job_write{x, version, a}}));
    REQUIRE(res.at(0));
    ++version;
  }
  attempt o;
  o.outcome = attempt_outcome::timed_out;
  REQUIRE(unbox(store->write_jobs({job_write{other, 1, o}})).at(0));
  auto xs = unbox(store->list_attempts(x.id));
  REQUIRE_EQUAL(xs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    CHECK_EQUAL(xs[i].number, i + 1);
    CHECK(xs[i].job == x.id);
    CHECK_EQUAL(xs[i].worker_id, "w" + std::to_string(i));
    CHECK_EQUAL(to_micros(xs[i].started_at),
                to_micros(t0 + std::chrono::seconds{i}));
    CHECK_EQUAL(to_micros(xs[i].ended_at),
                to_micros(t0 + std::chrono::seconds{i + 1}));
  }
  CHECK_EQUAL(str(xs[0].outcome), "failed");
  CHECK_EQUAL(xs[1].error, "boom 1");
  CHECK_EQUAL(str(xs[2].outcome), "succeeded");
  auto os = unbox(store->list_attempts(other.id));
  REQUIRE_EQUAL(os.size(), 1u);
  CHECK_EQUAL(os[0].number, 1);
  CHECK_EQUAL(str(os[0].outcome), "timed_out");
}

TEST(assign_held_jobs honours horizon limit and routing) {
  auto a = make_job("a", t0 + 1s);
  auto b = make_job("b", t0 + 2s);
  auto c = make_job("skip", t0 + 3s);
  auto d = make_job("d", t0 + 4s);
  // Left over from an earlier placement: cleared on assignment.
  d.process_deadline = t0 - 1h;
  auto late = make_job("late", t0 + 1h);
  auto done = make_job("done", t0, job_status::succeeded);
  insert({a, b, c, d, late, done});
  bucket_record bucket{"bk", "wk", "n1", priority::medium, ""};
  int calls = 0;
  auto route = [&](const job& x) -> const bucket_record* {
    ++calls;
    return x.handler == "skip" ? nullptr : &bucket;
  };
  auto first = unbox(store->assign_held_jobs(t0 + 3s, 2, route));
  CHECK_EQUAL(calls, 2);
  REQUIRE_EQUAL(first.size(), 2u);
  CHECK(first[0].id == a.id);
  CHECK(first[1].id == b.id);
  CHECK_EQUAL(str(first[0].status), "assigned_to_bucket");
  CHECK_EQUAL(first[0].bucket_id, "bk");
  CHECK_EQUAL(first[0].worker_id, "wk");
  CHECK_EQUAL(first[0].version, 2);
  check_same(get(a.id), first[0]);
  // c is due but routed nowhere: it stays held; d is past the horizon.
  auto second = unbox(store->assign_held_jobs(t0 + 3s, 10, route));
  CHECK(second.empty());
  CHECK_EQUAL(str(get(c.id).status), "held_on_master");
  CHECK_EQUAL(get(c.id).version, 1);
  auto third = unbox(store->assign_held_jobs(t0 + 10s, 10, route));
  REQUIRE_EQUAL(third.size(), 1u);
  CHECK(third[0].id == d.id);
  CHECK(!third[0].process_deadline);
  check_same(get(d.id), third[0]);
  CHECK_EQUAL(unbox(store->sweep_deadlines(t0 + 1h)), 0u);
  // No router at all leaves everything held.
  auto fourth = unbox(store->assign_held_jobs(t0 + 2h, 10, nullptr));
  CHECK(fourth.empty());
  CHECK_EQUAL(str(get(late.id).status), "held_on_master");
  CHECK(unbox(store->assign_held_jobs(t0 + 2h, 0, route)).empty());
}

TEST(a throwing router is an error not an exception) {
  insert({make_job("a", t0)});
  auto route = [](const job&) -> const bucket_record* {
    throw std::runtime_error("router broke");
  };
  auto res = store->assign_held_jobs(t0 + 1s, 10, route);
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  // The transaction rolled back and the store still works.
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 1u);
  insert({make_job("b", t0)});
}

TEST(claim_bucket_jobs honours bucket due time and limit) {
  auto a = in_bucket(make_job("a", t0 + 1s), "b1");
  a.timeout = 10s;
  auto b = in_bucket(make_job("b", t0 + 2s), "b1");
  auto c = in_bucket(make_job("c", t0 + 3s), "b1");
  auto future = in_bucket(make_job("f", t0 + 1h), "b1");
  auto other = in_bucket(make_job("o", t0), "b2");
  auto held = make_job("h", t0);
  insert({c, b, a, future, other, held});
  auto first = unbox(store->claim_bucket_jobs("b1", t0 + 5s, 2, 3s));
  REQUIRE_EQUAL(first.size(), 2u);
  CHECK(first[0].id == a.id);
  CHECK(first[1].id == b.id);
  CHECK_EQUAL(str(first[0].status), "queued");
  CHECK_EQUAL(first[0].version, 2);
  REQUIRE(first[0].process_deadline);
  CHECK_EQUAL(to_micros(*first[0].process_deadline),
              to_micros(t0 + 5s + 10s + 3s));
  REQUIRE(first[1].process_deadline);
  CHECK_EQUAL(to_micros(*first[1].process_deadline),
              to_micros(t0 + 5s + 30s + 3s));
  check_same(get(a.id), first[0]);
  auto second = unbox(store->claim_bucket_jobs("b1", t0 + 5s, 10, 3s));
  REQUIRE_EQUAL(second.size(), 1u);
  CHECK(second[0].id == c.id);
  CHECK(unbox(store->claim_bucket_jobs("b1", t0 + 5s, 10, 3s)).empty());
  CHECK_EQUAL(str(get(future.id).status), "assigned_to_bucket");
  CHECK_EQUAL(str(get(other.id).status), "assigned_to_bucket");
  CHECK_EQUAL(str(get(held.id).status), "held_on_master");
  CHECK(unbox(store->claim_bucket_jobs("b1", t0 + 2h, 0, 3s)).empty());
  auto last = unbox(store->claim_bucket_jobs("b1", t0 + 2h, 10, 3s));
  CHECK_EQUAL(last.size(), 1u);
}

TEST(claim deadlines saturate instead of overflowing) {
  auto forever = in_bucket(make_job("forever", t0), "b1");
  forever.timeout = duration::max();
  auto negative = in_bucket(make_job("negative", t0), "b1");
  negative.timeout = -5s;
  insert({forever, negative});
  auto got = unbox(store->claim_bucket_jobs("b1", t0 + 1s, 10, 2s));
  REQUIRE_EQUAL(got.size(), 2u);
  REQUIRE(got[0].process_deadline && got[1].process_deadline);
  auto x = get(forever.id);
  REQUIRE(x.process_deadline);
  CHECK_EQUAL(to_micros(*x.process_deadline),
              std::numeric_limits<int64_t>::max());
  auto y = get(negative.id);
  REQUIRE(y.process_deadline);
  CHECK_EQUAL(to_micros(*y.process_deadline), to_micros(t0 + 3s));
  // Sweeping far in the future is fine as well.
  CHECK_EQUAL(unbox(store->sweep_deadlines(timestamp::max())), 1u);
}

TEST(concurrent claims from two connections never overlap) {
  constexpr int n = 3000;
  std::vector<job> xs;
  for (int i = 0; i < n; ++i)
    xs.push_back(
      in_bucket(make_job("j", t0 + std::chrono::milliseconds{i}), "shared"));
  insert(xs);
  auto claimer = [this](std::vector<job_id>& out, std::string& error) {
    auto s = sqlite_store::open(file);
    if (!s) {
      error = describe(s.error());
      return;
    }
    for (;;) {
      auto got = (*s)->claim_bucket_jobs("shared", t0 + 1h, 7, 1s);
      if (!got) {
        error = describe(got.error());
        return;
      }
      if (got->empty())
        return;
      for (auto& x : *got)
        out.push_back(x.id);
    }
  };
  std::vector<job_id> out1;
  std::vector<job_id> out2;
  std::string err1;
  std::string err2;
  std::thread t1{[&] { claimer(out1, err1); }};
  std::thread t2{[&] { claimer(out2, err2); }};
  t1.join();
  t2.join();
  CHECK_EQUAL(err1, "");
  CHECK_EQUAL(err2, "");
  MESSAGE("thread 1 claimed " << out1.size() << ", thread 2 claimed "
                              << out2.size());
  std::set<job_id> all{out1.begin(), out1.end()};
  all.insert(out2.begin(), out2.end());
  CHECK_EQUAL(out1.size() + out2.size(), static_cast<size_t>(n));
  CHECK_EQUAL(all.size(), static_cast<size_t>(n));
  auto expected = ids_of(xs);
  CHECK(std::set<job_id>(expected.begin(), expected.end()) == all);
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts[job_status::queued], static_cast<uint64_t>(n));
}

TEST(nodes and live buckets) {
  add_node("alive", t0 + 10s, {"a1", "a2"});
  add_node("dead", t0 - 1s, {"d1"});
  auto nodes = unbox(store->list_nodes());
  REQUIRE_EQUAL(nodes.size(), 2u);
  CHECK_EQUAL(nodes[0].node_id, "alive");
  CHECK_EQUAL(nodes[0].host, "127.0.0.1");
  CHECK_EQUAL(nodes[0].port, 4242);
  CHECK_EQUAL(nodes[0].pid, 77);
  CHECK_EQUAL(to_micros(nodes[0].started_at), to_micros(t0 - 1h));
  CHECK_EQUAL(to_micros(nodes[0].lease_expires_at), to_micros(t0 + 10s));
  auto live = unbox(store->live_buckets(t0));
  REQUIRE_EQUAL(live.size(), 2u);
  CHECK_EQUAL(live[0].bucket_id, "a1");
  CHECK_EQUAL(live[0].worker_id, "w-a1");
  CHECK_EQUAL(live[0].node_id, "alive");
  CHECK(live[0].priority == priority::medium);
  CHECK_EQUAL(live[1].bucket_id, "a2");
  // Re-registering updates in place.
  require_ok(store->upsert_buckets(
    {bucket_record{"a1", "w9", "alive", priority::high, "lane-x"}}));
  live = unbox(store->live_buckets(t0));
  REQUIRE_EQUAL(live.size(), 2u);
  CHECK_EQUAL(live[0].worker_id, "w9");
  CHECK(live[0].priority == priority::high);
  CHECK_EQUAL(live[0].lane, "lane-x");
  // Renewing brings the dead node back to life.
  CHECK(unbox(store->renew_node("dead", t0 + 20s)));
  CHECK_EQUAL(unbox(store->live_buckets(t0)).size(), 3u);
  // Once the lease lies in the past, the buckets are not live.
  CHECK_EQUAL(unbox(store->live_buckets(t0 + 15s)).size(), 1u);
  CHECK_EQUAL(unbox(store->live_buckets(t0 + 1h)).size(), 0u);
  // Graceful leave.
  require_ok(store->remove_node("alive"));
  CHECK_EQUAL(unbox(store->list_nodes()).size(), 1u);
  CHECK_EQUAL(unbox(store->live_buckets(t0)).size(), 1u);
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM jm_buckets"), 1);
  CHECK(!unbox(store->renew_node("alive", t0 + 1h)));
  // upsert_node refreshes.
  node_record n;
  n.node_id = "dead";
  n.host = "h2";
  n.port = 1;
  n.lease_expires_at = t0 + 5s;
  require_ok(store->upsert_node(n));
  nodes = unbox(store->list_nodes());
  REQUIRE_EQUAL(nodes.size(), 1u);
  CHECK_EQUAL(nodes[0].host, "h2");
  CHECK_EQUAL(nodes[0].port, 1);
}

TEST(rescue_dead_nodes returns live jobs to held) {
  add_node("alive", t0 + 10s, {"a1"});
  add_node("dead", t0 - 1s, {"d1", "d2"});
  auto assigned = in_bucket(make_job("assigned", t0 + 1s), "d1");
  auto queued = in_bucket(make_job("queued", t0 + 2s), "d1");
  queued.status = job_status::queued;
  queued.process_deadline = t0 + 1min;
  auto processing = in_bucket(make_job("processing", t0 + 3s), "d2", "wp");
  processing.status = job_status::processing;
  processing.process_deadline = t0 + 1min;
  processing.failure_count = 1;
  auto finished = in_bucket(make_job("finished", t0), "d1");
  finished.status = job_status::succeeded;
  auto safe = in_bucket(make_job("safe", t0), "a1");
  insert({assigned, queued, processing, finished, safe});
  // An earlier attempt exists: the lost one is number 2.
  attempt first;
  first.outcome = attempt_outcome::failed;
  REQUIRE(unbox(store->write_jobs({job_write{processing, 1, first}})).at(0));
  processing.version = 2;
  auto rescued = unbox(store->rescue_dead_nodes(t0));
  REQUIRE_EQUAL(rescued.size(), 3u);
  CHECK(rescued[0].id == assigned.id);
  CHECK(rescued[1].id == queued.id);
  CHECK(rescued[2].id == processing.id);
  for (auto& x : rescued) {
    CHECK_EQUAL(str(x.status), "held_on_master");
    CHECK_EQUAL(x.bucket_id, "");
    CHECK_EQUAL(x.worker_id, "");
    CHECK(!x.process_deadline);
    check_same(get(x.id), x);
  }
  CHECK_EQUAL(rescued[0].version, 2);
  CHECK_EQUAL(rescued[2].version, 3);
  CHECK_EQUAL(rescued[2].failure_count, 1);
  auto attempts = unbox(store->list_attempts(processing.id));
  REQUIRE_EQUAL(attempts.size(), 2u);
  CHECK_EQUAL(attempts[1].number, 2);
  CHECK_EQUAL(str(attempts[1].outcome), "lost");
  CHECK_EQUAL(attempts[1].worker_id, "wp");
  CHECK(attempts[1].error.find("dead") != std::string::npos);
  CHECK(unbox(store->list_attempts(queued.id)).empty());
  CHECK(unbox(store->list_attempts(assigned.id)).empty());
  // Final jobs and the live node's jobs stay as they were.
  check_same(get(finished.id), finished);
  check_same(get(safe.id), safe);
  // The dead node and its buckets are gone; the live one is not.
  auto nodes = unbox(store->list_nodes());
  REQUIRE_EQUAL(nodes.size(), 1u);
  CHECK_EQUAL(nodes[0].node_id, "alive");
  CHECK_EQUAL(raw_int(file, "SELECT COUNT(*) FROM jm_buckets"), 1);
  CHECK(!unbox(store->renew_node("dead", t0 + 1h)));
  // Nothing more to rescue.
  CHECK(unbox(store->rescue_dead_nodes(t0)).empty());
  // A dead node without jobs is removed all the same.
  add_node("idle", t0 - 1s, {"i1"});
  CHECK(unbox(store->rescue_dead_nodes(t0)).empty());
  CHECK_EQUAL(unbox(store->list_nodes()).size(), 1u);
}

TEST(sweep_deadlines returns overdue placed jobs to held) {
  auto overdue = in_bucket(make_job("overdue", t0), "b1");
  overdue.status = job_status::processing;
  overdue.process_deadline = t0 - 1s;
  overdue.failure_count = 2;
  auto queued = in_bucket(make_job("queued", t0), "b1");
  queued.status = job_status::queued;
  queued.process_deadline = t0 - 1us;
  auto in_time = in_bucket(make_job("in-time", t0), "b1");
  in_time.status = job_status::processing;
  in_time.process_deadline = t0 + 1s;
  auto finished = in_bucket(make_job("finished", t0), "b1");
  finished.status = job_status::failed;
  finished.process_deadline = t0 - 1h;
  auto exact = in_bucket(make_job("exact", t0), "b1");
  exact.status = job_status::queued;
  exact.process_deadline = t0;
  insert({overdue, queued, in_time, finished, exact});
  CHECK_EQUAL(unbox(store->sweep_deadlines(t0)), 2u);
  auto x = get(overdue.id);
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(x.failure_count, 2);
  CHECK_EQUAL(x.bucket_id, "");
  CHECK_EQUAL(x.worker_id, "");
  CHECK(!x.process_deadline);
  CHECK_EQUAL(x.version, 2);
  CHECK_EQUAL(str(get(queued.id).status), "held_on_master");
  check_same(get(in_time.id), in_time);
  check_same(get(finished.id), finished);
  check_same(get(exact.id), exact);
  CHECK_EQUAL(unbox(store->sweep_deadlines(t0)), 0u);
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
  auto claimed = unbox(store->claim_bucket_jobs("b1", t0 + 1h, 10, 1s));
  CHECK(claimed.empty());
  CHECK_EQUAL(raw_int(file, "SELECT status FROM jm_jobs WHERE id = x'"
                              + hex(bad.id) + "'"),
              7);
  auto notes = unbox(store->list_attempts(bad.id));
  REQUIRE_EQUAL(notes.size(), 1u);
  CHECK(notes[0].outcome == attempt_outcome::failed);
  CHECK(notes[0].error.find("could not be decoded") != std::string::npos);
  CHECK(unbox(store->claim_bucket_jobs("b1", t0 + 1h, 10, 1s)).empty());
  // Rows that are fine still read.
  check_same(get(good.id), good);
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

TEST(the hot path in batches of 250 runs every job once) {
  // Insert (as assigned), claim, write result with an attempt; batches of
  // 250 as the actors use them.
  constexpr int total = 10000;
  constexpr int batch = 250;
  std::vector<job> xs;
  for (int i = 0; i < total; ++i) {
    auto x = in_bucket(make_job("bench", t0 + std::chrono::microseconds{i}),
                       "bench");
    x.data["n"] = int64_t{i};
    x.data["payload"] = std::string(64, 'x');
    xs.push_back(std::move(x));
  }
  for (int i = 0; i < total; i += batch)
    require_ok(store->insert_jobs(
      std::vector<job>(xs.begin() + i, xs.begin() + i + batch)));
  std::vector<job> claimed;
  for (;;) {
    auto got = unbox(store->claim_bucket_jobs("bench", t0 + 1h, batch, 1s));
    if (got.empty())
      break;
    claimed.insert(claimed.end(), got.begin(), got.end());
  }
  REQUIRE_EQUAL(claimed.size(), static_cast<size_t>(total));
  for (int i = 0; i < total; i += batch) {
    std::vector<job_write> ws;
    for (int j = i; j < i + batch; ++j) {
      auto x = claimed[j];
      x.status = job_status::succeeded;
      attempt a;
      a.worker_id = "w";
      a.started_at = t0;
      a.ended_at = t0 + 1ms;
      auto expected = x.version;
      ws.push_back(job_write{std::move(x), expected, a});
    }
    auto res = unbox(store->write_results(ws));
    CHECK(std::all_of(res.begin(), res.end(), [](bool b) { return b; }));
  }
  // Rates are measured by `jobmaster bench`, not asserted here: timing
  // assertions in unit tests fail on a loaded machine for no fault.
  CHECK_EQUAL(unbox(store->count_by_status())[job_status::succeeded],
              static_cast<uint64_t>(total));
}

CAF_TEST_FIXTURE_SCOPE_END()
