#define CAF_SUITE actors.worker
#include "tests/support/test.hpp"

#include "tests/support/fake_actors.hpp"

#include "actors/worker.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;

namespace {

using strings = std::set<std::string>;

worker_settings settings(std::array<uint32_t, num_priorities> per_priority,
                         worker_mode mode = worker_mode::full) {
  worker_settings s;
  s.worker.name = "w";
  s.worker.mode = mode;
  s.worker.buckets_per_priority = per_priority;
  s.worker.parallelism = 2;
  s.worker.batch_size = 5;
  s.node_id = "n1";
  // Buckets claim at start-up and when woken only.
  s.bucket_template.poll_interval = 1h;
  s.drain_grace = 1s;
  return s;
}

struct fixture : test::live_fixture {
  fixture() {
    spdlog::set_level(spdlog::level::err);
    agent_handle = spawn(test::fake_agent_connection, agent);
    store_handle = spawn(test::fake_store_actor, store);
  }

  worker_actor start(worker_settings s) {
    return spawn(worker, std::move(s),
                 std::vector<agent_connection_actor>{agent_handle},
                 store_handle, handlers);
  }

  struct fake_master {
    std::shared_ptr<test::fake_master> state;
    master_actor handle;
  };

  fake_master spawn_master(std::string name = "m") {
    auto f = std::make_shared<test::fake_master>(std::move(name));
    return {f, spawn(test::fake_master_actor, f)};
  }

  /// A round trip with the fake master: what was sent to it before has
  /// been recorded on return.
  void sync(const fake_master& m) {
    auto r = call<wire_reply>(m.handle, wire_request{});
    REQUIRE(r);
  }

  static strings ids_of(const std::vector<bucket_record>& xs) {
    strings result;
    for (auto& x : xs)
      result.insert(x.bucket_id);
    return result;
  }

  static strings attached_ids(const test::fake_master& m) {
    strings result;
    for (auto& [rec, handle] : m.attached.all())
      result.insert(rec.bucket_id);
    return result;
  }

  std::shared_ptr<test::fake_agent> agent
    = std::make_shared<test::fake_agent>();
  test::fake_agent_actor agent_handle;
  std::shared_ptr<test::fake_store> store
    = std::make_shared<test::fake_store>();
  store_actor store_handle;
  std::shared_ptr<const handler_registry> handlers
    = std::make_shared<handler_registry>();
};

const strings three_buckets{"w@n1/very_low/1", "w@n1/medium/1",
                            "w@n1/medium/2"};

} // namespace

CAF_TEST_FIXTURE_SCOPE(worker_tests, fixture)

TEST(buckets start only once their registration is stored) {
  test::gate registered;
  store->buckets.set_default([&](const bucket_list&) -> caf::expected<bool> {
    registered.wait();
    return true;
  });
  start(settings({0, 0, 1, 0, 0}));
  // While the store has not answered, no bucket runs (a bounded wait for
  // something that must not happen).
  CHECK(!agent->claim.await(1, 200ms));
  registered.open();
  REQUIRE(agent->claim.await(1));
  CHECK_EQUAL(store->buckets.size(), 1u);
}

TEST(buckets spread their claims over the agent connections) {
  auto second = std::make_shared<test::fake_agent>();
  auto second_handle = spawn(test::fake_agent_connection, second);
  spawn(worker, settings({1, 0, 2, 0, 0}),
        std::vector<agent_connection_actor>{agent_handle, second_handle},
        store_handle, handlers);
  // Buckets 1 and 3 claim on the first connection, bucket 2 on the second.
  REQUIRE(agent->claim.await(2));
  REQUIRE(second->claim.await(1));
  std::vector<std::string> all;
  for (auto& x : agent->claim.all())
    all.push_back(x.bucket_id);
  for (auto& x : second->claim.all())
    all.push_back(x.bucket_id);
  CHECK(strings(all.begin(), all.end()) == three_buckets);
  CHECK_EQUAL(second->claim.entry(0).msg.bucket_id, "w@n1/medium/1");
  // First instances: nothing of theirs to take back.
  CHECK_EQUAL(agent->release.size() + second->release.size(), 0u);
}

TEST(a worker registers its buckets and announces them to the master) {
  auto w = start(settings({1, 0, 2, 0, 0}));
  REQUIRE(store->buckets.await(1));
  auto recs = store->buckets.at(0).buckets;
  REQUIRE_EQUAL(recs.size(), 3u);
  CHECK(ids_of(recs) == three_buckets);
  for (auto& r : recs) {
    CHECK_EQUAL(r.worker_id, "w@n1");
    CHECK_EQUAL(r.node_id, "n1");
    CHECK_EQUAL(r.lane, "");
    auto p = r.bucket_id.find("very_low") != std::string::npos
               ? priority::very_low
               : priority::medium;
    CHECK(r.priority == p);
  }
  // The buckets run once registered (their claims' adoption needs the
  // rows).
  REQUIRE(agent->claim.await(3));
  std::vector<std::string> claimed;
  for (size_t i = 0; i < 3; ++i) {
    CHECK(store->buckets.entry(0).seq < agent->claim.entry(i).seq);
    claimed.push_back(agent->claim.entry(i).msg.bucket_id);
  }
  CHECK(strings(claimed.begin(), claimed.end()) == three_buckets);
  auto m = spawn_master();
  self->send(w, atom::attach_v, m.handle);
  REQUIRE(m.state->attached.await(3));
  CHECK(attached_ids(*m.state) == three_buckets);
  std::set<caf::actor_addr> handles;
  for (auto& [rec, handle] : m.state->attached.all()) {
    REQUIRE(handle != nullptr);
    handles.insert(handle.address());
    // As registered with the store.
    auto i = std::find_if(recs.begin(), recs.end(), [&](auto& x) {
      return x.bucket_id == rec.bucket_id;
    });
    REQUIRE(i != recs.end());
    CHECK(i->priority == rec.priority);
    CHECK_EQUAL(i->worker_id, rec.worker_id);
  }
  CHECK_EQUAL(handles.size(), 3u);
  // The announced handles are the live buckets: a wake-up makes one claim.
  auto [rec, handle] = m.state->attached.at(0);
  auto id = rec.bucket_id;
  auto of_bucket = [&](const claim_request& x) { return x.bucket_id == id; };
  REQUIRE(agent->claim.await_count(1, of_bucket));
  self->send(handle, atom::wake_v, wake_up{{now()}});
  CHECK(agent->claim.await_count(2, of_bucket));
  // Nothing is announced twice.
  sync(m);
  CHECK_EQUAL(m.state->attached.size(), 3u);
}

TEST(a new master gets every bucket announced again) {
  auto w = start(settings({0, 1, 0, 0, 1}));
  auto m1 = spawn_master("m1");
  self->send(w, atom::attach_v, m1.handle);
  REQUIRE(m1.state->attached.await(2));
  auto m2 = spawn_master("m2");
  self->send(w, atom::attach_v, m2.handle);
  REQUIRE(m2.state->attached.await(2));
  CHECK(attached_ids(*m2.state) == (strings{"w@n1/low/1", "w@n1/critical/1"}));
  sync(m1);
  CHECK_EQUAL(m1.state->attached.size(), 2u);
}

TEST(coordinator and drain workers have no buckets) {
  size_t n = 0;
  for (auto mode : {worker_mode::coordinator, worker_mode::drain}) {
    auto w = start(settings({1, 1, 1, 1, 1}, mode));
    REQUIRE(store->buckets.await(n + 1));
    CHECK(store->buckets.at(n).buckets.empty());
    ++n;
    auto m = spawn_master();
    self->send(w, atom::attach_v, m.handle);
    auto drained = call<bool>(w, atom::drain_v);
    REQUIRE(drained);
    CHECK(*drained);
    sync(m);
    CHECK_EQUAL(m.state->attached.size(), 0u);
    CHECK_EQUAL(m.state->left.size(), 0u);
  }
  CHECK_EQUAL(agent->release.size(), 0u);
  CHECK_EQUAL(agent->claim.size(), 0u);
}

TEST(drain replies true and takes the buckets out of routing) {
  auto w = start(settings({0, 0, 1, 0, 1}));
  auto m = spawn_master();
  self->send(w, atom::attach_v, m.handle);
  REQUIRE(m.state->attached.await(2));
  // Past their start-up (see the FIXME in bucket.cpp on drains that arrive
  // before a bucket's release returns).
  REQUIRE(agent->claim.await(2));
  auto drained = call<bool>(w, atom::drain_v);
  REQUIRE(drained);
  CHECK(*drained);
  REQUIRE(m.state->left.await(2));
  auto left = m.state->left.all();
  CHECK(strings(left.begin(), left.end())
        == (strings{"w@n1/medium/1", "w@n1/critical/1"}));
  // Drained buckets claim no more.
  auto claims = agent->claim.size();
  for (auto& [rec, handle] : m.state->attached.all())
    self->send(handle, atom::wake_v, wake_up{{now()}});
  auto again = call<bool>(w, atom::drain_v);
  REQUIRE(again);
  CHECK(*again);
  CHECK_EQUAL(agent->claim.size(), claims);
}

TEST(a crashed bucket is restarted and announced again) {
  auto w = start(settings({0, 0, 1, 0, 0}));
  auto m = spawn_master();
  self->send(w, atom::attach_v, m.handle);
  REQUIRE(m.state->attached.await(1));
  auto [rec, first] = m.state->attached.at(0);
  self->send_exit(first, make_error(ec::store_failure, "crash"));
  // The supervisor restarts it after its backoff (50 ms).
  REQUIRE(m.state->attached.await(2));
  auto [rec2, second] = m.state->attached.at(1);
  CHECK_EQUAL(rec2.bucket_id, rec.bucket_id);
  CHECK(second.address() != first.address());
  // The new instance takes back what the old one had claimed; the first
  // had nothing to take back.
  CHECK(agent->release.await(1));
  CHECK_EQUAL(agent->release.entry(0).msg, rec.bucket_id);
  CHECK_EQUAL(agent->release.size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
