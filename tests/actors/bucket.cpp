#define CAF_SUITE actors.bucket
#include "tests/support/test.hpp"

#include "tests/support/fake_actors.hpp"
#include "tests/support/jobs.hpp"

#include "actors/bucket.hpp"
#include "actors/executor_pool.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;
using test::patience;
using test::str;

namespace {

/// What the handlers below saw.
struct world {
  test::gate started; // the blocking handler runs
  test::gate release; // the blocking handler may return
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<job_id> runs;
  std::map<job_id, int32_t> attempts;

  void ran(const job_context& ctx) {
    {
      std::lock_guard guard{mtx};
      runs.push_back(ctx.id());
      attempts[ctx.id()] = ctx.attempt();
    }
    cv.notify_all();
  }

  /// Waits until the job's handler was entered.
  bool await_run(const job_id& id) {
    std::unique_lock guard{mtx};
    return cv.wait_for(guard, patience, [&] {
      return std::find(runs.begin(), runs.end(), id) != runs.end();
    });
  }

  size_t times_run(const job_id& id) {
    std::lock_guard guard{mtx};
    return static_cast<size_t>(std::count(runs.begin(), runs.end(), id));
  }
};

struct ok_handler {
  static constexpr std::string_view name = "ok";
  explicit ok_handler(world& w) : w(w) {}
  void handle(job_context& ctx) { w.ran(ctx); }
  world& w;
};

struct failing_handler {
  static constexpr std::string_view name = "fail";
  explicit failing_handler(world& w) : w(w) {}
  void handle(job_context& ctx) {
    w.ran(ctx);
    throw std::runtime_error("boom");
  }
  world& w;
};

struct blocking_handler {
  static constexpr std::string_view name = "block";
  explicit blocking_handler(world& w) : w(w) {}
  void handle(job_context& ctx) {
    w.ran(ctx);
    w.started.open();
    w.release.wait();
  }
  world& w;
};

const std::string bucket_id = "w1@n1/medium/1";

struct fixture : test::live_fixture {
  fixture() {
    spdlog::set_level(spdlog::level::err);
    handlers.services().add(w);
    handlers.add<ok_handler, world>();
    handlers.add<failing_handler, world>();
    handlers.add<blocking_handler, world>();
    // One thread: runs happen one at a time, in the pool's order.
    pool = executor_pool::make(handlers, 1, {});
    agent_handle = spawn(test::fake_agent_connection, agent);
  }

  ~fixture() {
    w->release.open();
    stop_all();
    pool->shutdown(patience);
  }

  /// No fallback poll unless asked for: claims come from wake-ups only.
  bucket_config config(duration poll = 1h) {
    bucket_config cfg;
    cfg.record.bucket_id = bucket_id;
    cfg.record.worker_id = "w1@n1";
    cfg.record.node_id = "n1";
    cfg.record.priority = priority::medium;
    cfg.batch_size = 10;
    cfg.poll_interval = poll;
    cfg.retry.base_delay = 2s;
    cfg.retry.multiplier = 2.0;
    cfg.retry.max_delay = 10min;
    cfg.retry.jitter = 0.2;
    return cfg;
  }

  bucket_actor start(const bucket_config& cfg) {
    agent_connection_actor agent{agent_handle};
    return spawn(bucket, cfg, agent, agent, pool);
  }

  /// Starts a bucket and waits for its start-up claim.
  bucket_actor start_idle(const bucket_config& cfg) {
    auto b = start(cfg);
    REQUIRE(agent->claim.await(1));
    return b;
  }

  /// A job as the agent store hands it out on a claim.
  job claimed(std::string handler, int64_t version = 7) {
    job x;
    x.id = uuid::random();
    x.handler = std::move(handler);
    x.status = job_status::queued;
    x.priority = priority::medium;
    x.scheduled_at = now();
    x.original_scheduled_at = x.scheduled_at;
    x.created_at = x.scheduled_at;
    x.timeout = 30s;
    x.max_retries = 3;
    x.bucket_id = bucket_id;
    x.worker_id = "w1@n1";
    x.process_deadline = now() + 24h;
    x.version = version;
    return x;
  }

  /// Sends the agent's held answers; they are in the bucket's mailbox on
  /// return.
  void let_go() {
    auto sent = call<bool>(agent_handle, atom::flush_v);
    REQUIRE(sent);
  }

  void wake(const bucket_actor& b, std::vector<timestamp> due) {
    self->send(b, atom::wake_v, wake_up{std::move(due)});
  }

  std::shared_ptr<world> w = std::make_shared<world>();
  handler_registry handlers;
  std::shared_ptr<executor_pool> pool;
  std::shared_ptr<test::fake_agent> agent
    = std::make_shared<test::fake_agent>();
  test::fake_agent_actor agent_handle;
};

void check_placement_cleared(const job& x) {
  CHECK_EQUAL(x.bucket_id, "");
  CHECK_EQUAL(x.worker_id, "");
  CHECK(!x.process_deadline);
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(bucket_tests, fixture)

TEST(on start a bucket releases its old claims and then claims) {
  auto cfg = config();
  auto before = now();
  start(cfg);
  REQUIRE(agent->claim.await(1));
  auto after = now();
  REQUIRE_EQUAL(agent->release.size(), 1u);
  auto released = agent->release.entry(0);
  auto claim = agent->claim.entry(0);
  CHECK_EQUAL(released.msg, bucket_id);
  CHECK(released.seq < claim.seq);
  CHECK_EQUAL(claim.msg.bucket_id, bucket_id);
  CHECK_EQUAL(claim.msg.limit, cfg.batch_size);
  CHECK(claim.msg.grace == cfg.claim_lease);
  CHECK(claim.msg.due_by >= before);
  CHECK(claim.msg.due_by <= after);
  // It adopts the due held jobs of its route.
  REQUIRE(claim.msg.adopt);
  CHECK_EQUAL(claim.msg.adopt->worker_id, cfg.record.worker_id);
  CHECK(claim.msg.adopt->priority == cfg.record.priority);
  CHECK_EQUAL(claim.msg.adopt->lane, cfg.record.lane);
}

TEST(a first instance claims at once without releasing) {
  auto cfg = config();
  cfg.restarted = false;
  start(cfg);
  REQUIRE(agent->claim.await(1));
  CHECK_EQUAL(agent->claim.entry(0).msg.limit, cfg.batch_size);
  CHECK_EQUAL(agent->release.size(), 0u);
}

TEST(a bucket told not to adopt held jobs claims only its own) {
  auto cfg = config();
  cfg.adopt_held = false;
  start(cfg);
  REQUIRE(agent->claim.await(1));
  CHECK(!agent->claim.at(0).adopt);
}

TEST(a bucket writes outcomes and releases on its write connection) {
  auto writes = std::make_shared<test::fake_agent>();
  auto writes_handle = spawn(test::fake_agent_connection, writes);
  auto x = claimed("ok");
  agent->claim.script(job_list{{x}});
  spawn(bucket, config(), agent_connection_actor{agent_handle},
        agent_connection_actor{writes_handle}, pool);
  REQUIRE(writes->await_write(x.id, job_status::succeeded));
  CHECK_EQUAL(agent->write.size(), 0u);
  CHECK_EQUAL(writes->claim.size(), 0u);
  // The release at start queues behind a crashed predecessor's writes.
  CHECK_EQUAL(writes->release.size(), 1u);
  CHECK_EQUAL(agent->release.size(), 0u);
}

TEST(a failed release does not keep the bucket from claiming) {
  agent->release.script(make_error(ec::store_failure, "locked"));
  start(config());
  REQUIRE(agent->claim.await(1));
  CHECK_EQUAL(agent->release.size(), 1u);
}

TEST(a wake - up due now triggers a claim) {
  auto b = start_idle(config());
  auto before = now();
  wake(b, {before});
  REQUIRE(agent->claim.await(2));
  CHECK(agent->claim.at(1).due_by >= before);
}

TEST(a wake - up due later triggers a claim only when due) {
  auto b = start_idle(config());
  auto sent = test::steady_clock::now();
  auto due = now() + 200ms;
  wake(b, {due});
  REQUIRE(agent->claim.await(2));
  auto claim = agent->claim.entry(1);
  // Not before the due time (a little slack for the two clocks)...
  CHECK(claim.at - sent >= 190ms);
  // ... and covering it, so that the job is found.
  CHECK(claim.msg.due_by >= due);
  CHECK_EQUAL(agent->claim.size(), 2u);
}

TEST(an earlier wake - up is not delayed by a later one) {
  auto b = start_idle(config());
  auto sent = test::steady_clock::now();
  auto t = now();
  wake(b, {t + 600ms});
  wake(b, {t + 300ms});
  REQUIRE(agent->claim.await(3));
  auto first = agent->claim.entry(1);
  auto second = agent->claim.entry(2);
  CHECK(first.at - sent >= 290ms);
  CHECK(first.msg.due_by >= t + 300ms);
  CHECK(second.at - sent >= 590ms);
  CHECK(second.msg.due_by >= t + 600ms);
}

TEST(a successful run writes processing then succeeded with fenced versions) {
  auto cfg = config();
  auto x = claimed("ok", 7);
  agent->claim.script(job_list{{x}});
  start(cfg);
  auto final_write = agent->await_write(x.id, job_status::succeeded);
  REQUIRE(final_write);
  auto ws = agent->writes_of(x.id);
  REQUIRE(!ws.empty());
  REQUIRE(ws.size() <= 2u);
  if (ws.size() == 2) {
    // The start, then the outcome, each fenced by the version before it.
    CHECK_EQUAL(str(ws[0].job.status), "processing");
    CHECK_EQUAL(ws[0].expected_version, 7);
    CHECK(!ws[0].attempt);
    CHECK_EQUAL(ws[0].job.bucket_id, bucket_id);
    CHECK_EQUAL(ws[1].expected_version, 8);
    // The deadline counts from the start of the run.
    REQUIRE(ws[0].job.process_deadline);
    REQUIRE(ws[1].attempt);
    CHECK_EQUAL(
      to_micros(*ws[0].job.process_deadline),
      to_micros(ws[1].attempt->started_at + x.timeout + cfg.deadline_grace));
  } else {
    MESSAGE("start and outcome were coalesced into one write");
    CHECK_EQUAL(ws[0].expected_version, 7);
  }
  auto& last = ws.back();
  CHECK_EQUAL(str(last.job.status), "succeeded");
  check_placement_cleared(last.job);
  CHECK_EQUAL(last.job.failure_count, 0);
  REQUIRE(last.attempt);
  CHECK(last.attempt->job == x.id);
  CHECK_EQUAL(last.attempt->worker_id, "w1@n1");
  CHECK_EQUAL(str(last.attempt->outcome), "succeeded");
  CHECK_EQUAL(last.attempt->error, "");
  CHECK(last.attempt->started_at <= last.attempt->ended_at);
  CHECK_EQUAL(w->times_run(x.id), 1u);
  std::lock_guard guard{w->mtx};
  CHECK_EQUAL(w->attempts[x.id], 1);
}

TEST(a bucket that deletes succeeded jobs removes only successes) {
  auto cfg = config();
  cfg.delete_succeeded = true;
  auto ok = claimed("ok", 7);
  auto bad = claimed("fail", 3);
  agent->claim.script(job_list{{ok, bad}});
  start(cfg);
  auto removed = agent->await_write(ok.id, job_status::succeeded);
  REQUIRE(removed);
  CHECK(removed->remove);
  CHECK(!removed->attempt);
  CHECK(removed->expected_version == 7 || removed->expected_version == 8);
  auto held = agent->await_write(bad.id, job_status::held_on_master);
  REQUIRE(held);
  CHECK(!held->remove);
  REQUIRE(held->attempt);
  CHECK_EQUAL(str(held->attempt->outcome), "failed");
  for (auto& x : agent->writes_of(bad.id))
    CHECK(!x.remove);
}

TEST(the attempt number counts earlier failures) {
  auto x = claimed("ok");
  x.failure_count = 2;
  agent->claim.script(job_list{{x}});
  start(config());
  REQUIRE(agent->await_write(x.id, job_status::succeeded));
  std::lock_guard guard{w->mtx};
  CHECK_EQUAL(w->attempts[x.id], 3);
}

TEST(a failing run is held for a retry with the backoff) {
  auto x = claimed("fail", 3);
  x.failure_count = 1;
  x.max_retries = 3;
  agent->claim.script(job_list{{x}});
  start(config());
  auto held = agent->await_write(x.id, job_status::held_on_master);
  REQUIRE(held);
  CHECK_EQUAL(held->job.failure_count, 2);
  CHECK(held->expected_version == 3 || held->expected_version == 4);
  check_placement_cleared(held->job);
  REQUIRE(held->attempt);
  CHECK_EQUAL(str(held->attempt->outcome), "failed");
  CHECK_EQUAL(held->attempt->error, "boom");
  // Second retry: 2s * 2, less up to 20% jitter.
  auto delay = held->job.scheduled_at - held->attempt->ended_at;
  CHECK(delay >= 3200ms);
  CHECK(delay <= 4s);
  CHECK(held->job.scheduled_at > now());
  CHECK_EQUAL(to_micros(held->job.original_scheduled_at),
              to_micros(x.original_scheduled_at));
}

TEST(the bucket looks for a retry it wrote once the retry is due) {
  auto cfg = config();
  cfg.retry.base_delay = 300ms;
  cfg.retry.jitter = 0;
  auto x = claimed("fail", 3);
  x.max_retries = 3;
  agent->claim.script(job_list{{x}});
  start(cfg);
  auto held = agent->await_write(x.id, job_status::held_on_master);
  REQUIRE(held);
  // The start-up claim, maybe a repeat after the run; then the retry's.
  auto before = agent->claim.size();
  REQUIRE(agent->claim.await(before + 1));
  auto retry = agent->claim.at(before);
  CHECK(retry.due_by >= held->job.scheduled_at);
  CHECK(retry.adopt);
}

TEST(a run that fails without retries left is failed for good) {
  auto x = claimed("fail");
  x.failure_count = 2;
  x.max_retries = 2;
  agent->claim.script(job_list{{x}});
  start(config());
  auto failed = agent->await_write(x.id, job_status::failed);
  REQUIRE(failed);
  CHECK_EQUAL(failed->job.failure_count, 3);
  REQUIRE(failed->attempt);
  CHECK_EQUAL(str(failed->attempt->outcome), "failed");
  check_placement_cleared(failed->job);
}

TEST(a write the store rejects is dropped and the bucket carries on) {
  auto x = claimed("ok");
  agent->write.set_default([id = x.id](const job_writes& ws) {
    write_flags result;
    for (auto& w : ws.writes)
      result.applied.push_back(w.job.id != id);
    return caf::expected<write_flags>{std::move(result)};
  });
  agent->claim.script(job_list{{x}});
  auto b = start(config());
  REQUIRE(agent->await_write(x.id, job_status::succeeded));
  // Still claims, runs and writes.
  auto y = claimed("ok");
  agent->claim.script(job_list{{y}});
  wake(b, {now()});
  REQUIRE(agent->await_write(y.id, job_status::succeeded));
  CHECK_EQUAL(w->times_run(x.id), 1u);
  CHECK_EQUAL(w->times_run(y.id), 1u);
  // Nothing is stuck: a drain finds the bucket idle.
  auto drained = call<bool>(b, atom::drain_v);
  REQUIRE(drained);
  CHECK(*drained);
  // The rejected writes were not sent again.
  for (auto& w : agent->writes_of(x.id))
    CHECK(w.job.status == job_status::processing
          || w.job.status == job_status::succeeded);
  CHECK(agent->writes_of(x.id).size() <= 2u);
}

TEST(writes that fail are sent again later) {
  agent->write.script(make_error(ec::store_failure, "disk full"));
  auto x = claimed("ok", 7);
  agent->claim.script(job_list{{x}});
  auto b = start(config());
  REQUIRE(agent->write.await(2));
  auto failed = agent->write.entry(0);
  auto retried = agent->write.entry(1);
  REQUIRE(!failed.msg.writes.empty());
  // Sent again after a pause, fenced as before.
  CHECK(retried.at - failed.at >= 150ms);
  for (auto& w : failed.msg.writes) {
    auto same
      = std::find_if(retried.msg.writes.begin(), retried.msg.writes.end(),
                     [&](const job_write& y) { return y.job.id == w.job.id; });
    REQUIRE(same != retried.msg.writes.end());
    CHECK_EQUAL(same->expected_version, w.expected_version);
  }
  auto final_write = agent->await_write(x.id, job_status::succeeded);
  REQUIRE(final_write);
  REQUIRE(final_write->attempt);
  CHECK_EQUAL(w->times_run(x.id), 1u);
  auto drained = call<bool>(b, atom::drain_v);
  REQUIRE(drained);
  CHECK(*drained);
}

TEST(a write after a failed one keeps its own fence and goes after it) {
  // The failed batch may have committed before its answer was lost: the
  // outcome must not take over its older fence, or it loses it.
  agent->write.script(make_error(ec::store_failure, "lost connection"));
  auto x = claimed("block", 7);
  agent->claim.script(job_list{{x}});
  start(config());
  REQUIRE(w->started.wait());
  REQUIRE(agent->write.await(1));
  REQUIRE_EQUAL(agent->write.entry(0).msg.writes.size(), 1u);
  CHECK_EQUAL(agent->write.entry(0).msg.writes[0].expected_version, 7);
  w->release.open();
  auto done = agent->await_write(x.id, job_status::succeeded);
  REQUIRE(done);
  CHECK_EQUAL(done->expected_version, 8);
  // The start write went again, alone and as it was, before the outcome.
  auto writes = agent->writes_of(x.id);
  REQUIRE_EQUAL(writes.size(), 3u);
  CHECK(writes[1].job.status == job_status::processing);
  CHECK_EQUAL(writes[1].expected_version, 7);
}

TEST(a failed write is retried after a pause and not at every full buffer) {
  agent->write.set_default([](const job_writes&) -> caf::expected<write_flags> {
    return make_error(ec::store_failure, "down");
  });
  auto cfg = config();
  cfg.flush_batch = 1; // every write fills the buffer
  auto b = start_idle(cfg);
  // Runs one after another, each after the first write failed: each
  // fills the buffer again, and none sends it before the retry is due.
  auto first = claimed("ok");
  agent->claim.script(job_list{{first}});
  wake(b, {now()});
  REQUIRE(agent->write.await(1));
  for (int i = 0; i < 5; ++i) {
    auto x = claimed("ok");
    agent->claim.script(job_list{{x}});
    wake(b, {now()});
    REQUIRE(w->await_run(x.id));
  }
  auto failed_at = agent->write.entry(0).at;
  REQUIRE(agent->write.await(2));
  // At most one more flush timer may have been armed before the failure.
  auto n = agent->write.size();
  for (size_t i = 1; i < n; ++i)
    if (agent->write.entry(i).at - failed_at < 150ms)
      CHECK_EQUAL(i, 1u);
}

TEST(drain hands back unstarted jobs and replies once running ones finish) {
  auto t = now();
  auto running = claimed("block", 4);
  running.scheduled_at = t - 1s; // runs first
  auto a = claimed("ok", 5);
  auto c = claimed("ok", 6);
  agent->claim.script(job_list{{running, a, c}});
  auto b = start(config());
  REQUIRE(w->started.wait());
  self->send(b, atom::drain_v);
  for (auto& [x, version] : {std::pair{a, 5}, std::pair{c, 6}}) {
    auto back = agent->await_write(x.id, job_status::held_on_master);
    REQUIRE(back);
    CHECK_EQUAL(back->expected_version, version);
    CHECK(!back->attempt);
    CHECK_EQUAL(back->job.failure_count, 0);
    check_placement_cleared(back->job);
  }
  // The running job holds the reply back.
  bool replied = false;
  self->receive([&](bool) { replied = true; }, caf::after(0ms) >> [] {});
  CHECK(!replied);
  w->release.open();
  bool drained = false;
  self->receive([&](bool x) { drained = x; },
                caf::after(patience) >> [] { FAIL("drain did not reply"); });
  CHECK(drained);
  // The running job's outcome was written before the reply.
  auto done = agent->writes_of(running.id);
  REQUIRE(!done.empty());
  CHECK_EQUAL(str(done.back().job.status), "succeeded");
  CHECK_EQUAL(w->times_run(a.id), 0u);
  CHECK_EQUAL(w->times_run(c.id), 0u);
  // A drained bucket claims no more.
  auto claims = agent->claim.size();
  wake(b, {now()});
  auto again = call<bool>(b, atom::drain_v);
  REQUIRE(again);
  CHECK(*again);
  CHECK_EQUAL(agent->claim.size(), claims);
}

TEST(a job claimed again while it runs runs once) {
  auto x = claimed("block", 3);
  agent->claim.script(job_list{{x}});
  auto b = start(config());
  REQUIRE(w->started.wait());
  auto processing = agent->await_write(x.id, job_status::processing);
  REQUIRE(processing);
  CHECK_EQUAL(processing->expected_version, 3);
  // Taken back and handed to this bucket anew.
  auto again = x;
  again.version = 5;
  agent->claim.script(job_list{{again}});
  wake(b, {now()});
  REQUIRE(agent->claim.await(2));
  // A third claim is only sent once the bucket has seen the second's reply.
  wake(b, {now()});
  REQUIRE(agent->claim.await(3));
  w->release.open();
  auto final_write = agent->await_write(x.id, job_status::succeeded);
  REQUIRE(final_write);
  // Fenced by the version of the latest claim.
  CHECK_EQUAL(final_write->expected_version, 5);
  auto drained = call<bool>(b, atom::drain_v);
  REQUIRE(drained);
  CHECK_EQUAL(w->times_run(x.id), 1u);
  CHECK_EQUAL(agent->writes_of(x.id).size(), 2u);
}

TEST(a job claimed again before its start was written runs once) {
  auto cfg = config();
  // Nothing is written before the drain: the start stays buffered.
  cfg.flush_interval = 1h;
  auto x = claimed("block", 3);
  x.scheduled_at = now() - 1s; // runs first
  // Runs after x on the one pool thread: once it runs, x's end has reached
  // the bucket's mailbox.
  auto y = claimed("ok", 9);
  agent->claim.script(job_list{{x, y}});
  auto b = start(cfg);
  REQUIRE(w->started.wait());
  auto again = x;
  again.version = 5;
  agent->claim.script(job_list{{again}});
  wake(b, {now()});
  REQUIRE(agent->claim.await(2));
  // A third claim is only sent once the bucket has seen the second's reply.
  wake(b, {now()});
  REQUIRE(agent->claim.await(3));
  w->release.open();
  REQUIRE(w->await_run(y.id));
  // The drain writes what is buffered. Its reply is not awaited: y's
  // outcome may arrive after it and then waits for the (1h) flush timer.
  caf::anon_send(b, atom::drain_v);
  REQUIRE(agent->await_write(x.id, job_status::succeeded));
  CHECK_EQUAL(w->times_run(x.id), 1u);
  auto ws = agent->writes_of(x.id);
  REQUIRE_EQUAL(ws.size(), 1u);
  CHECK_EQUAL(str(ws[0].job.status), "succeeded");
  CHECK(ws[0].attempt);
  // The outcome is fenced by the new claim's version: the buffered start
  // write of the old placement was dropped when the job was claimed again.
  CHECK_EQUAL(ws[0].expected_version, 5);
}

TEST(a drain during start - up stops the bucket before it claims) {
  agent->hold_releases = true;
  auto b = start(config());
  REQUIRE(agent->release.await(1));
  self->send(b, atom::drain_v);
  // The drain is in the bucket's mailbox before the release's answer.
  let_go();
  // The drain is answered once the release's reply arrives.
  bool replied = false;
  self->receive([&](bool x) { replied = x; }, caf::after(patience) >> [] {});
  CHECK(replied);
  // A bucket drained before it claimed never claims.
  CHECK_EQUAL(agent->claim.size(), 0u);
}

TEST(a drain during a claim hands the claimed jobs back) {
  // Keep the one pool thread busy, so that claimed jobs wait in its queue.
  auto blocker = claimed("block", 2);
  agent->claim.script(job_list{{blocker}});
  auto b = start(config());
  REQUIRE(w->started.wait());
  auto a = claimed("ok", 5);
  auto c = claimed("ok", 6);
  agent->claim.script(job_list{{a, c}});
  agent->hold_claims = true;
  wake(b, {now()});
  REQUIRE(agent->claim.await(2));
  self->send(b, atom::drain_v);
  let_go();
  for (auto& [x, version] : {std::pair{a, 5}, std::pair{c, 6}}) {
    auto back = agent->await_write(x.id, job_status::held_on_master);
    REQUIRE(back);
    CHECK_EQUAL(back->expected_version, version);
    check_placement_cleared(back->job);
  }
  w->release.open();
  bool drained = false;
  self->receive([&](bool x) { drained = x; },
                caf::after(patience) >> [] { FAIL("drain did not reply"); });
  CHECK(drained);
  CHECK_EQUAL(w->times_run(blocker.id), 1u);
  CHECK_EQUAL(w->times_run(a.id), 0u);
  CHECK_EQUAL(w->times_run(c.id), 0u);
}

TEST(claims do not outrun the outcomes still to be written) {
  auto store_down = std::make_shared<std::atomic<bool>>(true);
  agent->write.set_default(
    [store_down](const job_writes& xs) -> caf::expected<write_flags> {
      if (*store_down)
        return make_error(ec::store_failure, "down");
      return test::all_applied(xs);
    });
  // A store with endless due jobs: every claim gets as many as it asks for.
  struct counter {
    std::mutex mtx;
    std::condition_variable cv;
    size_t handed = 0;
    bool await(size_t more_than, std::chrono::milliseconds timeout) {
      std::unique_lock guard{mtx};
      return cv.wait_for(guard, timeout, [&] { return handed > more_than; });
    }
  };
  auto jobs = std::make_shared<counter>();
  agent->claim.set_default(
    [this, jobs](const claim_request& r) -> caf::expected<job_list> {
      job_list xs;
      for (uint32_t i = 0; i < r.limit; ++i)
        xs.jobs.push_back(claimed("ok"));
      std::lock_guard guard{jobs->mtx};
      jobs->handed += xs.jobs.size();
      jobs->cv.notify_all();
      return xs;
    });
  start(config()); // batch size 10
  // The runs finish at once, their outcomes cannot be written: the bucket
  // stops claiming at twice the batch size of unrecorded jobs.
  REQUIRE(jobs->await(19, patience));
  CHECK(!jobs->await(20, 500ms));
  // Once the outcomes are written, it claims again by itself.
  *store_down = false;
  CHECK(jobs->await(20, patience));
}

TEST(a failed claim does not stop the bucket) {
  agent->claim.script(make_error(ec::store_failure, "busy"));
  auto b = start(config());
  REQUIRE(agent->claim.await(1));
  auto x = claimed("ok");
  agent->claim.script(job_list{{x}});
  wake(b, {now()});
  REQUIRE(agent->await_write(x.id, job_status::succeeded));
}

TEST(a failed claim is retried after a pause and not once per finished run) {
  agent->claim.set_default([](const claim_request&) -> caf::expected<job_list> {
    return make_error(ec::store_failure, "down");
  });
  // The start-up claim fills the batch; the claims after it fail.
  job_list full;
  for (int i = 0; i < 10; ++i)
    full.jobs.push_back(claimed("ok"));
  agent->claim.script(full);
  start(config());
  for (auto& x : full.jobs)
    REQUIRE(agent->await_write(x.id, job_status::succeeded));
  // Half the batch free: one claim, which failed. The five runs finished
  // after it did not each claim again.
  REQUIRE(agent->claim.await(2));
  auto failed_at = agent->claim.entry(1).at;
  REQUIRE(agent->claim.await(3));
  auto retried_at = agent->claim.entry(2).at;
  MESSAGE("retried after " << format_duration(
            std::chrono::duration_cast<duration>(retried_at - failed_at)));
  CHECK(retried_at - failed_at >= 150ms);
}

TEST(an idle bucket claims no more often than its poll interval) {
  start(config(1s));
  // Over 2.5 s: the start-up claim and the polls at 1 s and 2 s.
  CHECK(!agent->claim.await(5, 2500ms));
  auto n = agent->claim.size();
  MESSAGE(n << " claims in 2.5 s");
  CHECK(n <= 4u);
  CHECK(n >= 2u);
}

CAF_TEST_FIXTURE_SCOPE_END()
