#define CAF_SUITE cron.interval

#include "cron/interval.hpp"

#include "tests/cron/test.hpp"

using namespace jm::cron;
using namespace std::chrono_literals;

namespace {

std::string canonical(std::string_view text) {
  auto x = parse_interval(text);
  if (!x)
    return "error@" + std::to_string(x.error().position) + ": "
           + x.error().message;
  return to_string(*x);
}

} // namespace

TEST(timespan formats) {
  CHECK_EQUAL(canonical("00:00:05"), "00:00:05");
  CHECK_EQUAL(canonical("00:01:00"), "00:01:00");
  CHECK_EQUAL(canonical("1:2"), "01:02:00");
  CHECK_EQUAL(canonical("01:00"), "01:00:00");
  CHECK_EQUAL(canonical("1.02:03:04"), "1.02:03:04");
  CHECK_EQUAL(canonical("1.02:03"), "1.02:03:00");
  CHECK_EQUAL(canonical("1:02:03:04"), "1.02:03:04");
  CHECK_EQUAL(canonical("2"), "2.00:00:00");
  CHECK_EQUAL(canonical(" 00:00:10 "), "00:00:10");
  CHECK_EQUAL(canonical("00:00:01.5"), "00:00:01.5000000");
  CHECK_EQUAL(canonical("00:00:01.0000001"), "00:00:01.0000001");
  CHECK_EQUAL(canonical("10675199.02:48:05.4775807"),
              "10675199.02:48:05.4775807");
}

TEST(invalid intervals) {
  CHECK_EQUAL(canonical("00:00:00.5"),
              "error@0: The interval must be at least 1 second.");
  CHECK_EQUAL(canonical("0"), "error@0: The interval must be at least 1 "
                                "second.");
  CHECK_EQUAL(canonical("-00:00:05"),
              "error@1: The interval must be at least 1 second.");
  CHECK_EQUAL(canonical(""), "error@0: Invalid interval: expected a number.");
  CHECK_EQUAL(canonical("24:00:00"),
              "error@0: Invalid interval: hours must be 0-23.");
  CHECK_EQUAL(canonical("00:60:00"),
              "error@0: Invalid interval: minutes and seconds must be 0-59.");
  CHECK_EQUAL(canonical("1.24:00"),
              "error@2: Invalid interval: hours must be 0-23.");
  CHECK_EQUAL(canonical("00:00:05x"),
              "error@8: Invalid interval: unexpected character.");
  CHECK_EQUAL(canonical("5 minutes"),
              "error@2: Invalid interval: unexpected character.");
  CHECK_EQUAL(canonical("99999999"),
              "error@0: Invalid interval: too large.");
  CHECK(!make_interval(999ms));
  CHECK(make_interval(1s).has_value());
}

TEST(next occurrence adds the interval) {
  auto x = parse_interval("00:00:05");
  REQUIRE(x.has_value());
  auto t = std::chrono::system_clock::time_point{
    jm::cron::test::utc("2025-01-01 00:00:00")};
  auto r = next_occurrence(*x, t);
  REQUIRE(r.has_value());
  CHECK((*r - t) == 5s);
  auto big = parse_interval("10675199.00:00:00");
  REQUIRE(big.has_value());
  CHECK(!next_occurrence(*big, t));
}
