#define CAF_SUITE node.recurring
#include "tests/support/test.hpp"

#include "tests/node/node_fixture.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <signal.h>

// End-to-end recurring schedules: real node processes, the real CLI, wall
// clock. The `record` sample handler is the independent witness: it appends
// "<job id> <occurrence> <start> <end>" (microseconds) per run.

using namespace jm;
using namespace std::chrono_literals;
using jm::test::unbox;
namespace fs = std::filesystem;

namespace {

struct run {
  std::string job;
  timestamp occurrence;
  timestamp start;
  timestamp end;
};

struct fixture : jm::test::node_fixture {
  fs::path runs_file() const { return dir / "runs.txt"; }

  std::vector<run> runs() {
    std::vector<run> result;
    std::ifstream in{runs_file()};
    std::string id;
    int64_t occurrence = 0, start = 0, end = 0;
    while (in >> id >> occurrence >> start >> end)
      result.push_back(
        run{id, from_micros(occurrence), from_micros(start), from_micros(end)});
    return result;
  }

  /// `schedule record --every EXPR` (plus `extra`); returns the schedule id.
  schedule_id every(const std::string& expr,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"record",
                                  "--every",
                                  expr,
                                  "--data",
                                  "file=" + runs_file().string(),
                                  "--data",
                                  "times:bool=true"};
    args.insert(args.end(), extra.begin(), extra.end());
    return schedule(args);
  }

  std::vector<job> jobs_of(const schedule_id& id) {
    auto c = client();
    job_filter f;
    f.schedule_id = id;
    f.limit = 10000;
    return std::get<std::vector<job>>(unbox(c->call(request{f})));
  }

  schedule_detail show(const schedule_id& id) {
    auto c = client();
    return std::get<schedule_detail>(
      unbox(c->call(request{get_schedule_request{id}})));
  }

  /// Waits until no job of the schedule is live any more.
  void await_quiet(const schedule_id& id) {
    bool quiet = jm::test::eventually(
      [&] {
        auto xs = jobs_of(id);
        return std::all_of(xs.begin(), xs.end(),
                           [](const job& x) { return is_final(x.status); });
      },
      20s);
    if (!quiet)
      FAIL("jobs of the schedule still live" << stuck_report());
  }

  /// Occurrences of the schedule's jobs, sorted; fails on a duplicate.
  std::vector<timestamp> occurrences(const std::vector<job>& xs) {
    std::vector<timestamp> result;
    for (auto& x : xs)
      result.push_back(x.original_scheduled_at);
    std::sort(result.begin(), result.end());
    auto dup = std::adjacent_find(result.begin(), result.end());
    if (dup != result.end())
      FAIL("occurrence " << format_timestamp(*dup) << " has two jobs");
    return result;
  }
};

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(recurring_tests, fixture)

TEST(every 2 seconds runs on time for 30 seconds and cancel stops it) {
  start_node();
  auto begin = now();
  auto id = every("every 2 seconds");
  // The window under test: real time, not a synchronisation.
  std::this_thread::sleep_for(30s);
  auto end = now();
  auto xs = runs();
  std::vector<timestamp> starts;
  std::set<timestamp> seen;
  duration worst_delay{0};
  for (auto& r : xs) {
    CHECK(seen.insert(r.occurrence).second);
    if (r.start >= begin && r.start <= end) {
      starts.push_back(r.start);
      worst_delay = std::max(worst_delay, r.start - r.occurrence);
    }
  }
  MESSAGE(starts.size() << " runs in 30 s; worst delay "
                        << format_duration(worst_delay));
  CHECK(starts.size() >= 14 && starts.size() <= 16);
  REQUIRE(starts.size() >= 2);
  std::sort(starts.begin(), starts.end());
  auto mean = seconds(starts.back() - starts.front())
              / static_cast<double>(starts.size() - 1);
  MESSAGE("mean spacing " << mean << " s");
  CHECK(mean >= 1.8 && mean <= 2.2);
  CHECK(worst_delay < 1s);
  // Cancel: the unstarted jobs go with it, nothing runs afterwards.
  auto r = cli({"schedules", "cancel", to_string(id)});
  REQUIRE_EQUAL(r.exit_code, 0);
  CHECK(r.out.find("cancelled schedule") != std::string::npos);
  auto cancelled_at = now();
  await_quiet(id);
  std::this_thread::sleep_for(3s);
  size_t late = 0;
  for (auto& run : runs())
    if (run.start > cancelled_at)
      ++late;
  // A run already claimed when the cancel arrived may still start.
  CHECK(late <= 1);
  CHECK_EQUAL(show(id).schedule.status, schedule_status::cancelled);
  auto again = cli({"schedules", "cancel", to_string(id)});
  CHECK_NOT_EQUAL(again.exit_code, 0);
  CHECK(again.err.find("can no longer be cancelled") != std::string::npos);
}

TEST(restarts neither lose nor double an occurrence) {
  start_node();
  auto id = every("every 1 second");
  // Distinct jobs: a run cut by the crash may repeat.
  auto distinct = [&] {
    std::set<std::string> ids;
    for (auto& r : runs())
      ids.insert(r.job);
    return ids.size();
  };
  auto await_runs = [&](size_t n) {
    if (!jm::test::eventually([&] { return distinct() >= n; }, 20s))
      FAIL("only " << distinct() << " jobs ran" << stuck_report());
  };
  await_runs(4);
  // A graceful restart, then a crash.
  node->stop(SIGTERM, 15s);
  start_node();
  await_runs(9);
  auto killed_at = now();
  node->stop(SIGKILL, 5s);
  start_node();
  await_runs(14);
  auto r = cli({"schedules", "cancel", to_string(id)});
  REQUIRE_EQUAL(r.exit_code, 0);
  await_quiet(id);
  auto jobs = jobs_of(id);
  auto times = occurrences(jobs);
  // The succeeded occurrences are consecutive seconds: none lost.
  std::vector<timestamp> done;
  for (auto& x : jobs)
    if (x.status == job_status::succeeded)
      done.push_back(x.original_scheduled_at);
  std::sort(done.begin(), done.end());
  REQUIRE(done.size() >= 14);
  for (size_t i = 1; i < done.size(); ++i)
    CHECK_EQUAL(to_micros(done[i]) - to_micros(done[i - 1]), 1'000'000);
  // Every job before the last success succeeded; only the tail after the
  // cancel is cancelled.
  for (auto& x : jobs)
    if (x.original_scheduled_at < done.back())
      CHECK_EQUAL(x.status, job_status::succeeded);
  // The witness: each job ran once, unless the crash cut its run or came
  // before its outcome was written (a run and its start are written
  // together, a few ms after it ended): such a job runs again, at least
  // once in all. Only a run that started just before the kill may repeat
  // without a `lost` attempt.
  auto c = client();
  std::map<std::string, int> counts;
  std::set<std::string> near_kill;
  for (auto& run : runs()) {
    ++counts[run.job];
    if (run.start <= killed_at && run.start > killed_at - 2s)
      near_kill.insert(run.job);
  }
  size_t repeated_near_kill = 0;
  for (auto& x : jobs) {
    if (x.status != job_status::succeeded)
      continue;
    auto d = detail(*c, x.id);
    auto lost = std::count_if(
      d.attempts.begin(), d.attempts.end(),
      [](const attempt& a) { return a.outcome == attempt_outcome::lost; });
    auto n = counts[to_string(x.id)];
    CHECK(n >= 1);
    if (n > 1 + lost) {
      CHECK(near_kill.count(to_string(x.id)) > 0);
      CHECK_EQUAL(n, 2 + lost);
      ++repeated_near_kill;
    }
  }
  CHECK(repeated_near_kill <= 2);
}

TEST(catch up after downtime follows the schedule policy) {
  // A short horizon, so that a few seconds of downtime leave occurrences
  // that nothing materialised.
  write_config("transient_threshold = \"2s\"\n");
  start_node();
  auto skip = every("every 1 second", {"--catch-up", "skip"});
  auto all = every("every 1 second", {"--catch-up", "all"});
  REQUIRE(jm::test::eventually([&] { return runs().size() >= 4; }, 20s));
  node->stop(SIGTERM, 15s);
  std::this_thread::sleep_for(7s); // the outage
  start_node();
  // Wait until both are planned past the outage.
  REQUIRE(jm::test::eventually(
    [&] {
      return show(skip).schedule.planned_until > now()
             && show(all).schedule.planned_until > now();
    },
    20s));
  auto largest_gap = [&](const schedule_id& id) {
    auto xs = occurrences(jobs_of(id));
    duration gap{0};
    for (size_t i = 1; i < xs.size(); ++i)
      gap = std::max(gap, duration{xs[i] - xs[i - 1]});
    return gap;
  };
  auto skip_gap = largest_gap(skip);
  auto all_gap = largest_gap(all);
  MESSAGE("largest gap: skip " << format_duration(skip_gap) << ", all "
                               << format_duration(all_gap));
  CHECK(skip_gap >= 3s);
  CHECK_EQUAL(all_gap.count(), duration{1s}.count());
}

TEST(overlap skip never runs two occurrences at once) {
  start_node();
  auto id
    = every("every 1 second", {"--overlap", "skip", "--data", "ms:int=2500"});
  REQUIRE(jm::test::eventually([&] { return runs().size() >= 3; }, 30s));
  REQUIRE_EQUAL(cli({"schedules", "cancel", to_string(id)}).exit_code, 0);
  await_quiet(id);
  auto xs = runs();
  std::sort(xs.begin(), xs.end(),
            [](const run& a, const run& b) { return a.start < b.start; });
  for (size_t i = 1; i < xs.size(); ++i)
    CHECK(xs[i].start >= xs[i - 1].end);
  size_t skipped = 0;
  auto c = client();
  for (auto& x : jobs_of(id)) {
    if (x.status != job_status::cancelled)
      continue;
    for (auto& a : detail(*c, x.id).attempts)
      if (a.outcome == attempt_outcome::skipped)
        ++skipped;
  }
  MESSAGE(xs.size() << " runs, " << skipped << " occurrences skipped");
  CHECK(skipped >= 2);
}

TEST(static schedules are upserted at start and retired when removed) {
  auto statics = "[[static_schedules]]\nname = \"tick\"\nhandler = "
                 "\"record\"\nexpression = \"every 1 second\"\ndata = "
                 "[\"file="
                 + runs_file().string() + "\", \"times:bool=true\"]\n";
  write_config("static_schedule_ttl = \"2s\"\n", statics);
  start_node();
  REQUIRE(jm::test::eventually([&] { return runs().size() >= 2; }, 20s));
  auto list = [&] {
    auto c = client();
    return std::get<std::vector<recurring_schedule>>(
      unbox(c->call(request{schedule_filter{}})));
  };
  auto first = list();
  REQUIRE_EQUAL(first.size(), 1u);
  CHECK_EQUAL(first[0].spec.static_name, "tick");
  CHECK_EQUAL(first[0].status, schedule_status::active);
  // A restart with the same code updates it in place.
  node->stop(SIGTERM, 15s);
  start_node();
  auto second = list();
  REQUIRE_EQUAL(second.size(), 1u);
  CHECK(second[0].id == first[0].id);
  auto before = runs().size();
  REQUIRE(
    jm::test::eventually([&] { return runs().size() >= before + 2; }, 20s));
  // Removed from the code: retired after the ttl, its jobs cancelled.
  node->stop(SIGTERM, 15s);
  write_config("static_schedule_ttl = \"2s\"\n");
  start_node();
  REQUIRE(jm::test::eventually(
    [&] {
      auto xs = list();
      return xs.size() == 1 && xs[0].status == schedule_status::inactive;
    },
    20s));
  await_quiet(first[0].id);
  auto settled = runs().size();
  std::this_thread::sleep_for(2s);
  CHECK_EQUAL(runs().size(), settled);
}

TEST(the cluster time zone applies whatever the host zone is) {
  write_config("time_zone = \"Asia/Tokyo\"\n");
  start_node({"/usr/bin/env", "TZ=America/New_York"});
  auto id = schedule({"hello", "--every", "every day at 9:00:00"});
  auto d = show(id);
  CHECK_EQUAL(d.schedule.spec.time_zone, "Asia/Tokyo");
  REQUIRE(!d.upcoming.empty());
  // 9:00 in Tokyo is midnight UTC.
  auto midnight
    = std::chrono::floor<std::chrono::days>(now()) + std::chrono::days{1};
  CHECK_EQUAL(format_timestamp(d.upcoming.front()),
              format_timestamp(timestamp{midnight}));
  // An explicit zone wins over the cluster's.
  auto lisbon = schedule(
    {"hello", "--every", "every day at 9:00:00", "--tz", "Europe/Lisbon"});
  CHECK_EQUAL(show(lisbon).schedule.spec.time_zone, "Europe/Lisbon");
}

TEST(bad recurring requests get one clear line) {
  start_node();
  auto bad = cli({"schedule", "hello", "--every", "every 2 sec0nds"});
  CHECK_EQUAL(bad.exit_code, 2);
  CHECK(bad.err.find("Invalid token") != std::string::npos);
  CHECK(bad.err.find("^") != std::string::npos);
  auto both = cli({"schedule", "hello", "--every", "every 2 seconds",
                   "--interval", "00:00:02"});
  CHECK_EQUAL(both.exit_code, 2);
  auto zone
    = cli({"schedule", "hello", "--every", "every day", "--tz", "Mars/Base"});
  CHECK_EQUAL(zone.exit_code, 2);
  CHECK(zone.err.find("Mars/Base") != std::string::npos);
  auto unknown = cli({"schedules", "show", to_string(uuid::random())});
  CHECK_EQUAL(unknown.exit_code, 1);
  CHECK(unknown.err.find("no schedule with id") != std::string::npos);
  auto policy
    = cli({"schedule", "hello", "--every", "every day", "--catch-up", "most"});
  CHECK_EQUAL(policy.exit_code, 2);
  CHECK(policy.err.find("all, latest, skip") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
