#define CAF_SUITE providers.conformance
#include "tests/support/test.hpp"

#include "tests/providers/conformance.hpp"
#include "tests/providers/store_helpers.hpp"
#include "tests/support/sync.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace jm;
using jm::test::check_stored;
using jm::test::in_bucket;
using jm::test::make_job;
using jm::test::require_ok;
using jm::test::store_connection;
using jm::test::str;
using jm::test::t0;
using jm::test::unbox;
using namespace std::chrono_literals;

namespace {

/// An occurrence of `sched` due at `at`, placed in `bucket`.
job occurrence(const schedule_id& sched, timestamp at, std::string bucket,
               bool skip_if_running = true) {
  auto x = in_bucket(make_job("tick", at), std::move(bucket));
  x.source = trigger_source::dynamic_recurring;
  x.recurring_schedule_id = sched;
  x.skip_if_running = skip_if_running;
  return x;
}

std::set<job_id> id_set(const std::vector<job>& xs) {
  std::set<job_id> result;
  for (auto& x : xs)
    result.insert(x.id);
  return result;
}

recurring_schedule make_schedule(std::string handler, timestamp created,
                                 std::string static_name = "") {
  recurring_schedule x;
  x.id = uuid::random();
  x.spec.handler = std::move(handler);
  x.spec.expression = "every minute";
  x.spec.static_name = std::move(static_name);
  x.status = schedule_status::active;
  x.created_at = created;
  x.cursor = created;
  x.planned_until = created;
  x.version = 1;
  return x;
}

void check_stored(const recurring_schedule& x, const recurring_schedule& y) {
  CHECK_EQUAL(to_string(x.id), to_string(y.id));
  auto& a = x.spec;
  auto& b = y.spec;
  CHECK_EQUAL(a.handler, b.handler);
  CHECK_EQUAL(a.expression_type, b.expression_type);
  CHECK_EQUAL(a.expression, b.expression);
  CHECK_EQUAL(a.time_zone, b.time_zone);
  CHECK(a.data == b.data);
  CHECK(a.metadata == b.metadata);
  CHECK(a.priority == b.priority);
  CHECK(a.lane == b.lane);
  CHECK(a.timeout == b.timeout);
  CHECK(a.max_retries == b.max_retries);
  CHECK(a.start_after == b.start_after);
  CHECK(a.end_before == b.end_before);
  CHECK(a.catch_up == b.catch_up);
  CHECK_EQUAL(a.catch_up_limit, b.catch_up_limit);
  CHECK(a.overlap == b.overlap);
  CHECK_EQUAL(a.static_name, b.static_name);
  CHECK_EQUAL(str(x.status), str(y.status));
  CHECK_EQUAL(to_micros(x.created_at), to_micros(y.created_at));
  CHECK(x.terminated_at == y.terminated_at);
  CHECK_EQUAL(to_micros(x.cursor), to_micros(y.cursor));
  CHECK_EQUAL(to_micros(x.planned_until), to_micros(y.planned_until));
  CHECK(x.ensured_at == y.ensured_at);
  CHECK_EQUAL(x.version, y.version);
}

/// Checks that a job is back on the master: held, placement cleared.
void check_held(const job& x) {
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(x.bucket_id, "");
  CHECK_EQUAL(x.worker_id, "");
  CHECK(!x.process_deadline);
}

attempt make_attempt(attempt_outcome outcome, std::string worker = "w") {
  attempt a;
  a.worker_id = std::move(worker);
  a.started_at = t0;
  a.ended_at = t0 + 1ms;
  a.outcome = outcome;
  return a;
}

/// Runs `f(i)` on `n` threads that start together; returns when all ended.
template <class F>
void run_together(int n, F f) {
  test::gate start;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&start, &f, i] {
      start.wait();
      f(i);
    });
  start.open();
  for (auto& t : threads)
    t.join();
}

struct fixture {
  std::unique_ptr<test::store_database> db;
  store_connection conn;
  master_store* store = nullptr;
  agent_store* agent = nullptr;
  agent_queue* queue = nullptr;

  fixture() : db(test::make_database()) {
    conn = connect();
    store = conn.master;
    agent = conn.agent;
    queue = conn.queue;
  }

  ~fixture() {
    conn = store_connection{};
    db.reset();
  }

  store_connection connect() { return unbox(db->connect()); }

  void insert(const std::vector<job>& xs) {
    require_ok(store->insert_jobs(xs));
  }

  job get(const job_id& id) {
    auto x = unbox(store->get_job(id));
    if (!x)
      CAF_FAIL("job " << to_string(id) << " not found");
    return std::move(*x);
  }

  bool exists(const job_id& id) {
    return unbox(store->get_job(id)).has_value();
  }

  recurring_schedule get(const schedule_id& id, int) {
    auto x = unbox(store->get_schedule(id));
    if (!x)
      CAF_FAIL("schedule " << to_string(id) << " not found");
    return std::move(*x);
  }

  /// Writes `x` with its current version as the fence; returns the new state.
  job write(job x, std::optional<attempt> a = std::nullopt) {
    auto expected = x.version;
    auto res = unbox(store->write_jobs({job_write{x, expected, a}}));
    REQUIRE(res.at(0));
    x.version = expected + 1;
    return x;
  }

  /// Each of `claimers` connections calls `claim(agent, i)` until it gets
  /// nothing; then every job of `xs` must have been claimed exactly once.
  template <class Claim>
  void claim_all_together(const std::vector<job>& xs, int claimers,
                          Claim claim) {
    std::vector<store_connection> conns;
    for (int i = 0; i < claimers; ++i)
      conns.push_back(connect());
    std::vector<std::vector<job_id>> out(claimers);
    std::vector<std::string> errors(claimers);
    run_together(claimers, [&](int i) {
      for (;;) {
        auto got = claim(*conns[i].agent, i);
        if (!got) {
          errors[i] = describe(got.error());
          return;
        }
        if (got->empty())
          return;
        for (auto& x : *got)
          out[i].push_back(x.id);
      }
    });
    std::set<job_id> all;
    size_t total = 0;
    for (int i = 0; i < claimers; ++i) {
      CHECK_EQUAL(errors[i], "");
      MESSAGE("claimer " << i << " claimed " << out[i].size());
      total += out[i].size();
      all.insert(out[i].begin(), out[i].end());
    }
    CHECK_EQUAL(total, xs.size());
    CHECK_EQUAL(all.size(), xs.size());
    CHECK(id_set(xs) == all);
    auto counts = unbox(store->count_by_status());
    CHECK_EQUAL(counts[job_status::queued], xs.size());
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

CAF_TEST_FIXTURE_SCOPE(conformance_tests, fixture)

// -- schema
// ---------------------------------------------------------------------

TEST(migrate is idempotent and shared by connections) {
  require_ok(store->migrate());
  require_ok(store->migrate());
  auto other = connect();
  require_ok(other.master->migrate());
  insert({make_job("a", t0)});
  CHECK_EQUAL(unbox(other.master->list_jobs({})).size(), 1u);
}

// -- jobs
// -----------------------------------------------------------------------

TEST(insert and get round trip every field) {
  // Every value type with its edge values, times before the epoch too.
  auto x = test::full_job();
  x.skip_if_running = true;
  x.data["quote'\"\\"] = std::string{"x\n'\"{},"};
  x.metadata = test::every_value();
  auto plain = make_job("plain", t0);
  plain.handler = "h\xc3\xa9llo 'quoted'";
  plain.process_deadline = from_micros(std::numeric_limits<int64_t>::max());
  insert({x, plain});
  check_stored(get(x.id), x);
  auto p = get(plain.id);
  check_stored(p, plain);
  CHECK(!p.recurring_schedule_id);
  CHECK(p.data.empty());
  CHECK(!unbox(store->get_job(uuid::random())));
  require_ok(store->insert_jobs({}));
}

TEST(invalid jobs are rejected before writing) {
  auto x = make_job("a", t0);
  x.status = static_cast<job_status>(42);
  auto err = store->insert_jobs({make_job("b", t0), x});
  CHECK(code_of(err) == ec::invalid_argument);
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 0u);
  x.status = job_status::held_on_master;
  x.priority = static_cast<priority>(0);
  CHECK(code_of(store->insert_jobs({x})) == ec::invalid_argument);
}

TEST(duplicate insert is ignored) {
  auto x = make_job("first", t0);
  insert({x});
  auto dup = x;
  dup.handler = "second";
  dup.version = 9;
  auto other = make_job("other", t0);
  insert({dup, other, other});
  auto y = get(x.id);
  CHECK_EQUAL(y.handler, "first");
  CHECK_EQUAL(y.version, 1);
  CHECK_EQUAL(unbox(store->list_jobs({})).size(), 2u);
}

TEST(list_jobs filters and orders) {
  auto sched = uuid::random();
  auto a = make_job("mail", t0 + 3s);
  a.metadata["team"] = std::string{"ops"};
  a.metadata["n"] = int64_t{1};
  auto b = make_job("mail", t0 + 1s, job_status::succeeded);
  b.metadata["team"] = std::string{"ops"};
  auto c = make_job("sms", t0 + 2s);
  c.lane = "fast";
  c.recurring_schedule_id = sched;
  auto d = make_job("mail", t0 + 2s);
  d.lane = "fast";
  d.metadata["team"] = std::string{"dev"};
  // Same due time as d and c: the id breaks the tie.
  auto e = make_job("mail", t0 + 2s, job_status::failed);
  e.recurring_schedule_id = sched;
  e.original_scheduled_at = t0;
  e.metadata["team"] = std::string{"ops"};
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
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 3u);
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
  f.limit = 0; // No limit.
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 5u);
  // Time windows are inclusive at both ends.
  f = job_filter{};
  f.scheduled_from = t0 + 2s;
  f.scheduled_to = t0 + 2s;
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 3u);
  f.scheduled_to = std::nullopt;
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 4u);
  f.scheduled_from = std::nullopt;
  f.scheduled_to = t0 + 2s - 1us;
  auto early = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(early.size(), 1u);
  CHECK(early[0].id == b.id);
  f = job_filter{};
  f.scheduled_from = t0 + 2s;
  f.statuses = {job_status::cancelled};
  CHECK_EQUAL(unbox(store->list_jobs(f)).size(), 0u);
  // Occurrences of one schedule.
  f = job_filter{};
  f.schedule_id = sched;
  auto occ = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(occ.size(), 2u);
  CHECK((id_set(occ) == std::set<job_id>{c.id, e.id}));
  f.schedule_id = uuid::random();
  CHECK(unbox(store->list_jobs(f)).empty());
  // Metadata entries: all must match, with the same type.
  f = job_filter{};
  f.metadata["team"] = std::string{"ops"};
  auto ops = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(ops.size(), 3u);
  CHECK(ops[0].id == b.id);
  CHECK(ops[1].id == e.id);
  CHECK(ops[2].id == a.id);
  f.limit = 2;
  ops = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(ops.size(), 2u);
  CHECK(ops[1].id == e.id);
  f.limit = 100;
  f.metadata["n"] = int64_t{1};
  ops = unbox(store->list_jobs(f));
  REQUIRE_EQUAL(ops.size(), 1u);
  CHECK(ops[0].id == a.id);
  f.metadata["n"] = std::string{"1"};
  CHECK(unbox(store->list_jobs(f)).empty());
  f = job_filter{};
  f.statuses = {static_cast<job_status>(0)};
  auto bad = store->list_jobs(f);
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_argument);
}

TEST(count_by_status counts) {
  CHECK(unbox(store->count_by_status()).empty());
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
  x2.metadata["m"] = true;
  x2.version = 1000; // Ignored: the store writes expected + 1.
  auto stale = y;
  stale.handler = "zombie";
  auto a = make_attempt(attempt_outcome::succeeded);
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
  CHECK(got.metadata == x2.metadata);
  CHECK_EQUAL(get(y.id).handler, "b");
  CHECK_EQUAL(get(y.id).version, 1);
  CHECK(unbox(store->list_attempts(y.id)).empty());
  CHECK(!unbox(store->get_job(unknown.id)));
  // The old version is stale now; the new one applies.
  auto again = unbox(store->write_jobs({job_write{x2, 1, a}}));
  CHECK(!again.at(0));
  CHECK(unbox(store->list_attempts(x.id)).empty());
  again = unbox(agent->write_results({job_write{x2, 2, a}}));
  CHECK(again.at(0));
  CHECK_EQUAL(get(x.id).version, 3);
  CHECK_EQUAL(unbox(store->list_attempts(x.id)).size(), 1u);
  // Two writes of one job in one batch apply in order: the second is fenced
  // by the version the first wrote.
  auto x3 = x2;
  x3.handler = "third";
  auto x4 = x2;
  x4.handler = "fourth";
  auto x5 = x2;
  x5.handler = "fifth";
  res = unbox(store->write_jobs(
    {job_write{x3, 3, a}, job_write{x5, 3, a}, job_write{x4, 4, a}}));
  CHECK((res == std::vector<bool>{true, false, true}));
  CHECK_EQUAL(get(x.id).handler, "fourth");
  CHECK_EQUAL(get(x.id).version, 5);
  CHECK_EQUAL(unbox(store->list_attempts(x.id)).size(), 3u);
  CHECK(unbox(store->write_jobs({})).empty());
  // An invalid write is refused as a whole.
  auto broken = x4;
  broken.status = static_cast<job_status>(99);
  auto refused = store->write_jobs(
    {job_write{x4, 5, a}, job_write{broken, 5, std::nullopt}});
  REQUIRE(!refused);
  CHECK(code_of(refused.error()) == ec::invalid_argument);
  CHECK_EQUAL(get(x.id).version, 5);
}

TEST(remove writes delete the job and its history when the fence holds) {
  auto x = make_job("a", t0);
  auto y = make_job("b", t0);
  auto z = make_job("c", t0);
  auto keep = make_job("d", t0);
  insert({x, y, z, keep});
  auto failed = make_attempt(attempt_outcome::failed);
  REQUIRE(unbox(store->write_jobs({job_write{x, 1, failed},
                                   job_write{keep, 1, failed}}))
            .at(0));
  auto remove = [](const job& j, int64_t expected) {
    job_write w{j, expected, make_attempt(attempt_outcome::succeeded)};
    w.remove = true;
    return w;
  };
  // x: removed with its attempt; y: a stale fence keeps it; z: written,
  // then removed in the same call, then a late write finds nothing.
  auto z2 = z;
  z2.handler = "second";
  auto res = unbox(agent->write_results(
    {remove(x, 2), remove(y, 7), job_write{z2, 1, failed}, remove(z, 2),
     job_write{z2, 3, failed}, job_write{keep, 2, failed}}));
  CHECK((res == std::vector<bool>{true, false, true, true, false, true}));
  CHECK(!unbox(store->get_job(x.id)));
  CHECK(unbox(store->list_attempts(x.id)).empty());
  CHECK(!unbox(store->get_job(z.id)));
  CHECK(unbox(store->list_attempts(z.id)).empty());
  CHECK_EQUAL(get(y.id).version, 1);
  CHECK_EQUAL(get(keep.id).version, 3);
  CHECK_EQUAL(unbox(store->list_attempts(keep.id)).size(), 2u);
  // Through the master's writes too; a second remove finds nothing.
  res = unbox(store->write_jobs({remove(y, 1), remove(y, 2)}));
  CHECK((res == std::vector<bool>{true, false}));
  CHECK(!unbox(store->get_job(y.id)));
  // Only `keep` is left.
  CHECK_EQUAL(unbox(store->count_by_status())[job_status::held_on_master], 1u);
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
  REQUIRE(unbox(store->write_jobs({job_write{
                  other, 1, make_attempt(attempt_outcome::timed_out)}}))
            .at(0));
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
  CHECK(unbox(store->list_attempts(uuid::random())).empty());
}

// -- assignment and claims
// ------------------------------------------------------

TEST(assign_held_jobs honours horizon limit and routing) {
  auto a = make_job("a", t0 + 1s);
  auto b = make_job("b", t0 + 2s);
  b.priority = priority::high;
  auto c = make_job("skip", t0 + 3s);
  auto d = make_job("d", t0 + 4s);
  // Left over from an earlier placement: cleared on assignment.
  d.process_deadline = t0 - 1h;
  auto late = make_job("late", t0 + 1h);
  auto done = make_job("done", t0, job_status::succeeded);
  insert({a, b, c, d, late, done});
  bucket_record medium{"bk-m", "wk", "n1", priority::medium, ""};
  bucket_record high{"bk-h", "wk", "n1", priority::high, ""};
  int calls = 0;
  auto route = [&](const job& x) -> const bucket_record* {
    ++calls;
    if (x.handler == "skip")
      return nullptr;
    return x.priority == priority::high ? &high : &medium;
  };
  auto first = unbox(store->assign_held_jobs(timestamp{}, t0 + 3s, 2, route));
  CHECK_EQUAL(calls, 2);
  REQUIRE_EQUAL(first.size(), 2u);
  CHECK(first[0].id == a.id);
  CHECK(first[1].id == b.id);
  CHECK_EQUAL(str(first[0].status), "assigned_to_bucket");
  CHECK_EQUAL(first[0].bucket_id, "bk-m");
  CHECK_EQUAL(first[1].bucket_id, "bk-h");
  CHECK_EQUAL(first[0].worker_id, "wk");
  CHECK_EQUAL(first[0].version, 2);
  check_stored(get(a.id), first[0]);
  check_stored(get(b.id), first[1]);
  // c is due but routed nowhere: it stays held; d is past the horizon.
  auto second = unbox(store->assign_held_jobs(timestamp{}, t0 + 3s, 10, route));
  CHECK(second.empty());
  CHECK_EQUAL(str(get(c.id).status), "held_on_master");
  CHECK_EQUAL(get(c.id).version, 1);
  // The horizon is inclusive.
  auto third = unbox(store->assign_held_jobs(timestamp{}, t0 + 4s, 10, route));
  REQUIRE_EQUAL(third.size(), 1u);
  CHECK(third[0].id == d.id);
  CHECK(!third[0].process_deadline);
  check_stored(get(d.id), third[0]);
  CHECK_EQUAL(unbox(store->sweep_deadlines(t0 + 1h)), 0u);
  // No router at all leaves everything held.
  CHECK(
    unbox(store->assign_held_jobs(timestamp{}, t0 + 2h, 10, nullptr)).empty());
  CHECK_EQUAL(str(get(late.id).status), "held_on_master");
  CHECK(unbox(store->assign_held_jobs(timestamp{}, t0 + 2h, 0, route)).empty());
  check_stored(get(done.id), done);
}

TEST(assign_held_jobs leaves jobs due by after to the claims) {
  auto past = make_job("past", t0 - 1s);
  auto now_due = make_job("now", t0);
  auto soon = make_job("soon", t0 + 1s);
  insert({past, now_due, soon});
  bucket_record bucket{"bk", "wk", "n1", priority::medium, ""};
  auto route = [&](const job&) { return &bucket; };
  auto got = unbox(store->assign_held_jobs(t0, t0 + 30s, 10, route));
  REQUIRE_EQUAL(got.size(), 1u);
  CHECK(got[0].id == soon.id);
  check_stored(get(past.id), past);
  check_stored(get(now_due.id), now_due);
}

TEST(concurrent assigners never place a job twice) {
  constexpr int n = 2000;
  constexpr int assigners = 2;
  std::vector<job> xs;
  for (int i = 0; i < n; ++i)
    xs.push_back(make_job("j", t0 + std::chrono::milliseconds{i}));
  insert(xs);
  std::vector<store_connection> conns;
  std::vector<bucket_record> buckets;
  for (int i = 0; i < assigners; ++i) {
    conns.push_back(connect());
    buckets.push_back(bucket_record{"bk" + std::to_string(i), "wk", "n1",
                                    priority::medium, ""});
  }
  std::vector<std::vector<job>> out(assigners);
  std::vector<std::string> errors(assigners);
  run_together(assigners, [&](int i) {
    auto route = [&](const job&) { return &buckets[i]; };
    for (;;) {
      auto got
        = conns[i].master->assign_held_jobs(timestamp{}, t0 + 1h, 50, route);
      if (!got) {
        errors[i] = describe(got.error());
        return;
      }
      if (got->empty())
        return;
      out[i].insert(out[i].end(), got->begin(), got->end());
    }
  });
  std::set<job_id> all;
  size_t total = 0;
  for (int i = 0; i < assigners; ++i) {
    CHECK_EQUAL(errors[i], "");
    MESSAGE("assigner " << i << " placed " << out[i].size());
    total += out[i].size();
    all.merge(id_set(out[i]));
  }
  CHECK_EQUAL(total, static_cast<size_t>(n));
  CHECK(all == id_set(xs));
  // Each job is where its assigner said it put it.
  for (int i = 0; i < assigners; ++i)
    for (size_t k = 0; k < out[i].size(); k += 97)
      check_stored(get(out[i][k].id), out[i][k]);
  CHECK_EQUAL(unbox(store->count_by_status())[job_status::assigned_to_bucket],
              static_cast<uint64_t>(n));
}

TEST(a throwing router is an error not an exception) {
  insert({make_job("a", t0)});
  auto route = [](const job&) -> const bucket_record* {
    throw std::runtime_error("router broke");
  };
  auto res = store->assign_held_jobs(timestamp{}, t0 + 1s, 10, route);
  REQUIRE(!res);
  CHECK(code_of(res.error()) == ec::store_failure);
  // The transaction rolled back and the store still works.
  auto xs = unbox(store->list_jobs({}));
  REQUIRE_EQUAL(xs.size(), 1u);
  CHECK_EQUAL(str(xs[0].status), "held_on_master");
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
  auto queued = in_bucket(make_job("q", t0), "b1");
  queued.status = job_status::queued;
  insert({c, b, a, future, other, held, queued});
  auto first
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 5s, 2, 3s));
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
  check_stored(get(a.id), first[0]);
  // due_by is inclusive.
  auto second
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 3s, 10, 3s));
  REQUIRE_EQUAL(second.size(), 1u);
  CHECK(second[0].id == c.id);
  CHECK(unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 5s, 10, 3s))
          .empty());
  CHECK_EQUAL(str(get(future.id).status), "assigned_to_bucket");
  CHECK_EQUAL(str(get(other.id).status), "assigned_to_bucket");
  CHECK_EQUAL(str(get(held.id).status), "held_on_master");
  check_stored(get(queued.id), queued);
  CHECK(unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 2h, 0, 3s))
          .empty());
  auto last
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 2h, 10, 3s));
  REQUIRE_EQUAL(last.size(), 1u);
  CHECK(last[0].id == future.id);
}

TEST(claim deadlines saturate instead of overflowing) {
  auto forever = in_bucket(make_job("forever", t0), "b1");
  forever.timeout = duration::max();
  auto negative = in_bucket(make_job("negative", t0), "b1");
  negative.timeout = -5s;
  insert({forever, negative});
  auto got
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 1s, 10, 2s));
  REQUIRE_EQUAL(got.size(), 2u);
  auto x = get(forever.id);
  REQUIRE(x.process_deadline);
  CHECK_EQUAL(to_micros(*x.process_deadline),
              std::numeric_limits<int64_t>::max());
  auto y = get(negative.id);
  REQUIRE(y.process_deadline);
  CHECK_EQUAL(to_micros(*y.process_deadline), to_micros(t0 + 3s));
  for (auto& j : got)
    check_stored(get(j.id), j);
  // A grace beyond the representable range saturates too.
  auto huge = in_bucket(make_job("huge", t0), "b2");
  insert({huge});
  auto h = unbox(
    agent->claim_bucket_jobs("b2", std::nullopt, t0, 1, duration::max()));
  REQUIRE_EQUAL(h.size(), 1u);
  CHECK_EQUAL(to_micros(*get(huge.id).process_deadline),
              std::numeric_limits<int64_t>::max());
  // Sweeping far in the future is fine as well.
  CHECK_EQUAL(unbox(store->sweep_deadlines(timestamp::max())), 1u);
}

TEST(concurrent claims from several connections never overlap) {
  constexpr int n = 3000;
  constexpr int claimers = 3;
  std::vector<job> xs;
  for (int i = 0; i < n; ++i)
    xs.push_back(
      in_bucket(make_job("j", t0 + std::chrono::milliseconds{i}), "shared"));
  insert(xs);
  claim_all_together(xs, claimers, [](agent_store& agent, int) {
    return agent.claim_bucket_jobs("shared", std::nullopt, t0 + 1h, 7, 1s);
  });
}

TEST(claims adopt due held jobs of their route in due order with their own) {
  auto mine = in_bucket(make_job("mine", t0 - 1s), "b1", "w-b1");
  auto h1 = make_job("h1", t0 - 2s);
  auto h2 = make_job("h2", t0 + 1s);
  auto later = make_job("later", t0 + 1h);
  auto high = make_job("high", t0);
  high.priority = priority::high;
  auto gpu = make_job("gpu", t0);
  gpu.lane = "gpu";
  auto theirs = in_bucket(make_job("theirs", t0), "b2", "w-b2");
  insert({mine, h1, h2, later, high, gpu, theirs});
  held_route route{"w-b1", priority::medium, ""};
  add_node("n1", t0 + 1h, {"b1", "b-gpu"});
  add_node("gone", t0 - 1s, {"b-dead"});
  // Only a registered bucket of a live node adopts: a node declared dead
  // takes no more, and the rescue of a node finds all its buckets hold.
  CHECK(unbox(agent->claim_bucket_jobs("b-unknown", route, t0 + 1s, 10, 1s))
          .empty());
  CHECK(
    unbox(agent->claim_bucket_jobs("b-dead", route, t0 + 1s, 10, 1s)).empty());
  check_stored(get(h1.id), h1);
  // Without a route, held jobs are not the bucket's.
  auto own
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 1s, 10, 1s));
  REQUIRE_EQUAL(own.size(), 1u);
  CHECK(own[0].id == mine.id);
  // With a route: its own jobs and due held ones of the route, merged
  // earliest first (a stream of its own jobs does not starve retries),
  // due_by inclusive.
  auto mine2 = in_bucket(make_job("mine2", t0), "b1", "w-b1");
  auto mine3 = in_bucket(make_job("mine3", t0 + 500ms), "b1", "w-b1");
  insert({mine2, mine3});
  auto first = unbox(agent->claim_bucket_jobs("b1", route, t0 + 1s, 2, 2s));
  REQUIRE_EQUAL(first.size(), 2u);
  CHECK(first[0].id == h1.id);
  CHECK(first[1].id == mine2.id);
  auto rest = unbox(agent->claim_bucket_jobs("b1", route, t0 + 1s, 10, 2s));
  REQUIRE_EQUAL(rest.size(), 2u);
  CHECK(rest[0].id == mine3.id);
  CHECK(rest[1].id == h2.id);
  auto adopted = first;
  adopted.insert(adopted.end(), rest.begin(), rest.end());
  for (auto& x : adopted) {
    CHECK_EQUAL(str(x.status), "queued");
    CHECK_EQUAL(x.bucket_id, "b1");
    CHECK_EQUAL(x.worker_id, "w-b1");
    CHECK_EQUAL(x.version, 2);
    REQUIRE(x.process_deadline);
    CHECK_EQUAL(to_micros(*x.process_deadline), to_micros(t0 + 1s + 30s + 2s));
    check_stored(get(x.id), x);
  }
  // Other routes, later jobs and other buckets' jobs stay as they are.
  CHECK(unbox(agent->claim_bucket_jobs("b1", route, t0 + 1s, 10, 1s)).empty());
  check_stored(get(later.id), later);
  check_stored(get(high.id), high);
  check_stored(get(gpu.id), gpu);
  check_stored(get(theirs.id), theirs);
  // A lane's bucket adopts its lane's jobs.
  auto lane = unbox(agent->claim_bucket_jobs(
    "b-gpu", held_route{"w-gpu", priority::medium, "gpu"}, t0 + 1s, 10, 1s));
  REQUIRE_EQUAL(lane.size(), 1u);
  CHECK(lane[0].id == gpu.id);
  CHECK_EQUAL(lane[0].bucket_id, "b-gpu");
  CHECK_EQUAL(lane[0].worker_id, "w-gpu");
  // An adopted job is the bucket's like any other: its restart takes it back.
  CHECK_EQUAL(unbox(agent->release_bucket_jobs("b-gpu", t0 + 2s)), 1u);
  auto back = get(gpu.id);
  CHECK_EQUAL(str(back.status), "assigned_to_bucket");
  CHECK_EQUAL(back.bucket_id, "b-gpu");
}

TEST(adopted overlap guarded jobs keep the guard) {
  auto s = uuid::random();
  auto u = uuid::random();
  auto held = [](job x) {
    x.status = job_status::held_on_master;
    clear_placement(x);
    return x;
  };
  auto o1 = held(occurrence(s, t0 + 1s, ""));
  auto o2 = held(occurrence(s, t0 + 2s, ""));
  auto u1 = held(occurrence(u, t0 + 2s, ""));
  // One of s placed in the bucket already: it is the earliest, so it runs.
  auto o0 = occurrence(s, t0, "b1");
  insert({o0, o1, o2, u1});
  add_node("n1", t0 + 1h, {"b1"});
  held_route route{"w1", priority::medium, ""};
  auto got = unbox(agent->claim_bucket_jobs("b1", route, t0 + 2s, 10, 1s));
  REQUIRE_EQUAL(got.size(), 2u);
  CHECK((id_set(got) == std::set<job_id>{o0.id, u1.id}));
  for (auto& x : got) {
    CHECK_EQUAL(x.bucket_id, "b1");
    check_stored(get(x.id), x);
  }
  for (auto& id : {o1.id, o2.id}) {
    auto x = get(id);
    CHECK_EQUAL(str(x.status), "cancelled");
    CHECK_EQUAL(x.bucket_id, "");
    auto notes = unbox(store->list_attempts(id));
    REQUIRE_EQUAL(notes.size(), 1u);
    CHECK_EQUAL(str(notes[0].outcome), "skipped");
  }
}

TEST(concurrent adopting claims never take a job twice) {
  constexpr int n = 3000;
  constexpr int claimers = 3;
  std::vector<job> xs;
  for (int i = 0; i < n; ++i) {
    // Every tenth is the buckets' own; the rest are held.
    auto x = make_job("j", t0 + std::chrono::milliseconds{i});
    xs.push_back(i % 10 == 0 ? in_bucket(x, "c" + std::to_string(i % 3)) : x);
  }
  insert(xs);
  add_node("n1", t0 + 2h, {"c0", "c1", "c2"});
  claim_all_together(xs, claimers, [](agent_store& agent, int i) {
    auto bucket = "c" + std::to_string(i);
    held_route route{"w-" + bucket, priority::medium, ""};
    return agent.claim_bucket_jobs(bucket, route, t0 + 1h, 7, 1s);
  });
}

TEST(release_bucket_jobs takes back what a bucket had claimed) {
  auto assigned = in_bucket(make_job("assigned", t0), "b1");
  auto queued = in_bucket(make_job("queued", t0 + 1s), "b1");
  queued.status = job_status::queued;
  queued.process_deadline = t0 + 1h;
  auto running = in_bucket(make_job("running", t0 + 2s), "b1", "wr");
  running.status = job_status::processing;
  running.process_deadline = t0 + 1h;
  auto elsewhere = in_bucket(make_job("elsewhere", t0), "b2");
  elsewhere.status = job_status::processing;
  elsewhere.process_deadline = t0 + 1h;
  auto done = in_bucket(make_job("done", t0), "b1");
  done.status = job_status::succeeded;
  insert({assigned, queued, running, elsewhere, done});
  running = write(running, make_attempt(attempt_outcome::failed));
  CHECK_EQUAL(unbox(agent->release_bucket_jobs("b1", t0 + 5s)), 2u);
  auto q = get(queued.id);
  CHECK_EQUAL(str(q.status), "assigned_to_bucket");
  CHECK_EQUAL(q.bucket_id, "b1");
  CHECK(!q.process_deadline);
  CHECK_EQUAL(q.version, 2);
  CHECK(unbox(store->list_attempts(queued.id)).empty());
  auto r = get(running.id);
  CHECK_EQUAL(str(r.status), "assigned_to_bucket");
  CHECK_EQUAL(r.bucket_id, "b1");
  CHECK_EQUAL(r.worker_id, "wr");
  CHECK(!r.process_deadline);
  CHECK_EQUAL(r.version, 3);
  auto notes = unbox(store->list_attempts(running.id));
  REQUIRE_EQUAL(notes.size(), 2u);
  CHECK_EQUAL(notes[1].number, 2);
  CHECK_EQUAL(str(notes[1].outcome), "lost");
  CHECK_EQUAL(notes[1].worker_id, "wr");
  CHECK_EQUAL(to_micros(notes[1].ended_at), to_micros(t0 + 5s));
  CHECK(notes[1].error.find("b1") != std::string::npos);
  check_stored(get(assigned.id), assigned);
  check_stored(get(elsewhere.id), elsewhere);
  check_stored(get(done.id), done);
  CHECK_EQUAL(unbox(agent->release_bucket_jobs("b1", t0 + 6s)), 0u);
  // Released jobs are claimable again.
  CHECK_EQUAL(
    unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 1h, 10, 1s)).size(),
    3u);
}

TEST(the hot path runs every job exactly once) {
  constexpr int total = 3000;
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
    auto got = unbox(
      agent->claim_bucket_jobs("bench", std::nullopt, t0 + 1h, batch, 1s));
    if (got.empty())
      break;
    // Start, then finish each claimed job, as a bucket does.
    std::vector<job_write> starts;
    for (auto& x : got) {
      auto y = x;
      y.status = job_status::processing;
      y.process_deadline = t0 + 2h;
      starts.push_back(job_write{y, x.version, std::nullopt});
    }
    auto res = unbox(agent->write_results(starts));
    REQUIRE_EQUAL(res.size(), got.size());
    CHECK(std::all_of(res.begin(), res.end(), [](bool b) { return b; }));
    std::vector<job_write> ends;
    for (auto& x : got) {
      auto y = x;
      y.status = job_status::succeeded;
      clear_placement(y);
      ends.push_back(
        job_write{y, x.version + 1, make_attempt(attempt_outcome::succeeded)});
    }
    res = unbox(agent->write_results(ends));
    CHECK(std::all_of(res.begin(), res.end(), [](bool b) { return b; }));
    claimed.insert(claimed.end(), got.begin(), got.end());
  }
  CHECK_EQUAL(claimed.size(), static_cast<size_t>(total));
  CHECK_EQUAL(id_set(claimed).size(), static_cast<size_t>(total));
  CHECK(id_set(claimed) == id_set(xs));
  // Claims come earliest first.
  CHECK(std::is_sorted(claimed.begin(), claimed.end(),
                       [](const job& x, const job& y) {
                         return x.scheduled_at < y.scheduled_at;
                       }));
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts.size(), 1u);
  CHECK_EQUAL(counts[job_status::succeeded], static_cast<uint64_t>(total));
  for (int i = 0; i < total; i += 499) {
    auto notes = unbox(store->list_attempts(xs[i].id));
    CHECK_EQUAL(notes.size(), 1u);
    auto y = get(xs[i].id);
    CHECK_EQUAL(y.version, 4);
    CHECK(y.data == xs[i].data);
  }
}

// -- membership
// -----------------------------------------------------------------

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
  // A lease that ends exactly now is over.
  CHECK_EQUAL(unbox(store->live_buckets(t0 + 10s)).size(), 1u);
  CHECK_EQUAL(unbox(store->live_buckets(t0 + 1h)).size(), 0u);
  // Graceful leave.
  require_ok(store->remove_node("alive"));
  CHECK_EQUAL(unbox(store->list_nodes()).size(), 1u);
  CHECK_EQUAL(unbox(store->live_buckets(t0)).size(), 1u);
  CHECK(!unbox(store->renew_node("alive", t0 + 1h)));
  CHECK(!unbox(store->renew_node("never-seen", t0 + 1h)));
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
  CHECK_EQUAL(to_micros(nodes[0].lease_expires_at), to_micros(t0 + 5s));
}

TEST(remove_node hands live jobs back to the master) {
  add_node("leaving", t0 + 1h, {"l1"});
  add_node("staying", t0 + 1h, {"s1"});
  auto assigned = in_bucket(make_job("assigned", t0), "l1");
  auto running = in_bucket(make_job("running", t0), "l1", "wl");
  running.status = job_status::processing;
  running.process_deadline = t0 + 1min;
  auto safe = in_bucket(make_job("safe", t0), "s1");
  insert({assigned, running, safe});
  require_ok(store->remove_node("leaving"));
  for (auto& id : {assigned.id, running.id}) {
    auto x = get(id);
    check_held(x);
    CHECK_EQUAL(x.version, 2);
  }
  auto notes = unbox(store->list_attempts(running.id));
  REQUIRE_EQUAL(notes.size(), 1u);
  CHECK_EQUAL(str(notes[0].outcome), "lost");
  CHECK_EQUAL(notes[0].worker_id, "wl");
  CHECK(unbox(store->list_attempts(assigned.id)).empty());
  check_stored(get(safe.id), safe);
  auto live = unbox(store->live_buckets(t0));
  REQUIRE_EQUAL(live.size(), 1u);
  CHECK_EQUAL(live[0].bucket_id, "s1");
  // Removing an unknown node is not an error.
  require_ok(store->remove_node("leaving"));
}

TEST(rescue_dead_nodes returns live jobs to held) {
  add_node("alive", t0 + 10s, {"a1"});
  add_node("dead", t0 - 1s, {"d1", "d2"});
  // A lease that ends exactly now counts as expired.
  add_node("expiring", t0, {"e1"});
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
  auto expiring = in_bucket(make_job("expiring", t0 + 4s), "e1");
  insert({assigned, queued, processing, finished, safe, expiring});
  // An earlier attempt exists: the lost one is number 2.
  processing = write(processing, make_attempt(attempt_outcome::failed));
  auto rescued = unbox(store->rescue_dead_nodes(t0));
  REQUIRE_EQUAL(rescued.size(), 4u);
  CHECK(rescued[0].id == assigned.id);
  CHECK(rescued[1].id == queued.id);
  CHECK(rescued[2].id == processing.id);
  CHECK(rescued[3].id == expiring.id);
  for (auto& x : rescued) {
    check_held(x);
    check_stored(get(x.id), x);
  }
  CHECK_EQUAL(rescued[0].version, 2);
  CHECK_EQUAL(rescued[2].version, 3);
  CHECK_EQUAL(rescued[2].failure_count, 1);
  auto attempts = unbox(store->list_attempts(processing.id));
  REQUIRE_EQUAL(attempts.size(), 2u);
  CHECK_EQUAL(attempts[1].number, 2);
  CHECK_EQUAL(str(attempts[1].outcome), "lost");
  CHECK_EQUAL(attempts[1].worker_id, "wp");
  CHECK_EQUAL(to_micros(attempts[1].ended_at), to_micros(t0));
  CHECK(attempts[1].error.find("dead") != std::string::npos);
  CHECK(unbox(store->list_attempts(queued.id)).empty());
  CHECK(unbox(store->list_attempts(assigned.id)).empty());
  check_stored(get(finished.id), finished);
  check_stored(get(safe.id), safe);
  auto nodes = unbox(store->list_nodes());
  REQUIRE_EQUAL(nodes.size(), 1u);
  CHECK_EQUAL(nodes[0].node_id, "alive");
  auto live = unbox(store->live_buckets(t0 - 1h));
  REQUIRE_EQUAL(live.size(), 1u);
  CHECK_EQUAL(live[0].bucket_id, "a1");
  CHECK(!unbox(store->renew_node("dead", t0 + 1h)));
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
  auto assigned = in_bucket(make_job("assigned", t0), "b1");
  assigned.process_deadline = t0 - 1h;
  auto in_time = in_bucket(make_job("in-time", t0), "b1");
  in_time.status = job_status::processing;
  in_time.process_deadline = t0 + 1s;
  auto finished = in_bucket(make_job("finished", t0), "b1");
  finished.status = job_status::failed;
  finished.process_deadline = t0 - 1h;
  auto exact = in_bucket(make_job("exact", t0), "b1");
  exact.status = job_status::queued;
  exact.process_deadline = t0;
  auto no_deadline = in_bucket(make_job("none", t0), "b1");
  insert({overdue, queued, assigned, in_time, finished, exact, no_deadline});
  CHECK_EQUAL(unbox(store->sweep_deadlines(t0)), 3u);
  auto x = get(overdue.id);
  check_held(x);
  CHECK_EQUAL(x.failure_count, 2);
  CHECK_EQUAL(x.version, 2);
  CHECK(unbox(store->list_attempts(overdue.id)).empty());
  CHECK_EQUAL(str(get(queued.id).status), "held_on_master");
  CHECK_EQUAL(str(get(assigned.id).status), "held_on_master");
  check_stored(get(in_time.id), in_time);
  check_stored(get(finished.id), finished);
  check_stored(get(exact.id), exact);
  check_stored(get(no_deadline.id), no_deadline);
  CHECK_EQUAL(unbox(store->sweep_deadlines(t0)), 0u);
}

// -- recurring schedules
// --------------------------------------------------------

TEST(schedules round trip and list newest first) {
  auto x = make_schedule("report", t0);
  x.spec.expression_type = std::string{expression_types::interval};
  x.spec.expression = "00:00:05";
  x.spec.time_zone = "Europe/Lisbon";
  x.spec.data["s"] = std::string{"v"};
  x.spec.data["raw"] = bytes{0, 1, 2};
  x.spec.metadata["team"] = std::string{"ops"};
  x.spec.priority = priority::high;
  x.spec.lane = "";
  x.spec.timeout = 90s;
  x.spec.max_retries = 4;
  x.spec.start_after = t0 - 1h;
  x.spec.end_before = t0 + 24h;
  x.spec.catch_up = catch_up_policy::all;
  x.spec.catch_up_limit = 7;
  x.spec.overlap = overlap_policy::skip;
  x.status = schedule_status::cancelled;
  x.terminated_at = t0 + 1s;
  x.cursor = t0 + 2s;
  x.planned_until = t0 + 3s;
  x.ensured_at = t0 + 4s;
  x.version = 17;
  auto bare = make_schedule("report", t0 + 1s);
  auto other = make_schedule("cleanup", t0 + 2s);
  // Same creation time as `other`: the id breaks the tie, ascending.
  auto twin = make_schedule("cleanup", t0 + 2s);
  require_ok(store->insert_schedule(x));
  require_ok(store->insert_schedule(bare));
  require_ok(store->insert_schedule(other));
  require_ok(store->insert_schedule(twin));
  check_stored(get(x.id, 0), x);
  auto b = get(bare.id, 0);
  check_stored(b, bare);
  CHECK(!b.spec.lane);
  CHECK(!b.spec.priority);
  CHECK(!b.terminated_at);
  CHECK(!unbox(store->get_schedule(uuid::random())));
  // An existing id is left untouched.
  auto dup = x;
  dup.spec.handler = "changed";
  require_ok(store->insert_schedule(dup));
  CHECK_EQUAL(get(x.id, 0).spec.handler, "report");
  auto all = unbox(store->list_schedules({}));
  REQUIRE_EQUAL(all.size(), 4u);
  auto first = other.id < twin.id ? other.id : twin.id;
  auto second = other.id < twin.id ? twin.id : other.id;
  CHECK(all[0].id == first);
  CHECK(all[1].id == second);
  CHECK(all[2].id == bare.id);
  CHECK(all[3].id == x.id);
  schedule_filter f;
  f.handler = "report";
  auto reports = unbox(store->list_schedules(f));
  REQUIRE_EQUAL(reports.size(), 2u);
  CHECK(reports[0].id == bare.id);
  f.statuses = {schedule_status::cancelled, schedule_status::completed};
  reports = unbox(store->list_schedules(f));
  REQUIRE_EQUAL(reports.size(), 1u);
  CHECK(reports[0].id == x.id);
  f = schedule_filter{};
  f.statuses = {schedule_status::active};
  f.limit = 2;
  auto active = unbox(store->list_schedules(f));
  REQUIRE_EQUAL(active.size(), 2u);
  CHECK(active[0].id == first);
  CHECK(active[1].id == second);
  f.statuses = {static_cast<schedule_status>(1)};
  auto bad = store->list_schedules(f);
  REQUIRE(!bad);
  CHECK(code_of(bad.error()) == ec::invalid_argument);
  auto invalid = make_schedule("x", t0);
  invalid.spec.overlap = static_cast<overlap_policy>(9);
  CHECK(code_of(store->insert_schedule(invalid)) == ec::invalid_argument);
  CHECK(!unbox(store->get_schedule(invalid.id)));
}

TEST(upsert_static_schedule creates then updates by name) {
  auto x = make_schedule("nightly", t0, "nightly-report");
  x.ensured_at = t0;
  auto created = unbox(store->upsert_static_schedule(x));
  check_stored(created, x);
  check_stored(get(x.id, 0), x);
  // The planner advances it.
  auto planned = created;
  planned.cursor = t0 + 1h;
  planned.planned_until = t0 + 2h;
  REQUIRE(unbox(store->write_schedule(planned, 1, {})));
  planned.version = 2;
  // Declared again by a newer program: a new id and new timing.
  auto y = make_schedule("nightly-v2", t0 + 5h, "nightly-report");
  y.spec.expression = "every day at 3am";
  y.spec.overlap = overlap_policy::skip;
  y.ensured_at = t0 + 5h;
  y.status = schedule_status::completed;
  y.terminated_at = t0 + 5h;
  y.cursor = t0 + 9h;
  y.planned_until = t0 + 9h;
  auto updated = unbox(store->upsert_static_schedule(y));
  CHECK(updated.id == x.id);
  CHECK_EQUAL(to_micros(updated.created_at), to_micros(t0));
  CHECK_EQUAL(to_micros(updated.cursor), to_micros(t0 + 1h));
  CHECK_EQUAL(to_micros(updated.planned_until), to_micros(t0 + 2h));
  CHECK_EQUAL(updated.spec.handler, "nightly-v2");
  CHECK_EQUAL(updated.spec.expression, "every day at 3am");
  CHECK(updated.spec.overlap == overlap_policy::skip);
  CHECK(updated.ensured_at == y.ensured_at);
  CHECK_EQUAL(str(updated.status), "completed");
  CHECK(updated.terminated_at == y.terminated_at);
  CHECK_EQUAL(updated.version, 3);
  check_stored(get(x.id, 0), updated);
  CHECK(!unbox(store->get_schedule(y.id)));
  CHECK_EQUAL(unbox(store->list_schedules({})).size(), 1u);
  // Back to active.
  auto z = make_schedule("nightly-v3", t0 + 6h, "nightly-report");
  auto again = unbox(store->upsert_static_schedule(z));
  CHECK(again.id == x.id);
  CHECK_EQUAL(str(again.status), "active");
  CHECK(!again.terminated_at);
  CHECK_EQUAL(again.version, 4);
  check_stored(get(x.id, 0), again);
  // Another name is another schedule.
  auto w = make_schedule("weekly", t0, "weekly-report");
  check_stored(unbox(store->upsert_static_schedule(w)), w);
  CHECK_EQUAL(unbox(store->list_schedules({})).size(), 2u);
  auto nameless = store->upsert_static_schedule(make_schedule("x", t0));
  REQUIRE(!nameless);
  CHECK(code_of(nameless.error()) == ec::invalid_argument);
}

TEST(schedules_to_plan takes active schedules below the horizon in order) {
  auto a = make_schedule("a", t0);
  a.planned_until = t0 + 3s;
  auto b = make_schedule("b", t0);
  b.planned_until = t0 + 1s;
  auto c = make_schedule("c", t0);
  c.planned_until = t0 + 2s;
  auto at_horizon = make_schedule("h", t0);
  at_horizon.planned_until = t0 + 5s;
  auto beyond = make_schedule("beyond", t0);
  beyond.planned_until = t0 + 1h;
  auto cancelled = make_schedule("cancelled", t0);
  cancelled.status = schedule_status::cancelled;
  cancelled.terminated_at = t0;
  auto inactive = make_schedule("inactive", t0, "gone");
  inactive.status = schedule_status::inactive;
  for (auto& x : {a, b, c, at_horizon, beyond, cancelled, inactive})
    require_ok(store->insert_schedule(x));
  auto due = unbox(store->schedules_to_plan(t0 + 5s, 10));
  REQUIRE_EQUAL(due.size(), 3u);
  CHECK(due[0].id == b.id);
  CHECK(due[1].id == c.id);
  CHECK(due[2].id == a.id);
  check_stored(due[0], b);
  auto two = unbox(store->schedules_to_plan(t0 + 5s, 2));
  REQUIRE_EQUAL(two.size(), 2u);
  CHECK(two[1].id == c.id);
  CHECK_EQUAL(unbox(store->schedules_to_plan(t0 + 2h, 100)).size(), 5u);
  CHECK(unbox(store->schedules_to_plan(t0, 100)).empty());
}

TEST(write_schedule is fenced and inserts its jobs) {
  auto s = make_schedule("tick", t0);
  require_ok(store->insert_schedule(s));
  auto next = s;
  next.cursor = t0 + 2min;
  next.planned_until = t0 + 3min;
  auto j1 = occurrence(s.id, t0 + 1min, "", false);
  j1.status = job_status::held_on_master;
  j1.bucket_id.clear();
  j1.worker_id.clear();
  auto j2 = j1;
  j2.id = uuid::random();
  j2.original_scheduled_at = j2.scheduled_at = t0 + 2min;
  // A stale fence writes nothing, jobs included.
  auto res = unbox(store->write_schedule(next, 0, {j1, j2}));
  CHECK(!res);
  check_stored(get(s.id, 0), s);
  CHECK(unbox(store->list_jobs({})).empty());
  res = unbox(store->write_schedule(next, 1, {j1, j2}));
  REQUIRE(res);
  CHECK_EQUAL(*res, 2u);
  next.version = 2;
  check_stored(get(s.id, 0), next);
  check_stored(get(j1.id), j1);
  check_stored(get(j2.id), j2);
  // The next step: one occurrence already exists (another planner inserted
  // it under another id), one is new.
  auto again = next;
  again.planned_until = t0 + 4min;
  auto dup = j2;
  dup.id = uuid::random();
  auto j3 = j2;
  j3.id = uuid::random();
  j3.original_scheduled_at = j3.scheduled_at = t0 + 3min;
  res = unbox(store->write_schedule(again, 2, {dup, j3}));
  REQUIRE(res);
  CHECK_EQUAL(*res, 1u);
  CHECK(!exists(dup.id));
  CHECK(exists(j3.id));
  CHECK_EQUAL(get(s.id, 0).version, 3);
  // The same step replayed with the old fence changes nothing.
  CHECK(!unbox(store->write_schedule(again, 2, {})));
  CHECK_EQUAL(get(s.id, 0).version, 3);
  // A schedule that does not exist is a failed fence.
  CHECK(!unbox(store->write_schedule(make_schedule("x", t0), 1, {})));
  // An invalid job refuses the whole step.
  auto broken = j3;
  broken.id = uuid::random();
  broken.original_scheduled_at = t0 + 9min;
  broken.priority = static_cast<priority>(77);
  auto refused = store->write_schedule(again, 3, {broken});
  REQUIRE(!refused);
  CHECK(code_of(refused.error()) == ec::invalid_argument);
  CHECK_EQUAL(get(s.id, 0).version, 3);
}

TEST(the occurrence key keeps one job per schedule and time) {
  auto sched = uuid::random();
  auto a = make_job("tick", t0);
  a.recurring_schedule_id = sched;
  a.original_scheduled_at = t0;
  auto b = a;
  b.id = uuid::random();
  b.handler = "duplicate";
  b.scheduled_at = t0 + 1min; // A retry moved it; the key is the original.
  insert({a});
  insert({b});
  CHECK(exists(a.id));
  CHECK(!exists(b.id));
  // Within one batch, the first wins.
  auto c = a;
  c.id = uuid::random();
  c.original_scheduled_at = t0 + 1h;
  auto d = c;
  d.id = uuid::random();
  insert({c, d});
  CHECK(exists(c.id));
  CHECK(!exists(d.id));
  // Other schedules and other times do not collide.
  auto e = a;
  e.id = uuid::random();
  e.recurring_schedule_id = uuid::random();
  auto f = a;
  f.id = uuid::random();
  f.original_scheduled_at = t0 + 1us;
  // Jobs without a schedule never collide.
  auto g = make_job("once", t0);
  auto h = make_job("once", t0);
  insert({e, f, g, h});
  for (auto& x : {e, f, g, h})
    CHECK(exists(x.id));
  job_filter filter;
  filter.schedule_id = sched;
  CHECK_EQUAL(unbox(store->list_jobs(filter)).size(), 3u);
  // Via write_schedule as well.
  auto s = make_schedule("tick", t0);
  s.id = sched;
  require_ok(store->insert_schedule(s));
  auto i = a;
  i.id = uuid::random();
  auto j = a;
  j.id = uuid::random();
  j.original_scheduled_at = t0 + 2h;
  auto k = j;
  k.id = uuid::random();
  auto added = unbox(store->write_schedule(s, 1, {i, j, k}));
  REQUIRE(added);
  CHECK_EQUAL(*added, 1u);
  CHECK(!exists(i.id));
  CHECK(exists(j.id));
  CHECK(!exists(k.id));
  CHECK_EQUAL(unbox(store->list_jobs(filter)).size(), 4u);
}

TEST(touch and retire static schedules) {
  auto a = make_schedule("a", t0, "a");
  a.ensured_at = t0 - 1h;
  auto b = make_schedule("b", t0, "b");
  b.ensured_at = t0 - 1h;
  auto c = make_schedule("c", t0, "c");
  auto fresh = make_schedule("fresh", t0, "fresh");
  fresh.ensured_at = t0;
  auto dynamic = make_schedule("dynamic", t0);
  auto gone = make_schedule("gone", t0, "gone");
  gone.status = schedule_status::inactive;
  gone.terminated_at = t0 - 2h;
  auto done = make_schedule("done", t0, "done");
  done.status = schedule_status::completed;
  done.terminated_at = t0 - 2h;
  for (auto& x : {a, b, c, fresh, dynamic, gone, done})
    require_ok(store->insert_schedule(x));
  require_ok(store->touch_static_schedules({"a", "unknown"}, t0 + 1s));
  require_ok(store->touch_static_schedules({}, t0 + 1s));
  auto ta = get(a.id, 0);
  CHECK(ta.ensured_at == t0 + 1s);
  // The keep-alive moves the version: a planner step that read the schedule
  // before cannot write the old ensured_at back.
  CHECK_EQUAL(ta.version, a.version + 1);
  auto stale = a;
  stale.planned_until = t0 + 1h;
  CHECK(!unbox(store->write_schedule(stale, a.version, {})));
  CHECK(get(a.id, 0).ensured_at == t0 + 1s);
  CHECK(get(b.id, 0).ensured_at == b.ensured_at);
  auto retired = unbox(store->retire_static_schedules(t0 - 1min, t0 + 2s));
  REQUIRE_EQUAL(retired.size(), 2u);
  std::map<schedule_id, recurring_schedule> by_id;
  for (auto& x : retired)
    by_id.emplace(x.id, x);
  REQUIRE_EQUAL(by_id.count(b.id), 1u);
  REQUIRE_EQUAL(by_id.count(c.id), 1u);
  for (auto& [id, x] : by_id) {
    CHECK_EQUAL(str(x.status), "inactive");
    CHECK(x.terminated_at == t0 + 2s);
    CHECK_EQUAL(x.version, 2);
    check_stored(get(id, 0), x);
  }
  check_stored(get(fresh.id, 0), fresh);
  check_stored(get(dynamic.id, 0), dynamic);
  check_stored(get(gone.id, 0), gone);
  check_stored(get(done.id, 0), done);
  CHECK_EQUAL(str(get(a.id, 0).status), "active");
  CHECK(unbox(store->retire_static_schedules(t0 - 1min, t0 + 3s)).empty());
}

// -- the overlap guard
// ----------------------------------------------------------

TEST(the overlap guard skips occurrences while one runs) {
  auto s = uuid::random();
  auto u = uuid::random();
  auto o1 = occurrence(s, t0 + 1s, "b1");
  auto o2 = occurrence(s, t0 + 2s, "b1");
  auto o3 = occurrence(s, t0 + 3s, "b1");
  auto u1 = occurrence(u, t0 + 2s, "b1");
  // Occurrences of an `allow` schedule are never skipped.
  auto v = uuid::random();
  auto v1 = occurrence(v, t0 + 1500ms, "b1", false);
  auto v2 = occurrence(v, t0 + 2s, "b1", false);
  // A guarded job without a schedule has nothing to overlap with.
  auto lone = in_bucket(make_job("lone", t0 + 1s), "b1");
  lone.skip_if_running = true;
  insert({o1, o2, o3, u1, v1, v2, lone});
  auto first
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 2s, 10, 1s));
  REQUIRE_EQUAL(first.size(), 5u);
  CHECK(
    (id_set(first) == std::set<job_id>{o1.id, u1.id, v1.id, v2.id, lone.id}));
  for (auto& x : first) {
    CHECK_EQUAL(str(x.status), "queued");
    check_stored(get(x.id), x);
  }
  auto skipped = get(o2.id);
  CHECK_EQUAL(str(skipped.status), "cancelled");
  CHECK_EQUAL(skipped.bucket_id, "");
  CHECK(!skipped.process_deadline);
  CHECK_EQUAL(skipped.version, 2);
  auto notes = unbox(store->list_attempts(o2.id));
  REQUIRE_EQUAL(notes.size(), 1u);
  CHECK_EQUAL(str(notes[0].outcome), "skipped");
  CHECK_EQUAL(notes[0].number, 1);
  CHECK(unbox(store->list_attempts(o1.id)).empty());
  // A later claim while the first run is queued: skipped too.
  auto second
    = unbox(agent->claim_bucket_jobs("b1", std::nullopt, t0 + 3s, 10, 1s));
  CHECK(second.empty());
  CHECK_EQUAL(str(get(o3.id).status), "cancelled");
  // While it is processing, in another bucket as well.
  auto run = get(o1.id);
  run.status = job_status::processing;
  run = write(run);
  auto o4 = occurrence(s, t0 + 4s, "b2");
  insert({o4});
  CHECK(unbox(agent->claim_bucket_jobs("b2", std::nullopt, t0 + 4s, 10, 1s))
          .empty());
  CHECK_EQUAL(str(get(o4.id).status), "cancelled");
  REQUIRE_EQUAL(unbox(store->list_attempts(o4.id)).size(), 1u);
  // Once it finished, the next one runs.
  run.status = job_status::succeeded;
  clear_placement(run);
  run = write(run, make_attempt(attempt_outcome::succeeded));
  auto o5 = occurrence(s, t0 + 5s, "b2");
  auto o6 = occurrence(s, t0 + 6s, "b2");
  insert({o5, o6});
  auto third
    = unbox(agent->claim_bucket_jobs("b2", std::nullopt, t0 + 5s, 10, 1s));
  REQUIRE_EQUAL(third.size(), 1u);
  CHECK(third[0].id == o5.id);
  // Guarded jobs that are not due stay as they are.
  CHECK_EQUAL(str(get(o6.id).status), "assigned_to_bucket");
  auto counts = unbox(store->count_by_status());
  CHECK_EQUAL(counts[job_status::cancelled], 3u);
}

TEST(concurrent claims never start two runs of a guarded schedule) {
  constexpr int rounds = 5;
  constexpr int schedules = 20;
  constexpr int claimers = 2;
  std::vector<store_connection> conns;
  for (int i = 0; i < claimers; ++i)
    conns.push_back(connect());
  for (int round = 0; round < rounds; ++round) {
    std::vector<schedule_id> ids;
    std::vector<job> xs;
    for (int s = 0; s < schedules; ++s) {
      ids.push_back(uuid::random());
      // Each claimer's bucket holds due occurrences of every schedule.
      for (int c = 0; c < claimers; ++c)
        for (int k = 0; k < 2; ++k)
          xs.push_back(
            occurrence(ids.back(), t0 + std::chrono::milliseconds{k * 10 + c},
                       "r" + std::to_string(round) + "-" + std::to_string(c)));
    }
    insert(xs);
    std::vector<std::vector<job>> out(claimers);
    std::vector<std::string> errors(claimers);
    run_together(claimers, [&](int c) {
      auto bucket = "r" + std::to_string(round) + "-" + std::to_string(c);
      auto got = conns[c].agent->claim_bucket_jobs(bucket, std::nullopt,
                                                   t0 + 1s, 1000, 1s);
      if (got)
        out[c] = std::move(*got);
      else
        errors[c] = describe(got.error());
    });
    std::map<schedule_id, int> runs;
    for (int c = 0; c < claimers; ++c) {
      CHECK_EQUAL(errors[c], "");
      for (auto& x : out[c])
        ++runs[*x.recurring_schedule_id];
    }
    for (auto& id : ids)
      CHECK_EQUAL(runs[id], 1);
    auto counts = unbox(store->count_by_status());
    // Earlier rounds' runs have finished.
    CHECK_EQUAL(counts[job_status::queued], static_cast<uint64_t>(schedules));
    CHECK_EQUAL(
      counts[job_status::cancelled],
      static_cast<uint64_t>(schedules * (claimers * 2 - 1) * (round + 1)));
    // Finish the runs so that the next round starts from nothing running.
    std::vector<job_write> ends;
    for (auto& xs_c : out)
      for (auto& x : xs_c) {
        auto y = x;
        y.status = job_status::succeeded;
        clear_placement(y);
        ends.push_back(job_write{y, x.version, std::nullopt});
      }
    auto res = unbox(store->write_jobs(ends));
    CHECK(std::all_of(res.begin(), res.end(), [](bool b) { return b; }));
  }
}

// -- retention
// ------------------------------------------------------------------

TEST(purge deletes old final jobs and schedules within the limit) {
  auto j1 = make_job("j1", t0 - 3h, job_status::succeeded);
  auto j2 = make_job("j2", t0 - 2h, job_status::failed);
  auto j3 = make_job("j3", t0 - 1h, job_status::cancelled);
  auto recent = make_job("recent", t0 + 1h, job_status::succeeded);
  auto live = make_job("live", t0 - 5h);
  auto running = in_bucket(make_job("running", t0 - 5h), "b1");
  running.status = job_status::processing;
  insert({j1, j2, j3, recent, live, running});
  for (auto& x : {j1, j2, j3, recent, live})
    write(x, make_attempt(attempt_outcome::failed));
  auto sched = [&](std::string name, schedule_status status,
                   std::optional<timestamp> terminated) {
    auto x = make_schedule(std::move(name), t0 - 10h);
    x.status = status;
    x.terminated_at = terminated;
    require_ok(store->insert_schedule(x));
    return x;
  };
  auto s_cancelled = sched("c", schedule_status::cancelled, t0 - 1h);
  auto s_completed = sched("d", schedule_status::completed, t0 - 2h);
  auto s_inactive = sched("i", schedule_status::inactive, t0 - 3h);
  auto s_active = sched("a", schedule_status::active, std::nullopt);
  auto s_recent = sched("r", schedule_status::cancelled, t0 + 1h);
  // Two jobs and two schedules at most.
  CHECK_EQUAL(unbox(store->purge(t0, 2)), 4u);
  int left = 0;
  for (auto& x : {j1, j2, j3})
    left += exists(x.id) ? 1 : 0;
  CHECK_EQUAL(left, 1);
  CHECK(!unbox(store->get_schedule(s_cancelled.id)));
  CHECK(!unbox(store->get_schedule(s_completed.id)));
  CHECK_EQUAL(unbox(store->purge(t0, 2)), 1u);
  CHECK_EQUAL(unbox(store->purge(t0, 2)), 0u);
  for (auto& x : {j1, j2, j3}) {
    CHECK(!exists(x.id));
    CHECK(unbox(store->list_attempts(x.id)).empty());
  }
  for (auto& x : {recent, live, running})
    CHECK(exists(x.id));
  CHECK_EQUAL(unbox(store->list_attempts(recent.id)).size(), 1u);
  CHECK_EQUAL(unbox(store->list_attempts(live.id)).size(), 1u);
  for (auto& x : {s_inactive, s_active, s_recent})
    CHECK(unbox(store->get_schedule(x.id)));
  CHECK_EQUAL(unbox(store->list_schedules({})).size(), 3u);
  // The cutoff is exclusive.
  CHECK_EQUAL(unbox(store->purge(t0 + 1h, 100)), 0u);
  CHECK_EQUAL(unbox(store->purge(t0 + 1h + 1us, 100)), 2u);
  CHECK(!exists(recent.id));
  CHECK(!unbox(store->get_schedule(s_recent.id)));
}

// -- agent queues
// ---------------------------------------------------------------

namespace {

/// A job as the master pushes it into a bucket's save-pending queue.
job pending_in(job x, std::string bucket) {
  x = in_bucket(std::move(x), std::move(bucket));
  x.status = job_status::save_pending;
  return x;
}

std::vector<job_id> ids_of(const pending_read& r) {
  std::vector<job_id> result;
  for (auto& x : r.jobs)
    result.push_back(x.job.id);
  return result;
}

std::vector<int64_t> seqs_of(const pending_read& r) {
  std::vector<int64_t> result;
  for (auto& x : r.jobs)
    result.push_back(x.seq);
  return result;
}

std::vector<job_id> ids_of(const std::vector<job>& xs) {
  std::vector<job_id> result;
  for (auto& x : xs)
    result.push_back(x.id);
  return result;
}

} // namespace

TEST(agent queues keep push order per bucket and every field) {
  auto full = pending_in(test::full_job(), "b1");
  full.skip_if_running = true;
  full.metadata = test::every_value();
  auto a = pending_in(make_job("a", t0 + 1h), "b1");
  auto other = pending_in(make_job("other", t0), "b2");
  auto b = pending_in(make_job("b", t0 - 1h), "b1");
  // One push of one, a bulk push across two queues, another of one.
  require_ok(queue->push_pending({full}));
  require_ok(queue->push_pending({a, other}));
  require_ok(queue->push_pending({b}));
  auto r = unbox(queue->read_pending("b1", 10));
  CHECK(r.corrupt.empty());
  // Push order, not due order.
  CHECK(ids_of(r) == (std::vector<job_id>{full.id, a.id, b.id}));
  REQUIRE_EQUAL(r.jobs.size(), 3u);
  check_stored(r.jobs[0].job, full);
  check_stored(r.jobs[2].job, b);
  CHECK(r.jobs[0].seq < r.jobs[1].seq && r.jobs[1].seq < r.jobs[2].seq);
  // A limit takes the oldest; reading removes nothing.
  auto first = unbox(queue->read_pending("b1", 2));
  CHECK(ids_of(first) == (std::vector<job_id>{full.id, a.id}));
  CHECK_EQUAL(unbox(queue->read_pending("b1", 10)).jobs.size(), 3u);
  CHECK(ids_of(unbox(queue->read_pending("b2", 10)))
        == std::vector<job_id>{other.id});
  CHECK(unbox(queue->read_pending("nobody", 10)).jobs.empty());
  CHECK(unbox(queue->read_pending("b1", 0)).jobs.empty());
  CHECK(unbox(queue->pending_buckets())
        == (std::vector<std::string>{"b1", "b2"}));
  // Another connection sees the same queue.
  auto peer = connect();
  CHECK(ids_of(unbox(peer.queue->read_pending("b1", 10))) == ids_of(r));
}

TEST(agent queue bulk pushes are all or none) {
  // More than one multi-row statement's worth on every backend.
  std::vector<job> xs;
  for (int i = 0; i < 1200; ++i)
    xs.push_back(
      pending_in(make_job("bulk", t0 - std::chrono::seconds{i}), "bulk"));
  require_ok(queue->push_pending(xs));
  auto r = unbox(queue->read_pending("bulk", 2000));
  CHECK(ids_of(r) == ids_of(xs));
  // A job without its bucket spoils the whole push.
  auto bad = make_job("no bucket", t0);
  auto more = pending_in(make_job("more", t0), "bulk");
  auto err = queue->push_pending({more, bad});
  CHECK(err);
  CHECK_EQUAL(code_of(err), ec::invalid_argument);
  CHECK_EQUAL(unbox(queue->read_pending("bulk", 2000)).jobs.size(), 1200u);
  require_ok(queue->push_pending({}));
}

TEST(agent queue entries go once the master has their jobs) {
  std::vector<job> xs;
  for (int i = 0; i < 5; ++i)
    xs.push_back(pending_in(make_job("p", t0), "b1"));
  require_ok(queue->push_pending(xs));
  // What a bucket's connection does: read, persist, then remove.
  auto r = unbox(queue->read_pending("b1", 3));
  std::vector<job> persisted;
  for (auto& x : r.jobs) {
    auto j = x.job;
    j.status = job_status::assigned_to_bucket;
    persisted.push_back(j);
  }
  insert(persisted);
  CHECK_EQUAL(unbox(queue->remove_pending(seqs_of(r))), 3u);
  // Removing twice (a second drainer) or unknown entries changes nothing.
  CHECK_EQUAL(unbox(queue->remove_pending(seqs_of(r))), 0u);
  CHECK_EQUAL(unbox(queue->remove_pending({})), 0u);
  auto rest = unbox(queue->read_pending("b1", 10));
  CHECK(ids_of(rest) == (std::vector<job_id>{xs[3].id, xs[4].id}));
  for (auto& x : persisted)
    CHECK_EQUAL(str(get(x.id).status), "assigned_to_bucket");
  // Persisting again is insert-or-ignore: the master keeps one row.
  insert(persisted);
  CHECK_EQUAL(unbox(store->count_by_status())[job_status::assigned_to_bucket],
              3u);
  CHECK_EQUAL(unbox(queue->remove_pending(seqs_of(rest))), 2u);
  CHECK(unbox(queue->pending_buckets()).empty());
}

TEST(concurrent pushers and a drainer lose nothing and keep each order) {
  constexpr int pushers = 3;
  constexpr int per_pusher = 400;
  std::vector<std::vector<job>> pushed(pushers);
  for (int p = 0; p < pushers; ++p)
    for (int i = 0; i < per_pusher; ++i)
      pushed[p].push_back(
        pending_in(make_job("p" + std::to_string(p), t0), "shared"));
  std::vector<store_connection> conns;
  for (int i = 0; i <= pushers; ++i)
    conns.push_back(connect());
  std::vector<std::string> errors(pushers + 1);
  std::vector<job_id> drained;
  std::atomic<int> pushing{pushers};
  run_together(pushers + 1, [&](int i) {
    if (i < pushers) {
      // In small batches, so that pushes and reads interleave.
      for (int k = 0; k < per_pusher; k += 8) {
        std::vector<job> batch(pushed[i].begin() + k,
                               pushed[i].begin() + k + 8);
        if (auto err = conns[i].queue->push_pending(batch)) {
          errors[i] = describe(err);
          break;
        }
      }
      --pushing;
      return;
    }
    for (;;) {
      auto done = pushing.load() == 0;
      auto r = conns[i].queue->read_pending("shared", 50);
      if (!r) {
        errors[i] = describe(r.error());
        return;
      }
      for (auto& x : r->jobs)
        drained.push_back(x.job.id);
      if (auto n = conns[i].queue->remove_pending(seqs_of(*r)); !n) {
        errors[i] = describe(n.error());
        return;
      }
      if (done && r->jobs.empty())
        return;
    }
  });
  for (auto& e : errors)
    CHECK_EQUAL(e, "");
  CHECK_EQUAL(drained.size(), size_t{pushers * per_pusher});
  CHECK_EQUAL(std::set<job_id>(drained.begin(), drained.end()).size(),
              size_t{pushers * per_pusher});
  // Each pusher's jobs come out in the order it pushed them.
  for (int p = 0; p < pushers; ++p) {
    std::set<job_id> mine;
    for (auto& x : pushed[p])
      mine.insert(x.id);
    std::vector<job_id> seen;
    for (auto& id : drained)
      if (mine.count(id) > 0)
        seen.push_back(id);
    CHECK(seen == ids_of(pushed[p]));
  }
}

TEST(concurrent movers of one queue leave each job once in the master) {
  // What a bucket's claim and a rescue round do at the same time.
  constexpr int n = 600;
  std::vector<job> xs;
  for (int i = 0; i < n; ++i)
    xs.push_back(pending_in(make_job("m", t0), "b1"));
  require_ok(queue->push_pending(xs));
  constexpr int movers = 3;
  std::vector<store_connection> conns;
  for (int i = 0; i < movers; ++i)
    conns.push_back(connect());
  std::vector<std::string> errors(movers);
  run_together(movers, [&](int i) {
    for (;;) {
      auto r = conns[i].queue->read_pending("b1", 50);
      if (!r) {
        errors[i] = describe(r.error());
        return;
      }
      if (r->jobs.empty())
        return;
      std::vector<job> held;
      for (auto& x : r->jobs) {
        auto j = x.job;
        j.status = job_status::held_on_master;
        clear_placement(j);
        held.push_back(j);
      }
      if (auto err = conns[i].master->insert_jobs(held)) {
        errors[i] = describe(err);
        return;
      }
      if (auto k = conns[i].queue->remove_pending(seqs_of(*r)); !k) {
        errors[i] = describe(k.error());
        return;
      }
    }
  });
  for (auto& e : errors)
    CHECK_EQUAL(e, "");
  CHECK(unbox(queue->pending_buckets()).empty());
  CHECK_EQUAL(unbox(store->count_by_status())[job_status::held_on_master],
              size_t{n});
  job_filter all;
  all.limit = 10000;
  CHECK_EQUAL(unbox(store->list_jobs(all)).size(), size_t{n});
}

CAF_TEST_FIXTURE_SCOPE_END()
