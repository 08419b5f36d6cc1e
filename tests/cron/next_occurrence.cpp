#define CAF_SUITE cron.next_occurrence

#include "tests/cron/test.hpp"

using namespace jm::cron;
using jm::cron::test::fmt;
using jm::cron::test::next;
using jm::cron::test::occurrences;
using jm::cron::test::sched;
using jm::cron::test::utc;

namespace {

struct vector_case {
  const char* expr;
  const char* base; // UTC
  const char* expected;
};

/// Counts the expected entries of a ", "-separated list.
std::size_t count_of(std::string_view xs) {
  std::size_t n = 1;
  for (auto c : xs)
    if (c == ',')
      ++n;
  return n;
}

void run(const vector_case& x) {
  auto got = occurrences(x.expr, x.base, count_of(x.expected));
  if (got != x.expected)
    CAF_MESSAGE("expression: " << x.expr);
  CHECK_EQUAL(got, std::string{x.expected});
}

} // namespace

// Behaviour pinned by the .NET library's own test vectors
// (NaturalCron.UnitTests/GetNextOcurrencesTestCases.json), evaluated in UTC.
TEST(compatibility vectors of the reference library) {
  const vector_case cases[] = {
    {"@every 1 day", "2020-01-01 00:00:00",
     "2020-01-02 00:00:00, 2020-01-03 00:00:00, 2020-01-04 00:00:00"},
    {"@every 1 week", "2020-01-01 00:00:00",
     "2020-01-08 00:00:00, 2020-01-15 00:00:00"},
    {"@every 1 month", "2020-01-01 00:00:00",
     "2020-02-01 00:00:00, 2020-03-01 00:00:00"},
    {"@every 1 year", "2020-01-01 00:00:00",
     "2021-01-01 00:00:00, 2022-01-01 00:00:00"},
    {"@every 3 seconds", "2020-01-01 00:00:00",
     "2020-01-01 00:00:03, 2020-01-01 00:00:06"},
    {"@every 3 minutes", "2020-01-01 00:00:00",
     "2020-01-01 00:03:00, 2020-01-01 00:06:00"},
    {"@every 3 hours", "2020-01-01 00:00:00",
     "2020-01-01 03:00:00, 2020-01-01 06:00:00"},
    {"@every 3 days", "2020-01-01 00:00:00",
     "2020-01-04 00:00:00, 2020-01-07 00:00:00"},
    {"@every 5 seconds BasedAt 4", "2020-01-01 00:00:00",
     "2020-01-01 00:00:04, 2020-01-01 00:00:09, 2020-01-01 00:00:14"},
    {"@every 5 minutes BasedAt 7", "2020-01-01 00:00:00",
     "2020-01-01 00:02:00, 2020-01-01 00:07:00, 2020-01-01 00:12:00"},
    {"@every 5 hours BasedAt 10", "2020-01-01 00:00:00",
     "2020-01-01 05:00:00, 2020-01-01 10:00:00, 2020-01-01 15:00:00"},
    {"@every 5 days BasedAt 10th", "2020-01-01 00:00:00",
     "2020-01-05 00:00:00, 2020-01-10 00:00:00, 2020-01-15 00:00:00"},
    {"@every 2 wks AnchoredAt SUN", "2020-01-01 00:00:00",
     "2020-01-05 00:00:00, 2020-01-19 00:00:00, 2020-02-02 00:00:00"},
    {"@every 2 months BasedOn JUL", "2020-01-01 00:00:00",
     "2020-03-01 00:00:00, 2020-05-01 00:00:00, 2020-07-01 00:00:00"},
    {"@every 5 seconds @between sec 10 and 20", "2020-01-01 00:00:00",
     "2020-01-01 00:00:10, 2020-01-01 00:00:15, 2020-01-01 00:00:20, "
     "2020-01-01 00:01:10"},
    {"@every 5 days @between day 10 and 20", "2020-01-01 00:00:00",
     "2020-01-10 00:00:00, 2020-01-15 00:00:00, 2020-01-20 00:00:00, "
     "2020-02-10 00:00:00"},
    {"@At [2023-01-01 10:10, 2023-05-01 10:10, 2025-01-01 10:10]",
     "2020-01-01 00:00:00",
     "2023-01-01 10:10:00, 2023-05-01 10:10:00, 2025-01-01 10:10:00, -"},
    {"@at 2020-01-01 10:10:10", "2020-01-01 00:00:00",
     "2020-01-01 10:10:10, -"},
    {"@on JAN-01 10:10:10", "2020-01-01 00:00:00",
     "2020-01-01 10:10:10, 2021-01-01 10:10:10"},
    {"@At 21 10:10:10", "2020-01-21 00:00:00",
     "2020-01-21 10:10:10, 2020-02-21 10:10:10"},
    {"@at [10:10, 11:10, 12:10]", "2020-01-01 00:00:00",
     "2020-01-01 10:10:00, 2020-01-01 11:10:00, 2020-01-01 12:10:00, "
     "2020-01-02 10:10:00"},
    {"@on [JAN-01, FEB-01, MAR-01]", "2020-01-01 00:00:00",
     "2020-02-01 00:00:00, 2020-03-01 00:00:00, 2021-01-01 00:00:00"},
    {"@every 25 seconds @between min 10 and 12", "2020-01-01 00:12:30",
     "2020-01-01 00:12:55, 2020-01-01 01:10:00, 2020-01-01 01:10:25"},
    {"@every 25 seconds @between 1:20am and 3:10am", "2020-01-01 00:00:00",
     "2020-01-01 01:20:00"},
    {"@every 25 minutes @between hour 10 and 12", "2020-01-01 12:55:00",
     "2020-01-02 10:00:00"},
    {"@every 2 days, @at [10:10, 11:10, 12:10]", "2020-01-01 00:00:00",
     "2020-01-01 10:10:00, 2020-01-01 11:10:00, 2020-01-01 12:10:00, "
     "2020-01-03 10:10:00"},
    {"@every 2 years, @on [JAN-01, FEB-01, MAR-01]", "2020-01-01 00:00:00",
     "2020-02-01 00:00:00, 2020-03-01 00:00:00, 2022-01-01 00:00:00"},
    {"@every 2 months AnchoredOn Aug, @on ClosestWeekdayTo 10",
     "2020-07-01 00:00:00",
     "2020-08-10 00:00:00, 2020-10-09 00:00:00, 2020-12-10 00:00:00, "
     "2021-02-10 00:00:00, 2021-04-09 00:00:00"},
    {"@on ClosestWeekdayTo 5", "2020-07-01 00:00:00",
     "2020-07-06 00:00:00, 2020-08-05 00:00:00, 2020-09-04 00:00:00"},
    {"@every 2 months AnchoredOn Aug, @on LastWeekday", "2020-07-01 00:00:00",
     "2020-08-31 00:00:00, 2020-10-30 00:00:00, 2020-12-31 00:00:00, "
     "2021-02-26 00:00:00"},
    {"@on FirstWeekday", "2020-07-01 00:00:00",
     "2020-08-03 00:00:00, 2020-09-01 00:00:00, 2020-10-01 00:00:00, "
     "2020-11-02 00:00:00"},
    {"@every month, @on Last day", "2020-07-01 00:00:00",
     "2020-07-31 00:00:00, 2020-08-31 00:00:00, 2020-09-30 00:00:00"},
    {"@on day first + 5", "2020-07-01 00:00:00",
     "2020-07-06 00:00:00, 2020-08-06 00:00:00"},
    {"@every 2 months AnchoredOn Aug, @on LastDayOfMonth - 5",
     "2020-07-01 00:00:00",
     "2020-08-26 00:00:00, 2020-10-26 00:00:00, 2020-12-26 00:00:00, "
     "2021-02-23 00:00:00"},
    {"@every month, @on FifthThu", "2020-07-01 00:00:00",
     "2020-07-30 00:00:00, 2020-10-29 00:00:00, 2020-12-31 00:00:00, "
     "2021-04-29 00:00:00"},
    {"@every month, @on FirstWeekday -1", "2020-07-01 00:00:00",
     "2020-08-02 00:00:00, 2020-09-01 00:00:00"},
    {"@every month, @on FourthFriday +5", "2020-07-01 00:00:00",
     "2020-07-29 00:00:00, 2020-08-31 00:00:00, 2020-09-30 00:00:00"},
    {"@every 5 hour AnchoredAt 0 @between FirstDay + 25 and LastDay - 1",
     "2020-07-30 15:00:00",
     "2020-07-30 20:00:00, 2020-08-26 00:00:00, 2020-08-26 05:00:00"},
    {"@on 2nd jan 2021", "2020-07-01 00:00:00", "2021-01-02 00:00:00, -"},
    {"@at [3rd january 10:30:25 am, 3rd jul 10:30:25am]",
     "2020-07-01 00:00:00",
     "2020-07-03 10:30:25, 2021-01-03 10:30:25, 2021-07-03 10:30:25"},
    {"@every 25 minutes @from 10:15pm", "2020-07-01 23:30:00",
     "2020-07-01 23:55:00, 2020-07-02 22:15:00"},
    {"@every 25 minutes @upto 10:15am", "2020-07-01 09:00:00",
     "2020-07-01 09:25:00, 2020-07-01 09:50:00, 2020-07-01 10:15:00, "
     "2020-07-02 00:00:00"},
    {"@every 10 minutes @between [10:10am and 10:30am, 11:00am and 11:30am]",
     "2020-07-01 09:00:00",
     "2020-07-01 10:10:00, 2020-07-01 10:20:00, 2020-07-01 10:30:00, "
     "2020-07-01 11:00:00, 2020-07-01 11:10:00"},
    {"@every 12 days @between [Feb and Jul, Sep and Nov]",
     "2020-07-01 00:00:00",
     "2020-07-13 00:00:00, 2020-07-25 00:00:00, 2020-09-01 00:00:00, "
     "2020-09-13 00:00:00"},
    {"@every mon", "2020-07-01 00:00:00",
     "2020-07-06 00:00:00, 2020-07-13 00:00:00"},
    {"@every wednesday @between 10:10am and 10:30am", "2020-07-01 00:00:00",
     "2020-07-01 10:10:00, 2020-07-08 10:10:00"},
    {"@every week @on tuesday", "2020-07-01 00:00:00",
     "2020-07-07 00:00:00, 2020-07-14 00:00:00"},
    {"@At 9 pm", "2020-01-01 00:00:00",
     "2020-01-01 21:00:00, 2020-01-02 21:00:00"},
    {"@At [1st 3am, 3rd 10pm, 6th 11pm]", "2020-01-01 00:00:00",
     "2020-01-01 03:00:00, 2020-01-03 22:00:00, 2020-01-06 23:00:00"},
    {"@At [3rd, 1st, 6th]", "2019-12-31 00:00:00",
     "2020-01-01 00:00:00, 2020-01-03 00:00:00, 2020-01-06 00:00:00"},
    {"@At [monday 3am, tuesday 10am, wednesday 11pm]", "2020-01-01 00:00:00",
     "2020-01-01 23:00:00, 2020-01-06 03:00:00, 2020-01-07 10:00:00"},
    {"@At [1stMonday 3am, 2ndTuesday 10am, ThirdWednesday 11pm]",
     "2020-01-01 00:00:00",
     "2020-01-06 03:00:00, 2020-01-14 10:00:00, 2020-01-15 23:00:00"},
    {"@At [FirstDay 3am, LastDay 10am]", "2020-01-01 00:00:00",
     "2020-01-01 03:00:00, 2020-01-31 10:00:00, 2020-02-01 03:00:00, "
     "2020-02-29 10:00:00"},
    {"@every week @on monday @at 09:00", "2024-01-01 08:00:00",
     "2024-01-01 09:00:00, 2024-01-08 09:00:00"},
    {"@every month @on 13th @on friday @at 13:13", "2025-06-01 00:00:00",
     "2025-06-13 13:13:00, 2026-02-13 13:13:00, 2026-03-13 13:13:00"},
    {"@every day @between monday and friday @at 08:00", "2025-07-03 07:00:00",
     "2025-07-03 08:00:00, 2025-07-04 08:00:00, 2025-07-07 08:00:00"},
    {"@every 2 week @on [sunday, saturday] @at 10:30", "2025-07-04 00:00:00",
     "2025-07-05 10:30:00, 2025-07-13 10:30:00, 2025-07-19 10:30:00, "
     "2025-07-27 10:30:00"},
    {"@every 3 week @on [monday, friday] @at 08:00", "2025-07-01 00:00:00",
     "2025-07-04 08:00:00, 2025-07-21 08:00:00, 2025-07-25 08:00:00, "
     "2025-08-11 08:00:00"},
    {"@every 2 week @on [wednesday, monday] @at 09:15", "2025-07-01 00:00:00",
     "2025-07-02 09:15:00, 2025-07-14 09:15:00, 2025-07-16 09:15:00"},
    {"@every 5 week @on saturday @at 15:30", "2025-06-01 00:00:00",
     "2025-06-07 15:30:00, 2025-07-12 15:30:00, 2025-08-16 15:30:00"},
    {"@every month @on ClosestWeekDayTo 1st @at 08:30", "2025-11-01 00:00:00",
     "2025-11-03 08:30:00, 2025-12-01 08:30:00, 2026-01-01 08:30:00"},
    {"@every month @on ClosestWeekdayTo 31st @at 16:00", "2025-07-01 00:00:00",
     "2025-07-31 16:00:00, 2025-08-29 16:00:00, 2025-09-30 16:00:00, "
     "2025-10-31 16:00:00, 2025-11-28 16:00:00"},
    {"@every year @in february @on FirstMonday - 1 @at 09:00",
     "2024-01-01 00:00:00",
     "2024-02-04 09:00:00, 2025-02-02 09:00:00, 2026-02-01 09:00:00"},
    {"@every year @in february @on LastFriday + 1 @at 09:00",
     "2024-01-01 00:00:00",
     "2024-02-24 09:00:00, 2025-02-28 09:00:00, 2026-02-28 09:00:00"},
    {"@every 25 min @on [monday, tuesday, friday] @between 9:00 and 10:00",
     "2024-01-01 00:00:00",
     "2024-01-01 09:00:00, 2024-01-01 09:25:00, 2024-01-01 09:50:00, "
     "2024-01-02 09:00:00"},
    {"@every 1 month @on [monday, wednesday]", "2024-01-01 00:00:00",
     "2024-01-03 00:00:00, 2024-02-05 00:00:00, 2024-02-07 00:00:00"},
    {"@every 3 months anchoredOn MARCH @on [1stFriday, 3rdWednesday]",
     "2024-03-01 00:00:00",
     "2024-03-20 00:00:00, 2024-06-07 00:00:00, 2024-06-19 00:00:00"},
    {"@every month @on 1stMonday @on Monday", "2023-01-01 00:00:00",
     "2023-01-02 00:00:00, 2023-02-06 00:00:00"},
    {"@every year @on lastFriday @on October", "2023-01-01 00:00:00",
     "2023-10-27 00:00:00, 2024-10-25 00:00:00, 2025-10-31 00:00:00"},
    {"@every month @between 10th and 15th", "2023-01-01 00:00:00",
     "2023-01-10 00:00:00, 2023-02-10 00:00:00"},
    {"@every day @on [friday, tuesday] @between 1:00pm and 03:00pm",
     "2023-01-01 00:00:00",
     "2023-01-03 13:00:00, 2023-01-06 13:00:00, 2023-01-10 13:00:00"},
    {"@every week @between 1:00pm and 03:00pm", "2023-01-01 14:00:00",
     "2023-01-08 14:00:00, 2023-01-15 14:00:00"},
    {"@Secondly", "2020-01-01 00:00:00", "2020-01-01 00:00:01"},
    {"@Minutely", "2020-01-01 00:00:00", "2020-01-01 00:01:00"},
    {"@Hourly", "2020-01-01 00:00:00", "2020-01-01 01:00:00"},
    {"@Daily", "2020-01-01 00:00:00", "2020-01-02 00:00:00"},
    {"@Weekly", "2020-01-01 00:00:00", "2020-01-08 00:00:00"},
    {"@Monthly", "2020-01-01 00:00:00", "2020-02-01 00:00:00"},
    {"@Yearly", "2020-01-01 00:00:00", "2021-01-01 00:00:00"},
  };
  for (const auto& x : cases)
    run(x);
}

TEST(the at sign and spaces are interchangeable) {
  // Every upstream vector is also run with each '@' replaced by a space.
  CHECK_EQUAL(occurrences(" every 2 days,  at [10:10, 11:10, 12:10]",
                          "2020-01-01 00:00:00", 4),
              "2020-01-01 10:10:00, 2020-01-01 11:10:00, "
              "2020-01-01 12:10:00, 2020-01-03 10:10:00");
  CHECK_EQUAL(occurrences(" every 25 minutes  upto 10:15am",
                          "2020-07-01 09:00:00", 4),
              "2020-07-01 09:25:00, 2020-07-01 09:50:00, "
              "2020-07-01 10:15:00, 2020-07-02 00:00:00");
}

TEST(the result is strictly after the reference) {
  CHECK_EQUAL(next("every day", "2020-01-01 00:00:00"), "2020-01-02 00:00:00");
  CHECK_EQUAL(next("at 10:00", "2020-01-01 10:00:00"), "2020-01-02 10:00:00");
  CHECK_EQUAL(next("at 10:00", "2020-01-01 09:59:59"), "2020-01-01 10:00:59");
  CHECK_EQUAL(next("every minute", "2020-12-31 23:59:00"),
              "2021-01-01 00:00:00");
}

TEST(unanchored every steps from the reference) {
  CHECK_EQUAL(occurrences("every 3 hours", "2025-01-01 12:34:56", 2),
              "2025-01-01 15:34:56, 2025-01-01 18:34:56");
  MESSAGE("anchors align the grid");
  CHECK_EQUAL(occurrences("every 25 minutes BasedAt 0", "2025-01-01 12:40:00",
                          3),
              "2025-01-01 12:50:00, 2025-01-01 13:00:00, 2025-01-01 13:25:00");
}

TEST(unconstrained smaller fields are inherited from the reference) {
  CHECK_EQUAL(next("at 9pm", "2025-01-01 12:34:56"), "2025-01-01 21:34:56");
  CHECK_EQUAL(next("every day at 10:00", "2025-01-01 12:34:56"),
              "2025-01-02 10:00:56");
  CHECK_EQUAL(next("on 15th", "2025-01-10 13:45:00"), "2025-01-15 13:45:00");
  MESSAGE("bracket lists reset smaller fields");
  CHECK_EQUAL(next("at [9pm, 10pm]", "2025-01-01 12:34:56"),
              "2025-01-01 21:00:00");
}

TEST(filters restart the sequence after leaving them) {
  CHECK_EQUAL(occurrences("every 25 minutes upto 10:15am",
                          "2020-07-01 09:50:00", 3),
              "2020-07-01 10:15:00, 2020-07-02 00:00:00, 2020-07-02 00:25:00");
  MESSAGE("unanchored steps are relative: from 10:00 the next step is 10:25");
  CHECK_EQUAL(next("every 25 minutes upto 10:15am", "2020-07-01 10:00:00"),
              "2020-07-02 00:00:00");
  CHECK_EQUAL(occurrences("every hour between 09:00 and 17:00 between mon "
                          "and fri",
                          "2025-07-04 16:00:00", 3),
              "2025-07-04 17:00:00, 2025-07-07 09:00:00, 2025-07-07 10:00:00");
}

TEST(special days resolve per month) {
  CHECK_EQUAL(occurrences("every month on LastWeekday at 18:00",
                          "2025-05-01 00:00:00", 4),
              "2025-05-30 18:00:00, 2025-06-30 18:00:00, 2025-07-31 18:00:00, "
              "2025-08-29 18:00:00");
  CHECK_EQUAL(occurrences("every month on FirstWeekday at 08:00",
                          "2025-05-01 00:00:00", 3),
              "2025-05-01 08:00:00, 2025-06-02 08:00:00, 2025-07-01 08:00:00");
  CHECK_EQUAL(occurrences("every month on 2ndTuesday at 10:00",
                          "2025-01-01 00:00:00", 3),
              "2025-01-14 10:00:00, 2025-02-11 10:00:00, 2025-03-11 10:00:00");
  CHECK_EQUAL(occurrences("every month on LastFri at 17:00",
                          "2025-01-01 00:00:00", 2),
              "2025-01-31 17:00:00, 2025-02-28 17:00:00");
  CHECK_EQUAL(occurrences("every month on ClosestWeekdayTo 15th at 09:00",
                          "2025-02-01 00:00:00", 3),
              "2025-02-14 09:00:00, 2025-03-14 09:00:00, 2025-04-15 09:00:00");
  MESSAGE("+n past the month end clamps at 31 for FirstDay (reference)");
  CHECK_EQUAL(occurrences("every month on FirstDay + 30", "2025-01-01 00:00:00",
                          3),
              "2025-01-31 00:00:00, 2025-03-31 00:00:00, 2025-05-31 00:00:00");
}

TEST(month ends) {
  CHECK_EQUAL(occurrences("every month on 31st", "2023-01-01 00:00:00", 4),
              "2023-01-31 00:00:00, 2023-03-31 00:00:00, 2023-05-31 00:00:00, "
              "2023-07-31 00:00:00");
  CHECK_EQUAL(occurrences("every month on 30th", "2023-02-01 00:00:00", 2),
              "2023-03-30 00:00:00, 2023-04-30 00:00:00");
  CHECK_EQUAL(occurrences("every month @on LastDayOfMonth @at 23:59",
                          "2025-01-15 00:00:00", 4),
              "2025-01-31 23:59:00, 2025-02-28 23:59:00, 2025-03-31 23:59:00, "
              "2025-04-30 23:59:00");
  MESSAGE("adding months clamps the day");
  CHECK_EQUAL(occurrences("every month", "2025-01-31 10:00:00", 3),
              "2025-02-28 10:00:00, 2025-03-28 10:00:00, 2025-04-28 10:00:00");
  CHECK_EQUAL(occurrences("every day between LastDay - 2 and LastDay",
                          "2025-02-25 00:00:00", 4),
              "2025-02-26 00:00:00, 2025-02-27 00:00:00, 2025-02-28 00:00:00, "
              "2025-03-29 00:00:00");
}

TEST(leap years) {
  CHECK_EQUAL(occurrences("every year on feb-29 at 12:00",
                          "2020-01-01 00:00:00", 3),
              "2020-02-29 12:00:00, 2024-02-29 12:00:00, 2028-02-29 12:00:00");
  CHECK_EQUAL(occurrences("every 4 years on 29th Feb", "2020-01-01 00:00:00",
                          3),
              "2020-02-29 00:00:00, 2024-02-29 00:00:00, 2028-02-29 00:00:00");
  CHECK_EQUAL(occurrences("every year in february on LastWeekday at 12:00",
                          "2024-01-01 00:00:00", 3),
              "2024-02-29 12:00:00, 2025-02-28 12:00:00, 2026-02-27 12:00:00");
  CHECK_EQUAL(occurrences("every year in february on ClosestWeekDayTo 29 at "
                          "09:00",
                          "2023-01-01 00:00:00", 3),
              "2023-02-28 09:00:00, 2024-02-29 09:00:00, 2025-02-28 09:00:00");
  MESSAGE("2100 is not a leap year");
  CHECK_EQUAL(next("on feb-29", "2096-03-01 00:00:00"), "2104-02-29 00:00:00");
  MESSAGE("Feb 29 + 1 year is Feb 28");
  CHECK_EQUAL(next("every year", "2024-02-29 08:00:00"), "2025-02-28 08:00:00");
}

TEST(rare combinations are found far ahead) {
  auto s = sched("@every year @on Feb 29th 14:00 @on Friday");
  auto r = next_local_occurrence(s, date_time{2256, 3, 1, 0, 0, 0});
  REQUIRE(r.has_value());
  CHECK_EQUAL(to_string(*r), "2284-02-29 14:00:00");
  CHECK_EQUAL(occurrences("@every year @on Feb 29th 14:00 @on Friday",
                          "2020-01-01 00:00:00", 2),
              "2036-02-29 14:00:00, 2064-02-29 14:00:00");
}

TEST(finite schedules end) {
  CHECK_EQUAL(occurrences("at 2020-01-01 10:10:10", "2020-01-01 00:00:00", 2),
              "2020-01-01 10:10:10, -");
  CHECK_EQUAL(next("on 2nd jan 2021", "2021-01-02 00:00:00"), "-");
  MESSAGE("a single weekday with every month never matches (reference)");
  CHECK_EQUAL(next("every month on friday", "2025-01-01 00:00:00"), "-");
  MESSAGE("the list form means the first such weekday");
  CHECK_EQUAL(next("every month on [friday]", "2025-01-01 00:00:00"),
              "2025-01-03 00:00:00");
}

TEST(searches are bounded) {
  MESSAGE("values that never match give up instead of hanging");
  CHECK_EQUAL(next("at sec 75", "2025-01-01 00:00:00"), "-");
  CHECK_EQUAL(next("every second at min 75", "2025-01-01 00:00:00"), "-");
  CHECK_EQUAL(next("at [sec 70, sec 80]", "2025-01-01 00:00:00"), "-");
  MESSAGE("contradictory filters scan until the step budget is used up");
  CHECK_EQUAL(next("every minute between 09:00 and 17:30 at hour 22",
                   "2025-01-01 00:00:00"),
              "-");
  MESSAGE("a year in the past ends the search at once");
  CHECK_EQUAL(next("every 2 weeks on 1st jan 2021", "2025-01-01 00:00:00"),
              "-");
  MESSAGE("the default horizon is 1000 years");
  CHECK_EQUAL(next("at year 2900", "2025-01-01 00:00:00"),
              "2900-01-01 00:00:00");
  CHECK_EQUAL(next("at year 5000", "2025-01-01 00:00:00"), "-");
  MESSAGE("an explicit limit is exclusive");
  search_options opts;
  opts.limit = utc("2025-01-01 10:00:00");
  CHECK_EQUAL(next("at 10:00", "2024-12-31 23:00:00", opts), "-");
  opts.limit = utc("2025-01-01 10:00:01");
  CHECK_EQUAL(next("at 10:00", "2024-12-31 23:00:00", opts),
              "2025-01-01 10:00:00");
  MESSAGE("the end of the calendar");
  CHECK_EQUAL(next("every year", "9999-06-01 00:00:00"), "-");
  CHECK_EQUAL(next("every second", "9999-12-31 23:59:58"),
              "9999-12-31 23:59:59");
  CHECK_EQUAL(next("every second", "9999-12-31 23:59:59"), "-");
}

TEST(api variants) {
  auto s = sched("every 15 minutes");
  MESSAGE("nanosecond clocks: sub-second parts are discarded");
  auto t = std::chrono::system_clock::time_point{utc("2025-01-01 10:00:00")}
           + std::chrono::milliseconds{750};
  auto r = next_occurrence(s, t);
  REQUIRE(r.has_value());
  CHECK_EQUAL(fmt(std::chrono::floor<std::chrono::seconds>(*r)),
              "2025-01-01 10:15:00");
  MESSAGE("next_occurrences chains");
  auto xs = next_occurrences(s, utc("2025-01-01 10:00:00"), 3);
  REQUIRE(xs.size() == 3u);
  CHECK_EQUAL(fmt(xs[2]), "2025-01-01 10:45:00");
  MESSAGE("wall-clock search ignores the tz clause");
  auto tokyo = sched("every day at 23:00 tz Asia/Tokyo");
  auto w = next_local_occurrence(tokyo, date_time{2023, 1, 1, 14, 30, 0});
  REQUIRE(w.has_value());
  CHECK_EQUAL(to_string(*w), "2023-01-01 23:00:00");
  MESSAGE("an empty schedule never fires");
  CHECK(!next_occurrence(schedule{}, utc("2025-01-01 00:00:00")));
  MESSAGE("invalid wall-clock input");
  CHECK(!next_local_occurrence(s, date_time{2025, 2, 30, 0, 0, 0}));
}

TEST(date time helpers) {
  CHECK(parse_date_time("2025-01-31 10:20:30").has_value());
  CHECK(parse_date_time("2025-01-31T10:20").has_value());
  CHECK(parse_date_time("2025-01-31").has_value());
  CHECK(!parse_date_time("2025-02-30"));
  CHECK(!parse_date_time("2025-01-31 24:00"));
  CHECK(!parse_date_time("2025-1-31x"));
  CHECK_EQUAL(to_string(date_time{2025, 1, 2, 3, 4, 5}), "2025-01-02 03:04:05");
}
