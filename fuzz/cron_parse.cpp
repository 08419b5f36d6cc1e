// Fuzz target: NaturalCron expressions and TimeSpan intervals (jm::cron).
//
// The whole input is given, as text, to both parsers:
//  - jm::cron::parse; when it accepts, three successive occurrences after a
//    fixed instant are searched, and the documented guarantees are checked:
//    results are strictly increasing and strictly after the reference;
//  - jm::cron::parse_interval; when it accepts, the interval is at least one
//    second and its canonical text parses back to the same interval.
// A broken property calls abort(), so the replay test and libFuzzer both
// report it.

#include "cron/interval.hpp"
#include "cron/schedule.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "cron_parse: %s\ninput: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

// 2024-03-10 06:59:30 UTC: 30 s before the spring-forward gap of
// America/New_York, so `tz` clauses get DST edge cases for free.
jm::cron::time_point reference() {
  using namespace std::chrono;
  return sys_days{year{2024} / March / 10} + hours{6} + minutes{59}
         + seconds{30};
}

void check_schedule(std::string_view text) {
  auto sched = jm::cron::parse(text);
  if (!sched) {
    (void)jm::cron::to_string(sched.error());
    return;
  }
  (void)jm::cron::to_debug_string(*sched);
  auto after = reference();
  auto xs = jm::cron::next_occurrences(*sched, after, 3);
  if (xs.size() > 3)
    fail("next_occurrences returned more than 3 results", text);
  auto prev = after;
  for (auto x : xs) {
    if (x <= prev)
      fail("occurrences are not strictly increasing after the reference", text);
    prev = x;
  }
}

void check_interval(std::string_view text) {
  auto x = jm::cron::parse_interval(text);
  if (!x) {
    (void)jm::cron::to_string(x.error());
    return;
  }
  if (x->duration() < std::chrono::seconds{1})
    fail("parse_interval accepted an interval below 1 s", text);
  auto canonical = jm::cron::to_string(*x);
  auto y = jm::cron::parse_interval(canonical);
  if (!y)
    fail(("the canonical text '" + canonical + "' does not parse").c_str(),
         text);
  if (!(*y == *x))
    fail(("the canonical text '" + canonical + "' parses to another interval")
           .c_str(),
         text);
  auto base = std::chrono::system_clock::time_point{}
              + std::chrono::hours{24 * 365 * 50};
  if (auto next = jm::cron::next_occurrence(*x, base); next && *next <= base)
    fail("the next interval occurrence is not after the cursor", text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  check_schedule(text);
  check_interval(text);
  return 0;
}
