#define CAF_SUITE actors.agent_connection
#include "tests/support/test.hpp"

#include "tests/support/fake_actors.hpp"
#include "tests/support/jobs.hpp"

#include "actors/agent_connection.hpp"
#include "providers/sqlite/sqlite_store.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;
using test::str;

namespace {

/// An agent store in memory. While `failure` is set, every call returns it.
struct fake_agent_db : agent_store {
  caf::expected<std::vector<job>>
  claim_bucket_jobs(std::string_view id, const std::optional<held_route>& a,
                    timestamp due, uint32_t n, duration g) override {
    ++claims;
    bucket_id = std::string{id};
    adopt = a;
    due_by = due;
    limit = n;
    grace = g;
    if (failure)
      return failure;
    return claimable;
  }

  caf::expected<uint64_t> release_bucket_jobs(std::string_view id,
                                              timestamp t) override {
    ++releases;
    bucket_id = std::string{id};
    at = t;
    if (failure)
      return failure;
    return released;
  }

  caf::expected<std::vector<bool>>
  write_results(const std::vector<job_write>& xs) override {
    ++writes_calls;
    writes = xs;
    if (failure)
      return failure;
    return applied;
  }

  // Inputs seen.
  int claims = 0;
  int releases = 0;
  int writes_calls = 0;
  std::string bucket_id;
  timestamp due_by;
  uint32_t limit = 0;
  duration grace{};
  std::optional<held_route> adopt;
  timestamp at;
  std::vector<job_write> writes;

  // Canned results.
  caf::error failure;
  std::vector<job> claimable;
  uint64_t released = 0;
  std::vector<bool> applied;
};

caf::error disk_error() {
  return make_error(ec::store_failure, "disk on fire");
}

// The provider is used on the actor's thread; the test reads it only after
// the reply, which orders the two.
struct fixture : test::live_fixture {
  fixture() {
    handle = spawn<caf::detached>(
      agent_connection, agent_connection_stores{db, nullptr, nullptr});
  }

  /// Checks that `x` holds exactly the provider's error.
  template <class T>
  void check_failed(const caf::expected<T>& x) {
    REQUIRE(!x);
    CHECK(x.error() == db->failure);
    CHECK_EQUAL(code_of(x.error()), ec::store_failure);
    CHECK_EQUAL(describe(x.error()), "disk on fire");
  }

  std::shared_ptr<fake_agent_db> db = std::make_shared<fake_agent_db>();
  agent_connection_actor handle;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(agent_connection_tests, fixture)

TEST(claim passes its arguments and answers the claimed jobs) {
  auto x = test::full_job();
  x.status = job_status::queued;
  db->claimable = {x};
  claim_request req{"b-1", from_micros(1'764'324'000'000'000), 25, 24h,
                    held_route{"w-1", priority::high, "gpu"}};
  auto xs = call<job_list>(handle, atom::claim_v, req);
  REQUIRE(xs);
  REQUIRE_EQUAL(xs->jobs.size(), 1u);
  test::check_same(xs->jobs[0], x);
  CHECK_EQUAL(db->claims, 1);
  CHECK_EQUAL(db->bucket_id, "b-1");
  CHECK(db->due_by == req.due_by);
  CHECK_EQUAL(db->limit, 25u);
  CHECK(db->grace == duration{24h});
  REQUIRE(db->adopt);
  CHECK_EQUAL(db->adopt->worker_id, "w-1");
  CHECK(db->adopt->priority == priority::high);
  CHECK_EQUAL(db->adopt->lane, "gpu");
  // Nothing due is an empty list, not an error.
  db->claimable.clear();
  xs = call<job_list>(handle, atom::claim_v, req);
  REQUIRE(xs);
  CHECK(xs->jobs.empty());
  db->failure = disk_error();
  check_failed(call<job_list>(handle, atom::claim_v, req));
}

TEST(release passes the bucket and the current time) {
  db->released = 4;
  auto before = now();
  auto n = call<uint64_t>(handle, atom::release_v, std::string{"b-2"});
  REQUIRE(n);
  CHECK_EQUAL(*n, 4u);
  CHECK_EQUAL(db->bucket_id, "b-2");
  CHECK(db->at >= before);
  CHECK(db->at <= now());
  db->failure = disk_error();
  check_failed(call<uint64_t>(handle, atom::release_v, std::string{"b-2"}));
}

TEST(write passes the writes and answers what applied) {
  job_write w1;
  w1.job = test::full_job();
  w1.expected_version = 42;
  job_write w2;
  w2.job = test::full_job();
  w2.job.status = job_status::succeeded;
  w2.expected_version = 3;
  attempt a;
  a.job = w2.job.id;
  a.worker_id = "w";
  a.outcome = attempt_outcome::succeeded;
  w2.attempt = a;
  db->applied = {false, true};
  auto flags = call<write_flags>(handle, atom::write_v, job_writes{{w1, w2}});
  REQUIRE(flags);
  CHECK((flags->applied == std::vector<bool>{false, true}));
  REQUIRE_EQUAL(db->writes.size(), 2u);
  test::check_same(db->writes[0].job, w1.job);
  CHECK_EQUAL(db->writes[0].expected_version, 42);
  CHECK(!db->writes[0].attempt);
  CHECK_EQUAL(db->writes[1].expected_version, 3);
  REQUIRE(db->writes[1].attempt);
  CHECK_EQUAL(db->writes[1].attempt->worker_id, "w");
  CHECK_EQUAL(str(db->writes[1].attempt->outcome), "succeeded");
  db->failure = disk_error();
  check_failed(call<write_flags>(handle, atom::write_v, job_writes{{w1}}));
  CHECK_EQUAL(db->writes_calls, 2);
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- with a separate agent store (real SQLite files)
// ---------------------------

namespace {

/// A master store and a separate agent store, each its own SQLite file, and
/// an agent connection over both. Checks go through other connections.
struct split_fixture : test::live_fixture {
  split_fixture() {
    auto tmpl
      = (std::filesystem::temp_directory_path() / "jm-agent-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    auto m = sqlite::sqlite_store::open((dir / "master.db").string(), false);
    auto a = sqlite::sqlite_store::open((dir / "agent.db").string(), false);
    REQUIRE(m && a);
    std::shared_ptr<sqlite::sqlite_store> master_db{std::move(*m)};
    std::shared_ptr<sqlite::sqlite_store> agent_db{std::move(*a)};
    handle = spawn<caf::detached>(
      agent_connection,
      agent_connection_stores{master_db, master_db, agent_db});
    master_view = test_view("master.db");
    queue_view = test_view("agent.db");
  }

  ~split_fixture() {
    stop_all();
    master_view.reset();
    queue_view.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  std::shared_ptr<sqlite::sqlite_store> test_view(const char* file) {
    auto x = sqlite::sqlite_store::open((dir / file).string(), false);
    REQUIRE(x);
    return std::shared_ptr<sqlite::sqlite_store>{std::move(*x)};
  }

  job pending(std::string bucket, timestamp due) {
    auto x = test::full_job();
    x.status = job_status::save_pending;
    x.bucket_id = std::move(bucket);
    x.worker_id = "w-1";
    x.scheduled_at = due;
    x.process_deadline.reset();
    x.version = 1;
    // The route of the bucket registered below, and no occurrence key
    // (jobs of one schedule and time would collide).
    x.priority = priority::medium;
    x.lane.clear();
    x.recurring_schedule_id.reset();
    x.source = trigger_source::once;
    return x;
  }

  void register_bucket(const std::string& bucket) {
    node_record n;
    n.node_id = "n-1";
    n.host = "127.0.0.1";
    n.started_at = now();
    n.lease_expires_at = now() + 1h;
    REQUIRE(!master_view->upsert_node(n));
    REQUIRE(!master_view->upsert_buckets(
      {bucket_record{bucket, "w-1", "n-1", priority::medium, ""}}));
  }

  size_t queued(const std::string& bucket) {
    auto r = queue_view->read_pending(bucket, 1000);
    REQUIRE(r);
    return r->jobs.size();
  }

  std::filesystem::path dir;
  agent_connection_actor handle;
  std::shared_ptr<sqlite::sqlite_store> master_view;
  std::shared_ptr<sqlite::sqlite_store> queue_view;
};

/// Save-pending queues that fail while `failure` is set; counts calls.
struct failing_queue : agent_queue {
  caf::error push_pending(const std::vector<job>&) override {
    ++calls;
    return failure;
  }

  caf::expected<pending_read> read_pending(std::string_view,
                                           uint32_t) override {
    ++calls;
    if (failure)
      return failure;
    return pending_read{};
  }

  caf::expected<std::vector<std::string>> pending_buckets() override {
    ++calls;
    if (failure)
      return failure;
    return std::vector<std::string>{};
  }

  caf::expected<uint64_t> remove_pending(const std::vector<int64_t>&) override {
    ++calls;
    if (failure)
      return failure;
    return uint64_t{0};
  }

  std::atomic<int> calls{0};
  caf::error failure;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(agent_connection_split_tests, split_fixture)

TEST(pushed jobs reach the master store with the next claim of their bucket) {
  register_bucket("b-1");
  auto due = pending("b-1", now() - 1s);
  auto later = pending("b-1", now() + 1h);
  auto elsewhere = pending("b-2", now() - 1s);
  auto ok = call<bool>(handle, atom::push_v, job_list{{due, later, elsewhere}});
  REQUIRE(ok);
  CHECK_EQUAL(queued("b-1"), 2u);
  // Durable in the agent store only, until the bucket claims.
  CHECK(!*master_view->get_job(due.id));
  // They arrive held; the claim adopts the due one by its route.
  claim_request req{"b-1", now(), 10, 24h,
                    held_route{"w-1", priority::medium, ""}};
  auto xs = call<job_list>(handle, atom::claim_v, req);
  REQUIRE(xs);
  REQUIRE_EQUAL(xs->jobs.size(), 1u);
  CHECK(xs->jobs[0].id == due.id);
  CHECK_EQUAL(str(xs->jobs[0].status), "queued");
  CHECK_EQUAL(xs->jobs[0].bucket_id, "b-1");
  // The later one waits held in the master store for the look-ahead.
  auto w = test::unbox(master_view->get_job(later.id));
  REQUIRE(w);
  CHECK_EQUAL(str(w->status), "held_on_master");
  CHECK_EQUAL(w->bucket_id, "");
  CHECK(w->data == later.data);
  CHECK_EQUAL(queued("b-1"), 0u);
  // Another bucket's queue is not touched.
  CHECK_EQUAL(queued("b-2"), 1u);
  CHECK(!*master_view->get_job(elsewhere.id));
}

TEST(a bucket that is not registered moves its queue but adopts nothing) {
  // E.g. its node was declared dead meanwhile: the jobs must not end up
  // placed in a bucket that nobody rescues.
  auto due = pending("b-1", now() - 1s);
  REQUIRE(call<bool>(handle, atom::push_v, job_list{{due}}));
  claim_request req{"b-1", now(), 10, 24h,
                    held_route{"w-1", priority::medium, ""}};
  auto xs = call<job_list>(handle, atom::claim_v, req);
  REQUIRE(xs);
  CHECK(xs->jobs.empty());
  auto x = test::unbox(master_view->get_job(due.id));
  REQUIRE(x);
  CHECK_EQUAL(str(x->status), "held_on_master");
  CHECK_EQUAL(queued("b-1"), 0u);
}

TEST(an entry already in the master store is removed without a second row) {
  auto x = pending("b-1", now() - 1s);
  // A crash after the insert and before the removal left both copies.
  auto placed = x;
  placed.status = job_status::assigned_to_bucket;
  REQUIRE(!master_view->insert_jobs({placed}));
  REQUIRE(!queue_view->push_pending({x}));
  claim_request req{"b-1", now(), 10, 24h, std::nullopt};
  auto xs = call<job_list>(handle, atom::claim_v, req);
  REQUIRE(xs);
  CHECK_EQUAL(xs->jobs.size(), 1u);
  CHECK_EQUAL(queued("b-1"), 0u);
  auto counts = test::unbox(master_view->count_by_status());
  CHECK_EQUAL(counts[job_status::queued], 1u);
  CHECK_EQUAL(counts.size(), 1u);
}

TEST(rescue moves every queue into the master store as held) {
  // Gone, full or draining: whatever its bucket, a queue is moved.
  register_bucket("live");
  auto mine = pending("live", now() - 1s);
  std::vector<job> orphans;
  for (int i = 0; i < 1500; ++i)
    orphans.push_back(pending("gone", now() - 1s));
  REQUIRE(!queue_view->push_pending(orphans));
  REQUIRE(!queue_view->push_pending({mine}));
  auto xs = call<job_list>(handle, atom::rescue_v);
  REQUIRE(xs);
  // All of them, over more than one read.
  CHECK_EQUAL(xs->jobs.size(), orphans.size() + 1);
  CHECK_EQUAL(queued("gone"), 0u);
  CHECK_EQUAL(queued("live"), 0u);
  for (auto id : {orphans[0].id, orphans.back().id, mine.id}) {
    auto x = test::unbox(master_view->get_job(id));
    REQUIRE(x);
    CHECK_EQUAL(str(x->status), "held_on_master");
    CHECK_EQUAL(x->bucket_id, "");
    CHECK_EQUAL(x->worker_id, "");
  }
  // Nothing left to do: an empty answer.
  xs = call<job_list>(handle, atom::rescue_v);
  REQUIRE(xs);
  CHECK(xs->jobs.empty());
}

TEST(a rescue round moves a bounded share of a huge queue) {
  std::vector<job> xs;
  for (int i = 0; i < 10'500; ++i)
    xs.push_back(pending("huge", now() - 1s));
  REQUIRE(!queue_view->push_pending(xs));
  auto first = call<job_list>(handle, atom::rescue_v);
  REQUIRE(first);
  CHECK_EQUAL(first->jobs.size(), 10'000u);
  CHECK_EQUAL(queued("huge"), 500u);
  auto second = call<job_list>(handle, atom::rescue_v);
  REQUIRE(second);
  CHECK_EQUAL(second->jobs.size(), 500u);
  CHECK_EQUAL(
    test::unbox(master_view->count_by_status())[job_status::held_on_master],
    10'500u);
}

TEST(push needs a separate agent store) {
  auto other = spawn<caf::detached>(
    agent_connection, agent_connection_stores{nullptr, nullptr, nullptr});
  auto r = call<bool>(other, atom::push_v, job_list{{pending("b", now())}});
  REQUIRE(!r);
  CHECK_EQUAL(code_of(r.error()), ec::refused);
  auto xs = call<job_list>(other, atom::rescue_v);
  REQUIRE(xs);
  CHECK(xs->jobs.empty());
}

TEST(a failing agent store is left alone for a while and claims go on) {
  auto queue = std::make_shared<failing_queue>();
  queue->failure = make_error(ec::store_failure, "agent store away");
  auto master = test_view("master.db");
  auto conn = spawn<caf::detached>(
    agent_connection, agent_connection_stores{master, master, queue});
  register_bucket("b-1");
  auto mine = pending("b-1", now() - 1s);
  mine.status = job_status::assigned_to_bucket;
  REQUIRE(!master_view->insert_jobs({mine}));
  claim_request req{"b-1", now(), 10, 24h, std::nullopt};
  // The first claim meets the failure and still claims from the master.
  auto xs = call<job_list>(conn, atom::claim_v, req);
  REQUIRE(xs);
  CHECK_EQUAL(xs->jobs.size(), 1u);
  CHECK_EQUAL(queue->calls.load(), 1);
  // Then the agent store is not asked at all for a while: claims do not
  // wait for it, pushes fail at once (the master stores them itself).
  xs = call<job_list>(conn, atom::claim_v, req);
  REQUIRE(xs);
  auto pushed
    = call<bool>(conn, atom::push_v, job_list{{pending("b-1", now())}});
  REQUIRE(!pushed);
  CHECK_EQUAL(code_of(pushed.error()), ec::unavailable);
  auto rescued = call<job_list>(conn, atom::rescue_v);
  REQUIRE(!rescued);
  CHECK_EQUAL(code_of(rescued.error()), ec::unavailable);
  CHECK_EQUAL(queue->calls.load(), 1);
}

CAF_TEST_FIXTURE_SCOPE_END()
