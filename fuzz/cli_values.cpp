// Fuzz target: the command-line value parsers of messages/*.hpp.
//
// The whole input is given, as text, to parse_duration, parse_timestamp,
// parse_key_value, parse_uuid, parse_job_status and parse_priority. Besides
// "no crash", the round trips through the formatters are checked where the
// formatter promises "the same notation":
//  - format_duration(d) parses back to d;
//  - format_timestamp(t) parses back to t (for years 0000..9999, the range
//    the four-digit notation can express);
//  - to_string(uuid) parses back to the same uuid;
//  - to_string(status/priority) parses back to the same enumerator.
// A broken property calls abort().

#include "messages/job.hpp"
#include "messages/time.hpp"
#include "messages/uuid.hpp"
#include "messages/value.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what, std::string_view input,
                       const std::string& detail = {}) {
  std::fprintf(stderr, "cli_values: %s\ninput: '%.*s'\n%s\n", what,
               static_cast<int>(input.size()), input.data(), detail.c_str());
  std::abort();
}

void check_duration(std::string_view text) {
  auto d = jm::parse_duration(text);
  if (!d)
    return;
  if (d->count() < 0)
    fail("parse_duration returned a negative duration", text);
  auto formatted = jm::format_duration(*d);
  auto e = jm::parse_duration(formatted);
  if (!e || *e != *d)
    fail("format_duration does not parse back", text, formatted);
}

void check_timestamp(std::string_view text) {
  using namespace std::chrono;
  auto t = jm::parse_timestamp(text);
  if (!t)
    return;
  auto formatted = jm::format_timestamp(*t);
  year_month_day ymd{floor<days>(*t)};
  if (ymd.year() < year{0} || ymd.year() > year{9999})
    return; // an offset moved it out of the four-digit range
  auto u = jm::parse_timestamp(formatted);
  if (!u || *u != *t)
    fail("format_timestamp does not parse back", text, formatted);
}

void check_key_value(std::string_view text) {
  auto kv = jm::parse_key_value(text);
  if (!kv)
    return;
  if (kv->first.empty())
    fail("parse_key_value returned an empty key", text);
  (void)jm::to_string(kv->second);
  (void)jm::type_name(kv->second);
}

void check_uuid(std::string_view text) {
  auto id = jm::parse_uuid(text);
  if (!id)
    return;
  auto formatted = jm::to_string(*id);
  auto again = jm::parse_uuid(formatted);
  if (!again || *again != *id)
    fail("to_string(uuid) does not parse back", text, formatted);
}

void check_enums(std::string_view text) {
  if (auto s = jm::parse_job_status(text)) {
    auto again = jm::parse_job_status(jm::to_string(*s));
    if (!again || *again != *s)
      fail("to_string(job_status) does not parse back", text);
  }
  if (auto p = jm::parse_priority(text)) {
    auto again = jm::parse_priority(jm::to_string(*p));
    if (!again || *again != *p)
      fail("to_string(priority) does not parse back", text);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  check_duration(text);
  check_timestamp(text);
  check_key_value(text);
  check_uuid(text);
  check_enums(text);
  return 0;
}
