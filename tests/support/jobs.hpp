#pragma once

// Sample jobs and a field-by-field comparison for the test suites. Include
// after tests/support/test.hpp.

#include "messages/job.hpp"
#include "messages/schedule.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

namespace jm::test {

/// An enum's name as a string, for CHECK_EQUAL messages.
template <class Enum>
requires std::is_enum_v<Enum> std::string str(Enum x) {
  return std::string{to_string(x)};
}

/// A value map holding every alternative, including edge values.
inline value_map every_value() {
  uuid u;
  for (size_t i = 0; i < 16; ++i)
    u.bytes[i] = static_cast<uint8_t>(0xf0 - i);
  return value_map{
    {"string", std::string{"h\xc3\xa9llo, w\xc3\xb6rld"}},
    {"empty", std::string{}},
    {"int", int64_t{-42}},
    {"int_max", std::numeric_limits<int64_t>::max()},
    {"int_min", std::numeric_limits<int64_t>::min()},
    {"double", 3.25},
    {"double_tiny", std::numeric_limits<double>::denorm_min()},
    {"double_inf", -std::numeric_limits<double>::infinity()},
    {"true", true},
    {"false", false},
    {"time", from_micros(1'764'324'000'123'456)},
    {"time_before_epoch", from_micros(-86'400'000'001)},
    {"bytes", bytes{0x00, 0xff, 0x10, 0x00, 0x80}},
    {"bytes_empty", bytes{}},
    {"uuid", u},
    {"uuid_nil", uuid{}},
  };
}

/// A job with every field set to a non-default value.
inline job full_job() {
  using namespace std::chrono_literals;
  job x;
  x.id = uuid::random();
  x.handler = "send-email";
  x.status = job_status::processing;
  x.priority = priority::high;
  x.source = trigger_source::dynamic_recurring;
  x.lane = "fast-lane";
  x.original_scheduled_at = from_micros(1'764'324'000'000'000);
  x.scheduled_at = from_micros(1'764'324'060'000'001);
  x.created_at = from_micros(1'764'323'999'999'999);
  x.timeout = 90s;
  x.max_retries = 7;
  x.failure_count = 3;
  x.data = every_value();
  x.metadata = {{"tenant", std::string{"acme"}},
                {"trace", uuid::random()},
                {"raw", bytes{1, 2, 3}}};
  x.recurring_schedule_id = uuid::random();
  x.skip_if_running = true;
  x.bucket_id = "node-1.worker-1.p4";
  x.worker_id = "node-1.worker-1";
  x.process_deadline = from_micros(1'764'324'120'000'000);
  x.version = 42;
  return x;
}

/// Field-by-field comparison: a failure names the field.
inline void check_same(const job& x, const job& y) {
  CAF_CHECK(x.id == y.id);
  CAF_CHECK_EQUAL(x.handler, y.handler);
  CAF_CHECK_EQUAL(str(x.status), str(y.status));
  CAF_CHECK_EQUAL(str(x.priority), str(y.priority));
  CAF_CHECK(x.source == y.source);
  CAF_CHECK_EQUAL(x.lane, y.lane);
  CAF_CHECK_EQUAL(to_micros(x.original_scheduled_at),
                  to_micros(y.original_scheduled_at));
  CAF_CHECK_EQUAL(to_micros(x.scheduled_at), to_micros(y.scheduled_at));
  CAF_CHECK_EQUAL(to_micros(x.created_at), to_micros(y.created_at));
  CAF_CHECK_EQUAL(x.timeout.count(), y.timeout.count());
  CAF_CHECK_EQUAL(x.max_retries, y.max_retries);
  CAF_CHECK_EQUAL(x.failure_count, y.failure_count);
  CAF_CHECK(x.data == y.data);
  CAF_CHECK(x.metadata == y.metadata);
  CAF_CHECK(x.recurring_schedule_id == y.recurring_schedule_id);
  CAF_CHECK_EQUAL(x.skip_if_running, y.skip_if_running);
  CAF_CHECK_EQUAL(x.bucket_id, y.bucket_id);
  CAF_CHECK_EQUAL(x.worker_id, y.worker_id);
  CAF_CHECK(x.process_deadline == y.process_deadline);
  CAF_CHECK_EQUAL(x.version, y.version);
}

} // namespace jm::test
