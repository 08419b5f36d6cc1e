#define CAF_SUITE messages.codec
#include "tests/support/test.hpp"

#include "tests/support/jobs.hpp"

#include "messages/api.capnp.h"
#include "messages/codec.hpp"
#include "messages/job.capnp.h"

#include <caf/sec.hpp>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <random>
#include <string>
#include <vector>

using namespace jm;
using namespace std::chrono_literals;
using test::str;

namespace {

using test::check_same;

// -- helpers ------------------------------------------------------------------

request round_trip(const request& x) {
  auto buf = encode(x);
  CHECK_EQUAL(buf.size() % 8, 0u);
  return test::unbox(decode_request(buf));
}

reply round_trip(const reply& x) {
  auto buf = encode(x);
  CHECK_EQUAL(buf.size() % 8, 0u);
  return test::unbox(decode_reply(buf));
}

template <class T, class Variant>
T get(Variant&& x) {
  auto p = std::get_if<T>(&x);
  if (p == nullptr)
    FAIL("decoded the wrong alternative: index " << x.index());
  return std::move(*p);
}

bool is_malformed(const caf::error& err) {
  return code_of(err) == ec::malformed_message;
}

/// True when decoding failed with malformed_message (false for a value).
template <class T>
bool is_malformed(const caf::expected<T>& x) {
  return !x && is_malformed(x.error());
}

/// A decoder result is acceptable when it is a value or malformed_message.
template <class T>
bool value_or_malformed(const caf::expected<T>& x) {
  return x || is_malformed(x.error());
}

/// Builds a message with Cap'n Proto directly, for input the encoder would
/// never produce.
template <class Root, class F>
bytes craft(F&& fill) {
  capnp::MallocMessageBuilder mb;
  fill(mb.initRoot<Root>());
  auto words = capnp::messageToFlatArray(mb);
  auto chars = words.asBytes();
  return bytes(chars.begin(), chars.end());
}

kj::ArrayPtr<const kj::byte> data_of(const std::vector<uint8_t>& xs) {
  return {xs.data(), xs.size()};
}

void check_same(const job_spec& x, const job_spec& y) {
  CHECK_EQUAL(x.handler, y.handler);
  CHECK(x.data == y.data);
  CHECK(x.metadata == y.metadata);
  CHECK(x.run_at == y.run_at);
  CHECK(x.after == y.after);
  CHECK(x.priority == y.priority);
  CHECK(x.lane == y.lane);
  CHECK(x.timeout == y.timeout);
  CHECK(x.max_retries == y.max_retries);
}

void check_same(const attempt& x, const attempt& y) {
  CHECK(x.job == y.job);
  CHECK_EQUAL(x.number, y.number);
  CHECK_EQUAL(x.worker_id, y.worker_id);
  CHECK_EQUAL(to_micros(x.started_at), to_micros(y.started_at));
  CHECK_EQUAL(to_micros(x.ended_at), to_micros(y.ended_at));
  CHECK_EQUAL(str(x.outcome), str(y.outcome));
  CHECK_EQUAL(x.error, y.error);
}

job_spec full_spec() {
  job_spec x;
  x.handler = "resize-image";
  x.data = test::every_value();
  x.metadata = {{"tenant", std::string{"acme"}}, {"n", int64_t{1}}};
  x.run_at = from_micros(1'764'324'000'000'000);
  x.after = 90s;
  x.priority = priority::critical;
  x.lane = "gpu";
  x.timeout = 250ms;
  x.max_retries = 0;
  return x;
}

/// Every request and reply kind, with non-trivial content.
std::vector<bytes> valid_messages() {
  std::vector<bytes> result;
  result.push_back(
    encode(request{std::vector<job_spec>{full_spec(), job_spec{}}}));
  result.push_back(encode(request{cancel_request{uuid::random()}}));
  result.push_back(
    encode(request{reschedule_request{uuid::random(), from_micros(5)}}));
  job_filter f;
  f.statuses = {job_status::failed, job_status::queued};
  f.handler = "h";
  f.lane = "l";
  result.push_back(encode(request{f}));
  result.push_back(encode(request{get_job_request{uuid::random()}}));
  result.push_back(encode(request{ping_request{}}));
  result.push_back(encode(reply{error_reply{ec::unknown_job, "no such job"}}));
  result.push_back(
    encode(reply{std::vector<job_id>{uuid::random(), uuid::random()}}));
  result.push_back(encode(reply{done_reply{}}));
  result.push_back(encode(reply{std::vector<job>{test::full_job(), job{}}}));
  attempt a;
  a.number = 1;
  a.worker_id = "w";
  a.outcome = attempt_outcome::timed_out;
  a.error = "timed out";
  result.push_back(encode(reply{job_detail{test::full_job(), {a, a}}}));
  result.push_back(encode(reply{pong_reply{"cluster"}}));
  result.push_back(encode(test::full_job()));
  result.push_back(encode(test::every_value()));
  return result;
}

/// Runs every decoder on `buf` and checks that none crashes and each yields
/// a value or `malformed_message`. Returns how many decoded to a value.
int decode_all(std::span<const uint8_t> buf) {
  int ok = 0;
  auto r1 = decode_request(buf);
  CHECK(value_or_malformed(r1));
  ok += r1 ? 1 : 0;
  auto r2 = decode_reply(buf);
  CHECK(value_or_malformed(r2));
  ok += r2 ? 1 : 0;
  auto r3 = decode_job(buf);
  CHECK(value_or_malformed(r3));
  ok += r3 ? 1 : 0;
  auto r4 = decode_value_map(buf);
  CHECK(value_or_malformed(r4));
  ok += r4 ? 1 : 0;
  return ok;
}

// -- crafted messages ---------------------------------------------------------

// Cap'n Proto charges a list of zero-sized structs one word per element
// against the traversal limit (8 Mi words here), so such lists cost the
// sender nothing: a few bytes claim millions of elements.

/// 32 bytes: a Request whose `schedule` list holds `n` zero-sized structs.
std::vector<uint8_t> schedule_of_empty_specs(uint32_t n) {
  uint64_t words[4];
  uint32_t segment_table[2] = {0, 3}; // one segment of three words
  std::memcpy(&words[0], segment_table, 8);
  words[1] = uint64_t{1} << 48;     // root: 0 data words, 1 pointer
  words[2] = 1 | uint64_t{7} << 32; // list: inline composite, 0 words
  words[3] = uint64_t{n} << 2;      // tag: n elements of 0 words
  std::vector<uint8_t> buf(sizeof words);
  std::memcpy(buf.data(), words, sizeof words);
  return buf;
}

/// 40 bytes: a Reply whose `jobs` list holds `n` zero-sized structs.
std::vector<uint8_t> jobs_reply_of_empty_jobs(uint32_t n) {
  uint64_t words[5];
  uint32_t segment_table[2] = {0, 4};
  std::memcpy(&words[0], segment_table, 8);
  words[1] = uint64_t{1} << 32 | uint64_t{1} << 48; // root: 1 data, 1 pointer
  words[2] = uint64_t{static_cast<uint16_t>(wire::Reply::JOBS)} << 16;
  words[3] = 1 | uint64_t{7} << 32;
  words[4] = uint64_t{n} << 2;
  std::vector<uint8_t> buf(sizeof words);
  std::memcpy(buf.data(), words, sizeof words);
  return buf;
}

} // namespace

// -- allocation tracking ------------------------------------------------------

namespace {

thread_local bool tracking = false;
thread_local size_t largest = 0;

/// Runs `f` and returns its result with the largest single allocation it made
/// on this thread.
template <class F>
auto largest_allocation(F f) {
  largest = 0;
  tracking = true;
  auto result = f();
  tracking = false;
  return std::pair{std::move(result), largest};
}

} // namespace

// Replaces the global allocation functions of this test binary, only to
// observe sizes. (GCC cannot see that new and delete are replaced as a pair.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (tracking && n > largest)
    largest = n;
  if (auto p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc{};
}

void operator delete(void* p) noexcept {
  std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

// -- requests -----------------------------------------------------------------

TEST(schedule requests round trip with every field) {
  auto specs = std::vector<job_spec>{full_spec(), job_spec{}};
  specs[1].handler = "minimal";
  auto back = get<std::vector<job_spec>>(round_trip(request{specs}));
  REQUIRE_EQUAL(back.size(), 2u);
  check_same(back[0], specs[0]);
  check_same(back[1], specs[1]);
  // Unset optionals stay unset.
  CHECK(!back[1].run_at && !back[1].after && !back[1].priority);
  CHECK(!back[1].lane && !back[1].timeout && !back[1].max_retries);
  CHECK(back[1].data.empty() && back[1].metadata.empty());
}

TEST(schedule requests keep set but empty and zero values) {
  job_spec x;
  x.handler = "h";
  x.lane = "";               // "no lane" explicitly, not "the default"
  x.after = 0us;             // now, explicitly
  x.run_at = from_micros(0); // the epoch is a valid instant
  x.max_retries = 0;
  auto back
    = get<std::vector<job_spec>>(round_trip(request{std::vector<job_spec>{x}}));
  REQUIRE_EQUAL(back.size(), 1u);
  check_same(back[0], x);
}

TEST(an empty schedule request round trips) {
  auto back
    = get<std::vector<job_spec>>(round_trip(request{std::vector<job_spec>{}}));
  CHECK(back.empty());
}

TEST(every priority survives a schedule request) {
  for (int p = 1; p <= num_priorities; ++p) {
    job_spec x;
    x.handler = "h";
    x.priority = static_cast<priority>(p);
    auto back = get<std::vector<job_spec>>(
      round_trip(request{std::vector<job_spec>{x}}));
    REQUIRE_EQUAL(back.size(), 1u);
    REQUIRE(back[0].priority.has_value());
    CHECK_EQUAL(str(*back[0].priority), str(*x.priority));
  }
}

TEST(cancel get and reschedule requests round trip) {
  auto id = uuid::random();
  CHECK(get<cancel_request>(round_trip(request{cancel_request{id}})).id == id);
  CHECK(get<get_job_request>(round_trip(request{get_job_request{id}})).id
        == id);
  auto at = from_micros(1'764'324'000'654'321);
  auto r
    = get<reschedule_request>(round_trip(request{reschedule_request{id, at}}));
  CHECK(r.id == id);
  CHECK_EQUAL(to_micros(r.run_at), to_micros(at));
  get<ping_request>(round_trip(request{ping_request{}}));
}

TEST(list requests round trip) {
  job_filter f;
  f.statuses = {job_status::save_pending,
                job_status::held_on_master,
                job_status::assigned_to_bucket,
                job_status::processing,
                job_status::succeeded,
                job_status::queued,
                job_status::failed,
                job_status::cancelled};
  f.handler = "send-email";
  f.lane = "fast";
  f.limit = 1234;
  auto back = get<job_filter>(round_trip(request{f}));
  REQUIRE_EQUAL(back.statuses.size(), f.statuses.size());
  for (size_t i = 0; i < f.statuses.size(); ++i)
    CHECK_EQUAL(str(back.statuses[i]), str(f.statuses[i]));
  CHECK_EQUAL(back.handler, f.handler);
  CHECK_EQUAL(back.lane, f.lane);
  CHECK_EQUAL(back.limit, f.limit);
  CHECK(!back.scheduled_from && !back.scheduled_to);
}

TEST(list requests keep their time window) {
  job_filter f;
  f.scheduled_from = from_micros(1'764'324'000'000'000);
  f.scheduled_to = from_micros(1'764'410'400'000'000);
  auto back = get<job_filter>(round_trip(request{f}));
  CHECK(back.scheduled_from == f.scheduled_from);
  CHECK(back.scheduled_to == f.scheduled_to);
  CHECK_EQUAL(back.limit, f.limit);
}

TEST(list requests keep their schedule and metadata filters) {
  job_filter f;
  f.schedule_id = uuid::random();
  f.metadata = {{"tenant", std::string{"acme"}}, {"n", int64_t{7}}};
  auto back = get<job_filter>(round_trip(request{f}));
  CHECK(back.schedule_id == f.schedule_id);
  CHECK(back.metadata == f.metadata);
  CHECK(!get<job_filter>(round_trip(request{job_filter{}})).schedule_id);
}

namespace {

recurring_spec full_recurring_spec() {
  recurring_spec x;
  x.handler = "report";
  x.expression_type = "interval";
  x.expression = "00:00:05";
  x.time_zone = "Europe/Lisbon";
  x.data = {{"k", std::string{"v"}}, {"raw", bytes{0, 1, 2}}};
  x.metadata = {{"m", true}};
  x.priority = priority::critical;
  x.lane = "";
  x.timeout = 3s;
  x.max_retries = 0;
  x.start_after = from_micros(1'764'324'000'000'001);
  x.end_before = from_micros(1'864'324'000'000'002);
  x.catch_up = catch_up_policy::all;
  x.catch_up_limit = 42;
  x.overlap = overlap_policy::skip;
  x.static_name = "nightly";
  return x;
}

void check_same_spec(const recurring_spec& x, const recurring_spec& y) {
  CHECK_EQUAL(x.handler, y.handler);
  CHECK_EQUAL(x.expression_type, y.expression_type);
  CHECK_EQUAL(x.expression, y.expression);
  CHECK_EQUAL(x.time_zone, y.time_zone);
  CHECK(x.data == y.data);
  CHECK(x.metadata == y.metadata);
  CHECK(x.priority == y.priority);
  CHECK(x.lane == y.lane);
  CHECK(x.timeout == y.timeout);
  CHECK(x.max_retries == y.max_retries);
  CHECK(x.start_after == y.start_after);
  CHECK(x.end_before == y.end_before);
  CHECK_EQUAL(str(x.catch_up), str(y.catch_up));
  CHECK_EQUAL(x.catch_up_limit, y.catch_up_limit);
  CHECK_EQUAL(str(x.overlap), str(y.overlap));
  CHECK_EQUAL(x.static_name, y.static_name);
}

} // namespace

TEST(recurring requests round trip with every field) {
  auto x = full_recurring_spec();
  check_same_spec(get<recurring_spec>(round_trip(request{x})), x);
  // Unset optionals stay unset.
  recurring_spec bare;
  bare.handler = "h";
  bare.expression = "every day";
  auto back = get<recurring_spec>(round_trip(request{bare}));
  check_same_spec(back, bare);
  CHECK(!back.priority && !back.lane && !back.timeout && !back.max_retries);
}

TEST(schedule management requests round trip) {
  auto id = uuid::random();
  CHECK(
    get<get_schedule_request>(round_trip(request{get_schedule_request{id}})).id
    == id);
  CHECK(get<cancel_schedule_request>(
          round_trip(request{cancel_schedule_request{id}}))
          .id
        == id);
  CHECK(get<run_schedule_now_request>(
          round_trip(request{run_schedule_now_request{id}}))
          .id
        == id);
  schedule_filter f;
  f.statuses = {schedule_status::active, schedule_status::completed};
  f.handler = "report";
  f.limit = 9;
  auto back = get<schedule_filter>(round_trip(request{f}));
  REQUIRE_EQUAL(back.statuses.size(), 2u);
  CHECK_EQUAL(str(back.statuses[1]), "completed");
  CHECK_EQUAL(back.handler, "report");
  CHECK_EQUAL(back.limit, 9u);
}

TEST(schedule replies round trip) {
  recurring_schedule x;
  x.id = uuid::random();
  x.spec = full_recurring_spec();
  x.status = schedule_status::inactive;
  x.created_at = from_micros(1'764'324'000'000'003);
  x.terminated_at = from_micros(1'764'324'000'000'004);
  x.cursor = from_micros(1'764'324'000'000'005);
  x.planned_until = from_micros(1'764'324'000'000'006);
  x.ensured_at = from_micros(1'764'324'000'000'007);
  x.version = 12;
  auto check_schedule
    = [](const recurring_schedule& a, const recurring_schedule& b) {
        CHECK(a.id == b.id);
        check_same_spec(a.spec, b.spec);
        CHECK_EQUAL(str(a.status), str(b.status));
        CHECK(a.created_at == b.created_at);
        CHECK(a.terminated_at == b.terminated_at);
        CHECK(a.cursor == b.cursor);
        CHECK(a.planned_until == b.planned_until);
        CHECK(a.ensured_at == b.ensured_at);
        CHECK_EQUAL(a.version, b.version);
      };
  auto list = get<std::vector<recurring_schedule>>(
    round_trip(reply{std::vector<recurring_schedule>{x, x}}));
  REQUIRE_EQUAL(list.size(), 2u);
  check_schedule(list[1], x);
  schedule_detail d;
  d.schedule = x;
  d.jobs = {test::full_job()};
  d.upcoming = {from_micros(1), from_micros(2'000'000)};
  auto back = get<schedule_detail>(round_trip(reply{d}));
  check_schedule(back.schedule, x);
  REQUIRE_EQUAL(back.jobs.size(), 1u);
  check_same(back.jobs[0], d.jobs[0]);
  REQUIRE_EQUAL(back.upcoming.size(), 2u);
  CHECK(back.upcoming[1] == d.upcoming[1]);
  auto cancelled = get<cancelled_reply>(round_trip(reply{cancelled_reply{77}}));
  CHECK_EQUAL(cancelled.jobs, 77u);
}

TEST(bad recurring requests are malformed) {
  auto spec = [](auto f) {
    return decode_request(craft<wire::Request>([&](wire::Request::Builder r) {
      auto s = r.initRecurring();
      s.setHandler("h");
      s.setCatchUp(2);
      s.setOverlap(1);
      f(s);
    }));
  };
  CHECK(spec([](auto) {}));
  CHECK(is_malformed(spec([](auto s) { s.setHandler(""); })));
  CHECK(is_malformed(spec([](auto s) { s.setCatchUp(0); })));
  CHECK(is_malformed(spec([](auto s) { s.setCatchUp(4); })));
  CHECK(is_malformed(spec([](auto s) { s.setOverlap(3); })));
  CHECK(is_malformed(spec([](auto s) { s.setPriority(6); })));
  auto statuses
    = decode_request(craft<wire::Request>([](wire::Request::Builder r) {
        r.initListSchedules().initStatuses(1).set(0, 1);
      }));
  CHECK(is_malformed(statuses));
  auto short_id
    = decode_request(craft<wire::Request>([](wire::Request::Builder r) {
        r.setCancelSchedule(kj::ArrayPtr<const kj::byte>{});
      }));
  CHECK(is_malformed(short_id));
}

// -- replies ------------------------------------------------------------------

TEST(error replies round trip for every code) {
  // 0 is `none`: not an error, so no error reply carries it.
  for (uint8_t i = 1; i <= static_cast<uint8_t>(ec::unknown_schedule); ++i) {
    auto code = static_cast<ec>(i);
    auto text = "error " + std::string{to_string(code)};
    auto back = get<error_reply>(round_trip(reply{error_reply{code, text}}));
    CHECK_EQUAL(static_cast<int>(back.code), static_cast<int>(i));
    CHECK_EQUAL(back.text, text);
    auto err = to_error(back);
    CHECK_EQUAL(static_cast<int>(code_of(err)), static_cast<int>(i));
  }
}

TEST(errors turn into replies and back) {
  auto err = make_error(ec::unknown_handler, "unknown handler 'x'");
  auto r = to_reply(err);
  CHECK_EQUAL(static_cast<int>(r.code), static_cast<int>(ec::unknown_handler));
  CHECK_EQUAL(r.text, "unknown handler 'x'");
  auto back = to_error(r);
  CHECK_EQUAL(static_cast<int>(code_of(back)),
              static_cast<int>(ec::unknown_handler));
  CHECK_EQUAL(describe(back), "unknown handler 'x'");
  // Foreign errors become `unavailable`.
  auto foreign = to_reply(caf::make_error(caf::sec::unexpected_message));
  CHECK_EQUAL(static_cast<int>(foreign.code),
              static_cast<int>(ec::unavailable));
  CHECK(!foreign.text.empty());
}

TEST(scheduled id lists round trip in order) {
  std::vector<job_id> ids;
  for (int i = 0; i < 50; ++i)
    ids.push_back(uuid::random());
  auto back = get<std::vector<job_id>>(round_trip(reply{ids}));
  CHECK(back == ids);
  CHECK(
    get<std::vector<job_id>>(round_trip(reply{std::vector<job_id>{}})).empty());
}

TEST(done and pong replies round trip) {
  get<done_reply>(round_trip(reply{done_reply{}}));
  // (Copies first: CHECK_EQUAL binds references to its arguments.)
  auto pong = get<pong_reply>(round_trip(reply{pong_reply{"prod-eu"}}));
  CHECK_EQUAL(pong.cluster_id, "prod-eu");
  auto empty = get<pong_reply>(round_trip(reply{pong_reply{""}}));
  CHECK_EQUAL(empty.cluster_id, "");
}

TEST(job lists round trip field by field) {
  auto a = test::full_job();
  job b; // defaults: no recurring id, no deadline, empty strings
  b.id = uuid::random();
  b.handler = "b";
  auto back = get<std::vector<job>>(round_trip(reply{std::vector<job>{a, b}}));
  REQUIRE_EQUAL(back.size(), 2u);
  check_same(back[0], a);
  check_same(back[1], b);
  CHECK(!back[1].recurring_schedule_id);
  CHECK(!back[1].process_deadline);
}

TEST(every status priority and source survive) {
  for (uint8_t s = 1; s <= 8; ++s) {
    for (uint8_t p = 1; p <= num_priorities; ++p) {
      for (uint8_t src = 1; src <= 3; ++src) {
        job x;
        x.id = uuid::random();
        x.status = static_cast<job_status>(s);
        x.priority = static_cast<priority>(p);
        x.source = static_cast<trigger_source>(src);
        auto back = test::unbox(decode_job(encode(x)));
        CHECK_EQUAL(str(back.status), str(x.status));
        CHECK_EQUAL(str(back.priority), str(x.priority));
        CHECK(back.source == x.source);
      }
    }
  }
}

TEST(job details round trip with every attempt outcome) {
  job_detail d{test::full_job(), {}};
  for (uint8_t o = 1; o <= 4; ++o) {
    attempt a;
    a.job = d.job.id;
    a.number = o;
    a.worker_id = "worker-" + std::to_string(o);
    a.started_at = from_micros(1'764'324'000'000'000 + o);
    a.ended_at = from_micros(1'764'324'001'000'000 + o);
    a.outcome = static_cast<attempt_outcome>(o);
    a.error = o == 1 ? "" : "boom " + std::to_string(o);
    d.attempts.push_back(a);
  }
  auto back = get<job_detail>(round_trip(reply{d}));
  check_same(back.job, d.job);
  REQUIRE_EQUAL(back.attempts.size(), d.attempts.size());
  for (size_t i = 0; i < d.attempts.size(); ++i)
    check_same(back.attempts[i], d.attempts[i]);
}

// -- jobs and value maps ------------------------------------------------------

TEST(a job with every field set round trips) {
  auto x = test::full_job();
  auto back = test::unbox(decode_job(encode(x)));
  check_same(back, x);
  // Bytes stay bytes and uuids stay uuids, not strings.
  REQUIRE(get_if<bytes>(back.data, "bytes") != nullptr);
  CHECK(*get_if<bytes>(back.data, "bytes")
        == (bytes{0x00, 0xff, 0x10, 0x00, 0x80}));
  REQUIRE(get_if<uuid>(back.data, "uuid") != nullptr);
  CHECK(*get_if<uuid>(back.data, "uuid") == *get_if<uuid>(x.data, "uuid"));
  REQUIRE(get_if<timestamp>(back.data, "time") != nullptr);
  CHECK(get_if<bytes>(back.data, "bytes_empty") != nullptr);
  CHECK(get_if<uuid>(back.data, "uuid_nil") != nullptr);
  CHECK(get_if<std::string>(back.data, "empty") != nullptr);
}

TEST(every value type round trips in a value map) {
  auto xs = test::every_value();
  auto back = test::unbox(decode_value_map(encode(xs)));
  REQUIRE_EQUAL(back.size(), xs.size());
  for (auto& [key, val] : xs) {
    auto i = back.find(key);
    REQUIRE(i != back.end());
    CHECK_EQUAL(type_name(i->second), type_name(val));
    if (i->second != val)
      MESSAGE("value '" << key << "' changed: " << to_string(val) << " -> "
                        << to_string(i->second));
    CHECK(i->second == val);
  }
  CHECK(test::unbox(decode_value_map(encode(value_map{}))).empty());
}

TEST(strings with an embedded NUL survive) {
  value_map xs{{"nul", std::string{"a\0b", 3}}};
  auto back = test::unbox(decode_value_map(encode(xs)));
  REQUIRE(get_if<std::string>(back, "nul") != nullptr);
  CHECK_EQUAL(*get_if<std::string>(back, "nul"), (std::string{"a\0b", 3}));
}

TEST(decoding works from a misaligned buffer) {
  for (auto& msg : valid_messages()) {
    std::vector<uint8_t> storage(msg.size() + 16);
    for (size_t offset = 1; offset < 8; ++offset) {
      auto* p = storage.data() + offset;
      std::memcpy(p, msg.data(), msg.size());
      std::span<const uint8_t> view{p, msg.size()};
      REQUIRE(reinterpret_cast<uintptr_t>(p) % 8 != 0);
      // Each buffer decodes with the decoder it was made for and gives the
      // same result as the aligned original.
      CHECK_EQUAL(static_cast<bool>(decode_request(view)),
                  static_cast<bool>(decode_request(msg)));
      CHECK_EQUAL(static_cast<bool>(decode_reply(view)),
                  static_cast<bool>(decode_reply(msg)));
      CHECK_EQUAL(static_cast<bool>(decode_job(view)),
                  static_cast<bool>(decode_job(msg)));
      CHECK_EQUAL(static_cast<bool>(decode_value_map(view)),
                  static_cast<bool>(decode_value_map(msg)));
    }
  }
  // And the content is right.
  auto x = test::full_job();
  auto buf = encode(x);
  std::vector<uint8_t> storage(buf.size() + 8);
  std::memcpy(storage.data() + 3, buf.data(), buf.size());
  check_same(test::unbox(decode_job({storage.data() + 3, buf.size()})), x);
}

// -- malformed input ----------------------------------------------------------

TEST(empty input is malformed) {
  std::span<const uint8_t> empty;
  CHECK(is_malformed(decode_request(empty)));
  CHECK(is_malformed(decode_reply(empty)));
  CHECK(is_malformed(decode_job(empty)));
  CHECK(is_malformed(decode_value_map(empty)));
}

TEST(sizes that are not a multiple of eight are malformed) {
  auto msg = encode(request{ping_request{}});
  msg.resize(msg.size() + 16, 0);
  for (size_t n : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 9u, 12u, 15u, 17u, 23u}) {
    std::span<const uint8_t> view{msg.data(), n};
    auto x = decode_request(view);
    REQUIRE(!x);
    CHECK(is_malformed(x.error()));
    CHECK(describe(x.error()).find("size " + std::to_string(n))
          != std::string::npos);
    CHECK(is_malformed(decode_reply(view)));
    CHECK(is_malformed(decode_job(view)));
    CHECK(is_malformed(decode_value_map(view)));
  }
  // A valid message with one byte more or less is malformed too.
  auto valid = encode(test::full_job());
  CHECK(is_malformed(decode_job({valid.data(), valid.size() - 1})));
  valid.push_back(0);
  CHECK(is_malformed(decode_job(valid)));
}

TEST(truncated messages are malformed at every length) {
  size_t total = 0;
  for (auto& msg : valid_messages()) {
    for (size_t n = 0; n < msg.size(); ++n) {
      std::span<const uint8_t> view{msg.data(), n};
      // The segment table announces more words than remain: always an error.
      CHECK(is_malformed(decode_request(view)));
      CHECK(is_malformed(decode_reply(view)));
      CHECK(is_malformed(decode_job(view)));
      CHECK(is_malformed(decode_value_map(view)));
      ++total;
    }
  }
  MESSAGE(total << " truncated buffers decoded");
}

TEST(random bytes never crash a decoder) {
  std::mt19937_64 gen{20261128};
  std::uniform_int_distribution<int> byte{0, 255};
  std::uniform_int_distribution<size_t> words{0, 48};
  int decoded = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> buf(words(gen) * 8 + (i % 5 == 0 ? i % 8 : 0));
    for (auto& b : buf)
      b = static_cast<uint8_t>(byte(gen));
    if (i % 2 == 0 && buf.size() >= 8) {
      // Half of them get a plausible segment table (one segment, the right
      // size), so that the reader gets past it and walks random pointers.
      uint32_t n = static_cast<uint32_t>(buf.size() / 8 - 1);
      uint32_t zero = 0;
      std::memcpy(buf.data(), &zero, 4);
      std::memcpy(buf.data() + 4, &n, 4);
    }
    decoded += decode_all(buf);
  }
  MESSAGE(decoded << " random buffers decoded to a value");
}

TEST(flipped bytes in valid messages never crash a decoder) {
  std::mt19937_64 gen{4711};
  int decoded = 0;
  for (auto& msg : valid_messages()) {
    std::uniform_int_distribution<size_t> pos{0, msg.size() - 1};
    std::uniform_int_distribution<int> byte{0, 255};
    for (int i = 0; i < 300; ++i) {
      auto copy = msg;
      for (int k = 0; k < 1 + i % 4; ++k)
        copy[pos(gen)] = static_cast<uint8_t>(byte(gen));
      decoded += decode_all(copy);
    }
  }
  MESSAGE(decoded << " mutated buffers decoded to a value");
}

TEST(a zero filled buffer decodes or is malformed) {
  for (size_t n = 8; n <= 64; n += 8) {
    std::vector<uint8_t> buf(n, 0);
    decode_all(buf);
  }
}

TEST(ids that are not 16 bytes are malformed) {
  std::vector<uint8_t> id15(15, 0xab);
  std::vector<uint8_t> id17(17, 0xab);
  auto check_bad = [](const caf::expected<request>& x) {
    REQUIRE(!x);
    CHECK(is_malformed(x.error()));
    CHECK(describe(x.error()).find("instead of 16") != std::string::npos);
  };
  check_bad(decode_request(craft<wire::Request>(
    [&](wire::Request::Builder r) { r.setCancel(data_of(id15)); })));
  check_bad(decode_request(craft<wire::Request>(
    [&](wire::Request::Builder r) { r.setGetJob(data_of(id17)); })));
  check_bad(decode_request(craft<wire::Request>([&](wire::Request::Builder r) {
    r.initReschedule().setId(data_of(id15));
  })));
  check_bad(decode_request(
    craft<wire::Request>([&](wire::Request::Builder r) { r.initCancel(0); })));
  // In replies and jobs.
  auto good = uuid::random();
  std::vector<uint8_t> id16(good.bytes.begin(), good.bytes.end());
  auto r = decode_reply(craft<wire::Reply>([&](wire::Reply::Builder r) {
    auto list = r.initScheduled(2);
    list.set(0, data_of(id16));
    list.set(1, data_of(id15));
  }));
  REQUIRE(!r);
  CHECK(is_malformed(r.error()));
  auto with_job = [&](auto&& change) {
    return craft<wire::Job>([&](wire::Job::Builder j) {
      j.setId(data_of(id16));
      j.setStatus(wire::JobStatus::HELD_ON_MASTER);
      j.setPriority(3);
      j.setSource(1);
      change(j);
    });
  };
  // The base message is valid ...
  CHECK(decode_job(with_job([](wire::Job::Builder) {})));
  // ... and a 15-byte id, a 15-byte schedule id or uuid value is not.
  auto j1 = decode_job(
    with_job([&](wire::Job::Builder j) { j.setId(data_of(id15)); }));
  REQUIRE(!j1);
  CHECK(is_malformed(j1.error()));
  auto j2 = decode_job(with_job(
    [&](wire::Job::Builder j) { j.setRecurringScheduleId(data_of(id15)); }));
  REQUIRE(!j2);
  CHECK(is_malformed(j2.error()));
  auto j3 = decode_job(with_job([&](wire::Job::Builder j) {
    auto e = j.initData().initEntries(1)[0];
    e.setKey("u");
    e.initValue().setUuid(data_of(id15));
  }));
  REQUIRE(!j3);
  CHECK(is_malformed(j3.error()));
  // A missing id (no pointer at all) is malformed too.
  auto j4 = decode_job(craft<wire::Job>([](wire::Job::Builder j) {
    j.setPriority(3);
    j.setSource(1);
    j.setStatus(wire::JobStatus::QUEUED);
  }));
  REQUIRE(!j4);
  CHECK(is_malformed(j4.error()));
}

TEST(out of range enums are malformed) {
  auto good = uuid::random();
  std::vector<uint8_t> id16(good.bytes.begin(), good.bytes.end());
  auto make = [&](uint16_t status, uint8_t prio, uint8_t source) {
    return craft<wire::Job>([&](wire::Job::Builder j) {
      j.setId(data_of(id16));
      j.setStatus(static_cast<wire::JobStatus>(status));
      j.setPriority(prio);
      j.setSource(source);
    });
  };
  CHECK(decode_job(make(8, 5, 3)));
  for (auto [status, prio, source] :
       std::vector<std::tuple<uint16_t, uint8_t, uint8_t>>{{0, 3, 1},
                                                           {9, 3, 1},
                                                           {300, 3, 1},
                                                           {2, 0, 1},
                                                           {2, 6, 1},
                                                           {2, 255, 1},
                                                           {2, 3, 0},
                                                           {2, 3, 4}}) {
    auto x = decode_job(make(status, prio, source));
    if (x)
      MESSAGE("status " << status << " priority " << int{prio} << " source "
                        << int{source} << " decoded as " << str(x->status));
    CHECK(!x && is_malformed(x.error()));
  }
  CHECK(!decode_job(make(257, 3, 1))); // checked before narrowing
  // Attempt outcomes in a detail reply.
  auto detail = [&](uint8_t outcome) {
    return decode_reply(craft<wire::Reply>([&](wire::Reply::Builder r) {
      auto d = r.initDetail();
      auto j = d.initJob();
      j.setId(data_of(id16));
      j.setStatus(wire::JobStatus::FAILED);
      j.setPriority(1);
      j.setSource(2);
      d.initAttempts(1)[0].setOutcome(outcome);
    }));
  };
  CHECK(detail(5));
  CHECK(is_malformed(detail(0)));
  CHECK(is_malformed(detail(6)));
  // Statuses in a list request, the priority of a spec.
  auto list = decode_request(craft<wire::Request>([](wire::Request::Builder r) {
    auto s = r.initListJobs().initStatuses(2);
    s.set(0, 2);
    s.set(1, 9);
  }));
  CHECK(!list && is_malformed(list.error()));
  auto spec = decode_request(craft<wire::Request>([](wire::Request::Builder r) {
    auto s = r.initSchedule(1)[0];
    s.setHandler("h");
    s.setPriority(6);
  }));
  CHECK(!spec && is_malformed(spec.error()));
}

TEST(error replies with an unknown code are malformed) {
  auto x = decode_reply(craft<wire::Reply>([](wire::Reply::Builder r) {
    auto e = r.initError();
    e.setCode(200);
    e.setText("from a newer version?");
  }));
  CHECK(!x && is_malformed(x.error()));
}

TEST(bad value maps are malformed) {
  auto empty_key
    = decode_value_map(craft<wire::ValueMap>([](wire::ValueMap::Builder m) {
        auto e = m.initEntries(1)[0];
        e.setKey("");
        e.initValue().setInt(1);
      }));
  REQUIRE(!empty_key);
  CHECK(is_malformed(empty_key.error()));
  auto duplicate
    = decode_value_map(craft<wire::ValueMap>([](wire::ValueMap::Builder m) {
        auto es = m.initEntries(2);
        es[0].setKey("k");
        es[0].initValue().setInt(1);
        es[1].setKey("k");
        es[1].initValue().setText("x");
      }));
  REQUIRE(!duplicate);
  CHECK(is_malformed(duplicate.error()));
  CHECK(describe(duplicate.error()).find("duplicate") != std::string::npos);
}

TEST(a message of another type decodes or is malformed) {
  // Cap'n Proto cannot tell schemas apart; a decoder given the wrong message
  // must still validate what it reads.
  for (auto& msg : valid_messages())
    decode_all(msg);
}

TEST(a tiny message cannot claim millions of jobs) {
  // A spec needs a handler: empty ones are refused at the first element.
  CHECK(is_malformed(decode_request(schedule_of_empty_specs(3))));
  // Past the traversal limit: rejected.
  CHECK(is_malformed(decode_request(schedule_of_empty_specs(9'000'000))));
  // Just below the traversal limit: rejected by the list-size bound.
  CHECK(is_malformed(decode_request(schedule_of_empty_specs(8'000'000))));
}

TEST(decoding a tiny message makes no large allocation) {
  constexpr uint32_t n = 100'000;
  constexpr size_t limit = 1024 * 1024;
  auto req = schedule_of_empty_specs(n);
  auto [spec_result, spec_peak]
    = largest_allocation([&] { return decode_request(req); });
  MESSAGE("32 bytes decoded as " << n << " job specs, largest allocation "
                                 << spec_peak << " bytes");
  CHECK(value_or_malformed(spec_result));
  CHECK(spec_peak < limit);
  auto rep = jobs_reply_of_empty_jobs(n);
  auto [job_result, job_peak]
    = largest_allocation([&] { return decode_reply(rep); });
  MESSAGE("40 bytes decoded as " << n << " jobs, largest allocation "
                                 << job_peak << " bytes");
  // The first job has no id.
  CHECK(is_malformed(job_result));
  CHECK(job_peak < limit);
}
