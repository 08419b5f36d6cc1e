#define CAF_SUITE cron.builder

#include "cron/builder.hpp"

#include "tests/cron/test.hpp"

using namespace jm::cron;

namespace {

/// The builder's text must parse, and to the same rules as `expected_rules`
/// (an equivalent hand-written expression).
void round_trip(const builder& b, std::string_view expected_text,
                std::string_view expected_rules) {
  auto text = b.to_string();
  CHECK_EQUAL(text, std::string{expected_text});
  auto built = b.build();
  if (!built) {
    CAF_FAIL("'" << text << "' does not parse: " << to_string(built.error()));
  }
  auto hand = parse(expected_rules);
  if (!hand) {
    CAF_FAIL("'" << std::string{expected_rules}
                 << "' does not parse: " << to_string(hand.error()));
  }
  if (!(*built == *hand))
    CAF_MESSAGE(to_debug_string(*built) << " != " << to_debug_string(*hand));
  CHECK(*built == *hand);
}

} // namespace

TEST(every part) {
  round_trip(every().day(), "Every Day", "every day");
  round_trip(every(1).minutes(), "Every 1 Minute", "every 1 minute");
  round_trip(every(2).days(), "Every 2 Days", "every 2 days");
  round_trip(every(10).days(), "Every 10 Days", "every 10 days");
  round_trip(every().week(), "Every Week", "weekly");
  round_trip(every().month(), "Every Month", "monthly");
  round_trip(every().year(), "Every Year", "yearly");
  round_trip(every().second(), "Every Second", "secondly");
  round_trip(every().minute(), "Every Minute", "minutely");
  round_trip(every().hour(), "Every Hour", "hourly");
  round_trip(every(5).seconds(), "Every 5 Seconds", "every 5 sec");
  round_trip(every(4).hours(), "Every 4 Hours", "every 4 hr");
  round_trip(every(6).months(), "Every 6 Months", "every 6 mths");
  round_trip(every(2).years(), "Every 2 Years", "every 2 yrs");
  round_trip(yearly(), "Yearly", "every year");
  round_trip(monthly(), "Monthly", "every month");
  round_trip(weekly(), "Weekly", "every week");
  round_trip(daily(), "Daily", "every day");
  round_trip(hourly(), "Hourly", "every hour");
  round_trip(minutely(), "Minutely", "every minute");
  round_trip(secondly(), "Secondly", "every second");
  round_trip(builder{}.use_ampersat_prefix().every().day(), "@Every Day",
             "every day");
  round_trip(builder{}.use_ampersat_prefix().daily(), "@Daily", "daily");
  MESSAGE("a second every method replaces the first");
  round_trip(every(2).days().hourly(), "Hourly", "hourly");
}

TEST(anchors) {
  round_trip(every(3).weeks().anchored_on(weekday::friday),
             "Every 3 Weeks AnchoredOn Fri", "every 3 weeks AnchoredOn Fri");
  round_trip(builder{}.use_week_full_name().every(2).weeks().anchored_on(
               weekday::monday),
             "Every 2 Weeks AnchoredOn Monday", "every 2 wks BasedOn Mon");
  round_trip(every(2).months().anchored_in(month::february),
             "Every 2 Months AnchoredIn Feb", "every 2 months AnchoredIn 2");
  round_trip(every(3).days().anchored_at("12:00"),
             "Every 3 Days AnchoredAt 12:00", "every 3 days AnchoredAt 12:00");
  round_trip(every(2).days().anchored_on(15), "Every 2 Days AnchoredOn 15th",
             "every 2 days AnchoredOn 15");
  round_trip(every(3).weeks().anchored_in(5), "Every 3 Weeks AnchoredIn 5",
             "every 3 weeks AnchoredOn Thu");
  round_trip(every(30).seconds().anchored_at(15),
             "Every 30 Seconds AnchoredAt 15", "every 30 sec BasedAt 15");
  round_trip(every(6).hours().anchored_at("09:00"),
             "Every 6 Hours AnchoredAt 09:00", "every 6 hours BasedAt 09:00");
}

TEST(point filters) {
  round_trip(builder{}.on(weekday::monday), "On Mon", "on monday");
  round_trip(builder{}.on(weekday::sunday), "On Sun", "on sun");
  round_trip(builder{}.on({"mon", "wed", "fri"}), "On [mon, wed, fri]",
             "on [Monday, Wednesday, Friday]");
  round_trip(builder{}.on({"mon"}), "On mon", "on mon");
  round_trip(builder{}.in(month::january), "In Jan", "in january");
  round_trip(builder{}.use_week_full_name().on(weekday::monday), "On Monday",
             "on mon");
  round_trip(builder{}.use_month_full_name().in(month::january), "In January",
             "in jan");
  round_trip(builder{}.use_month_full_name().in(month::may), "In may",
             "in May");
  round_trip(builder{}.use_week_full_name().use_month_full_name()
               .on(weekday::friday)
               .in(month::december),
             "On Friday In December", "on fri in dec");
  round_trip(builder{}.at_time(10, 30), "At 10:30", "at 10:30");
  round_trip(builder{}.at_time(10, 30, 45), "At 10:30:45", "at 10:30:45");
  round_trip(builder{}.at_time(2, 15, am_pm::pm), "At 02:15pm", "at 14:15");
  round_trip(builder{}.at_time(11, 0, 30, am_pm::am), "At 11:00:30am",
             "at 11:00:30");
  round_trip(builder{}.at_day(15), "At 15th", "on day 15");
  round_trip(builder{}.at(month::december, 25), "At 25th Dec", "on 25th december");
  round_trip(builder{}.at_day_position(day_position::first_day), "At FirstDay",
             "on first day");
  round_trip(builder{}.at_day_position(day_position::last_day), "At LastDay",
             "on LastDayOfMonth");
  round_trip(builder{}.at_day_position(day_position::first_weekday),
             "At FirstWeekday", "on FirstWeekday");
  round_trip(builder{}.at_day_position(day_position::last_weekday),
             "At LastWeekday", "on LastWeekday");
  round_trip(builder{}.on_nth_weekday(nth::first, weekday::monday), "On 1stMon",
             "on FirstMonday");
  round_trip(builder{}.on_nth_weekday(nth::second, weekday::friday),
             "On 2ndFri", "on SecondFri");
  round_trip(builder{}.on_nth_weekday(nth::fifth, weekday::saturday),
             "On 5thSat", "on FifthSaturday");
  round_trip(builder{}.on_nth_weekday(nth::last, weekday::sunday), "On LastSun",
             "on LastSunday");
  round_trip(builder{}.on_closest_weekday_to(15), "On ClosestWeekdayTo 15th",
             "on ClosestWeekdayTo 15");
  round_trip(builder{}.on_closest_weekday_to(22), "On ClosestWeekdayTo 22nd",
             "on ClosestWeekdayTo 22");
}

TEST(ordinals) {
  const std::pair<int, const char*> cases[]
    = {{1, "At 1st"},   {2, "At 2nd"},   {3, "At 3rd"},   {4, "At 4th"},
       {11, "At 11th"}, {12, "At 12th"}, {13, "At 13th"}, {21, "At 21st"},
       {22, "At 22nd"}, {23, "At 23rd"}, {31, "At 31st"}};
  for (auto [day, text] : cases) {
    auto b = builder{}.at_day(day);
    CHECK_EQUAL(b.to_string(), std::string{text});
    auto x = b.build();
    REQUIRE(x.has_value());
    CHECK_EQUAL(to_debug_string(*x), "at(day " + std::to_string(day) + ")");
  }
}

TEST(range filters) {
  round_trip(every().day().between(month::january, month::march),
             "Every Day Between Jan and Mar", "every day between month 1 and 3");
  round_trip(every().day().from(month::january).upto(month::december),
             "Every Day From Jan Upto Dec", "daily from jan upto dec");
  round_trip(hourly().between_time(9, 0, 17, 30),
             "Hourly Between 09:00 and 17:30",
             "every hour between 9:00 and 17:30");
  round_trip(hourly().between_time(9, 0, 30, 17, 30, 0),
             "Hourly Between 09:00:30 and 17:30:00",
             "every hour between 9:00:30 and 17:30:00");
  round_trip(hourly().from_time(9, 0), "Hourly From 09:00",
             "every hour from 9:00");
  round_trip(hourly().upto_time(17, 30, 0, am_pm::pm),
             "Hourly Upto 17:30:00pm", "every hour upto 29:30:00");
  round_trip(every().day().from(month::january, 1), "Every Day From 1st Jan",
             "every day from jan-01");
  round_trip(every().day().upto(month::december, 31), "Every Day Upto 31st Dec",
             "every day upto dec-31");
  round_trip(daily().between(month::january, 1, month::december, 31),
             "Daily Between 1st Jan and 31st Dec",
             "daily between JAN-01 and DEC-31");
  round_trip(daily().from(weekday::monday), "Daily From Mon",
             "daily from monday");
  round_trip(daily().upto(weekday::friday), "Daily Upto Fri",
             "daily upto friday");
  round_trip(every(2).days().between(weekday::monday, weekday::friday),
             "Every 2 Days Between Mon and Fri",
             "every 2 days between monday and friday");
  round_trip(hourly().from_day(5), "Hourly From 5th", "hourly from day 5");
  round_trip(hourly().upto_day(25), "Hourly Upto 25th", "hourly upto day 25");
  round_trip(every().day().between(
               {{"Jan", "Mar"}, {"Jun", "Aug"}, {"Nov", "Dec"}}),
             "Every Day Between [Jan and Mar, Jun and Aug, Nov and Dec]",
             "every day between [january and march, june and august, "
             "november and december]");
  round_trip(every().minute().between("10:00am", "12:00pm"),
             "Every Minute Between 10:00am and 12:00pm",
             "every minute between 10:00 and 12:00");
  round_trip(every(10).seconds().upto("min 45"), "Every 10 Seconds Upto min 45",
             "every 10 sec upto minute 45");
  round_trip(daily().at_time(12, 0).between(weekday::sunday, weekday::monday),
             "Daily At 12:00 Between Sun and Mon",
             "every day at 12:00 between sun and mon");
}

TEST(time zone and combinations) {
  round_trip(every().day().tz("America/New_York"),
             "Every Day TimeZone America/New_York",
             "every day tz america/new_york");
  round_trip(every().hour().with_time_zone("UTC"), "Every Hour TimeZone UTC",
             "hourly timezone utc");
  MESSAGE("the time zone is always last, the every part always first");
  round_trip(builder{}.tz("Europe/London").between_time(10, 0, 22, 0).every(15)
               .minutes()
               .use_ampersat_prefix(),
             "@Every 15 Minutes @Between 10:00 and 22:00 @TimeZone "
             "Europe/London",
             "every 15 minutes between 10:00 and 22:00 tz Europe/London");
  round_trip(builder{}
               .use_ampersat_prefix()
               .use_month_full_name()
               .every(2)
               .weeks()
               .anchored_on("Monday")
               .between(month::march, month::november)
               .at_time(9, 30, 0, am_pm::am)
               .tz("America/New_York"),
             "@Every 2 Weeks AnchoredOn Monday @Between March and November "
             "@At 09:30:00am @TimeZone America/New_York",
             "every 2 weeks AnchoredOn Mon between mar and nov at 9:30:00 tz "
             "America/New_York");
  round_trip(every(3).months().anchored_in(month::february).from(
               month::february).upto(month::december),
             "Every 3 Months AnchoredIn Feb From Feb Upto Dec",
             "every 3 months AnchoredIn 2 from February upto December");
  round_trip(every(4).hours().anchored_at("08:00").from_time(9, 0),
             "Every 4 Hours AnchoredAt 08:00 From 09:00",
             "every 4 hours AnchoredAt 08:00 from 9:00");
  MESSAGE("the example from the job system's documentation");
  round_trip(every(30).minutes().in(month::january).between_time(9, 0, 18, 0),
             "Every 30 Minutes In Jan Between 09:00 and 18:00",
             "every 30 minutes in Jan between 09:00 and 18:00");
  round_trip(every(1).day().at_time(10, 30), "Every 1 Day At 10:30",
             "every day at 10:30");
}

TEST(build reports parse errors) {
  auto x = every(2).days().on("5th").build();
  REQUIRE(!x);
  CHECK_EQUAL(x.error().message,
              "You cannot use an At/On/In rules at the same time unit as an "
              "'every X' rule except for week.");
  CHECK(!builder{}.between_time(9, 0, 17, 0).build());
  CHECK(!builder{}.build());
}
