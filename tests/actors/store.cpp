#define CAF_SUITE actors.store
#include "tests/support/test.hpp"

#include "tests/support/fake_actors.hpp"
#include "tests/support/jobs.hpp"

#include "actors/store.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;
using test::str;

namespace {

/// A master store in memory. Every call is recorded; while `failure` is
/// set, every call returns it.
struct fake_db : master_store {
  caf::error migrate() override { return {}; }

  caf::error insert_jobs(const std::vector<job>& xs) override {
    calls.push_back("insert_jobs");
    if (failure)
      return failure;
    for (auto& x : xs)
      jobs.emplace(x.id, x);
    return {};
  }

  caf::expected<std::optional<job>> get_job(const job_id& id) override {
    calls.push_back("get_job");
    if (failure)
      return failure;
    if (auto i = jobs.find(id); i != jobs.end())
      return std::optional<job>{i->second};
    return std::optional<job>{};
  }

  caf::expected<std::vector<job>> list_jobs(const job_filter& f) override {
    calls.push_back("list_jobs");
    filter = f;
    if (failure)
      return failure;
    std::vector<job> result;
    for (auto& [id, x] : jobs)
      result.push_back(x);
    return result;
  }

  caf::expected<std::vector<attempt>> list_attempts(const job_id&) override {
    calls.push_back("list_attempts");
    if (failure)
      return failure;
    if (attempts_failure)
      return attempts_failure;
    return attempts;
  }

  caf::expected<std::vector<bool>>
  write_jobs(const std::vector<job_write>& xs) override {
    calls.push_back("write_jobs");
    writes = xs;
    if (failure)
      return failure;
    return write_result;
  }

  caf::expected<std::vector<job>>
  assign_held_jobs(timestamp a, timestamp h, uint32_t n,
                   const bucket_router& route) override {
    calls.push_back("assign_held_jobs");
    after = a;
    horizon = h;
    limit = n;
    if (failure)
      return failure;
    std::vector<job> result;
    for (auto& [id, x] : jobs) {
      if (result.size() >= n)
        break;
      if (x.status != job_status::held_on_master || x.scheduled_at <= a
          || x.scheduled_at > h)
        continue;
      if (auto b = route(x)) {
        x.status = job_status::assigned_to_bucket;
        x.bucket_id = b->bucket_id;
        x.worker_id = b->worker_id;
        x.version += 1;
        result.push_back(x);
      }
    }
    return result;
  }

  caf::expected<std::map<job_status, uint64_t>> count_by_status() override {
    return std::map<job_status, uint64_t>{};
  }

  caf::error upsert_node(const node_record& x) override {
    calls.push_back("upsert_node");
    node = x;
    return failure;
  }

  caf::expected<bool> renew_node(std::string_view id,
                                 timestamp expires) override {
    calls.push_back("renew_node");
    node_id = std::string{id};
    lease = expires;
    if (failure)
      return failure;
    return alive;
  }

  caf::error remove_node(std::string_view id) override {
    calls.push_back("remove_node");
    node_id = std::string{id};
    return failure;
  }

  caf::expected<std::vector<node_record>> list_nodes() override {
    return std::vector<node_record>{};
  }

  caf::error upsert_buckets(const std::vector<bucket_record>& xs) override {
    calls.push_back("upsert_buckets");
    buckets = xs;
    return failure;
  }

  caf::expected<std::vector<bucket_record>> live_buckets(timestamp) override {
    return std::vector<bucket_record>{};
  }

  caf::expected<std::vector<job>> rescue_dead_nodes(timestamp t) override {
    calls.push_back("rescue_dead_nodes");
    at = t;
    if (failure)
      return failure;
    return rescued;
  }

  caf::expected<uint64_t> sweep_deadlines(timestamp t) override {
    calls.push_back("sweep_deadlines");
    at = t;
    if (failure)
      return failure;
    return swept;
  }

  caf::error insert_schedule(const recurring_schedule& x) override {
    calls.push_back("insert_schedule");
    if (failure)
      return failure;
    schedules.emplace(x.id, x);
    return {};
  }

  caf::expected<recurring_schedule>
  upsert_static_schedule(const recurring_schedule& x) override {
    calls.push_back("upsert_static_schedule");
    if (failure)
      return failure;
    schedules.insert_or_assign(x.id, x);
    return x;
  }

  caf::expected<std::optional<recurring_schedule>>
  get_schedule(const schedule_id& id) override {
    calls.push_back("get_schedule");
    if (failure)
      return failure;
    if (auto i = schedules.find(id); i != schedules.end())
      return std::optional<recurring_schedule>{i->second};
    return std::optional<recurring_schedule>{};
  }

  caf::expected<std::vector<recurring_schedule>>
  list_schedules(const schedule_filter&) override {
    calls.push_back("list_schedules");
    if (failure)
      return failure;
    std::vector<recurring_schedule> result;
    for (auto& [id, x] : schedules)
      result.push_back(x);
    return result;
  }

  caf::expected<std::vector<recurring_schedule>>
  schedules_to_plan(timestamp h, uint32_t) override {
    calls.push_back("schedules_to_plan");
    horizon = h;
    if (failure)
      return failure;
    std::vector<recurring_schedule> result;
    for (auto& [id, x] : schedules)
      if (x.status == schedule_status::active && x.planned_until < h)
        result.push_back(x);
    return result;
  }

  caf::expected<std::optional<uint64_t>>
  write_schedule(const recurring_schedule& x, int64_t expected,
                 const std::vector<job>& xs) override {
    calls.push_back("write_schedule");
    if (failure)
      return failure;
    auto i = schedules.find(x.id);
    if (i == schedules.end() || i->second.version != expected)
      return std::optional<uint64_t>{};
    i->second = x;
    i->second.version = expected + 1;
    for (auto& j : xs)
      jobs.emplace(j.id, j);
    return std::optional<uint64_t>{xs.size()};
  }

  caf::error touch_static_schedules(const std::vector<std::string>&,
                                    timestamp) override {
    calls.push_back("touch_static_schedules");
    return failure;
  }

  caf::expected<std::vector<recurring_schedule>>
  retire_static_schedules(timestamp, timestamp) override {
    calls.push_back("retire_static_schedules");
    if (failure)
      return failure;
    return std::vector<recurring_schedule>{};
  }

  caf::expected<uint64_t> purge(timestamp before, uint32_t) override {
    calls.push_back("purge");
    at = before;
    if (failure)
      return failure;
    return purged;
  }

  // Inputs seen.
  std::vector<std::string> calls;
  job_filter filter;
  std::vector<job_write> writes;
  timestamp after;
  timestamp horizon;
  uint32_t limit = 0;
  node_record node;
  std::string node_id;
  timestamp lease;
  std::vector<bucket_record> buckets;
  timestamp at;

  // Canned results.
  caf::error failure;
  caf::error attempts_failure;
  std::map<job_id, job> jobs;
  std::vector<attempt> attempts;
  std::vector<bool> write_result;
  bool alive = true;
  std::vector<job> rescued;
  uint64_t swept = 0;
  std::map<schedule_id, recurring_schedule> schedules;
  uint64_t purged = 0;
};

job sample(priority p = priority::medium, std::string lane = "") {
  auto x = test::full_job();
  x.status = job_status::held_on_master;
  x.priority = p;
  x.lane = std::move(lane);
  x.bucket_id.clear();
  x.worker_id.clear();
  x.process_deadline.reset();
  x.scheduled_at = now() - 1s;
  return x;
}

bucket_record bucket_rec(std::string id, priority p, std::string lane = "") {
  bucket_record x;
  x.bucket_id = std::move(id);
  x.worker_id = "w-" + x.bucket_id;
  x.node_id = "n1";
  x.priority = p;
  x.lane = std::move(lane);
  return x;
}

caf::error disk_error() {
  return make_error(ec::store_failure, "disk on fire");
}

// The store's reads and writes happen on the actor's thread; the test reads
// the fake only after the reply, which orders the two.
struct fixture : test::live_fixture {
  fixture() { handle = spawn<caf::detached>(jm::store, db); }

  /// Checks that `x` holds exactly the provider's error.
  template <class T>
  void check_failed(const caf::expected<T>& x) {
    REQUIRE(!x);
    CHECK(x.error() == db->failure);
    CHECK_EQUAL(code_of(x.error()), ec::store_failure);
    CHECK_EQUAL(describe(x.error()), "disk on fire");
  }

  std::shared_ptr<fake_db> db = std::make_shared<fake_db>();
  store_actor handle;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(store_tests, fixture)

TEST(insert stores the jobs) {
  auto x = sample();
  auto y = sample();
  auto ok = call<bool>(handle, atom::insert_v, job_list{{x, y}});
  REQUIRE(ok);
  CHECK(*ok);
  REQUIRE_EQUAL(db->jobs.size(), 2u);
  test::check_same(db->jobs.at(x.id), x);
  db->failure = disk_error();
  check_failed(call<bool>(handle, atom::insert_v, job_list{{sample()}}));
}

TEST(get answers the job or nothing) {
  auto x = sample();
  db->jobs.emplace(x.id, x);
  auto found = call<maybe_job>(handle, atom::get_v, x.id);
  REQUIRE(found);
  REQUIRE(found->job);
  test::check_same(*found->job, x);
  auto absent = call<maybe_job>(handle, atom::get_v, uuid::random());
  REQUIRE(absent);
  CHECK(!absent->job);
  db->failure = disk_error();
  check_failed(call<maybe_job>(handle, atom::get_v, x.id));
}

TEST(list passes the filter and answers the jobs) {
  auto x = sample();
  db->jobs.emplace(x.id, x);
  job_filter f;
  f.statuses = {job_status::held_on_master, job_status::failed};
  f.handler = "send-email";
  f.lane = "fast-lane";
  f.scheduled_from = from_micros(1);
  f.scheduled_to = from_micros(2);
  f.limit = 7;
  auto xs = call<job_list>(handle, atom::list_v, f);
  REQUIRE(xs);
  REQUIRE_EQUAL(xs->jobs.size(), 1u);
  test::check_same(xs->jobs[0], x);
  CHECK(db->filter.statuses == f.statuses);
  CHECK_EQUAL(db->filter.handler, "send-email");
  CHECK_EQUAL(db->filter.lane, "fast-lane");
  CHECK(db->filter.scheduled_from == f.scheduled_from);
  CHECK(db->filter.scheduled_to == f.scheduled_to);
  CHECK_EQUAL(db->filter.limit, 7u);
  db->failure = disk_error();
  check_failed(call<job_list>(handle, atom::list_v, f));
}

TEST(detail answers the job with its attempts) {
  auto x = sample();
  db->jobs.emplace(x.id, x);
  attempt a;
  a.job = x.id;
  a.number = 1;
  a.worker_id = "w";
  a.outcome = attempt_outcome::failed;
  a.error = "boom";
  db->attempts = {a};
  auto d = call<job_detail>(handle, atom::detail_v, x.id);
  REQUIRE(d);
  test::check_same(d->job, x);
  REQUIRE_EQUAL(d->attempts.size(), 1u);
  CHECK_EQUAL(d->attempts[0].error, "boom");
  CHECK_EQUAL(d->attempts[0].number, 1);
  // An absent job is an error of its own.
  auto absent_id = uuid::random();
  auto absent = call<job_detail>(handle, atom::detail_v, absent_id);
  REQUIRE(!absent);
  CHECK_EQUAL(code_of(absent.error()), ec::unknown_job);
  CHECK_EQUAL(describe(absent.error()),
              "no job with id " + to_string(absent_id));
  // Either read may fail.
  db->attempts_failure = disk_error();
  auto no_attempts = call<job_detail>(handle, atom::detail_v, x.id);
  REQUIRE(!no_attempts);
  CHECK(no_attempts.error() == db->attempts_failure);
  CHECK_EQUAL(describe(no_attempts.error()), "disk on fire");
  db->attempts_failure = caf::error{};
  db->failure = disk_error();
  check_failed(call<job_detail>(handle, atom::detail_v, x.id));
}

TEST(write passes the writes and answers what applied) {
  job_write w1;
  w1.job = sample();
  w1.expected_version = 4;
  job_write w2;
  w2.job = sample();
  w2.expected_version = 9;
  attempt a;
  a.job = w2.job.id;
  a.outcome = attempt_outcome::timed_out;
  w2.attempt = a;
  db->write_result = {true, false};
  auto flags = call<write_flags>(handle, atom::write_v, job_writes{{w1, w2}});
  REQUIRE(flags);
  CHECK((flags->applied == std::vector<bool>{true, false}));
  REQUIRE_EQUAL(db->writes.size(), 2u);
  CHECK_EQUAL(db->writes[0].expected_version, 4);
  CHECK_EQUAL(db->writes[1].expected_version, 9);
  REQUIRE(db->writes[1].attempt);
  CHECK_EQUAL(str(db->writes[1].attempt->outcome), "timed_out");
  test::check_same(db->writes[0].job, w1.job);
  db->failure = disk_error();
  check_failed(call<write_flags>(handle, atom::write_v, job_writes{{w1}}));
}

TEST(assign routes held jobs to buckets of their priority and lane) {
  std::vector<job> medium;
  for (int i = 0; i < 64; ++i) {
    auto x = sample(priority::medium);
    medium.push_back(x);
    db->jobs.emplace(x.id, x);
  }
  auto gpu = sample(priority::medium, "gpu");
  auto high = sample(priority::high);
  auto unrouted = sample(priority::low);
  for (auto& x : {gpu, high, unrouted})
    db->jobs.emplace(x.id, x);
  assign_request req;
  req.after = now() - 1h;
  req.horizon = now() + 30s;
  req.limit = 1000;
  req.buckets = {
    bucket_rec("m1", priority::medium), bucket_rec("m2", priority::medium),
    bucket_rec("g", priority::medium, "gpu"), bucket_rec("h", priority::high),
    bucket_rec("h-gpu", priority::high, "gpu")};
  auto xs = call<job_list>(handle, atom::assign_v, req);
  REQUIRE(xs);
  CHECK(db->after == req.after);
  CHECK(db->horizon == req.horizon);
  CHECK_EQUAL(db->limit, 1000u);
  CHECK_EQUAL(xs->jobs.size(), 66u);
  std::map<std::string, size_t> per_bucket;
  for (auto& x : xs->jobs) {
    ++per_bucket[x.bucket_id];
    CHECK_EQUAL(x.worker_id, "w-" + x.bucket_id);
    CHECK(x.id != unrouted.id);
    if (x.id == gpu.id)
      CHECK_EQUAL(x.bucket_id, "g");
    else if (x.id == high.id)
      CHECK_EQUAL(x.bucket_id, "h");
    else
      CHECK(x.bucket_id == "m1" || x.bucket_id == "m2");
  }
  // Spread at random over the matching buckets (both get some of 64).
  CHECK(per_bucket["m1"] > 0u);
  CHECK(per_bucket["m2"] > 0u);
  CHECK_EQUAL(per_bucket["m1"] + per_bucket["m2"], 64u);
  CHECK_EQUAL(per_bucket["h-gpu"], 0u);
  // No buckets: nothing is routed.
  for (auto& [id, x] : db->jobs)
    x.status = job_status::held_on_master;
  req.buckets.clear();
  xs = call<job_list>(handle, atom::assign_v, req);
  REQUIRE(xs);
  CHECK(xs->jobs.empty());
  db->failure = disk_error();
  check_failed(call<job_list>(handle, atom::assign_v, req));
}

TEST(membership calls reach the provider) {
  node_record n;
  n.node_id = "n1";
  n.host = "localhost";
  n.port = 4711;
  n.pid = 42;
  n.started_at = from_micros(1'000);
  n.lease_expires_at = from_micros(5'000);
  auto joined = call<bool>(handle, atom::join_v, n);
  REQUIRE(joined);
  CHECK(*joined);
  CHECK_EQUAL(db->node.node_id, "n1");
  CHECK_EQUAL(db->node.host, "localhost");
  CHECK_EQUAL(db->node.port, 4711);
  CHECK_EQUAL(db->node.pid, 42);
  CHECK(db->node.lease_expires_at == n.lease_expires_at);
  auto alive = call<bool>(handle, atom::renew_v,
                          lease_renewal{"n1", from_micros(9'000)});
  REQUIRE(alive);
  CHECK(*alive);
  CHECK_EQUAL(db->node_id, "n1");
  CHECK(db->lease == from_micros(9'000));
  // A node declared dead learns it from the renewal.
  db->alive = false;
  alive = call<bool>(handle, atom::renew_v,
                     lease_renewal{"n1", from_micros(9'500)});
  REQUIRE(alive);
  CHECK(!*alive);
  auto left = call<bool>(handle, atom::leave_v, std::string{"n2"});
  REQUIRE(left);
  CHECK(*left);
  CHECK_EQUAL(db->node_id, "n2");
  auto registered = call<bool>(handle, atom::buckets_v,
                               bucket_list{{bucket_rec("b1", priority::low),
                                            bucket_rec("b2", priority::high)}});
  REQUIRE(registered);
  CHECK(*registered);
  REQUIRE_EQUAL(db->buckets.size(), 2u);
  CHECK_EQUAL(db->buckets[1].bucket_id, "b2");
  db->failure = disk_error();
  check_failed(call<bool>(handle, atom::join_v, n));
  check_failed(call<bool>(handle, atom::renew_v, lease_renewal{"n1", {}}));
  check_failed(call<bool>(handle, atom::leave_v, std::string{"n1"}));
  check_failed(call<bool>(handle, atom::buckets_v, bucket_list{}));
}

TEST(rescue and sweep run at the current time) {
  auto x = sample();
  db->rescued = {x};
  db->swept = 3;
  auto before = now();
  auto rescued = call<job_list>(handle, atom::rescue_v);
  REQUIRE(rescued);
  REQUIRE_EQUAL(rescued->jobs.size(), 1u);
  test::check_same(rescued->jobs[0], x);
  CHECK(db->at >= before);
  CHECK(db->at <= now());
  before = now();
  auto swept = call<uint64_t>(handle, atom::sweep_v);
  REQUIRE(swept);
  CHECK_EQUAL(*swept, 3u);
  CHECK(db->at >= before);
  CHECK(db->at <= now());
  db->failure = disk_error();
  check_failed(call<job_list>(handle, atom::rescue_v));
  check_failed(call<uint64_t>(handle, atom::sweep_v));
}

TEST(every request reaches the provider once) {
  auto x = sample();
  CHECK(call<bool>(handle, atom::insert_v, job_list{{x}}));
  CHECK(call<maybe_job>(handle, atom::get_v, x.id));
  CHECK(call<job_detail>(handle, atom::detail_v, x.id));
  CHECK(call<uint64_t>(handle, atom::sweep_v));
  CHECK((db->calls
         == std::vector<std::string>{"insert_jobs", "get_job", "get_job",
                                     "list_attempts", "sweep_deadlines"}));
}

CAF_TEST_FIXTURE_SCOPE_END()
