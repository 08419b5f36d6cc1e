#pragma once

// Helpers shared by the provider tests. Include after test.hpp.

#include "tests/support/jobs.hpp"

#include "providers/store.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace jm::test {

using namespace std::chrono_literals;

inline const timestamp t0 = from_micros(1'700'000'000'000'000);

inline job make_job(std::string handler, timestamp at,
                    job_status status = job_status::held_on_master) {
  job x;
  x.id = uuid::random();
  x.handler = std::move(handler);
  x.status = status;
  x.original_scheduled_at = at;
  x.scheduled_at = at;
  x.created_at = t0 - 1s;
  x.timeout = 30s;
  x.version = 1;
  return x;
}

inline job in_bucket(job x, std::string bucket, std::string worker = "w1") {
  x.status = job_status::assigned_to_bucket;
  x.bucket_id = std::move(bucket);
  x.worker_id = std::move(worker);
  return x;
}

/// check_same, and the fields only stores keep.
inline void check_stored(const job& x, const job& y) {
  check_same(x, y);
  CAF_CHECK_EQUAL(x.skip_if_running, y.skip_if_running);
}

/// The URL of the test server named by `var` (tools/test-services.sh writes
/// them to DIR/env.sh). Without one the binary `binary` exits: 0 (skipped),
/// or 1 when JM_TEST_REQUIRE_SERVERS=1 (CI demands the servers).
inline std::string server_url_or_exit(const char* var, const char* binary) {
  const char* url = std::getenv(var);
  if (url != nullptr && *url != '\0')
    return std::string{url};
  const char* require = std::getenv("JM_TEST_REQUIRE_SERVERS");
  if (require != nullptr && std::string{require} == "1") {
    std::fprintf(stderr,
                 "%s: FAILED: %s is not set, but JM_TEST_REQUIRE_SERVERS=1\n",
                 binary, var);
    std::fflush(stderr);
    std::_Exit(1);
  }
  std::printf("%s: SKIPPED: %s is not set (start a server with "
              "tools/test-services.sh start DIR and source DIR/env.sh)\n",
              binary, var);
  std::fflush(stdout);
  std::_Exit(0);
}

/// Entries of a save-pending queue whose bytes do not decode are moved to
/// `corrupt_queue` by the read that meets them, reported once, and never
/// block the queue. `inject()` writes such an entry into queue "b1" behind
/// a good one with raw SQL; `corrupt_count()` counts the entries in the
/// corrupt queue.
template <class Inject, class Count>
void check_corrupt_entries_move_aside(agent_queue& queue, Inject inject,
                                      Count corrupt_count) {
  auto good = in_bucket(make_job("good", t0), "b1");
  good.status = job_status::save_pending;
  require_ok(queue.push_pending({good}));
  inject();
  auto later = in_bucket(make_job("later", t0), "b1");
  later.status = job_status::save_pending;
  require_ok(queue.push_pending({later}));
  auto r = unbox(queue.read_pending("b1", 10));
  CAF_REQUIRE_EQUAL(r.jobs.size(), 2u);
  CAF_CHECK(r.jobs[0].job.id == good.id);
  CAF_CHECK(r.jobs[1].job.id == later.id);
  CAF_CHECK_EQUAL(r.corrupt.size(), 1u);
  CAF_CHECK_EQUAL(corrupt_count(), 1);
  // Gone from the queue (reported once), kept aside, not a queue to rescue.
  r = unbox(queue.read_pending("b1", 10));
  CAF_CHECK_EQUAL(r.jobs.size(), 2u);
  CAF_CHECK(r.corrupt.empty());
  CAF_CHECK(unbox(queue.pending_buckets()) == std::vector<std::string>{"b1"});
}

} // namespace jm::test
