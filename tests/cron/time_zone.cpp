#define CAF_SUITE cron.time_zone

#include "tests/cron/test.hpp"

#include <vector>

using namespace jm::cron;
using jm::cron::test::fmt;
using jm::cron::test::next;
using jm::cron::test::occurrences;
using jm::cron::test::sched;
using jm::cron::test::utc;

// All instants below are UTC.
//
// America/New_York 2024: EST->EDT on Mar 10 (02:00 local -> 03:00, 07:00 UTC),
//                        EDT->EST on Nov 3 (02:00 local -> 01:00, 06:00 UTC).
// Europe/Lisbon 2024:    WET->WEST on Mar 31 (01:00 local -> 02:00, 01:00 UTC),
//                        WEST->WET on Oct 27 (02:00 local -> 01:00, 01:00 UTC).

TEST(the tz clause selects the evaluation zone) {
  CHECK_EQUAL(occurrences("@every 1 day @at 12:00am @TZ America/New_York",
                          "2020-07-01 00:00:00", 3),
              "2020-07-01 04:00:00, 2020-07-02 04:00:00, 2020-07-03 04:00:00");
  CHECK_EQUAL(occurrences("@every day @at 23:00 @timezone Asia/Tokyo",
                          "2023-01-01 14:30:00", 2),
              "2023-01-02 14:00:00, 2023-01-03 14:00:00");
  CHECK_EQUAL(occurrences("@every year @on LastSunday @on March @at 02:00 "
                          "@timezone America/New_York",
                          "2023-01-01 00:00:00", 3),
              "2023-03-26 06:00:00, 2024-03-31 06:00:00, 2025-03-30 06:00:00");
  CHECK_EQUAL(next("daily at 09:00 tz UTC", "2025-01-15 00:00:00"),
              "2025-01-15 09:00:00");
  CHECK_EQUAL(next("daily at 09:00 tz America/New_York", "2025-01-15 00:00:00"),
              "2025-01-15 14:00:00");
  CHECK_EQUAL(next("daily at 09:00 tz america/new_york", "2025-07-15 00:00:00"),
              "2025-07-15 13:00:00");
}

TEST(the default zone applies to expressions without tz) {
  search_options ny;
  ny.default_zone = "America/New_York";
  CHECK_EQUAL(next("daily at 09:00", "2025-01-15 00:00:00"),
              "2025-01-15 09:00:00");
  CHECK_EQUAL(next("daily at 09:00", "2025-01-15 00:00:00", ny),
              "2025-01-15 14:00:00");
  MESSAGE("the tz clause wins over the default zone");
  CHECK_EQUAL(next("daily at 09:00 tz Asia/Tokyo", "2024-01-01 15:00:00", ny),
              "2024-01-02 00:00:00");
  MESSAGE("zones are matched case-insensitively; unknown zones never fire");
  search_options lisbon;
  lisbon.default_zone = "europe/lisbon";
  CHECK_EQUAL(next("every 2 hours", "2024-01-01 10:00:00", lisbon),
              "2024-01-01 12:00:00");
  search_options bad;
  bad.default_zone = "Invalid/TimeZone";
  CHECK_EQUAL(next("daily at 14:00", "2024-01-01 10:00:00", bad), "-");
}

TEST(new york spring forward fires at the end of the gap) {
  MESSAGE("02:30 does not exist on Mar 10: fire at 03:00 EDT");
  CHECK_EQUAL(occurrences("every day at 02:30 tz America/New_York",
                          "2024-03-09 07:30:00", 3),
              "2024-03-10 07:00:00, 2024-03-11 06:30:00, 2024-03-12 06:30:00");
  MESSAGE("hourly: 01:00 EST, then the gap's 02:00 fires at 03:00 EDT");
  CHECK_EQUAL(occurrences("every hour tz America/New_York",
                          "2024-03-10 05:00:00", 4),
              "2024-03-10 06:00:00, 2024-03-10 07:00:00, 2024-03-10 08:00:00, "
              "2024-03-10 09:00:00");
  MESSAGE("every 30 minutes: the slots 02:00 and 02:30 collapse into one");
  CHECK_EQUAL(occurrences("every 30 minutes BasedAt 0 tz America/New_York",
                          "2024-03-10 06:00:00", 4),
              "2024-03-10 06:30:00, 2024-03-10 07:00:00, 2024-03-10 07:30:00, "
              "2024-03-10 08:00:00");
}

TEST(new york fall back fires once in the repeated hour) {
  MESSAGE("01:30 happens twice on Nov 3: fire at the first (EDT) instant");
  CHECK_EQUAL(occurrences("every day at 01:30 tz America/New_York",
                          "2024-11-02 05:30:00", 3),
              "2024-11-03 05:30:00, 2024-11-04 06:30:00, 2024-11-05 06:30:00");
  MESSAGE("hourly: the repeated 01:00 is not visited again");
  CHECK_EQUAL(occurrences("every hour tz America/New_York",
                          "2024-11-03 04:00:00", 3),
              "2024-11-03 05:00:00, 2024-11-03 07:00:00, 2024-11-03 08:00:00");
  MESSAGE("a reference inside the second pass does not fire the day again");
  CHECK_EQUAL(next("every day at 01:45 tz America/New_York",
                   "2024-11-03 06:15:00"),
              "2024-11-04 06:45:00");
}

TEST(lisbon transitions) {
  MESSAGE("01:30 does not exist on Mar 31: fire at 02:00 WEST");
  CHECK_EQUAL(occurrences("every day at 01:30 tz Europe/Lisbon",
                          "2024-03-30 01:30:00", 3),
              "2024-03-31 01:00:00, 2024-04-01 00:30:00, 2024-04-02 00:30:00");
  MESSAGE("01:30 happens twice on Oct 27: fire once, at 01:30 WEST");
  CHECK_EQUAL(occurrences("every day at 01:30 tz Europe/Lisbon",
                          "2024-10-26 00:30:00", 3),
              "2024-10-27 00:30:00, 2024-10-28 01:30:00, 2024-10-29 01:30:00");
  MESSAGE("the same with Lisbon as the default zone");
  search_options lisbon;
  lisbon.default_zone = "Europe/Lisbon";
  CHECK_EQUAL(occurrences("every day at 01:30", "2024-10-26 00:30:00", 2,
                          lisbon),
              "2024-10-27 00:30:00, 2024-10-28 01:30:00");
  MESSAGE("every 15 minutes across the fall-back night");
  CHECK_EQUAL(occurrences("every 15 minutes BasedAt 0 tz Europe/Lisbon",
                          "2024-10-27 00:30:00", 4),
              "2024-10-27 00:45:00, 2024-10-27 02:00:00, 2024-10-27 02:15:00, "
              "2024-10-27 02:30:00");
}

TEST(no day is skipped or fired twice across transitions) {
  const char* exprs[] = {
    "every day at 02:30 tz America/New_York",
    "every day at 01:30 tz America/New_York",
    "every day at 01:30 tz Europe/Lisbon",
    "every day at 00:30 tz Europe/Lisbon",
    "every day at [01:00:00, 01:59:59] tz America/New_York",
  };
  for (const auto* expr : exprs) {
    auto s = sched(expr);
    for (const char* start : {"2024-03-01 12:00:00", "2024-10-20 12:00:00"}) {
      auto t = utc(start);
      std::vector<time_point> xs;
      for (int i = 0; i < 40; ++i) {
        auto r = next_occurrence(s, t);
        REQUIRE(r.has_value());
        CHECK(*r > t);
        xs.push_back(*r);
        t = *r;
      }
      // Daily schedules: consecutive results are 23, 24 or 25 hours apart,
      // lists of two times at most 25 hours.
      for (std::size_t i = 1; i < xs.size(); ++i) {
        auto gap = std::chrono::duration_cast<std::chrono::hours>(xs[i]
                                                                  - xs[i - 1]);
        if (gap.count() > 25)
          CAF_FAIL(expr << ": gap of " << gap.count() << "h before "
                        << fmt(xs[i]));
      }
    }
  }
}
