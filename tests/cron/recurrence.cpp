#define CAF_SUITE cron.recurrence

#include "cron/recurrence.hpp"

#include "tests/cron/test.hpp"

#include <algorithm>

// The plug-in point: expression types by name, built in and registered.

using namespace jm::cron;
using namespace std::chrono_literals;

namespace {

// 2025-01-01T00:00:00Z.
const instant t0{std::chrono::seconds{1'735'689'600}};

} // namespace

TEST(the built in types compile by name in any case) {
  auto types = expression_types();
  CHECK(std::find(types.begin(), types.end(), "naturalcron") != types.end());
  CHECK(std::find(types.begin(), types.end(), "interval") != types.end());
  auto cron = compile("NaturalCron", "every 2 hours");
  REQUIRE(cron);
  CHECK_EQUAL(cron->type(), "naturalcron");
  CHECK(cron->next(t0) == t0 + 2h);
  auto every = compile("interval", "00:00:01.5");
  REQUIRE(every);
  CHECK_EQUAL(every->expression(), "00:00:01.5000000");
  CHECK(every->next(t0) == t0 + 1500ms);
}

TEST(natural cron uses the default zone unless the expression names one) {
  auto tokyo = compile("naturalcron", "every day at 9:00:00", "Asia/Tokyo");
  REQUIRE(tokyo);
  CHECK(tokyo->next(t0) == t0 + 24h);
  auto own
    = compile("naturalcron", "every day at 9:00:00 tz UTC", "Asia/Tokyo");
  REQUIRE(own);
  CHECK(own->next(t0) == t0 + 9h);
  auto bad = compile("naturalcron", "every day", "Mars/Base");
  REQUIRE(!bad);
  CHECK(bad.error().message.find("Mars/Base") != std::string::npos);
}

TEST(unknown types and bad text are parse errors) {
  auto unknown = compile("quartz", "0 0 * * *");
  REQUIRE(!unknown);
  CHECK(unknown.error().message.find("known: ") != std::string::npos);
  auto bad = compile("naturalcron", "every 2 sec0nds");
  REQUIRE(!bad);
  CHECK_EQUAL(bad.error().position, 12u);
  CHECK(!compile("interval", "5 minutes"));
}

TEST(a registered type compiles like a built in one) {
  // A toy type: "+N" fires every N minutes, counted from the reference.
  register_expression_type(
    "Minutes",
    [](std::string_view text, std::string_view) -> result<recurrence> {
      if (text.size() < 2 || text[0] != '+')
        return parse_error{0, "'+' and a number", "Expected +N."};
      auto n = std::stoi(std::string{text.substr(1)});
      return recurrence{"minutes", std::string{text},
                        [n](instant after) -> std::optional<instant> {
                          return after + std::chrono::minutes{n};
                        }};
    });
  auto x = compile("minutes", "+15");
  REQUIRE(x);
  CHECK(x->next(t0) == t0 + 15min);
  auto types = expression_types();
  CHECK(std::find(types.begin(), types.end(), "minutes") != types.end());
  CHECK(!compile("MINUTES", "15"));
}
