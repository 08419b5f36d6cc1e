#define CAF_SUITE actors.planner
#include "tests/support/test.hpp"

#include "actors/planner.hpp"

#include <set>

// The recurring-schedule planner: pure functions, driven with fixed clocks.

using namespace jm;
using namespace std::chrono_literals;
using jm::test::unbox;

namespace {

// 2025-01-01T00:00:00Z, a Wednesday.
const timestamp t0 = from_micros(1'735'689'600'000'000);

master_config config() {
  master_config cfg;
  cfg.cluster.cluster_id = "planner";
  cfg.handlers["tick"] = handler_defaults{};
  handler_defaults d;
  d.priority = priority::high;
  d.max_retries = 7;
  cfg.handlers["tuned"] = d;
  return cfg;
}

recurring_spec every(std::string expr, std::string handler = "tick") {
  recurring_spec x;
  x.handler = std::move(handler);
  x.expression = std::move(expr);
  return x;
}

planner_limits limits(duration horizon = 30s) {
  planner_limits x;
  x.horizon = horizon;
  return x;
}

std::vector<timestamp> originals(const schedule_plan& p) {
  std::vector<timestamp> xs;
  for (auto& j : p.jobs)
    xs.push_back(j.original_scheduled_at);
  return xs;
}

} // namespace

TEST(a new schedule starts at now in whole seconds) {
  auto cfg = config();
  auto x = unbox(make_schedule(every("every 2 seconds"), cfg, t0 + 1500ms));
  CHECK_EQUAL(x.status, schedule_status::active);
  CHECK_EQUAL(to_micros(x.cursor), to_micros(t0 + 1s));
  CHECK_EQUAL(to_micros(x.planned_until), to_micros(x.cursor));
  CHECK_EQUAL(x.spec.time_zone, "UTC");
  CHECK_EQUAL(x.spec.expression_type, "naturalcron");
  CHECK(!x.id.is_nil());
}

TEST(a start in the future moves the first reference) {
  auto cfg = config();
  auto spec = every("every 2 seconds");
  spec.start_after = t0 + 1h;
  auto x = unbox(make_schedule(spec, cfg, t0));
  CHECK_EQUAL(to_micros(x.cursor), to_micros(t0 + 1h));
  auto p = unbox(plan_schedule(x, t0, cfg, limits()));
  CHECK(p.jobs.empty());
  p = unbox(plan_schedule(x, t0 + 1h, cfg, limits()));
  REQUIRE(!p.jobs.empty());
  CHECK_EQUAL(to_micros(p.jobs.front().original_scheduled_at),
              to_micros(t0 + 1h + 2s));
}

TEST(bad schedules are refused with the reason) {
  auto cfg = config();
  auto bad = make_schedule(every("every 2 sec0nds"), cfg, t0);
  REQUIRE(!bad);
  CHECK_EQUAL(code_of(bad.error()), ec::invalid_argument);
  CHECK(describe(bad.error()).find("at 12") != std::string::npos);
  auto unknown = make_schedule(every("every 2 seconds", "nope"), cfg, t0);
  REQUIRE(!unknown);
  CHECK_EQUAL(code_of(unknown.error()), ec::unknown_handler);
  auto zone = every("every day at 9:00");
  zone.time_zone = "Mars/Olympus";
  CHECK(!make_schedule(zone, cfg, t0));
  auto ended = every("every 2 seconds");
  ended.end_before = t0 - 1s;
  CHECK(!make_schedule(ended, cfg, t0));
  auto type = every("every 2 seconds");
  type.expression_type = "quartz";
  auto r = make_schedule(type, cfg, t0);
  REQUIRE(!r);
  CHECK(describe(r.error()).find("naturalcron") != std::string::npos);
  auto short_interval = every("00:00:00.5");
  short_interval.expression_type = "interval";
  CHECK(!make_schedule(short_interval, cfg, t0));
}

TEST(a step materialises the occurrences up to the horizon) {
  auto cfg = config();
  auto x = unbox(make_schedule(every("every 2 seconds"), cfg, t0));
  auto p = unbox(plan_schedule(x, t0, cfg, limits(30s)));
  REQUIRE_EQUAL(p.jobs.size(), 15u);
  for (size_t i = 0; i < p.jobs.size(); ++i) {
    auto& j = p.jobs[i];
    CHECK_EQUAL(to_micros(j.original_scheduled_at),
                to_micros(t0 + 2s * static_cast<int>(i + 1)));
    CHECK_EQUAL(to_micros(j.scheduled_at), to_micros(j.original_scheduled_at));
    REQUIRE(j.recurring_schedule_id);
    CHECK(*j.recurring_schedule_id == x.id);
    CHECK_EQUAL(j.source, trigger_source::dynamic_recurring);
    CHECK_EQUAL(j.handler, "tick");
    CHECK(!j.skip_if_running);
  }
  CHECK_EQUAL(to_micros(p.next.cursor), to_micros(t0 + 30s));
  CHECK_EQUAL(to_micros(p.next.planned_until), to_micros(t0 + 30s));
  CHECK_EQUAL(p.missed, 0u);
}

TEST(the next step continues strictly after the cursor) {
  auto cfg = config();
  auto x = unbox(make_schedule(every("every 2 seconds"), cfg, t0));
  auto first = unbox(plan_schedule(x, t0, cfg, limits(30s)));
  auto second = unbox(plan_schedule(first.next, t0 + 15s, cfg, limits(30s)));
  std::set<timestamp> seen;
  for (auto t : originals(first))
    CHECK(seen.insert(t).second);
  for (auto t : originals(second))
    CHECK(seen.insert(t).second);
  // 2 s .. 44 s: nothing skipped, nothing twice.
  CHECK_EQUAL(seen.size(), 22u);
  CHECK_EQUAL(to_micros(*seen.rbegin()), to_micros(t0 + 44s));
}

TEST(job settings come from the schedule then the handler) {
  auto cfg = config();
  auto spec = every("every 1 minute", "tuned");
  spec.data = {{"k", std::string{"v"}}};
  spec.metadata = {{"m", int64_t{1}}};
  spec.lane = "";
  spec.timeout = 3s;
  spec.overlap = overlap_policy::skip;
  auto x = unbox(make_schedule(spec, cfg, t0));
  auto p = unbox(plan_schedule(x, t0, cfg, limits(2min)));
  REQUIRE_EQUAL(p.jobs.size(), 2u);
  auto& j = p.jobs[0];
  CHECK_EQUAL(j.priority, priority::high);
  CHECK_EQUAL(j.max_retries, 7);
  CHECK_EQUAL(j.timeout.count(), duration{3s}.count());
  CHECK(j.skip_if_running);
  CHECK(j.data == spec.data);
  CHECK(j.metadata == spec.metadata);
  CHECK(p.jobs[0].id != p.jobs[1].id);
  x.spec.static_name = "nightly";
  p = unbox(plan_schedule(x, t0, cfg, limits(2min)));
  CHECK_EQUAL(p.jobs[0].source, trigger_source::static_recurring);
}

TEST(end before completes the schedule) {
  auto cfg = config();
  auto spec = every("every 10 seconds");
  spec.end_before = t0 + 35s;
  auto x = unbox(make_schedule(spec, cfg, t0));
  auto p = unbox(plan_schedule(x, t0, cfg, limits(20s)));
  CHECK_EQUAL(p.jobs.size(), 2u);
  CHECK_EQUAL(p.next.status, schedule_status::active);
  p = unbox(plan_schedule(p.next, t0 + 20s, cfg, limits(20s)));
  REQUIRE_EQUAL(p.jobs.size(), 1u);
  CHECK_EQUAL(to_micros(p.jobs[0].original_scheduled_at), to_micros(t0 + 30s));
  CHECK_EQUAL(p.next.status, schedule_status::completed);
  REQUIRE(p.next.terminated_at);
  // A completed schedule plans nothing.
  auto again = unbox(plan_schedule(p.next, t0 + 40s, cfg, limits(20s)));
  CHECK(again.jobs.empty());
}

TEST(an expression without further occurrences completes) {
  auto cfg = config();
  auto x = unbox(make_schedule(every("at [2025-01-01 00:00:10]"), cfg, t0));
  auto p = unbox(plan_schedule(x, t0, cfg, limits(30s)));
  REQUIRE_EQUAL(p.jobs.size(), 1u);
  CHECK_EQUAL(p.next.status, schedule_status::completed);
}

TEST(catch up runs all missed occurrences up to the limit) {
  auto cfg = config();
  auto spec = every("every 10 seconds");
  spec.catch_up = catch_up_policy::all;
  spec.catch_up_limit = 3;
  auto x = unbox(make_schedule(spec, cfg, t0));
  // Nothing planned for 100 s: 10 s .. 90 s are missed (100 s is due now).
  auto p = unbox(plan_schedule(x, t0 + 100s, cfg, limits(15s)));
  CHECK_EQUAL(p.missed, 9u);
  CHECK_EQUAL(p.dropped, 6u);
  auto xs = originals(p);
  REQUIRE_EQUAL(xs.size(), 5u);
  CHECK_EQUAL(to_micros(xs[0]), to_micros(t0 + 70s));
  CHECK_EQUAL(to_micros(xs[2]), to_micros(t0 + 90s));
  CHECK_EQUAL(to_micros(xs[3]), to_micros(t0 + 100s));
  CHECK_EQUAL(to_micros(xs[4]), to_micros(t0 + 110s));
  // Missed ones run now, keeping their occurrence as the original time.
  CHECK_EQUAL(to_micros(p.jobs[0].scheduled_at), to_micros(t0 + 100s));
  CHECK_EQUAL(to_micros(p.next.cursor), to_micros(t0 + 110s));
}

TEST(catch up latest runs only the latest missed occurrence) {
  auto cfg = config();
  auto spec = every("every 10 seconds");
  spec.catch_up = catch_up_policy::latest;
  auto x = unbox(make_schedule(spec, cfg, t0));
  auto p = unbox(plan_schedule(x, t0 + 100s, cfg, limits(15s)));
  auto xs = originals(p);
  REQUIRE_EQUAL(xs.size(), 3u);
  CHECK_EQUAL(to_micros(xs[0]), to_micros(t0 + 90s));
  CHECK_EQUAL(p.dropped, 8u);
}

TEST(catch up skip runs no missed occurrence) {
  auto cfg = config();
  auto spec = every("every 10 seconds");
  spec.catch_up = catch_up_policy::skip;
  auto x = unbox(make_schedule(spec, cfg, t0));
  auto p = unbox(plan_schedule(x, t0 + 100s, cfg, limits(15s)));
  auto xs = originals(p);
  REQUIRE_EQUAL(xs.size(), 2u);
  CHECK_EQUAL(to_micros(xs[0]), to_micros(t0 + 100s));
  CHECK_EQUAL(p.dropped, 9u);
  // The cursor moved past the dropped ones: they never come back.
  auto again = unbox(plan_schedule(p.next, t0 + 101s, cfg, limits(15s)));
  for (auto t : originals(again))
    CHECK(t > t0 + 110s);
}

TEST(a step makes at most max jobs and resumes where it stopped) {
  auto cfg = config();
  auto x = unbox(make_schedule(every("every 1 second"), cfg, t0));
  auto lim = limits(1h);
  lim.max_jobs = 100;
  auto p = unbox(plan_schedule(x, t0, cfg, lim));
  REQUIRE_EQUAL(p.jobs.size(), 100u);
  CHECK_EQUAL(to_micros(p.next.planned_until), to_micros(t0 + 100s));
  auto q = unbox(plan_schedule(p.next, t0, cfg, lim));
  REQUIRE_EQUAL(q.jobs.size(), 100u);
  CHECK_EQUAL(to_micros(q.jobs.front().original_scheduled_at),
              to_micros(t0 + 101s));
}

TEST(the cluster time zone applies whatever the host zone) {
  auto cfg = config();
  cfg.cluster.time_zone = "Asia/Tokyo";
  auto x = unbox(make_schedule(every("every day at 9:00:00"), cfg, t0));
  CHECK_EQUAL(x.spec.time_zone, "Asia/Tokyo");
  // 9:00 in Tokyo is 00:00 UTC.
  auto p = unbox(plan_schedule(x, t0, cfg, limits(25h)));
  REQUIRE_EQUAL(p.jobs.size(), 1u);
  CHECK_EQUAL(to_micros(p.jobs[0].original_scheduled_at), to_micros(t0 + 24h));
  // The zone is fixed at creation: a later change of the cluster's zone
  // does not move an existing schedule.
  cfg.cluster.time_zone = "Europe/Lisbon";
  auto q = unbox(plan_schedule(x, t0, cfg, limits(25h)));
  REQUIRE_EQUAL(q.jobs.size(), 1u);
  CHECK_EQUAL(to_micros(q.jobs[0].original_scheduled_at), to_micros(t0 + 24h));
}

TEST(interval schedules step from the cursor) {
  auto cfg = config();
  auto spec = every("00:00:05");
  spec.expression_type = "interval";
  auto x = unbox(make_schedule(spec, cfg, t0));
  CHECK_EQUAL(x.spec.expression_type, "interval");
  auto p = unbox(plan_schedule(x, t0, cfg, limits(12s)));
  auto xs = originals(p);
  REQUIRE_EQUAL(xs.size(), 2u);
  CHECK_EQUAL(to_micros(xs[0]), to_micros(t0 + 5s));
  CHECK_EQUAL(to_micros(xs[1]), to_micros(t0 + 10s));
}

TEST(upcoming occurrences start after now and keep the phase) {
  auto cfg = config();
  auto x = unbox(make_schedule(every("every 3 seconds"), cfg, t0));
  auto xs = upcoming_occurrences(x, t0 + 10s, cfg, 3);
  REQUIRE_EQUAL(xs.size(), 3u);
  CHECK_EQUAL(to_micros(xs[0]), to_micros(t0 + 12s));
  CHECK_EQUAL(to_micros(xs[2]), to_micros(t0 + 18s));
  x.status = schedule_status::cancelled;
  CHECK(upcoming_occurrences(x, t0, cfg, 3).empty());
}
