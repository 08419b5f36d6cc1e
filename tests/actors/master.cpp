#define CAF_SUITE actors.master
#include "tests/support/test.hpp"

// After test.hpp: dsl.hpp uses the FAIL macro that test.hpp defines.
#include <caf/test/dsl.hpp>

#include "tests/support/fake_actors.hpp"
#include "tests/support/jobs.hpp"

#include "actors/master.hpp"
#include "messages/codec.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;
using test::str;

namespace {

const timestamp t0 = from_micros(1'764'324'000'000'000);

/// Cluster defaults: medium, no lane, 5 min, 3 retries. Handlers: "bare"
/// declares nothing, "tuned" declares everything.
master_config config() {
  master_config cfg;
  cfg.cluster.cluster_id = "test";
  cfg.cluster.default_priority = priority::medium;
  cfg.cluster.default_timeout = 5min;
  cfg.cluster.default_max_retries = 3;
  cfg.handlers["bare"] = handler_defaults{};
  handler_defaults d;
  d.priority = priority::high;
  d.lane = "gpu";
  d.timeout = 2min;
  d.max_retries = 7;
  d.metadata = {{"team", std::string{"vision"}}, {"cost", int64_t{3}}};
  cfg.handlers["tuned"] = d;
  return cfg;
}

job_spec spec(std::string handler) {
  job_spec x;
  x.handler = std::move(handler);
  return x;
}

job make(const job_spec& s, const master_config& cfg = config()) {
  return test::unbox(make_job(s, cfg, t0));
}

/// The error of make_job, checked to carry `code`.
std::string error_of(const job_spec& s, ec code,
                     const master_config& cfg = config()) {
  auto x = make_job(s, cfg, t0);
  if (x) {
    MESSAGE("make_job accepted the spec");
    return "accepted";
  }
  CHECK_EQUAL(code_of(x.error()), code);
  return describe(x.error());
}

bool contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos)
    return true;
  MESSAGE("'" << text << "' does not contain '" << std::string{part} << "'");
  return false;
}

} // namespace

TEST(a new job is held on the master with fresh fields) {
  auto s = spec("bare");
  s.data = test::every_value();
  auto x = make(s);
  CHECK(!x.id.is_nil());
  CHECK(make(s).id != x.id);
  CHECK_EQUAL(x.handler, "bare");
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK(x.source == trigger_source::once);
  CHECK_EQUAL(to_micros(x.created_at), to_micros(t0));
  CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(t0));
  CHECK_EQUAL(to_micros(x.original_scheduled_at), to_micros(t0));
  CHECK_EQUAL(x.failure_count, 0);
  CHECK_EQUAL(x.version, 0);
  CHECK(x.data == s.data);
  CHECK(x.metadata.empty());
  CHECK(!x.recurring_schedule_id);
  CHECK_EQUAL(x.bucket_id, "");
  CHECK_EQUAL(x.worker_id, "");
  CHECK(!x.process_deadline);
}

TEST(priority : call argument over handler default over cluster default) {
  CHECK_EQUAL(str(make(spec("bare")).priority), "medium");
  CHECK_EQUAL(str(make(spec("tuned")).priority), "high");
  auto s = spec("tuned");
  s.priority = priority::very_low;
  CHECK_EQUAL(str(make(s).priority), "very_low");
  s.handler = "bare";
  CHECK_EQUAL(str(make(s).priority), "very_low");
  auto cfg = config();
  cfg.cluster.default_priority = priority::critical;
  CHECK_EQUAL(str(make(spec("bare"), cfg).priority), "critical");
  CHECK_EQUAL(str(make(spec("tuned"), cfg).priority), "high");
}

TEST(lane : call argument over handler default over no lane) {
  CHECK_EQUAL(make(spec("bare")).lane, "");
  CHECK_EQUAL(make(spec("tuned")).lane, "gpu");
  auto s = spec("tuned");
  s.lane = "cpu";
  CHECK_EQUAL(make(s).lane, "cpu");
  // An explicit empty lane is a choice too: "no lane", not "the default".
  s.lane = "";
  CHECK_EQUAL(make(s).lane, "");
  s.handler = "bare";
  s.lane = "io";
  CHECK_EQUAL(make(s).lane, "io");
}

TEST(timeout : call argument over handler default over cluster default) {
  CHECK_EQUAL(make(spec("bare")).timeout.count(), duration{5min}.count());
  CHECK_EQUAL(make(spec("tuned")).timeout.count(), duration{2min}.count());
  auto s = spec("tuned");
  s.timeout = 15s;
  CHECK_EQUAL(make(s).timeout.count(), duration{15s}.count());
  s.handler = "bare";
  CHECK_EQUAL(make(s).timeout.count(), duration{15s}.count());
}

TEST(max_retries : call argument over handler default over cluster default) {
  CHECK_EQUAL(make(spec("bare")).max_retries, 3);
  CHECK_EQUAL(make(spec("tuned")).max_retries, 7);
  auto s = spec("tuned");
  s.max_retries = 0;
  CHECK_EQUAL(make(s).max_retries, 0);
  s.handler = "bare";
  s.max_retries = 100;
  CHECK_EQUAL(make(s).max_retries, 100);
}

TEST(metadata : the caller overlays the handler defaults per key) {
  auto s = spec("tuned");
  s.metadata = {{"cost", int64_t{9}}, {"tenant", std::string{"acme"}}};
  auto x = make(s);
  CHECK((x.metadata
         == value_map{{"team", std::string{"vision"}},
                      {"cost", int64_t{9}},
                      {"tenant", std::string{"acme"}}}));
  // The caller may change a key's type too.
  s.metadata = {{"team", int64_t{1}}};
  x = make(s);
  REQUIRE(get_if<int64_t>(x.metadata, "team") != nullptr);
  CHECK_EQUAL(*get_if<int64_t>(x.metadata, "team"), 1);
  CHECK(get_if<int64_t>(x.metadata, "cost") != nullptr);
  // Without handler metadata, the caller's is taken as is.
  s.handler = "bare";
  s.metadata = {{"k", true}};
  CHECK((make(s).metadata == value_map{{"k", true}}));
}

TEST(an unknown handler is an error listing the known ones) {
  auto text = error_of(spec("tunde"), ec::unknown_handler);
  CHECK(contains(text, "unknown handler 'tunde'"));
  CHECK(contains(text, "(known: bare, tuned)"));
  master_config empty;
  empty.cluster.cluster_id = "x";
  text = error_of(spec("any"), ec::unknown_handler, empty);
  CHECK(contains(text, "(known: none)"));
  CHECK(
    contains(error_of(spec(""), ec::unknown_handler), "unknown handler ''"));
}

TEST(bad lanes are rejected) {
  auto s = spec("bare");
  for (auto bad : {"has space", "slash/y", "caf\xc3\xa9", "tab\t",
                   "abcdefghijklmnopqrstuvwxyz"}) {
    s.lane = bad;
    CHECK(contains(error_of(s, ec::invalid_argument), "invalid lane"));
  }
  s.lane = "abcdefghijklmnopqrstuvwxy"; // 25 characters
  CHECK_EQUAL(make(s).lane, *s.lane);
  s.lane = "A-z_0.9";
  CHECK_EQUAL(make(s).lane, "A-z_0.9");
  // A bad handler default is caught as well.
  auto cfg = config();
  cfg.handlers["tuned"].lane = "no good";
  CHECK(contains(error_of(spec("tuned"), ec::invalid_argument, cfg),
                 "invalid lane 'no good'"));
}

TEST(timeouts must lie between 10ms and 24h) {
  auto s = spec("bare");
  for (auto bad : {duration{9ms}, duration{0us}, duration{-1s},
                   duration{24h + 1us}, duration{48h}}) {
    s.timeout = bad;
    CHECK(contains(error_of(s, ec::invalid_argument), "invalid timeout"));
  }
  s.timeout = 10ms;
  CHECK_EQUAL(make(s).timeout.count(), duration{10ms}.count());
  s.timeout = 24h;
  CHECK_EQUAL(make(s).timeout.count(), duration{24h}.count());
  auto cfg = config();
  cfg.handlers["tuned"].timeout = 1ms;
  CHECK(contains(error_of(spec("tuned"), ec::invalid_argument, cfg),
                 "invalid timeout 1ms"));
}

TEST(every cluster default timeout that validates is usable) {
  // validate() and make_job agree on the range of a default timeout.
  for (auto d : {duration{10ms}, duration{1s}, duration{24h},
                 duration{24h + 1us}, duration{48h}}) {
    auto cfg = config();
    cfg.cluster.default_timeout = d;
    auto valid = !validate(cfg.cluster);
    auto x = make_job(spec("bare"), cfg, t0);
    if (valid != static_cast<bool>(x))
      MESSAGE("default timeout " << format_duration(d) << ": validate says "
                                 << valid << ", make_job says "
                                 << static_cast<bool>(x));
    CHECK_EQUAL(valid, static_cast<bool>(x));
  }
}

TEST(max_retries must lie between 0 and 100) {
  auto s = spec("bare");
  s.max_retries = -1;
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid max retries -1"));
  s.max_retries = 101;
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid max retries"));
  auto cfg = config();
  cfg.handlers["tuned"].max_retries = 1000;
  CHECK(contains(error_of(spec("tuned"), ec::invalid_argument, cfg),
                 "invalid max retries 1000"));
}

TEST(due times : run_at over after over now) {
  auto s = spec("bare");
  s.after = 5min;
  auto x = make(s);
  CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(t0 + 5min));
  CHECK_EQUAL(to_micros(x.original_scheduled_at), to_micros(t0 + 5min));
  CHECK_EQUAL(to_micros(x.created_at), to_micros(t0));
  s.run_at = t0 + 1h;
  x = make(s);
  CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(t0 + 1h));
  CHECK_EQUAL(to_micros(x.original_scheduled_at), to_micros(t0 + 1h));
  s.run_at.reset();
  s.after = 0us;
  CHECK_EQUAL(to_micros(make(s).scheduled_at), to_micros(t0));
}

TEST(delays too large to add to the clock are rejected) {
  auto s = spec("bare");
  s.after = duration{int64_t{99} * 365 * 24 * 3600 * 1'000'000}; // 99y
  auto x = make(s);
  CHECK(x.scheduled_at > t0);
  s.after = duration{int64_t{300} * 365 * 24 * 3600 * 1'000'000}; // 300y
  CHECK(contains(error_of(s, ec::invalid_argument), "at most 100 years"));
  // `after` comes off the wire as any int64: bounded before any addition.
  s.after = duration::max();
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid delay"));
  s.after.reset();
  s.run_at = timestamp{duration::max()};
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid time"));
}

TEST(a negative delay is rejected) {
  auto s = spec("bare");
  s.after = -1us;
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid delay"));
  // Even when run_at, which wins, is given too.
  s.run_at = t0 + 1h;
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid delay"));
}

TEST(a run_at in the past means now but is kept as the original time) {
  auto s = spec("bare");
  s.run_at = t0 - 2h;
  auto x = make(s);
  CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(t0));
  CHECK_EQUAL(to_micros(x.original_scheduled_at), to_micros(t0 - 2h));
  s.run_at = from_micros(0);
  x = make(s);
  CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(t0));
  CHECK_EQUAL(to_micros(x.original_scheduled_at), 0);
}

TEST(a payload over the limit is rejected) {
  auto cfg = config();
  cfg.cluster.max_message_bytes = 4096;
  auto s = spec("tuned"); // its default metadata counts too
  s.data = {{"blob", bytes(2000, 0xab)}};
  s.metadata = {{"note", std::string(500, 'n')}};
  auto x = make(s, cfg);
  auto size = encode(x.data).size() + encode(x.metadata).size();
  CHECK(size <= 4096u);
  // Exactly at the limit is fine, one byte less is not.
  cfg.cluster.max_message_bytes = static_cast<uint32_t>(size);
  make(s, cfg);
  cfg.cluster.max_message_bytes = static_cast<uint32_t>(size - 1);
  auto text = error_of(s, ec::payload_too_large, cfg);
  CHECK(contains(text, std::to_string(size) + " bytes"));
  CHECK(contains(text, "limit is " + std::to_string(size - 1)));
  // Large data alone.
  cfg.cluster.max_message_bytes = 4096;
  s.data = {{"blob", bytes(5000, 0xab)}};
  error_of(s, ec::payload_too_large, cfg);
  // Large handler metadata alone.
  s.data.clear();
  cfg.handlers["tuned"].metadata["huge"] = std::string(5000, 'x');
  error_of(s, ec::payload_too_large, cfg);
}

TEST(the first error wins in field order) {
  auto s = spec("nope");
  s.lane = "bad lane";
  s.timeout = 1us;
  CHECK_EQUAL(error_of(s, ec::unknown_handler).find("unknown handler"), 0u);
  s.handler = "bare";
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid lane"));
  s.lane.reset();
  CHECK(contains(error_of(s, ec::invalid_argument), "invalid timeout"));
}

// -- the MASTER actor ---------------------------------------------------------

namespace {

bucket_record record(std::string id, priority p, std::string lane = "") {
  bucket_record x;
  x.bucket_id = std::move(id);
  x.worker_id = "w-" + x.bucket_id;
  x.node_id = "n1";
  x.priority = p;
  x.lane = std::move(lane);
  return x;
}

jm::request schedule(std::vector<job_spec> specs) {
  return jm::request{std::move(specs)};
}

/// A job as the store holds it.
job stored(job_status status, int64_t version) {
  auto x = make(spec("bare"));
  x.status = status;
  x.version = version;
  if (status != job_status::held_on_master) {
    x.bucket_id = "b-1";
    x.worker_id = "w-b-1";
  }
  if (status == job_status::processing || status == job_status::queued)
    x.process_deadline = t0 + 1h;
  return x;
}

/// The master with a fake store and fake buckets, on the deterministic
/// scheduler: `sched.run()` delivers everything that is due; the master's
/// periodic tick never comes unless the test advances the clock.
struct master_fixture : test_coordinator_fixture<> {
  master_fixture() {
    spdlog::set_level(spdlog::level::off);
    store_handle = sys.spawn(test::fake_store_actor, store);
    actors.push_back(caf::actor_cast<caf::actor>(store_handle));
  }

  ~master_fixture() override {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void start(master_config cfg = config()) {
    m = sys.spawn(master, std::move(cfg), store_handle, agent);
    actors.push_back(caf::actor_cast<caf::actor>(m));
    sched.run();
  }

  /// Sends raw bytes and returns the decoded reply.
  reply ask_raw(bytes data) {
    self->send(m, wire_request{std::move(data)});
    sched.run();
    std::optional<reply> result;
    self->receive([&](wire_reply& r) { result = test::from_wire(r); },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    if (!result)
      FAIL("the master did not answer");
    return std::move(*result);
  }

  reply ask(const jm::request& x) { return ask_raw(encode(x)); }

  /// Schedules one job and returns its id (fails the test on an error).
  job_id schedule_one(job_spec s) {
    auto r = ask(schedule({std::move(s)}));
    auto ids = std::get_if<std::vector<job_id>>(&r);
    if (!ids)
      FAIL("schedule failed: " << test::error_of(r).text);
    if (ids->size() != 1)
      FAIL("schedule returned " << ids->size() << " ids");
    return ids->front();
  }

  /// The job as the master inserted it.
  job inserted(const job_id& id) {
    for (auto& batch : store->insert.all())
      for (auto& x : batch.jobs)
        if (x.id == id)
          return x;
    FAIL("job " << to_string(id) << " was not inserted");
  }

  struct attached {
    std::shared_ptr<test::fake_bucket> fake;
    bucket_actor handle;
  };

  attached attach(const bucket_record& rec) {
    auto f = std::make_shared<test::fake_bucket>();
    auto h = sys.spawn(test::fake_bucket_actor, f);
    actors.push_back(caf::actor_cast<caf::actor>(h));
    self->send(m, atom::attach_v, rec, h);
    sched.run();
    return {f, h};
  }

  /// Gives the master a separate agent store (call before `start`).
  void use_agent_store() {
    auto h = sys.spawn(test::fake_agent_connection, agent_fake);
    actors.push_back(caf::actor_cast<caf::actor>(h));
    agent = caf::actor_cast<agent_connection_actor>(h);
  }

  /// Every job the master pushed into save-pending queues.
  std::vector<job> pushed() const {
    std::vector<job> result;
    for (auto& batch : agent_fake->push.all())
      result.insert(result.end(), batch.jobs.begin(), batch.jobs.end());
    return result;
  }

  std::shared_ptr<test::fake_store> store
    = std::make_shared<test::fake_store>();
  store_actor store_handle;
  std::shared_ptr<test::fake_agent> agent_fake
    = std::make_shared<test::fake_agent>();
  agent_connection_actor agent;
  master_actor m;
  std::vector<caf::actor> actors;
};

ec code(const reply& r) {
  return test::error_of(r).code;
}

bool is_done(const reply& r) {
  return std::holds_alternative<done_reply>(r);
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(master_actor_tests, master_fixture)

TEST(on start the master rescues and sweeps) {
  start();
  CHECK_EQUAL(store->rescue.size(), 1u);
  CHECK_EQUAL(store->sweep.size(), 1u);
  // Nothing to assign to: no bucket is attached.
  CHECK_EQUAL(store->assign.size(), 0u);
}

TEST(a job is held when no bucket is attached) {
  start();
  auto before = now();
  auto id = schedule_one(spec("bare"));
  REQUIRE_EQUAL(store->insert.size(), 1u);
  REQUIRE_EQUAL(store->insert.at(0).jobs.size(), 1u);
  auto x = store->insert.at(0).jobs.front();
  CHECK(x.id == id);
  CHECK_EQUAL(x.handler, "bare");
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(x.bucket_id, "");
  CHECK_EQUAL(x.worker_id, "");
  CHECK_EQUAL(x.version, 0);
  CHECK(x.scheduled_at >= before);
  CHECK(x.scheduled_at <= now());
}

TEST(a schedule request with several jobs answers their ids in order) {
  start();
  auto r = ask(schedule({spec("bare"), spec("tuned"), spec("bare")}));
  auto ids = std::get_if<std::vector<job_id>>(&r);
  REQUIRE(ids);
  REQUIRE_EQUAL(ids->size(), 3u);
  REQUIRE_EQUAL(store->insert.size(), 1u);
  auto xs = store->insert.at(0).jobs;
  REQUIRE_EQUAL(xs.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    CHECK(xs[i].id == (*ids)[i]);
  CHECK_EQUAL(xs[1].handler, "tuned");
  CHECK_EQUAL(std::set<job_id>(ids->begin(), ids->end()).size(), 3u);
}

TEST(a job goes to an attached bucket of its priority and lane) {
  start();
  auto high = attach(record("b-high", priority::high));
  auto gpu = attach(record("b-gpu", priority::medium, "gpu"));
  // Neither matches a medium job without a lane.
  auto held = schedule_one(spec("bare"));
  CHECK_EQUAL(str(inserted(held).status), "held_on_master");
  auto b = attach(record("b-1", priority::medium));
  auto s = spec("bare");
  s.after = 2s;
  auto id = schedule_one(s);
  auto x = inserted(id);
  CHECK_EQUAL(str(x.status), "assigned_to_bucket");
  CHECK_EQUAL(x.bucket_id, "b-1");
  CHECK_EQUAL(x.worker_id, "w-b-1");
  // The bucket learns when the job is due (rounded up to the millisecond).
  REQUIRE_EQUAL(b.fake->wakes.size(), 1u);
  auto due = b.fake->wakes.at(0).due;
  REQUIRE_EQUAL(due.size(), 1u);
  CHECK(due[0] >= x.scheduled_at);
  CHECK(due[0] - x.scheduled_at < 1ms);
  CHECK(due[0] > now());
  CHECK_EQUAL(high.fake->wakes.size(), 0u);
  CHECK_EQUAL(gpu.fake->wakes.size(), 0u);
  // A job due now is due now for the bucket too, not at the next
  // millisecond: it claims at once instead of arming a timer.
  auto before_now = now();
  auto ready = inserted(schedule_one(spec("bare")));
  REQUIRE_EQUAL(b.fake->wakes.size(), 2u);
  auto due_now = b.fake->wakes.at(1).due;
  REQUIRE_EQUAL(due_now.size(), 1u);
  CHECK(due_now[0] >= ready.scheduled_at);
  CHECK(due_now[0] >= before_now);
  CHECK(due_now[0] <= now());
  // The handler's defaults route too: high priority in lane gpu.
  auto high_gpu = attach(record("b-high-gpu", priority::high, "gpu"));
  auto y = inserted(schedule_one(spec("tuned")));
  CHECK_EQUAL(str(y.status), "assigned_to_bucket");
  CHECK_EQUAL(y.bucket_id, "b-high-gpu");
  CHECK_EQUAL(high_gpu.fake->wakes.size(), 1u);
  CHECK_EQUAL(high.fake->wakes.size(), 0u);
}

TEST(a job due after the look - ahead window stays held) {
  start();
  auto b = attach(record("b-1", priority::medium));
  auto s = spec("bare");
  s.after = 1h; // beyond transient_threshold (30s)
  auto x = inserted(schedule_one(s));
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(x.bucket_id, "");
  CHECK_EQUAL(b.fake->wakes.size(), 0u);
}

TEST(attaching a bucket asks the store to assign held jobs) {
  start();
  auto waiting = stored(job_status::assigned_to_bucket, 1);
  waiting.bucket_id = "b-1";
  waiting.scheduled_at = now() + 5s;
  store->assign.script(job_list{{waiting}});
  auto before = now();
  auto b = attach(record("b-1", priority::medium));
  REQUIRE_EQUAL(store->assign.size(), 1u);
  auto req = store->assign.at(0);
  REQUIRE_EQUAL(req.buckets.size(), 1u);
  CHECK_EQUAL(req.buckets[0].bucket_id, "b-1");
  // Jobs due already are left to the buckets, which adopt them.
  CHECK(req.after >= before);
  CHECK(req.after <= now());
  CHECK(req.horizon == req.after + 30s);
  CHECK_EQUAL(req.limit, config().assign_batch);
  // The assigned job's bucket is woken for it.
  REQUIRE_EQUAL(b.fake->wakes.size(), 1u);
  REQUIRE_EQUAL(b.fake->wakes.at(0).due.size(), 1u);
  CHECK(b.fake->wakes.at(0).due[0] >= waiting.scheduled_at);
}

TEST(malformed bytes get an error and the master keeps working) {
  start();
  for (auto data : {bytes{}, bytes{1, 2, 3, 4, 5}, bytes(64, 0xff)}) {
    auto r = ask_raw(data);
    CHECK_EQUAL(code(r), ec::malformed_message);
  }
  auto r = ask(jm::request{ping_request{}});
  auto pong = std::get_if<pong_reply>(&r);
  REQUIRE(pong);
  CHECK_EQUAL(pong->cluster_id, "test");
  schedule_one(spec("bare"));
  CHECK_EQUAL(store->insert.size(), 1u);
}

TEST(an unknown handler is refused and nothing is inserted) {
  start();
  auto r = ask(schedule({spec("nope")}));
  CHECK_EQUAL(code(r), ec::unknown_handler);
  CHECK(contains(test::error_of(r).text, "unknown handler 'nope'"));
  // One bad job refuses the whole request, naming the job.
  r = ask(schedule({spec("bare"), spec("nope")}));
  CHECK_EQUAL(code(r), ec::unknown_handler);
  CHECK(contains(test::error_of(r).text, "job 2: unknown handler"));
  r = ask(schedule({}));
  CHECK_EQUAL(code(r), ec::invalid_argument);
  CHECK_EQUAL(store->insert.size(), 0u);
}

TEST(a store failure on insert reaches the client) {
  start();
  store->insert.script(make_error(ec::store_failure, "disk full"));
  auto r = ask(schedule({spec("bare")}));
  CHECK_EQUAL(code(r), ec::store_failure);
  CHECK_EQUAL(test::error_of(r).text, "disk full");
  schedule_one(spec("bare"));
}

TEST(an archived cluster refuses to schedule) {
  auto cfg = config();
  cfg.cluster.mode = cluster_mode::archived;
  start(cfg);
  auto r = ask(schedule({spec("bare")}));
  CHECK_EQUAL(code(r), ec::refused);
  CHECK_EQUAL(store->insert.size(), 0u);
}

TEST(a passive cluster holds every job) {
  auto cfg = config();
  cfg.cluster.mode = cluster_mode::passive;
  start(cfg);
  auto b = attach(record("b-1", priority::medium));
  auto x = inserted(schedule_one(spec("bare")));
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(b.fake->wakes.size(), 0u);
  CHECK_EQUAL(store->assign.size(), 0u);
}

TEST(a processing job cannot be cancelled) {
  start();
  auto x = stored(job_status::processing, 4);
  store->put(x);
  auto r = ask(jm::request{cancel_request{x.id}});
  CHECK_EQUAL(code(r), ec::illegal_transition);
  CHECK(contains(test::error_of(r).text, "is processing"));
  CHECK_EQUAL(store->write.size(), 0u);
  CHECK_EQUAL(str(store->find(x.id)->status), "processing");
}

TEST(cancelling a held job writes cancelled fenced by its version) {
  start();
  auto x = stored(job_status::held_on_master, 6);
  store->put(x);
  auto r = ask(jm::request{cancel_request{x.id}});
  CHECK(is_done(r));
  REQUIRE_EQUAL(store->write.size(), 1u);
  auto ws = store->write.at(0).writes;
  REQUIRE_EQUAL(ws.size(), 1u);
  CHECK(ws[0].job.id == x.id);
  CHECK_EQUAL(ws[0].expected_version, 6);
  CHECK_EQUAL(str(ws[0].job.status), "cancelled");
  CHECK(!ws[0].attempt);
  auto now_stored = store->find(x.id);
  REQUIRE(now_stored);
  CHECK_EQUAL(str(now_stored->status), "cancelled");
  CHECK_EQUAL(now_stored->version, 7);
  // Once cancelled, always cancelled.
  r = ask(jm::request{cancel_request{x.id}});
  CHECK_EQUAL(code(r), ec::illegal_transition);
}

TEST(cancelling an assigned job clears its placement) {
  start();
  auto x = stored(job_status::assigned_to_bucket, 2);
  store->put(x);
  CHECK(is_done(ask(jm::request{cancel_request{x.id}})));
  REQUIRE_EQUAL(store->write.size(), 1u);
  auto w = store->write.at(0).writes.at(0);
  CHECK_EQUAL(w.expected_version, 2);
  CHECK_EQUAL(str(w.job.status), "cancelled");
  CHECK_EQUAL(w.job.bucket_id, "");
  CHECK_EQUAL(w.job.worker_id, "");
  CHECK(!w.job.process_deadline);
}

TEST(cancelling an unknown job is an error) {
  start();
  auto r = ask(jm::request{cancel_request{uuid::random()}});
  CHECK_EQUAL(code(r), ec::unknown_job);
  CHECK_EQUAL(store->write.size(), 0u);
}

TEST(rescheduling moves the due time and holds the job) {
  start();
  auto b = attach(record("b-1", priority::high));
  auto woken = b.fake->wakes.size();
  auto x = stored(job_status::assigned_to_bucket, 3);
  store->put(x);
  auto at = now() + 2h;
  CHECK(is_done(ask(jm::request{reschedule_request{x.id, at}})));
  REQUIRE_EQUAL(store->write.size(), 1u);
  auto w = store->write.at(0).writes.at(0);
  CHECK_EQUAL(w.expected_version, 3);
  CHECK_EQUAL(str(w.job.status), "held_on_master");
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(at));
  CHECK_EQUAL(to_micros(w.job.original_scheduled_at),
              to_micros(x.original_scheduled_at));
  CHECK_EQUAL(w.job.bucket_id, "");
  CHECK_EQUAL(w.job.worker_id, "");
  // The buckets look at once: a job rescheduled to now is adopted then.
  CHECK_EQUAL(b.fake->wakes.size(), woken + 1);
  // Finished and running jobs stay as they are.
  for (auto status : {job_status::succeeded, job_status::processing,
                      job_status::queued, job_status::cancelled}) {
    auto y = stored(status, 1);
    store->put(y);
    auto r = ask(jm::request{reschedule_request{y.id, at}});
    CHECK_EQUAL(code(r), ec::illegal_transition);
  }
  CHECK_EQUAL(store->write.size(), 1u);
}

TEST(a version conflict on a write is retried with the new version) {
  start();
  auto x = stored(job_status::held_on_master, 6);
  store->put(x);
  // Somebody else writes the job between the master's read and its write.
  bool raced = false;
  store->write.set_default([&, fs = store.get()](const job_writes& ws) {
    if (!raced) {
      raced = true;
      auto y = *fs->find(x.id);
      y.version += 1;
      fs->put(y);
      return caf::expected<write_flags>{write_flags{{false}}};
    }
    std::lock_guard guard{fs->mtx};
    write_flags result;
    for (auto& w : ws.writes) {
      auto& y = fs->jobs.at(w.job.id);
      bool ok = y.version == w.expected_version;
      if (ok) {
        y = w.job;
        y.version = w.expected_version + 1;
      }
      result.applied.push_back(ok);
    }
    return caf::expected<write_flags>{result};
  });
  CHECK(is_done(ask(jm::request{cancel_request{x.id}})));
  CHECK_EQUAL(store->get.size(), 2u);
  REQUIRE_EQUAL(store->write.size(), 2u);
  CHECK_EQUAL(store->write.at(0).writes.at(0).expected_version, 6);
  CHECK_EQUAL(store->write.at(1).writes.at(0).expected_version, 7);
  CHECK_EQUAL(str(store->find(x.id)->status), "cancelled");
}

TEST(a job that keeps changing is a version conflict) {
  start();
  auto x = stored(job_status::held_on_master, 1);
  store->put(x);
  for (int i = 0; i < 3; ++i)
    store->write.script(write_flags{{false}});
  auto r = ask(jm::request{cancel_request{x.id}});
  CHECK_EQUAL(code(r), ec::version_conflict);
  CHECK_EQUAL(store->get.size(), 3u);
  CHECK_EQUAL(store->write.size(), 3u);
  CHECK_EQUAL(str(store->find(x.id)->status), "held_on_master");
}

TEST(a bucket that leaves gets no more jobs) {
  start();
  auto b = attach(record("b-1", priority::medium));
  CHECK_EQUAL(str(inserted(schedule_one(spec("bare"))).status),
              "assigned_to_bucket");
  self->send(m, atom::leave_v, std::string{"b-1"});
  sched.run();
  auto x = inserted(schedule_one(spec("bare")));
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(b.fake->wakes.size(), 1u);
}

TEST(a bucket that dies gets no more jobs) {
  start();
  auto b = attach(record("b-1", priority::medium));
  caf::anon_send_exit(b.handle, caf::exit_reason::kill);
  sched.run();
  auto x = inserted(schedule_one(spec("bare")));
  CHECK_EQUAL(str(x.status), "held_on_master");
}

TEST(queries go to the store) {
  start();
  auto x = stored(job_status::held_on_master, 1);
  store->put(x);
  job_filter f;
  f.limit = 0;
  auto r = ask(jm::request{f});
  auto jobs = std::get_if<std::vector<job>>(&r);
  REQUIRE(jobs);
  REQUIRE_EQUAL(jobs->size(), 1u);
  CHECK(jobs->front().id == x.id);
  REQUIRE_EQUAL(store->list.size(), 1u);
  CHECK_EQUAL(store->list.at(0).limit, 10000u);
  r = ask(jm::request{get_job_request{x.id}});
  auto d = std::get_if<job_detail>(&r);
  REQUIRE(d);
  CHECK(d->job.id == x.id);
  r = ask(jm::request{get_job_request{uuid::random()}});
  CHECK_EQUAL(code(r), ec::unknown_job);
  store->list.script(make_error(ec::store_failure, "locked"));
  CHECK_EQUAL(code(ask(jm::request{f})), ec::store_failure);
}

TEST(with an agent store jobs due soon go to the queue of their bucket) {
  use_agent_store();
  start();
  // Every rescue round also looks for the queues of gone buckets.
  CHECK_EQUAL(agent_fake->rescue.size(), 1u);
  auto b = attach(record("b-1", priority::medium));
  auto later = spec("bare");
  later.after = 5s;
  auto r = ask(schedule({spec("bare"), later}));
  auto ids = std::get_if<std::vector<job_id>>(&r);
  REQUIRE(ids != nullptr);
  REQUIRE_EQUAL(ids->size(), 2u);
  // Durable in the agent store, not in the master's.
  auto xs = pushed();
  REQUIRE_EQUAL(xs.size(), 2u);
  CHECK(xs[0].id == ids->at(0));
  CHECK(xs[1].id == ids->at(1));
  for (auto& x : xs) {
    CHECK_EQUAL(str(x.status), "save_pending");
    CHECK_EQUAL(x.bucket_id, "b-1");
    CHECK_EQUAL(x.worker_id, "w-b-1");
  }
  CHECK_EQUAL(store->insert.size(), 0u);
  // The bucket is woken now, to move both into the master store at once,
  // and again when the later one is due.
  REQUIRE_EQUAL(b.fake->wakes.size(), 1u);
  auto due = b.fake->wakes.at(0).due;
  REQUIRE_EQUAL(due.size(), 2u);
  CHECK(due[0] <= now());
  CHECK(due[1] >= xs[1].scheduled_at);
  // A request that is not placed as a whole goes into the master store in
  // one transaction, so that it is stored all or nothing.
  auto far = spec("bare");
  far.after = 1h;
  r = ask(schedule({spec("bare"), far}));
  ids = std::get_if<std::vector<job_id>>(&r);
  REQUIRE(ids != nullptr);
  CHECK_EQUAL(pushed().size(), 2u);
  REQUIRE_EQUAL(store->insert.size(), 1u);
  CHECK_EQUAL(str(inserted(ids->at(0)).status), "assigned_to_bucket");
  CHECK_EQUAL(str(inserted(ids->at(1)).status), "held_on_master");
}

TEST(when the agent store fails placed jobs go to the master store) {
  use_agent_store();
  start();
  auto b = attach(record("b-1", priority::medium));
  agent_fake->push.script(make_error(ec::store_failure, "agent down"));
  auto id = schedule_one(spec("bare"));
  CHECK_EQUAL(agent_fake->push.size(), 1u);
  auto x = inserted(id);
  CHECK_EQUAL(str(x.status), "assigned_to_bucket");
  CHECK_EQUAL(x.bucket_id, "b-1");
  CHECK_EQUAL(b.fake->wakes.size(), 1u);
}

TEST(jobs rescued from queues of gone buckets wake the buckets of their route) {
  use_agent_store();
  auto rescued = stored(job_status::held_on_master, 1);
  rescued.scheduled_at = now() - 1s;
  // The first round finds nothing; the next one finds a held job.
  agent_fake->rescue.script(job_list{});
  agent_fake->rescue.script(job_list{{rescued}});
  auto cfg = config();
  // Every tick rescues (the master reads the wall clock for the interval).
  cfg.rescue_interval = 0s;
  start(cfg);
  auto b = attach(record("b-1", priority::medium));
  auto other = attach(record("b-high", priority::high));
  auto wakes = b.fake->wakes.size();
  sched.advance_time(2s);
  sched.run();
  CHECK_EQUAL(agent_fake->rescue.size(), 2u);
  CHECK(b.fake->wakes.size() > wakes);
  CHECK_EQUAL(other.fake->wakes.size(), 0u);
}

TEST(a hanging agent store does not stop the rescue of dead nodes) {
  use_agent_store();
  agent_fake->hang_rescues = true;
  auto cfg = config();
  cfg.rescue_interval = 0s;
  start(cfg);
  REQUIRE_EQUAL(agent_fake->rescue.size(), 1u);
  auto rescues = store->rescue.size();
  sched.advance_time(2s);
  sched.run();
  // Dead nodes and deadlines are still looked after every round; the
  // queues are not asked again while the first request hangs.
  CHECK(store->rescue.size() > rescues);
  CHECK_EQUAL(agent_fake->rescue.size(), 1u);
  // Its timeout frees the next round to ask again.
  sched.advance_time(config().agent_timeout);
  sched.run();
  CHECK(agent_fake->rescue.size() > 1u);
}

TEST(with an agent store a request across buckets is one push) {
  use_agent_store();
  start();
  auto medium = attach(record("b-1", priority::medium));
  auto gpu = attach(record("b-gpu", priority::high, "gpu"));
  // "tuned" routes to high priority in lane gpu.
  auto r = ask(schedule({spec("bare"), spec("tuned")}));
  REQUIRE(std::get_if<std::vector<job_id>>(&r) != nullptr);
  REQUIRE_EQUAL(agent_fake->push.size(), 1u);
  auto xs = pushed();
  REQUIRE_EQUAL(xs.size(), 2u);
  CHECK_EQUAL(xs[0].bucket_id, "b-1");
  CHECK_EQUAL(xs[1].bucket_id, "b-gpu");
  CHECK_EQUAL(medium.fake->wakes.size(), 1u);
  CHECK_EQUAL(gpu.fake->wakes.size(), 1u);
}

TEST(with an agent store a passive cluster pushes nothing) {
  use_agent_store();
  auto cfg = config();
  cfg.cluster.mode = cluster_mode::passive;
  start(cfg);
  attach(record("b-1", priority::medium));
  auto x = inserted(schedule_one(spec("bare")));
  CHECK_EQUAL(str(x.status), "held_on_master");
  CHECK_EQUAL(agent_fake->push.size(), 0u);
}

TEST(when both stores fail the caller gets the master store error) {
  use_agent_store();
  start();
  attach(record("b-1", priority::medium));
  agent_fake->push.script(make_error(ec::store_failure, "agent down"));
  store->insert.script(make_error(ec::store_failure, "master down"));
  auto r = ask(schedule({spec("bare")}));
  CHECK_EQUAL(code(r), ec::store_failure);
  CHECK(test::error_of(r).text.find("master down") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
