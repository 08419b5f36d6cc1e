#define CAF_SUITE actors.outcome
#include "tests/support/test.hpp"

#include "tests/support/jobs.hpp"

#include "actors/outcome.hpp"

#include <chrono>
#include <string>

using namespace jm;
using namespace std::chrono_literals;
using test::str;

namespace {

/// A job as its bucket last wrote it: processing, placed, version 7.
job running_job(int32_t max_retries = 2, int32_t failures = 0) {
  auto x = test::full_job();
  x.status = job_status::processing;
  x.max_retries = max_retries;
  x.failure_count = failures;
  x.version = 7;
  return x;
}

execution_result result(const job& x, attempt_outcome outcome,
                        std::string error = {}) {
  execution_result r;
  r.id = x.id;
  r.outcome = outcome;
  r.error = std::move(error);
  r.started_at = from_micros(1'764'324'100'000'000);
  r.ended_at = r.started_at + 1500ms;
  return r;
}

retry_config retry() {
  retry_config r;
  r.base_delay = 10s;
  r.multiplier = 3.0;
  r.max_delay = 1h;
  r.jitter = 0.5;
  return r;
}

/// Checks the parts every outcome shares.
void check_common(const job_write& w, const job& running,
                  const execution_result& r) {
  CHECK_EQUAL(w.expected_version, running.version);
  CHECK(w.job.id == running.id);
  CHECK_EQUAL(w.job.bucket_id, "");
  CHECK_EQUAL(w.job.worker_id, "");
  CHECK(!w.job.process_deadline);
  CHECK(can_transition(running.status, w.job.status));
  // Nothing else changes.
  CHECK_EQUAL(w.job.handler, running.handler);
  CHECK(w.job.data == running.data);
  CHECK(w.job.metadata == running.metadata);
  CHECK_EQUAL(to_micros(w.job.original_scheduled_at),
              to_micros(running.original_scheduled_at));
  CHECK_EQUAL(w.job.max_retries, running.max_retries);
  CHECK(w.job.recurring_schedule_id == running.recurring_schedule_id);
  REQUIRE(w.attempt.has_value());
  auto& a = *w.attempt;
  CHECK(a.job == running.id);
  CHECK_EQUAL(a.worker_id, "node-1.worker-1");
  CHECK_EQUAL(to_micros(a.started_at), to_micros(r.started_at));
  CHECK_EQUAL(to_micros(a.ended_at), to_micros(r.ended_at));
  CHECK_EQUAL(str(a.outcome), str(r.outcome));
  CHECK_EQUAL(a.error, r.error);
}

} // namespace

TEST(a success finishes the job) {
  auto x = running_job();
  auto r = result(x, attempt_outcome::succeeded);
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.3, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "succeeded");
  CHECK_EQUAL(w.job.failure_count, 0);
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(x.scheduled_at));
}

TEST(a success removes the job when succeeded jobs are deleted) {
  auto x = running_job();
  auto r = result(x, attempt_outcome::succeeded);
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.3, true);
  CHECK(w.remove);
  CHECK(!w.attempt);
  CHECK_EQUAL(w.expected_version, x.version);
  CHECK_EQUAL(str(w.job.status), "succeeded");
  // A failure keeps its history whatever the setting.
  auto f = record_outcome(x, result(x, attempt_outcome::failed, "boom"),
                          retry(), "node-1.worker-1", 0.3, true);
  CHECK(!f.remove);
  REQUIRE(f.attempt);
  CHECK_EQUAL(f.attempt->error, "boom");
}

TEST(a failure with retries left goes back to the master after the backoff) {
  auto x = running_job(2, 0);
  auto r = result(x, attempt_outcome::failed, "boom");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "held_on_master");
  CHECK_EQUAL(w.job.failure_count, 1);
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(r.ended_at + 10s));
  CHECK_EQUAL(w.attempt->error, "boom");
}

TEST(the retry delay grows with the failure count and uses the jitter draw) {
  auto x = running_job(5, 1);
  auto r = result(x, attempt_outcome::failed, "again");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 1.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(w.job.failure_count, 2);
  // Second retry: 10s * 3 = 30s, jitter 0.5 at a draw of 1 halves it.
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(r.ended_at + 15s));
  CHECK_EQUAL(to_micros(w.job.scheduled_at),
              to_micros(r.ended_at + retry_delay(retry(), 2, 1.0)));
  x = running_job(50, 20);
  w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(r.ended_at + 1h));
}

TEST(the last failure fails the job) {
  auto x = running_job(2, 2);
  auto r = result(x, attempt_outcome::failed, "still broken");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "failed");
  CHECK_EQUAL(w.job.failure_count, 3);
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(x.scheduled_at));
}

TEST(without retries the first failure is final) {
  auto x = running_job(0, 0);
  auto r = result(x, attempt_outcome::failed, "once");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "failed");
  CHECK_EQUAL(w.job.failure_count, 1);
}

TEST(a timeout counts as a failure) {
  auto x = running_job(1, 0);
  auto r = result(x, attempt_outcome::timed_out, "timed out after 30s");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "held_on_master");
  CHECK_EQUAL(w.job.failure_count, 1);
  CHECK_EQUAL(str(w.attempt->outcome), "timed_out");
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(r.ended_at + 10s));
  x = running_job(1, 1);
  w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  CHECK_EQUAL(str(w.job.status), "failed");
  CHECK_EQUAL(w.job.failure_count, 2);
}

TEST(a lost run counts as a failure) {
  auto x = running_job(0, 0);
  auto r = result(x, attempt_outcome::lost, "node died");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "failed");
}

TEST(a queued job that could not start follows the same rules) {
  // The handler is unknown on this node: the pool fails the run before the
  // bucket wrote `processing`.
  auto x = running_job(1, 0);
  x.status = job_status::queued;
  auto r = result(x, attempt_outcome::failed, "no handler named 'x'");
  auto w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "held_on_master");
  x.failure_count = 1;
  w = record_outcome(x, r, retry(), "node-1.worker-1", 0.0, false);
  check_common(w, x, r);
  CHECK_EQUAL(str(w.job.status), "failed");
}

TEST(hand_back returns a claimed job to the master) {
  auto x = running_job(3, 1);
  x.status = job_status::queued;
  auto w = hand_back(x);
  CHECK_EQUAL(str(w.job.status), "held_on_master");
  CHECK_EQUAL(w.expected_version, 7);
  CHECK_EQUAL(w.job.bucket_id, "");
  CHECK_EQUAL(w.job.worker_id, "");
  CHECK(!w.job.process_deadline);
  CHECK(!w.attempt);
  CHECK_EQUAL(w.job.failure_count, 1);
  CHECK_EQUAL(to_micros(w.job.scheduled_at), to_micros(x.scheduled_at));
  CHECK(w.job.data == x.data);
  CHECK(can_transition(x.status, w.job.status));
  x.status = job_status::assigned_to_bucket;
  CHECK(can_transition(x.status, hand_back(x).job.status));
}
