#define CAF_SUITE actors.executor_pool
#include "tests/support/test.hpp"

#include "actors/executor_pool.hpp"
#include "tests/support/sync.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;

namespace {

/// Upper bound for awaiting an event that should happen much sooner; only
/// reached when the code under test is broken.
using jm::test::gate;
using jm::test::patience;

/// Collects everything the pool reports.
class recorder {
public:
  void started(const job_id& id) {
    {
      std::lock_guard guard{mtx_};
      started_.push_back(id);
    }
    cv_.notify_all();
  }

  void done(execution_result r) {
    {
      std::lock_guard guard{mtx_};
      done_order_.push_back(r.id);
      results_.emplace(r.id, std::move(r));
    }
    cv_.notify_all();
  }

  /// Waits for the first result of `id`.
  std::optional<execution_result> await(const job_id& id) {
    std::unique_lock guard{mtx_};
    if (!cv_.wait_for(guard, patience, [&] { return results_.count(id) > 0; }))
      return std::nullopt;
    return results_.find(id)->second;
  }

  bool await_started(const job_id& id) {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, patience, [&] {
      return std::find(started_.begin(), started_.end(), id) != started_.end();
    });
  }

  size_t times_done(const job_id& id) const {
    std::lock_guard guard{mtx_};
    return results_.count(id);
  }

  bool was_started(const job_id& id) const {
    std::lock_guard guard{mtx_};
    return std::find(started_.begin(), started_.end(), id) != started_.end();
  }

  std::vector<job_id> done_order() const {
    std::lock_guard guard{mtx_};
    return done_order_;
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<job_id> started_;
  std::vector<job_id> done_order_;
  std::multimap<job_id, execution_result> results_;
};

/// Test services, shared by the handlers below.
struct world {
  gate release;         // blocking handlers wait for it
  gate blocker_started; // set by the blocking handler
  gate saw_stop;        // set by the cooperative handler
  gate stubborn_returned;
  std::mutex mtx;
  std::vector<std::string> ran; // the `tag` data of each run, in order
  std::vector<std::string> log_lines;
};

struct ok_handler : job_handler {
  static constexpr std::string_view name = "ok";
  explicit ok_handler(world& w) : w(w) {}
  void handle(job_context& ctx) override {
    if (auto tag = get_if<std::string>(ctx.data(), "tag")) {
      std::lock_guard guard{w.mtx};
      w.ran.push_back(*tag);
    }
    ctx.log("attempt " + std::to_string(ctx.attempt()));
  }
  world& w;
};

struct throwing_handler : job_handler {
  static constexpr std::string_view name = "throws";
  void handle(job_context& ctx) override {
    auto kind = ctx.get<std::string>("kind");
    if (kind == "runtime")
      throw std::runtime_error("boom 42");
    if (kind == "empty")
      throw std::runtime_error("");
    if (kind == "missing")
      ctx.get<int64_t>("absent");
    throw 42; // not derived from std::exception
  }
};

struct blocking_handler : job_handler {
  static constexpr std::string_view name = "block";
  explicit blocking_handler(world& w) : w(w) {}
  void handle(job_context&) override {
    w.blocker_started.open();
    w.release.wait();
  }
  world& w;
};

/// Sleeps until stopped, as a well-behaved long-running handler does.
struct cooperative_handler : job_handler {
  static constexpr std::string_view name = "cooperative";
  explicit cooperative_handler(world& w) : w(w) {}
  void handle(job_context& ctx) override {
    if (!ctx.sleep_for(patience))
      w.saw_stop.open();
  }
  world& w;
};

/// Ignores its stop token until the test releases it.
struct stubborn_handler : job_handler {
  static constexpr std::string_view name = "stubborn";
  explicit stubborn_handler(world& w) : w(w) {}
  void handle(job_context&) override {
    w.release.wait();
    w.stubborn_returned.open();
  }
  world& w;
};

struct fixture {
  fixture() {
    handlers.services().add(w);
    handlers.add<ok_handler, world>();
    handlers.add<throwing_handler>();
    handlers.add<blocking_handler, world>();
    handlers.add<cooperative_handler, world>();
    handlers.add<stubborn_handler, world>();
  }

  ~fixture() {
    // Let every blocked handler return, then wait for the pool to go idle so
    // that no handler outlives the services it uses.
    w->release.open();
    for (auto& p : pools)
      p->shutdown(patience);
  }

  std::shared_ptr<executor_pool> make_pool(size_t threads) {
    auto log = [this](const job& x, std::string_view text) {
      std::lock_guard guard{w->mtx};
      w->log_lines.push_back(to_string(x.id) + ": " + std::string{text});
    };
    pools.push_back(executor_pool::make(handlers, threads, log));
    return pools.back();
  }

  execution_request request(std::string handler, value_map data = {},
                            priority p = priority::medium,
                            duration timeout = 30s) {
    execution_request req;
    req.job.id = uuid::random();
    req.job.handler = std::move(handler);
    req.job.priority = p;
    req.job.timeout = timeout;
    req.job.scheduled_at = now();
    req.job.data = std::move(data);
    req.on_start = [r = rec](const job_id& id, timestamp) { r->started(id); };
    req.on_done = [r = rec](execution_result x) { r->done(std::move(x)); };
    return req;
  }

  /// Submits a run and returns its id.
  job_id submit(executor_pool& pool, execution_request req) {
    auto id = req.job.id;
    pool.submit(std::move(req));
    return id;
  }

  std::shared_ptr<world> w = std::make_shared<world>();
  std::shared_ptr<recorder> rec = std::make_shared<recorder>();
  handler_registry handlers;
  std::vector<std::shared_ptr<executor_pool>> pools;
};

std::string str(attempt_outcome x) {
  return std::string{to_string(x)};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(executor_pool_tests, fixture)

TEST(a successful run is reported with its times) {
  auto pool = make_pool(2);
  auto before = now();
  auto id = submit(*pool, request("ok", {{"tag", std::string{"a"}}}));
  auto r = rec->await(id);
  REQUIRE(r);
  CHECK(r->id == id);
  CHECK_EQUAL(str(r->outcome), "succeeded");
  CHECK_EQUAL(r->error, "");
  CHECK(r->started_at >= before);
  CHECK(r->ended_at >= r->started_at);
  CHECK(rec->was_started(id));
  std::lock_guard guard{w->mtx};
  CHECK((w->ran == std::vector<std::string>{"a"}));
  REQUIRE_EQUAL(w->log_lines.size(), 1u);
  CHECK_EQUAL(w->log_lines[0], to_string(id) + ": attempt 1");
}

TEST(the attempt number reaches the handler) {
  auto pool = make_pool(1);
  auto req = request("ok");
  req.attempt = 3;
  auto id = submit(*pool, std::move(req));
  REQUIRE(rec->await(id));
  std::lock_guard guard{w->mtx};
  REQUIRE_EQUAL(w->log_lines.size(), 1u);
  CHECK_EQUAL(w->log_lines[0], to_string(id) + ": attempt 3");
}

TEST(an exception fails the run with its text) {
  auto pool = make_pool(2);
  auto runtime
    = submit(*pool, request("throws", {{"kind", std::string{"runtime"}}}));
  auto empty
    = submit(*pool, request("throws", {{"kind", std::string{"empty"}}}));
  auto missing
    = submit(*pool, request("throws", {{"kind", std::string{"missing"}}}));
  auto other = submit(*pool, request("throws", {{"kind", std::string{"int"}}}));
  auto no_kind = submit(*pool, request("throws"));
  auto r = rec->await(runtime);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK_EQUAL(r->error, "boom 42");
  r = rec->await(empty);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK_EQUAL(r->error, "exception without a message");
  r = rec->await(missing);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK(r->error.find("'absent'") != std::string::npos);
  r = rec->await(other);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK_EQUAL(r->error, "unknown exception");
  r = rec->await(no_kind);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK(r->error.find("'kind'") != std::string::npos);
}

TEST(an unknown handler fails the run) {
  auto pool = make_pool(1);
  auto id = submit(*pool, request("nope"));
  auto r = rec->await(id);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK(r->error.find("no handler named 'nope'") != std::string::npos);
  CHECK(rec->was_started(id));
}

TEST(a missing service fails the run) {
  handler_registry bare; // registered handler, but no `world` service
  bare.add<ok_handler, world>();
  auto pool = executor_pool::make(bare, 1, nullptr);
  auto id = submit(*pool, request("ok"));
  auto r = rec->await(id);
  pool->shutdown(patience);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "failed");
  CHECK(r->error.find("no service registered") != std::string::npos);
}

TEST(a cooperative handler is stopped at its timeout) {
  auto pool = make_pool(1);
  auto start = std::chrono::steady_clock::now();
  auto id = submit(*pool, request("cooperative", {}, priority::medium, 50ms));
  auto r = rec->await(id);
  REQUIRE(r);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK_EQUAL(str(r->outcome), "timed_out");
  CHECK_EQUAL(r->error, "timed out after 50ms");
  CHECK(elapsed >= 50ms);
  CHECK(r->ended_at - r->started_at >= 50ms);
  // The handler saw its stop token.
  CHECK(w->saw_stop.wait());
  // Its own return does not produce a second result: after shutdown the run
  // has left the pool.
  pool->shutdown(patience);
  CHECK_EQUAL(rec->times_done(id), 1u);
}

TEST(a handler that ignores its timeout is abandoned and replaced) {
  auto pool = make_pool(1);
  auto stuck = submit(*pool, request("stubborn", {}, priority::medium, 50ms));
  auto r = rec->await(stuck);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "timed_out");
  CHECK(!w->stubborn_returned.is_open());
  // The only thread is still stuck, yet the next job runs: on a replacement.
  auto next = submit(*pool, request("ok", {{"tag", std::string{"next"}}}));
  auto n = rec->await(next);
  REQUIRE(n);
  CHECK_EQUAL(str(n->outcome), "succeeded");
  CHECK(!w->stubborn_returned.is_open());
  // When the stuck handler finally returns, its result is discarded.
  w->release.open();
  CHECK(w->stubborn_returned.wait());
  pool->shutdown(patience);
  CHECK_EQUAL(rec->times_done(stuck), 1u);
  CHECK_EQUAL(rec->times_done(next), 1u);
}

TEST(higher priorities run first) {
  auto pool = make_pool(1);
  auto blocker = submit(*pool, request("block"));
  REQUIRE(w->blocker_started.wait());
  auto low = submit(
    *pool, request("ok", {{"tag", std::string{"low"}}}, priority::low));
  auto critical
    = submit(*pool, request("ok", {{"tag", std::string{"critical"}}},
                            priority::critical));
  auto medium = submit(
    *pool, request("ok", {{"tag", std::string{"medium"}}}, priority::medium));
  CHECK_EQUAL(pool->load(), 4u);
  w->release.open();
  REQUIRE(rec->await(blocker));
  REQUIRE(rec->await(low));
  REQUIRE(rec->await(critical));
  REQUIRE(rec->await(medium));
  std::lock_guard guard{w->mtx};
  CHECK((w->ran == std::vector<std::string>{"critical", "medium", "low"}));
}

TEST(within a priority the earlier due time runs first) {
  auto pool = make_pool(1);
  submit(*pool, request("block"));
  REQUIRE(w->blocker_started.wait());
  auto t = now();
  auto later = request("ok", {{"tag", std::string{"later"}}});
  later.job.scheduled_at = t + 1s;
  auto earlier = request("ok", {{"tag", std::string{"earlier"}}});
  earlier.job.scheduled_at = t - 1s;
  auto middle = request("ok", {{"tag", std::string{"middle"}}});
  middle.job.scheduled_at = t;
  auto last = submit(*pool, std::move(later));
  submit(*pool, std::move(earlier));
  submit(*pool, std::move(middle));
  w->release.open();
  REQUIRE(rec->await(last));
  std::lock_guard guard{w->mtx};
  CHECK((w->ran == std::vector<std::string>{"earlier", "middle", "later"}));
}

TEST(a withdrawn run never starts) {
  auto pool = make_pool(1);
  auto blocker = submit(*pool, request("block"));
  REQUIRE(w->blocker_started.wait());
  auto flag = std::make_shared<std::atomic<bool>>(false);
  auto req
    = request("ok", {{"tag", std::string{"withdrawn"}}}, priority::critical);
  req.withdrawn = flag;
  auto withdrawn = submit(*pool, std::move(req));
  auto sentinel
    = submit(*pool, request("ok", {{"tag", std::string{"sentinel"}}},
                            priority::very_low));
  // Withdrawn while queued (the owner handed it back to the master).
  flag->store(true);
  w->release.open();
  REQUIRE(rec->await(blocker));
  REQUIRE(rec->await(sentinel));
  CHECK(!rec->was_started(withdrawn));
  CHECK_EQUAL(rec->times_done(withdrawn), 0u);
  std::lock_guard guard{w->mtx};
  CHECK((w->ran == std::vector<std::string>{"sentinel"}));
}

TEST(runs proceed in parallel up to the thread count) {
  auto pool = make_pool(2);
  CHECK_EQUAL(pool->capacity(), 2u);
  auto blocker = submit(*pool, request("block"));
  REQUIRE(w->blocker_started.wait());
  // One thread is blocked; the other still serves.
  auto id = submit(*pool, request("ok"));
  REQUIRE(rec->await(id));
  CHECK_EQUAL(rec->times_done(blocker), 0u);
  w->release.open();
  REQUIRE(rec->await(blocker));
}

TEST(shutdown returns the queued runs and refuses new ones) {
  auto pool = make_pool(1);
  auto blocker = submit(*pool, request("block"));
  REQUIRE(w->blocker_started.wait());
  auto a = submit(*pool, request("ok", {}, priority::low));
  auto b = submit(*pool, request("ok", {}, priority::high));
  // No grace: shutdown returns while the blocker still runs.
  auto unstarted = pool->shutdown(0us);
  CHECK(!rec->was_started(a));
  CHECK(!rec->was_started(b));
  CHECK_EQUAL(rec->times_done(blocker), 0u);
  // The blocker's result is still reported when it returns.
  w->release.open();
  auto r = rec->await(blocker);
  REQUIRE(r);
  CHECK_EQUAL(str(r->outcome), "succeeded");
  REQUIRE_EQUAL(unstarted.size(), 2u);
  CHECK(unstarted[0].job.id == b); // in run order
  CHECK(unstarted[1].job.id == a);
  CHECK(!rec->was_started(a));
  CHECK(!rec->was_started(b));
  auto late = submit(*pool, request("ok"));
  // A second shutdown waits until the blocker has left the pool.
  CHECK(pool->shutdown(patience).empty());
  CHECK_EQUAL(pool->load(), 0u);
  CHECK(!rec->was_started(late));
}

TEST(shutdown gives running handlers a grace period and then stops them) {
  auto pool = make_pool(1);
  auto id = submit(*pool, request("cooperative"));
  REQUIRE(rec->await_started(id));
  auto start = std::chrono::steady_clock::now();
  auto unstarted = pool->shutdown(100ms);
  CHECK(std::chrono::steady_clock::now() - start >= 100ms);
  CHECK(unstarted.empty());
  CHECK(w->saw_stop.wait());
  auto r = rec->await(id);
  REQUIRE(r);
}

CAF_TEST_FIXTURE_SCOPE_END()
