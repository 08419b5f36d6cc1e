#define CAF_SUITE actors.agent_connection
#include "tests/support/test.hpp"

#include "tests/support/fake_actors.hpp"
#include "tests/support/jobs.hpp"

#include "actors/agent_connection.hpp"

#include <caf/all.hpp>

#include <chrono>
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
  fixture() { handle = spawn<caf::detached>(agent_connection, db); }

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
