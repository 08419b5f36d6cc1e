#define CAF_SUITE actors.supervisor
#include "tests/support/test.hpp"

// After test.hpp: dsl.hpp uses the FAIL macro that test.hpp defines.
#include <caf/test/dsl.hpp>

#include "actors/supervisor.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// The supervised child: quits with the error it is sent.
caf::behavior crashing_child(caf::event_based_actor* self) {
  return {
    [self](crash_atom, caf::error& reason) { self->quit(std::move(reason)); },
  };
}

caf::error disk_error() {
  return make_error(ec::store_failure, "disk on fire");
}

struct fixture : test_coordinator_fixture<> {
  ~fixture() override {
    for (auto& s : supervisors)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    sched.run();
  }

  supervisor_actor spawn_supervisor(supervisor_config cfg) {
    cfg.child_name = "child";
    auto kids = children;
    auto sup = sys.spawn(
      supervisor, cfg,
      [](caf::local_actor* parent) {
        return caf::actor_cast<caf::strong_actor_ptr>(
          parent->spawn(crashing_child));
      },
      [kids](const caf::strong_actor_ptr& c) { kids->push_back(c); });
    supervisors.push_back(sup);
    sched.run();
    return sup;
  }

  /// Makes the current child quit with `reason`.
  void crash(caf::error reason = disk_error()) {
    REQUIRE(!children->empty());
    self->send(caf::actor_cast<caf::actor>(children->back()), crash_atom::value,
               std::move(reason));
    sched.run();
  }

  /// Asks the supervisor for its current child.
  caf::strong_actor_ptr current_child(const supervisor_actor& sup) {
    self->send(sup, atom::get_v);
    sched.run();
    caf::strong_actor_ptr result;
    bool answered = false;
    self->receive(
      [&](caf::strong_actor_ptr& x) {
        result = std::move(x);
        answered = true;
      },
      caf::after(std::chrono::seconds{0}) >> [] {});
    CHECK(answered);
    return result;
  }

  /// Advances the simulated clock and runs whatever became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  /// Checks that the restart happens exactly `backoff` after the crash.
  void expect_restart_after(caf::timespan backoff) {
    auto before = children->size();
    advance(backoff - 1us);
    CHECK_EQUAL(children->size(), before);
    advance(1us);
    CHECK_EQUAL(children->size(), before + 1);
  }

  std::shared_ptr<std::vector<caf::strong_actor_ptr>> children
    = std::make_shared<std::vector<caf::strong_actor_ptr>>();
  std::vector<supervisor_actor> supervisors;
};

supervisor_config config(uint32_t max_restarts = 10) {
  supervisor_config cfg;
  cfg.initial_backoff = 50ms;
  cfg.max_backoff = 1s;
  cfg.max_restarts = max_restarts;
  return cfg;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(supervisor_tests, fixture)

TEST(the supervisor starts its child and reports it) {
  auto sup = spawn_supervisor(config());
  REQUIRE_EQUAL(children->size(), 1u);
  CHECK(children->front() != nullptr);
  CHECK(current_child(sup) == children->front());
}

TEST(a crashed child is restarted after the initial backoff) {
  auto sup = spawn_supervisor(config());
  auto first = children->front();
  crash();
  // Down until the backoff has passed.
  CHECK(current_child(sup) == nullptr);
  CHECK_EQUAL(children->size(), 1u);
  advance(49ms);
  CHECK_EQUAL(children->size(), 1u);
  CHECK(current_child(sup) == nullptr);
  advance(1ms);
  REQUIRE_EQUAL(children->size(), 2u);
  CHECK(children->back() != first);
  CHECK(current_child(sup) == children->back());
  // The new child is supervised like the first.
  crash();
  expect_restart_after(100ms);
  CHECK(current_child(sup) == children->back());
}

TEST(the backoff doubles on repeated crashes up to max_backoff) {
  auto cfg = config();
  cfg.max_backoff = 300ms;
  spawn_supervisor(cfg);
  for (auto backoff : {50ms, 100ms, 200ms, 300ms, 300ms}) {
    crash();
    expect_restart_after(backoff);
  }
  CHECK_EQUAL(children->size(), 6u);
}

TEST(after max_restarts the supervisor exits with the child error) {
  auto sup = spawn_supervisor(config(2));
  self->monitor(sup);
  crash();
  expect_restart_after(50ms);
  crash();
  expect_restart_after(100ms);
  // The third crash exceeds two restarts: escalate.
  crash();
  CHECK_EQUAL(children->size(), 3u);
  bool down = false;
  self->receive(
    [&](caf::down_msg& msg) {
      down = true;
      CHECK(msg.source == sup.address());
      CHECK(msg.reason == disk_error());
      CHECK_EQUAL(code_of(msg.reason), ec::store_failure);
      CHECK_EQUAL(describe(msg.reason), "disk on fire");
    },
    caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(down);
  // No restart is pending any more.
  advance(10s);
  CHECK_EQUAL(children->size(), 3u);
}

TEST(with max_restarts zero the first crash escalates) {
  auto sup = spawn_supervisor(config(0));
  self->monitor(sup);
  crash(make_error(ec::unavailable, "gone"));
  bool down = false;
  self->receive(
    [&](caf::down_msg& msg) {
      down = true;
      CHECK_EQUAL(describe(msg.reason), "gone");
    },
    caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(down);
  CHECK_EQUAL(children->size(), 1u);
}

TEST(a child that ran for stable_after resets the backoff) {
  auto cfg = config(1);
  cfg.stable_after = 0us; // every run counts as stable
  spawn_supervisor(cfg);
  for (int i = 0; i < 4; ++i) {
    crash();
    expect_restart_after(50ms);
  }
  CHECK_EQUAL(children->size(), 5u);
}

TEST(a child that exits normally is not restarted) {
  auto sup = spawn_supervisor(config());
  self->monitor(sup);
  crash(caf::error{});
  bool down = false;
  self->receive(
    [&](caf::down_msg& msg) {
      down = true;
      CHECK(!msg.reason);
    },
    caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(down);
  advance(10s);
  CHECK_EQUAL(children->size(), 1u);
}

TEST(stopping the supervisor stops its child) {
  auto sup = spawn_supervisor(config());
  auto child = children->front();
  self->monitor(sup);
  self->monitor(child);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  int downs = 0;
  for (int i = 0; i < 2; ++i)
    self->receive(
      [&](caf::down_msg& msg) {
        ++downs;
        CHECK(msg.reason == caf::exit_reason::user_shutdown);
      },
      caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK_EQUAL(downs, 2);
  advance(10s);
  CHECK_EQUAL(children->size(), 1u);
}

TEST(a stop during the backoff cancels the restart) {
  auto sup = spawn_supervisor(config());
  self->monitor(sup);
  crash();
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(down);
  advance(1s);
  CHECK_EQUAL(children->size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
