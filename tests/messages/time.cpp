#define CAF_SUITE messages.time
#include "tests/support/test.hpp"

#include "messages/time.hpp"
#include "messages/uuid.hpp"

#include <chrono>
#include <cstdint>
#include <random>
#include <set>
#include <string>

using namespace jm;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

int64_t us(std::string_view text) {
  return test::unbox(parse_duration(text)).count();
}

bool duration_rejected(std::string_view text) {
  auto x = parse_duration(text);
  if (x) {
    MESSAGE("duration '" << std::string{text} << "' was accepted as "
                         << x->count() << "us");
    return false;
  }
  return code_of(x.error()) == ec::invalid_argument
         && describe(x.error()).find(std::string{text}) != std::string::npos;
}

timestamp at(year_month_day ymd, microseconds since_midnight = 0us) {
  return time_point_cast<microseconds>(sys_days{ymd}) + since_midnight;
}

int64_t ts(std::string_view text) {
  return to_micros(test::unbox(parse_timestamp(text)));
}

bool time_rejected(std::string_view text) {
  auto x = parse_timestamp(text);
  if (x) {
    MESSAGE("time '" << std::string{text} << "' was accepted as "
                     << format_timestamp(*x));
    return false;
  }
  return code_of(x.error()) == ec::invalid_argument;
}

constexpr int64_t sec = 1'000'000;

} // namespace

// -- durations ----------------------------------------------------------------

TEST(durations accept every unit) {
  CHECK_EQUAL(us("7us"), 7);
  CHECK_EQUAL(us("250ms"), 250'000);
  CHECK_EQUAL(us("30s"), 30 * sec);
  CHECK_EQUAL(us("5m"), 300 * sec);
  CHECK_EQUAL(us("5min"), 300 * sec);
  CHECK_EQUAL(us("2h"), 7200 * sec);
  CHECK_EQUAL(us("2d"), 2 * 86400 * sec);
  CHECK_EQUAL(us("0s"), 0);
  CHECK_EQUAL(us("0"), 0);
}

TEST(duration units are case insensitive) {
  CHECK_EQUAL(us("1H"), 3600 * sec);
  CHECK_EQUAL(us("10MS"), 10'000);
  CHECK_EQUAL(us("3Us"), 3);
  CHECK_EQUAL(us("1D"), 86400 * sec);
}

TEST(durations combine units) {
  CHECK_EQUAL(us("1h30m"), 5400 * sec);
  CHECK_EQUAL(us("1m30s"), 90 * sec);
  CHECK_EQUAL(us("1s500ms"), 1'500'000);
  CHECK_EQUAL(us("1d2h3m4s5ms6us"), ((26 * 60 + 3) * 60 + 4) * sec + 5'000 + 6);
  // Repeated or unordered units add up.
  CHECK_EQUAL(us("30m1h"), 5400 * sec);
  CHECK_EQUAL(us("1s1s"), 2 * sec);
}

TEST(a bare number means seconds) {
  CHECK_EQUAL(us("45"), 45 * sec);
  CHECK_EQUAL(us("007"), 7 * sec);
  CHECK(duration_rejected("45 "));
  CHECK(duration_rejected("1.5"));
  CHECK(duration_rejected("5 s"));
  CHECK(duration_rejected("15 30s"));
  // A bare number stands alone: "1h30" is more likely a typo than 1h0m30s.
  CHECK(duration_rejected("1h30"));
  CHECK(duration_rejected("30s15"));
}

TEST(durations up to 100 years are accepted and longer ones rejected) {
  constexpr int64_t max_us = int64_t{100} * 365 * 24 * 3600 * sec;
  CHECK_EQUAL(us("36500d"), max_us);
  CHECK_EQUAL(us("876000h"), max_us);
  CHECK(duration_rejected("36501d"));
  CHECK(duration_rejected("36500d1us"));
  CHECK(duration_rejected("36499d48h"));
  CHECK(duration_rejected("3153600000000001us"));
  CHECK(duration_rejected("9223372036854775807us"));
  // Does not fit into 64 bits at all: an error, not a wrap-around.
  CHECK(duration_rejected("99999999999999999999s"));
  CHECK(duration_rejected("9223372036854775808"));
  CHECK(duration_rejected("18446744073709551616us"));
  CHECK(duration_rejected("106751991167d"));
}

TEST(bad durations are rejected with the input in the text) {
  for (auto bad : {"",    "s",     "ms",   "-5s",  "+5s",    "5x",     "5sec",
                   "5 ",  " 5s",   "5s ",  "1w",   "5mins",  "1h-30m", "abc",
                   "5s!", "0x10s", "1e3s", "1,5s", "5hours", "--1s"})
    CHECK(duration_rejected(bad));
}

TEST(durations format in the same notation) {
  CHECK_EQUAL(format_duration(0us), "0s");
  CHECK_EQUAL(format_duration(250ms), "250ms");
  CHECK_EQUAL(format_duration(30s), "30s");
  CHECK_EQUAL(format_duration(90min), "1h30m");
  CHECK_EQUAL(format_duration(48h), "2d");
  CHECK_EQUAL(format_duration(1us), "1us");
  CHECK_EQUAL(format_duration(24h + 1us), "1d1us");
  CHECK_EQUAL(format_duration(1500ms), "1s500ms");
  CHECK_EQUAL(format_duration(-5s), "-5s");
}

TEST(durations survive format and parse) {
  std::mt19937_64 gen{42};
  std::uniform_int_distribution<int64_t> dist{0,
                                              int64_t{100} * 365 * 86400 * sec};
  std::vector<jm::duration> samples{0us,  1us, 999us, 1ms,       1s,   59s,
                                    1min, 1h,  24h,   24h + 1us, 90min};
  for (int i = 0; i < 200; ++i)
    samples.emplace_back(dist(gen));
  for (auto d : samples) {
    auto text = format_duration(d);
    auto back = parse_duration(text);
    REQUIRE(back);
    if (*back != d)
      MESSAGE(d.count() << "us formats as '" << text << "' and parses as "
                        << back->count() << "us");
    CHECK_EQUAL(back->count(), d.count());
  }
}

// -- timestamps ---------------------------------------------------------------

TEST(timestamps in UTC) {
  auto expected = at(2026y / 11 / 28, 10h);
  CHECK_EQUAL(ts("2026-11-28T10:00:00Z"), to_micros(expected));
  CHECK_EQUAL(ts("2026-11-28t10:00:00z"), to_micros(expected));
  CHECK_EQUAL(ts("2026-11-28 10:00:00"), to_micros(expected));
  CHECK_EQUAL(ts("2026-11-28T10:00:00"), to_micros(expected));
  CHECK_EQUAL(ts("2026-11-28T10:00Z"), to_micros(expected));
  CHECK_EQUAL(ts("2026-11-28"), to_micros(at(2026y / 11 / 28)));
  CHECK_EQUAL(ts("1970-01-01T00:00:00Z"), 0);
  CHECK_EQUAL(ts("2026-11-28T23:59:59Z"),
              to_micros(at(2026y / 11 / 28, 23h + 59min + 59s)));
}

TEST(timestamps with offsets) {
  auto nine = to_micros(at(2026y / 11 / 28, 9h));
  CHECK_EQUAL(ts("2026-11-28T10:00:00+01:00"), nine);
  CHECK_EQUAL(ts("2026-11-28T10:00:00+0100"), nine);
  CHECK_EQUAL(ts("2026-11-28T04:30:00-04:30"), nine);
  CHECK_EQUAL(ts("2026-11-28T09:00:00+00:00"), nine);
  CHECK_EQUAL(ts("2026-11-28T09:00:00-00:00"), nine);
  // Offsets move across midnight and month ends.
  CHECK_EQUAL(ts("2026-12-01T00:30:00+01:00"),
              to_micros(at(2026y / 11 / 30, 23h + 30min)));
  CHECK_EQUAL(ts("2026-12-31T23:00:00-02:00"),
              to_micros(at(2027y / 1 / 1, 1h)));
}

TEST(timestamps with fractions) {
  auto ten = at(2026y / 11 / 28, 10h);
  CHECK_EQUAL(ts("2026-11-28T10:00:00.250Z"), to_micros(ten + 250ms));
  CHECK_EQUAL(ts("2026-11-28T10:00:00.5Z"), to_micros(ten + 500ms));
  CHECK_EQUAL(ts("2026-11-28T10:00:00.000001Z"), to_micros(ten + 1us));
  CHECK_EQUAL(ts("2026-11-28T10:00:00.123456Z"), to_micros(ten + 123456us));
  // Beyond microseconds, digits are cut off, not rounded.
  CHECK_EQUAL(ts("2026-11-28T10:00:00.1234569Z"), to_micros(ten + 123456us));
  CHECK_EQUAL(ts("2026-11-28T11:00:00.250+01:00"), to_micros(ten + 250ms));
}

TEST(leap days are valid only in leap years) {
  CHECK_EQUAL(ts("2024-02-29"), to_micros(at(2024y / 2 / 29)));
  CHECK_EQUAL(ts("2000-02-29"), to_micros(at(2000y / 2 / 29)));
  CHECK(time_rejected("2026-02-29"));
  CHECK(time_rejected("1900-02-29"));
}

TEST(invalid dates and times are rejected) {
  for (auto bad :
       {"2026-02-30", "2026-04-31", "2026-13-01", "2026-00-10", "2026-11-00",
        "2026-11-32", "2026-11-28T24:00:00Z", "2026-11-28T10:60:00Z",
        "2026-11-28T10:00:60Z", "2026-11-28T10:00:00+24:00",
        "2026-11-28T10:00:00+01:60", "2026-11-28T10:00:00+01",
        "2026-11-28T10:00:00+1:00", "2026-11-28T10:00:00.Z", "2026-11-28T10",
        "2026-11-28T", "2026-11-28T10:0", "2026-11-28T10:00:0Z"})
    CHECK(time_rejected(bad));
}

TEST(garbage is not a timestamp) {
  for (auto bad :
       {"", "garbage", "now", "26-11-28", "2026/11/28", "2026-1-28",
        "2026-11-8", "20261128", "2026-11-28X10:00:00",
        "2026-11-28T10:00:00Zjunk", "2026-11-28T10:00:00 Z", " 2026-11-28",
        "2026-11-28 ", "2026-11-28T10:00:00ZZ", "2026-11-28T10:00:00+01:00:00",
        "1700000000", "2026-11-28T10:00:00 +01:00", "2026-11-28T10-00-00"})
    CHECK(time_rejected(bad));
  auto x = parse_timestamp("garbage");
  REQUIRE(!x);
  CHECK(describe(x.error()).find("'garbage'") != std::string::npos);
}

TEST(timestamps format as ISO 8601 in UTC) {
  CHECK_EQUAL(format_timestamp(at(2026y / 11 / 28, 10h)),
              "2026-11-28T10:00:00Z");
  CHECK_EQUAL(format_timestamp(at(2026y / 11 / 28, 10h + 250ms)),
              "2026-11-28T10:00:00.250000Z");
  CHECK_EQUAL(format_timestamp(at(2026y / 11 / 28, 10h + 1us)),
              "2026-11-28T10:00:00.000001Z");
  CHECK_EQUAL(format_timestamp(from_micros(0)), "1970-01-01T00:00:00Z");
  CHECK_EQUAL(format_timestamp(from_micros(-500'000)),
              "1969-12-31T23:59:59.500000Z");
}

TEST(timestamps survive format and parse) {
  std::mt19937_64 gen{7};
  // 1900 .. 2200
  std::uniform_int_distribution<int64_t> dist{-2'208'988'800 * sec,
                                              7'258'118'400 * sec};
  std::vector<timestamp> samples{from_micros(0), from_micros(1),
                                 from_micros(-1), at(2024y / 2 / 29, 23h),
                                 at(2026y / 12 / 31, 23h + 59min + 59s)};
  for (int i = 0; i < 500; ++i)
    samples.push_back(from_micros(dist(gen)));
  for (auto t : samples) {
    auto text = format_timestamp(t);
    auto back = parse_timestamp(text);
    if (!back)
      MESSAGE("cannot parse '" << text << "'");
    REQUIRE(back);
    CHECK_EQUAL(to_micros(*back), to_micros(t));
  }
}

TEST(micros conversions are inverse) {
  for (int64_t x :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'700'000'000'000'000}}) {
    CHECK_EQUAL(to_micros(from_micros(x)), x);
  }
  auto a = now();
  auto b = now();
  CHECK(a <= b);
  CHECK(to_micros(a) > 1'700'000'000'000'000);
}

// -- uuids --------------------------------------------------------------------

TEST(uuids print in canonical form) {
  uuid x;
  for (size_t i = 0; i < 16; ++i)
    x.bytes[i] = static_cast<uint8_t>(i * 17);
  CHECK_EQUAL(to_string(x), "00112233-4455-6677-8899-aabbccddeeff");
  CHECK_EQUAL(to_string(uuid{}), "00000000-0000-0000-0000-000000000000");
  CHECK(uuid{}.is_nil());
  CHECK(!x.is_nil());
}

TEST(uuids parse dashed and undashed in any case) {
  uuid x;
  for (size_t i = 0; i < 16; ++i)
    x.bytes[i] = static_cast<uint8_t>(i * 17);
  CHECK(test::unbox(parse_uuid("00112233-4455-6677-8899-aabbccddeeff")) == x);
  CHECK(test::unbox(parse_uuid("00112233-4455-6677-8899-AABBCCDDEEFF")) == x);
  CHECK(test::unbox(parse_uuid("00112233445566778899aabbccddeeff")) == x);
  CHECK(test::unbox(parse_uuid("00112233445566778899AaBbCcDdEeFf")) == x);
  for (int i = 0; i < 100; ++i) {
    auto r = uuid::random();
    CHECK(test::unbox(parse_uuid(to_string(r))) == r);
  }
}

TEST(bad uuids are rejected) {
  for (auto bad :
       {"", "0", "00112233-4455-6677-8899-aabbccddeef",
        "00112233-4455-6677-8899-aabbccddeeff0",
        "0011223344556677-8899-aabbccddeeff",
        "00112233-4455-6677-8899_aabbccddeeff",
        "001122334-455-6677-8899-aabbccddeeff",
        "00112233-4455-6677-8899-aabbccddeegf",
        "00112233445566778899aabbccddeefg", "00112233445566778899aabbccddeef",
        "{00112233-4455-6677-8899-aabbccddee}",
        "0x112233445566778899aabbccddeeff", " 0112233445566778899aabbccddeeff",
        "00112233-4455-6677-8899-aabbccddee-f"}) {
    auto x = parse_uuid(bad);
    if (x)
      MESSAGE("'" << bad << "' was accepted");
    REQUIRE(!x);
    CHECK_EQUAL(code_of(x.error()), ec::invalid_argument);
  }
}

TEST(random uuids are version 4 and distinct) {
  std::set<uuid> seen;
  for (int i = 0; i < 1000; ++i) {
    auto x = uuid::random();
    CHECK_EQUAL(x.bytes[6] >> 4, 4);
    CHECK_EQUAL(x.bytes[8] & 0xc0, 0x80);
    CHECK(seen.insert(x).second);
  }
}
