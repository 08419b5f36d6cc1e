#define CAF_SUITE messages.job
#include "tests/support/test.hpp"

#include "messages/job.hpp"

#include <array>
#include <string>
#include <utility>

using namespace jm;

namespace {

using s = job_status;

constexpr std::array<job_status, 8> all_statuses{
  s::save_pending, s::held_on_master, s::assigned_to_bucket,
  s::processing,   s::succeeded,      s::queued,
  s::failed,       s::cancelled,
};

constexpr std::array<priority, 5> all_priorities{
  priority::very_low, priority::low,      priority::medium,
  priority::high,     priority::critical,
};

// Every legal move of the state machine; all other pairs are illegal.
constexpr std::pair<job_status, job_status> legal[] = {
  {s::save_pending, s::held_on_master},
  {s::save_pending, s::assigned_to_bucket},
  {s::save_pending, s::cancelled},
  {s::save_pending, s::failed}, // set aside: its stored bytes are corrupt
  {s::held_on_master, s::held_on_master}, // a reschedule
  {s::held_on_master, s::assigned_to_bucket},
  {s::held_on_master, s::queued}, // adopted by a bucket's claim
  {s::held_on_master, s::cancelled},
  {s::held_on_master, s::failed}, // set aside
  {s::assigned_to_bucket, s::held_on_master},
  {s::assigned_to_bucket, s::queued},
  {s::assigned_to_bucket, s::cancelled},
  {s::assigned_to_bucket, s::failed}, // set aside
  {s::queued, s::held_on_master},
  {s::queued, s::assigned_to_bucket},     // released by a restarted bucket
  {s::processing, s::assigned_to_bucket}, // released by a restarted bucket
  {s::queued, s::processing},
  {s::queued, s::failed},
  {s::processing, s::held_on_master},
  {s::processing, s::succeeded},
  {s::processing, s::failed},
};

bool is_legal(job_status from, job_status to) {
  for (auto& [f, t] : legal)
    if (f == from && t == to)
      return true;
  return false;
}

std::string str(job_status x) {
  return std::string{to_string(x)};
}

std::string str(priority x) {
  return std::string{to_string(x)};
}

} // namespace

TEST(every pair of statuses follows the transition table) {
  size_t num_legal = 0;
  for (auto from : all_statuses) {
    for (auto to : all_statuses) {
      auto expected = is_legal(from, to);
      if (can_transition(from, to) != expected)
        MESSAGE(str(from) << " -> " << str(to) << " should be "
                          << (expected ? "legal" : "illegal"));
      CHECK_EQUAL(can_transition(from, to), expected);
      if (can_transition(from, to))
        ++num_legal;
    }
  }
  CHECK_EQUAL(num_legal, std::size(legal));
}

TEST(final statuses never move) {
  for (auto from : all_statuses) {
    CHECK_EQUAL(is_final(from), from == s::succeeded || from == s::failed
                                  || from == s::cancelled);
    if (!is_final(from))
      continue;
    for (auto to : all_statuses)
      CHECK(!can_transition(from, to));
  }
}

TEST(nothing moves back to save_pending) {
  for (auto from : all_statuses)
    CHECK(!can_transition(from, s::save_pending));
}

TEST(every live status can go back to the master) {
  for (auto from : all_statuses)
    CHECK_EQUAL(can_transition(from, s::held_on_master), !is_final(from));
}

TEST(status names round trip) {
  for (auto x : all_statuses) {
    auto parsed = test::unbox(parse_job_status(to_string(x)));
    CHECK_EQUAL(str(parsed), str(x));
  }
  CHECK_EQUAL(str(test::unbox(parse_job_status("HELD_ON_MASTER"))),
              "held_on_master");
  CHECK_EQUAL(str(test::unbox(parse_job_status("held-on-master"))),
              "held_on_master");
  CHECK_EQUAL(str(test::unbox(parse_job_status("Assigned-To-Bucket"))),
              "assigned_to_bucket");
}

TEST(bad status names are rejected with the input in the text) {
  for (auto bad : {"", "done", "held on master", "5", "succeeded ", " queued",
                   "heldonmaster", "invalid", "cancelled!"}) {
    auto x = parse_job_status(bad);
    REQUIRE(!x);
    CHECK_EQUAL(code_of(x.error()), ec::invalid_argument);
    CHECK(describe(x.error()).find("'" + std::string{bad} + "'")
          != std::string::npos);
  }
}

TEST(priority names and numbers parse) {
  int i = 1;
  for (auto x : all_priorities) {
    CHECK_EQUAL(static_cast<int>(x), i);
    CHECK_EQUAL(str(test::unbox(parse_priority(to_string(x)))), str(x));
    CHECK_EQUAL(str(test::unbox(parse_priority(std::to_string(i)))), str(x));
    ++i;
  }
  CHECK_EQUAL(str(test::unbox(parse_priority("CRITICAL"))), "critical");
  CHECK_EQUAL(str(test::unbox(parse_priority("very-low"))), "very_low");
  CHECK_EQUAL(str(test::unbox(parse_priority("VeryLow"))), "very_low");
  CHECK_EQUAL(str(test::unbox(parse_priority("High"))), "high");
}

TEST(bad priorities are rejected) {
  for (auto bad : {"", "0", "6", "10", "-1", "urgent", "very low", "med", "1.0",
                   " high", "verylow!"}) {
    auto x = parse_priority(bad);
    REQUIRE(!x);
    CHECK_EQUAL(code_of(x.error()), ec::invalid_argument);
    CHECK(describe(x.error()).find("'" + std::string{bad} + "'")
          != std::string::npos);
  }
}

TEST(priorities order from very_low to critical) {
  CHECK(priority::very_low < priority::low);
  CHECK(priority::low < priority::medium);
  CHECK(priority::medium < priority::high);
  CHECK(priority::high < priority::critical);
  CHECK_EQUAL(num_priorities, 5);
}

TEST(attempt outcomes have names) {
  CHECK_EQUAL(to_string(attempt_outcome::succeeded), "succeeded");
  CHECK_EQUAL(to_string(attempt_outcome::failed), "failed");
  CHECK_EQUAL(to_string(attempt_outcome::timed_out), "timed_out");
  CHECK_EQUAL(to_string(attempt_outcome::lost), "lost");
}
