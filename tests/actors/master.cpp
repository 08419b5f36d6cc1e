#define CAF_SUITE actors.master
#include "tests/support/test.hpp"

#include "tests/support/jobs.hpp"

#include "actors/master.hpp"
#include "messages/codec.hpp"

#include <chrono>
#include <set>
#include <string>

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
