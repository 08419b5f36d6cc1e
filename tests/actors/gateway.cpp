#define CAF_SUITE actors.gateway
#include "tests/support/test.hpp"

// After test.hpp: dsl.hpp uses the FAIL macro that test.hpp defines.
#include <caf/test/dsl.hpp>

#include "tests/support/fake_actors.hpp"

#include "actors/gateway.hpp"
#include "messages/codec.hpp"

#include <caf/all.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace jm;

namespace {

/// The gateway with fake masters, on the deterministic scheduler.
struct fixture : test_coordinator_fixture<> {
  fixture() {
    gw = sys.spawn(gateway, std::string{"test"});
    actors.push_back(caf::actor_cast<caf::actor>(gw));
    sched.run();
  }

  ~fixture() override {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  struct fake {
    std::shared_ptr<test::fake_master> state;
    master_actor handle;
  };

  fake spawn_master(std::string name) {
    auto f = std::make_shared<test::fake_master>(std::move(name));
    auto h = sys.spawn(test::fake_master_actor, f);
    actors.push_back(caf::actor_cast<caf::actor>(h));
    sched.run();
    return {f, h};
  }

  void attach(const master_actor& m) {
    self->send(gw, atom::attach_v, caf::actor_cast<caf::strong_actor_ptr>(m));
    sched.run();
  }

  void kill(const master_actor& m) {
    caf::anon_send_exit(m, caf::exit_reason::kill);
    sched.run();
  }

  /// Sends a request whose bytes name `tag`, so that the masters' inboxes
  /// show which request arrived.
  void send(const std::string& tag) {
    job_filter f;
    f.handler = tag;
    self->send(gw, test::to_wire(jm::request{f}));
    sched.run();
  }

  /// The replies that arrived, decoded.
  std::vector<reply> replies() {
    std::vector<reply> result;
    bool more = true;
    while (more)
      self->receive(
        [&](wire_reply& r) { result.push_back(test::from_wire(r)); },
        [&](caf::error& err) {
          FAIL("the gateway answered with an error: " << describe(err));
        },
        caf::after(std::chrono::seconds{0}) >> [&] { more = false; });
    return result;
  }

  /// The tags of the requests a fake master received.
  static std::vector<std::string> tags(const test::fake_master& m) {
    std::vector<std::string> result;
    for (auto& x : m.requests.all()) {
      auto r = decode_request(x.data);
      if (!r || !std::holds_alternative<job_filter>(*r))
        result.push_back("?");
      else
        result.push_back(std::get<job_filter>(*r).handler);
    }
    return result;
  }

  static std::string pong_of(const reply& r) {
    if (auto p = std::get_if<pong_reply>(&r))
      return p->cluster_id;
    return "(not a pong)";
  }

  gateway_actor gw;
  std::vector<caf::actor> actors;
};

using strings = std::vector<std::string>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(gateway_tests, fixture)

TEST(requests before any master wait for one to attach) {
  send("a");
  send("b");
  send("c");
  CHECK(replies().empty());
  auto m = spawn_master("m1");
  attach(m.handle);
  CHECK((tags(*m.state) == strings{"a", "b", "c"}));
  auto rs = replies();
  REQUIRE_EQUAL(rs.size(), 3u);
  for (auto& r : rs)
    CHECK_EQUAL(pong_of(r), "m1");
}

TEST(requests are forwarded to the attached master) {
  auto m = spawn_master("m1");
  m.state->requests.script(
    wire_reply{encode(reply{error_reply{ec::unknown_job, "no such job"}})});
  attach(m.handle);
  send("x");
  send("y");
  CHECK((tags(*m.state) == strings{"x", "y"}));
  auto rs = replies();
  REQUIRE_EQUAL(rs.size(), 2u);
  // The master's answers, unchanged and in order.
  auto err = test::error_of(rs[0]);
  CHECK_EQUAL(err.code, ec::unknown_job);
  CHECK_EQUAL(err.text, "no such job");
  CHECK_EQUAL(pong_of(rs[1]), "m1");
}

TEST(after the master dies requests wait for the next one) {
  auto m1 = spawn_master("m1");
  attach(m1.handle);
  send("before");
  CHECK_EQUAL(replies().size(), 1u);
  kill(m1.handle);
  send("during-1");
  send("during-2");
  // Neither answered nor failed.
  CHECK(replies().empty());
  CHECK((tags(*m1.state) == strings{"before"}));
  auto m2 = spawn_master("m2");
  attach(m2.handle);
  CHECK((tags(*m2.state) == strings{"during-1", "during-2"}));
  auto rs = replies();
  REQUIRE_EQUAL(rs.size(), 2u);
  for (auto& r : rs)
    CHECK_EQUAL(pong_of(r), "m2");
  // And new requests go straight to the new master.
  send("after");
  REQUIRE_EQUAL(replies().size(), 1u);
  CHECK_EQUAL(m2.state->requests.size(), 3u);
}

TEST(a replaced master dying does not detach its successor) {
  auto m1 = spawn_master("m1");
  auto m2 = spawn_master("m2");
  attach(m1.handle);
  attach(m2.handle);
  kill(m1.handle);
  send("x");
  auto rs = replies();
  REQUIRE_EQUAL(rs.size(), 1u);
  CHECK_EQUAL(pong_of(rs[0]), "m2");
}

TEST(waiting requests get unavailable when the new master is gone too) {
  send("x");
  auto m = spawn_master("m1");
  kill(m.handle);
  attach(m.handle);
  auto rs = replies();
  REQUIRE_EQUAL(rs.size(), 1u);
  auto err = test::error_of(rs[0]);
  CHECK_EQUAL(err.code, ec::unavailable);
  CHECK(err.text.find("'test'") != std::string::npos);
  // The dead master is forgotten: the next request waits again.
  send("y");
  CHECK(replies().empty());
  auto m2 = spawn_master("m2");
  attach(m2.handle);
  CHECK_EQUAL(replies().size(), 1u);
}

TEST(at most 10000 requests wait) {
  for (int i = 0; i < 10'000; ++i)
    self->send(gw, test::to_wire(jm::request{ping_request{}}));
  sched.run();
  CHECK(replies().empty());
  // One more is turned away at once.
  send("overflow");
  auto rs = replies();
  REQUIRE_EQUAL(rs.size(), 1u);
  CHECK_EQUAL(test::error_of(rs[0]).code, ec::unavailable);
  auto m = spawn_master("m1");
  attach(m.handle);
  CHECK_EQUAL(m.state->requests.size(), 10'000u);
  CHECK_EQUAL(replies().size(), 10'000u);
}

CAF_TEST_FIXTURE_SCOPE_END()
