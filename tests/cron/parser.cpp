#define CAF_SUITE cron.parser

#include "tests/cron/test.hpp"

#include <random>
#include <vector>

using namespace jm::cron;
using jm::cron::test::error_of;
using jm::cron::test::rules;
using jm::cron::test::sched_equal;

// -- clauses ------------------------------------------------------------------

TEST(every clauses take an optional step and any unit alias) {
  CHECK_EQUAL(rules("every day"), "every(day 1)");
  CHECK_EQUAL(rules("every 1 days"), "every(day 1)");
  CHECK_EQUAL(rules("every 3 hour"), "every(hour 3)");
  CHECK_EQUAL(rules("every 5 sec"), "every(second 5)");
  CHECK_EQUAL(rules("every 5 secs"), "every(second 5)");
  CHECK_EQUAL(rules("every 5 seconds"), "every(second 5)");
  CHECK_EQUAL(rules("every 5 min"), "every(minute 5)");
  CHECK_EQUAL(rules("every 5 mins"), "every(minute 5)");
  CHECK_EQUAL(rules("every 2 hr"), "every(hour 2)");
  CHECK_EQUAL(rules("every 2 hrs"), "every(hour 2)");
  CHECK_EQUAL(rules("every 2 dy"), "every(day 2)");
  CHECK_EQUAL(rules("every 2 dys"), "every(day 2)");
  CHECK_EQUAL(rules("every 2 wk"), "every(week 2)");
  CHECK_EQUAL(rules("every 2 wks"), "every(week 2)");
  CHECK_EQUAL(rules("every 2 mth"), "every(month 2)");
  CHECK_EQUAL(rules("every 2 mths"), "every(month 2)");
  CHECK_EQUAL(rules("every 2 yr"), "every(year 2)");
  CHECK_EQUAL(rules("every 2 yrs"), "every(year 2)");
  CHECK_EQUAL(rules("every 2 years"), "every(year 2)");
  MESSAGE("every <weekday> is every week anchored on that weekday");
  CHECK_EQUAL(rules("every mon"), "every(week 1 anchor=2)");
  CHECK_EQUAL(rules("every Saturday"), "every(week 1 anchor=7)");
  MESSAGE("extra tokens after the unit are ignored (reference quirk)");
  CHECK_EQUAL(rules("every day 3"), "every(day 1)");
}

TEST(shortcuts are every rules with step one) {
  CHECK_EQUAL(rules("secondly"), "every(second 1)");
  CHECK_EQUAL(rules("minutely"), "every(minute 1)");
  CHECK_EQUAL(rules("hourly"), "every(hour 1)");
  CHECK_EQUAL(rules("daily"), "every(day 1)");
  CHECK_EQUAL(rules("weekly"), "every(week 1)");
  CHECK_EQUAL(rules("monthly"), "every(month 1)");
  CHECK_EQUAL(rules("yearly"), "every(year 1)");
  CHECK_EQUAL(rules("daily 5"), "every(day 1)");
  CHECK_EQUAL(rules("monthly AnchoredOn 2"), "every(month 1 anchor=2)");
}

TEST(anchors accept all six words and keep unusable values) {
  CHECK_EQUAL(rules("every 5 seconds BasedAt 4"), "every(second 5 anchor=4)");
  CHECK_EQUAL(rules("every 5 days BasedAt 10th"), "every(day 5 anchor=10)");
  CHECK_EQUAL(rules("every 2 wks AnchoredAt SUN"), "every(week 2 anchor=1)");
  CHECK_EQUAL(rules("every 2 months BasedOn JUL"), "every(month 2 anchor=7)");
  CHECK_EQUAL(rules("every 2 months AnchoredIn Feb"),
              "every(month 2 anchor=2)");
  CHECK_EQUAL(rules("every 2 months BasedIn 3"), "every(month 2 anchor=3)");
  CHECK_EQUAL(rules("every 12 months anchoredOn JANUARY"),
              "every(month 12 anchor=1)");
  MESSAGE("anchors that are not integers or names are kept but unused");
  CHECK_EQUAL(rules("every 3 days AnchoredAt 12:00"),
              "every(day 3 anchor='12:00')");
  CHECK_EQUAL(rules("every 3 days AnchoredOn Mon"),
              "every(day 3 anchor='MON')");
}

TEST(at on and in are synonyms) {
  CHECK_EQUAL(rules("at 10:30"), "at(hour 10) at(minute 30)");
  CHECK_EQUAL(rules("on 10:30"), "at(hour 10) at(minute 30)");
  CHECK_EQUAL(rules("in 10:30"), "at(hour 10) at(minute 30)");
  CHECK(sched_equal("at 10:30", "@In 10:30"));
}

TEST(bracket lists become one list rule with positions) {
  CHECK_EQUAL(rules("at [10:30, 11:30, 12:30]"),
              "list(minute=[30, 30, 30]; hour=[10, 11, 12])");
  CHECK_EQUAL(rules("at [1st 3am, 3rd 10pm]"), "list(hour=[3, 22]; day=[1, 3])");
  CHECK_EQUAL(rules("at day [10, 11, 12]"), "list(day=[10, 11, 12])");
  CHECK_EQUAL(rules("on days [1, 3]"), "list(day=[1, 3])");
  CHECK_EQUAL(rules("on [mon, wed, fri]"), "list(weekday=[Mon, Wed, Fri])");
  CHECK_EQUAL(rules("on [JAN-01, FEB-01]"), "list(day=[1, 1]; month=[Jan, Feb])");
  MESSAGE("no space is needed around brackets and commas");
  CHECK_EQUAL(rules("at[10:30,11:30]"), "list(minute=[30, 30]; hour=[10, 11])");
  MESSAGE("the docs call [1st, January] invalid; the reference accepts it");
  CHECK_EQUAL(rules("on [1st, January]"), "list(day=[1]; month=[Jan])");
}

TEST(between from and upto become range rules) {
  CHECK_EQUAL(rules("every hour between 09:00 and 17:30"),
              "every(hour 1) between(hour 9..17; minute 0..30)");
  CHECK_EQUAL(rules("every day between mon and fri"),
              "every(day 1) between(weekday Mon..Fri)");
  CHECK_EQUAL(rules("every day between Jan and Mar"),
              "every(day 1) between(month Jan..Mar)");
  CHECK_EQUAL(rules("every 5 hours between hr 10 and 20"),
              "every(hour 5) between(hour 10..20)");
  CHECK_EQUAL(rules("every day between 1st Jan and 31st Dec"),
              "every(day 1) between(month Jan..Dec; day 1..31)");
  CHECK_EQUAL(rules("every 10 minutes between [10:10am and 10:30am, 11:00am "
                    "and 11:30am]"),
              "every(minute 10) between[(hour 10..10; minute 10..30), (hour "
              "11..11; minute 0..30)]");
  CHECK_EQUAL(rules("every 25 minutes from 10:15pm"),
              "every(minute 25) between(hour 22..Last; minute 15..Last)");
  CHECK_EQUAL(rules("every 25 minutes upto 10:15am"),
              "every(minute 25) between(hour First..10; minute First..15)");
  CHECK_EQUAL(rules("every day from jan upto dec"),
              "every(day 1) between(month Jan..Last) between(month First..Dec)");
  CHECK_EQUAL(rules("every 10 seconds upto min 45"),
              "every(second 10) between(minute First..45)");
}

TEST(tz and timezone take an iana id in any case) {
  CHECK_EQUAL(rules("daily tz UTC"), "every(day 1) tz(UTC)");
  CHECK_EQUAL(rules("daily timezone europe/lisbon"),
              "every(day 1) tz(Europe/Lisbon)");
  CHECK_EQUAL(rules("daily @TimeZone America/New_York"),
              "every(day 1) tz(America/New_York)");
  CHECK_EQUAL(rules("daily @TZ asia/TOKYO"), "every(day 1) tz(Asia/Tokyo)");
  MESSAGE("links are ids too, and ids with '+' are joined back together");
  CHECK_EQUAL(rules("daily tz Japan"), "every(day 1) tz(Japan)");
  CHECK_EQUAL(rules("daily tz Etc/GMT+5"), "every(day 1) tz(Etc/GMT+5)");
  CHECK(is_known_time_zone("europe/LISBON"));
  CHECK(!is_known_time_zone("Mars/Olympus"));
}

// -- values -------------------------------------------------------------------

TEST(clock times in 24 and 12 hour forms) {
  CHECK_EQUAL(rules("at 10:30"), "at(hour 10) at(minute 30)");
  CHECK_EQUAL(rules("at 10:30pm"), "at(hour 22) at(minute 30)");
  CHECK_EQUAL(rules("at 12:30am"), "at(hour 0) at(minute 30)");
  CHECK_EQUAL(rules("at 12:30pm"), "at(hour 12) at(minute 30)");
  CHECK_EQUAL(rules("at 2:00:10pm"),
              "at(hour 14) at(minute 0) at(second 10)");
  CHECK_EQUAL(rules("at 10:30:25 am"),
              "at(hour 10) at(minute 30) at(second 25)");
  CHECK_EQUAL(rules("at 9pm"), "at(hour 21)");
  CHECK_EQUAL(rules("at 9 pm"), "at(hour 21)");
  CHECK_EQUAL(rules("at 3am"), "at(hour 3)");
  CHECK_EQUAL(rules("at 12am"), "at(hour 0)");
  CHECK_EQUAL(rules("at 12PM"), "at(hour 12)");
  MESSAGE("no range check: 17:30pm is hour 29 and never matches");
  CHECK_EQUAL(rules("at 17:30pm"), "at(hour 29) at(minute 30)");
}

TEST(unit value pairs and ordinals) {
  CHECK_EQUAL(rules("on day 5"), "at(day 5)");
  CHECK_EQUAL(rules("on days 5"), "at(day 5)");
  CHECK_EQUAL(rules("on dy 5"), "at(day 5)");
  CHECK_EQUAL(rules("on 5th"), "at(day 5)");
  CHECK_EQUAL(rules("on 21th"), "at(day 21)");
  CHECK_EQUAL(rules("on 1st"), "at(day 1)");
  CHECK_EQUAL(rules("on 22nd"), "at(day 22)");
  CHECK_EQUAL(rules("on 3rd"), "at(day 3)");
  CHECK_EQUAL(rules("at 8hr"), "at(hour 8)");
  CHECK_EQUAL(rules("at min 45"), "at(minute 45)");
  CHECK_EQUAL(rules("at sec 10"), "at(second 10)");
  CHECK_EQUAL(rules("at 0sec"), "at(second 0)");
  CHECK_EQUAL(rules("in month 5"), "at(month May)");
  CHECK_EQUAL(rules("in year 2030"), "at(year 2030)");
  MESSAGE("number, space, unit splits into two groups (1.0 grouping)");
  CHECK_EQUAL(error_of("at 0 sec"), "3: invalid time unit");
}

TEST(weekday and month names in short and long forms) {
  CHECK_EQUAL(rules("on mon"), "at(weekday Mon)");
  CHECK_EQUAL(rules("on sunday"), "at(weekday Sun)");
  CHECK_EQUAL(rules("on WEDNESDAY"), "at(weekday Wed)");
  CHECK_EQUAL(rules("in may"), "at(month May)");
  CHECK_EQUAL(rules("in june"), "at(month Jun)");
  CHECK_EQUAL(rules("in oct"), "at(month Oct)");
  CHECK_EQUAL(rules("in JANUARY"), "at(month Jan)");
  CHECK_EQUAL(rules("in September"), "at(month Sep)");
}

TEST(dashed dates) {
  CHECK_EQUAL(rules("on JUN-11"), "at(month Jun) at(day 11)");
  CHECK_EQUAL(rules("on 06-11"), "at(month Jun) at(day 11)");
  CHECK_EQUAL(rules("in 2020-11"), "at(year 2020) at(month Nov)");
  CHECK_EQUAL(rules("at 2020-01-01 10:10:10"),
              "at(year 2020) at(month Jan) at(day 1) at(hour 10) at(minute 10) "
              "at(second 10)");
  CHECK_EQUAL(rules("on 2020-january-11 12:10:10pm"),
              "at(year 2020) at(month Jan) at(day 11) at(hour 12) at(minute "
              "10) at(second 10)");
  CHECK_EQUAL(rules("on 2023-01-23 14:00"),
              "at(year 2023) at(month Jan) at(day 23) at(hour 14) at(minute 0)");
  CHECK_EQUAL(rules("on JAN-23 14:00:10"),
              "at(month Jan) at(day 23) at(hour 14) at(minute 0) at(second "
              "10)");
  CHECK_EQUAL(rules("on 2023 - 01"), "at(year 2023) at(month Jan)");
  MESSAGE("month and day need exactly two characters");
  CHECK_EQUAL(error_of("at 2023-1-5"),
              "3: Invalid format yyyy-MM or yyyy-MM-dd or MM-dd");
  CHECK_EQUAL(error_of("on JAN-5"),
              "3: Invalid format yyyy-MM or yyyy-MM-dd or MM-dd");
  CHECK_EQUAL(error_of("on 2023-"),
              "3: Invalid format yyyy-MM or yyyy-MM-dd or MM-dd");
  CHECK_EQUAL(error_of("on 2023-01-01-01"),
              "3: Invalid format yyyy-MM or yyyy-MM-dd or MM-dd");
}

TEST(dates with ordinals and context units) {
  CHECK_EQUAL(rules("on 1st jan 2021 10:30pm"),
              "at(day 1) at(month Jan) at(year 2021) at(hour 22) at(minute "
              "30)");
  CHECK_EQUAL(rules("on 21th jan"), "at(day 21) at(month Jan)");
  CHECK_EQUAL(rules("on Feb 29th 14:00"),
              "at(month Feb) at(day 29) at(hour 14) at(minute 0)");
  CHECK_EQUAL(rules("at 21 10:10:10"),
              "at(day 21) at(hour 10) at(minute 10) at(second 10)");
  CHECK_EQUAL(rules("on monday 3am"), "at(weekday Mon) at(hour 3)");
  MESSAGE("'January 1st 2023' puts the year in the month slot (reference)");
  CHECK_EQUAL(error_of("on January 1st 2023"),
              "0: Duplicate At/On/In rules for the same time unit are not "
              "allowed.");
}

TEST(special days) {
  CHECK_EQUAL(rules("on LastDay"), "at(day Last)");
  CHECK_EQUAL(rules("on LastDayOfMonth"), "at(day Last)");
  CHECK_EQUAL(rules("on LastDayOfTheMonth"), "at(day Last)");
  CHECK_EQUAL(rules("on FirstDay"), "at(day First)");
  CHECK_EQUAL(rules("on FirstDayOfMonth"), "at(day First)");
  CHECK_EQUAL(rules("on FirstOfTheMonth"), "at(day First)");
  CHECK_EQUAL(rules("on Last day"), "at(day Last)");
  CHECK_EQUAL(rules("on day first"), "at(day First)");
  CHECK_EQUAL(rules("on LastWeekday"), "at(day LastWeekday)");
  CHECK_EQUAL(rules("on FirstWeekday"), "at(day FirstWeekday)");
  CHECK_EQUAL(rules("on ClosestWeekdayTo 15th"), "at(day ClosestWeekdayTo 15)");
  CHECK_EQUAL(rules("on ClosestWeekDayTo 29"), "at(day ClosestWeekdayTo 29)");
  CHECK_EQUAL(rules("on 1stMonday 3am"), "at(day 1stMon) at(hour 3)");
  CHECK_EQUAL(rules("on FirstWeekday 3am"), "at(day FirstWeekday) at(hour 3)");
  CHECK_EQUAL(rules("on LastDay 10am"), "at(day Last) at(hour 10)");
  CHECK_EQUAL(rules("on 2ndTue"), "at(day 2ndTue)");
  CHECK_EQUAL(rules("on ThirdFriday"), "at(day 3rdFri)");
  CHECK_EQUAL(rules("on FourthThu"), "at(day 4thThu)");
  CHECK_EQUAL(rules("on 5thSat"), "at(day 5thSat)");
  CHECK_EQUAL(rules("on LastSunday"), "at(day LastSun)");
  CHECK_EQUAL(rules("on SecondMon"), "at(day 2ndMon)");
}

TEST(offsets on special days) {
  CHECK_EQUAL(rules("on LastDay - 1"), "at(day Last-1)");
  CHECK_EQUAL(rules("on LastDay-1"), "at(day Last-1)");
  CHECK_EQUAL(rules("on FirstDayOfMonth + 5"), "at(day First+5)");
  CHECK_EQUAL(rules("on day Last - 5"), "at(day Last-5)");
  CHECK_EQUAL(rules("on day first + 5"), "at(day First+5)");
  CHECK_EQUAL(rules("on FirstWeekday +2"), "at(day FirstWeekday+2)");
  CHECK_EQUAL(rules("on LastWeekday -2"), "at(day LastWeekday-2)");
  CHECK_EQUAL(rules("on ThirdFriday +1"), "at(day 3rdFri+1)");
  CHECK_EQUAL(rules("on LastMonday - 1"), "at(day LastMon-1)");
}

TEST(keywords are case insensitive and the at sign is optional) {
  CHECK(sched_equal("every day at 10:30", "EVERY DAY AT 10:30"));
  CHECK(sched_equal("every day at 10:30", "@every day @at 10:30"));
  CHECK(sched_equal("every day at 10:30", "@EVERY Day @At 10:30PM")
        == false);
  CHECK(sched_equal("@every 2 weeks anchoredOn monday @between january and "
                    "march @timezone utc",
                    "every 2 wks AnchoredOn Mon between jan and mar tz UTC"));
  CHECK(sched_equal("@Secondly", "every 1 second"));
  MESSAGE("clause order is free; shortcuts equal every clauses");
  CHECK(sched_equal("every day at 10:00", "at 10:00 daily"));
  CHECK(sched_equal("every day at 10:00", "daily at 10:00"));
}

TEST(separators between clauses) {
  CHECK(sched_equal("@every 2 days, @at [10:10, 11:10]",
                    "every 2 days at [10:10, 11:10]"));
  CHECK(sched_equal("every 2 days;at 10:10", "every 2 days at 10:10"));
  CHECK(sched_equal("  every 2 days\tat 10:10\n", "every 2 days at 10:10"));
  CHECK(sched_equal("every   2   days   at   10:10", "every 2 days at 10:10"));
  MESSAGE("tokens before the first clause are dropped (reference quirk)");
  CHECK(sched_equal("10 every day", "every day"));
}

// -- errors -------------------------------------------------------------------

TEST(invalid tokens report their position) {
  CHECK_EQUAL(error_of("every 1.5 hours"), "7: Invalid token '.'");
  CHECK_EQUAL(error_of("@every week @foo bar"), "12: Invalid token '@foo'");
  CHECK_EQUAL(error_of("every fortnight"), "6: Invalid token 'fortnight'");
  CHECK_EQUAL(error_of("every day at 10:30 (local)"), "19: Invalid token '('");
  CHECK_EQUAL(error_of("every day ]"), "10: Missing open brackets");
  CHECK_EQUAL(error_of("@ every day"), "0: Invalid token '@'");
  CHECK_EQUAL(error_of("every day tz Mars/Olympus"),
              "13: Invalid token 'Mars/Olympus'");
  CHECK_EQUAL(error_of("every 21stMon"), "8: Invalid token 'stMon'");
  auto x = parse("every 1.5 hours");
  REQUIRE(!x);
  CHECK_EQUAL(x.error().position, 7u);
  CHECK(!x.error().expected.empty());
}

TEST(clause errors report their position and expectation) {
  CHECK_EQUAL(error_of("every"), "5: Invalid every expression");
  CHECK_EQUAL(error_of("every 5"), "6: Invalid every expression");
  CHECK_EQUAL(error_of("every and"), "6: Invalid every expression");
  CHECK_EQUAL(error_of("every x2 days"), "6: Invalid token 'x'");
  CHECK_EQUAL(error_of("every day at 10:"),
              "16: Invalid format it should be HH:MM:SS or HH:MM");
  CHECK_EQUAL(error_of("every day at 1:2:3:4"),
              "13: Invalid format it should be HH:MM:SS or HH:MM");
  MESSAGE("a unit word without a number is an empty, invalid value");
  CHECK_EQUAL(error_of("at 10:30 day"),
              "9: At/On/In rule 'at 10:30 day' is not valid.");
  CHECK_EQUAL(error_of("at 5"), "3: invalid time unit");
  CHECK_EQUAL(error_of("at [10:30, 11]"), "11: invalid time unit");
  CHECK_EQUAL(error_of("at [10:30, 11:30:15]"),
              "0: Invalid at, on, in expression. Multiple values must have "
              "the same number of time units");
  CHECK_EQUAL(error_of("at []"),
              "0: Invalid at, on, in expression. The list is empty");
  CHECK_EQUAL(error_of("every day between 10:00"),
              "10: Invalid between expression. must have a 'and' between "
              "start and end");
  CHECK_EQUAL(error_of("every day between 10:00 and mon"),
              "24: Invalid between expression. start and end must have the "
              "same number of time units");
  CHECK_EQUAL(error_of("every day between 10 am and mon"),
              "28: Invalid between expression. start and end must have the "
              "same time units");
  CHECK_EQUAL(error_of("daily tz"), "8: Invalid tz expression");
  auto x = parse("every day between 10:00");
  REQUIRE(!x);
  CHECK_EQUAL(x.error().expected,
              "'and' between the start and the end of the range");
}

TEST(validation errors use the reference messages) {
  CHECK_EQUAL(error_of("@tz America/Los_Angeles"),
              "0: At least one At/On/In or "
              "Every/Secondly/Minutely/Hourly/Daily/Weekly/Monthly/Yearly is "
              "required.");
  CHECK_EQUAL(error_of("every day hourly"),
              "10: Duplicate "
              "Every/Secondly/Minutely/Hourly/Daily/Weekly/Monthly/Yearly "
              "rule is not allowed.");
  CHECK_EQUAL(error_of("@every 2 days @on 5th"),
              "14: You cannot use an At/On/In rules at the same time unit as "
              "an 'every X' rule except for week.");
  CHECK_EQUAL(error_of("every hour at 10:30"),
              "11: You cannot use an At/On/In rules at the same time unit as "
              "an 'every X' rule except for week.");
  CHECK_EQUAL(error_of("@every Week AnchoredOn Friday @on Monday "),
              "30: You cannot combine an 'every week' + anchored rule with an "
              "At/On/In rule for weeks.");
  CHECK_EQUAL(error_of("@on monday @on tuesday"),
              "11: Duplicate At/On/In rules for the same time unit are not "
              "allowed.");
  CHECK_EQUAL(error_of("@on monday @between 1st and 5th @between 10th and "
                       "15th"),
              "11: Between rules is not allowed without "
              "Every/Secondly/Minutely/Hourly/Daily/Weekly/Monthly/Yearly "
              "rule.");
  CHECK_EQUAL(error_of("@every 0 days"),
              "0: Every value cannot be less than or equal to 0.");
  CHECK_EQUAL(error_of("every month on LastMon at 10:00"), "ok");
  CHECK_EQUAL(error_of("every hour on FirstDay+"),
              "14: At/On/In rule 'on FirstDay+' is not valid.");
  CHECK_EQUAL(error_of("every month at LastDay+"),
              "15: At/On/In rule 'at LastDay+' is not valid.");
  MESSAGE("every week without anchor may be combined with weekdays");
  CHECK_EQUAL(error_of("every week on tuesday"), "ok");
}

TEST(wrap around ranges are rejected) {
  CHECK_EQUAL(error_of("every hour between 10pm and 2am"),
              "11: Between rule ranges are invalid for between 10pm and 2am");
  CHECK_EQUAL(error_of("every day between friday and monday"),
              "10: Between rule ranges are invalid for between friday and "
              "monday");
  CHECK_EQUAL(error_of("every day between Jul and Feb"),
              "10: Between rule ranges are invalid for between Jul and Feb");
  CHECK_EQUAL(error_of("every hour between [10pm and 11pm, 12am and 2am]"),
              "ok");
}

TEST(out of range numbers parse but never match) {
  CHECK_EQUAL(error_of("at 25:00"), "ok");
  CHECK_EQUAL(error_of("on 45th"), "ok");
  auto s = jm::cron::test::sched("at 25:00");
  CHECK(!next_occurrence(s, jm::cron::test::utc("2025-01-01 00:00:00")));
}

// -- robustness ---------------------------------------------------------------

TEST(huge inputs are rejected or handled in bounded time) {
  CHECK_EQUAL(error_of(std::string(20000, ' ')), "16384: Expression too long");
  CHECK_EQUAL(error_of("at " + std::string(16000, ',')),
              "0: At least one At/On/In or "
              "Every/Secondly/Minutely/Hourly/Daily/Weekly/Monthly/Yearly is "
              "required.");
  CHECK_EQUAL(error_of("every " + std::string(15000, '7') + " days"),
              "6: Invalid every expression");
  std::string list = "every hour at [";
  for (int i = 0; i < 1500; ++i) {
    if (i > 0)
      list += ", ";
    list += "min " + std::to_string(i % 60);
  }
  list += "]";
  auto x = parse(list);
  REQUIRE(x.has_value());
  CHECK(next_occurrence(*x, jm::cron::test::utc("2025-01-01 00:00:00"))
          .has_value());
}

TEST(no input crashes or hangs the parser) {
  const std::vector<std::string> words = {
    "every", "@every", "at", "on", "in", "between", "and", "from", "upto",
    "tz", "daily", "hourly", "monthly", "weekly", "yearly", "secondly",
    "minutely", "day", "days", "week", "month", "year", "hour", "min", "sec",
    "st", "th", "mon", "friday", "jan", "may", "LastDay", "FirstDay", "Last",
    "First", "LastWeekday", "FirstWeekday", "ClosestWeekdayTo", "1stMon",
    "LastFri", "AnchoredOn", "BasedAt", "am", "pm", "UTC", "Europe/Lisbon",
    "0", "1", "5", "10", "12", "29", "31", "2024", "99999999999", "-", "+",
    ":", ",", "[", "]", ";", "\t", " ", "@", ".", "x", "10:30", "2024-02-29",
    "\xc3\xa9", std::string(1, '\0')};
  std::mt19937 rng{42};
  std::uniform_int_distribution<std::size_t> pick{0, words.size() - 1};
  std::uniform_int_distribution<int> length{0, 12};
  std::uniform_int_distribution<int> coin{0, 3};
  int parsed = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string text;
    for (int n = length(rng); n > 0; --n) {
      text += words[pick(rng)];
      if (coin(rng) != 0)
        text += ' ';
    }
    auto x = parse(text);
    if (!x) {
      CHECK(x.error().position <= text.size());
      continue;
    }
    ++parsed;
    search_options opts;
    opts.limit = jm::cron::test::utc("2031-01-01 00:00:00");
    auto t = jm::cron::test::utc("2024-02-28 23:59:59");
    for (int k = 0; k < 3; ++k) {
      auto r = next_occurrence(*x, t, opts);
      if (!r)
        break;
      if (*r <= t) {
        CAF_FAIL("not strictly after the reference: " << text);
      }
      t = *r;
    }
  }
  MESSAGE(parsed << " of 4000 random inputs parsed");
  CHECK(parsed > 0);
}
