#define CAF_SUITE messages.value
#include "tests/support/test.hpp"

#include "messages/value.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

using namespace jm;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

std::pair<std::string, value> kv(std::string_view text) {
  return test::unbox(parse_key_value(text));
}

std::string type_of(std::string_view text) {
  return std::string{type_name(kv(text).second)};
}

template <class T>
T as(std::string_view text) {
  auto [key, val] = kv(text);
  auto p = std::get_if<T>(&val);
  if (p == nullptr)
    FAIL("'" << std::string{text} << "' did not parse as the expected type");
  return *p;
}

bool rejected(std::string_view text) {
  auto x = parse_key_value(text);
  if (x) {
    MESSAGE("'" << std::string{text} << "' was accepted as "
                << std::string{type_name(x->second)} << " "
                << to_string(x->second));
    return false;
  }
  return code_of(x.error()) == ec::invalid_argument;
}

std::string why(std::string_view text) {
  auto x = parse_key_value(text);
  if (x)
    return "accepted";
  return describe(x.error());
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST(a key without a type is a string) {
  auto [key, val] = kv("name=alice");
  CHECK_EQUAL(key, "name");
  CHECK_EQUAL(type_name(val), "string");
  CHECK_EQUAL(std::get<std::string>(val), "alice");
  CHECK_EQUAL(as<std::string>("n=5"), "5");
  CHECK_EQUAL(as<std::string>("empty="), "");
  // Only the first '=' separates key and value.
  CHECK_EQUAL(as<std::string>("expr=a=b"), "a=b");
  CHECK_EQUAL(as<std::string>("s:string=5"), "5");
  CHECK_EQUAL(as<std::string>("s:str=x y"), "x y");
  auto [s_key, s_val] = kv("s:string=5");
  CHECK_EQUAL(s_key, "s");
}

TEST(int values) {
  CHECK_EQUAL(as<int64_t>("n:int=5"), 5);
  CHECK_EQUAL(as<int64_t>("n:int=-42"), -42);
  CHECK_EQUAL(as<int64_t>("n:int=0"), 0);
  CHECK_EQUAL(as<int64_t>("n:int=9223372036854775807"),
              std::numeric_limits<int64_t>::max());
  CHECK_EQUAL(as<int64_t>("n:int=-9223372036854775808"),
              std::numeric_limits<int64_t>::min());
  auto [n_key, n_val] = kv("n:int=5");
  CHECK_EQUAL(n_key, "n");
  for (auto bad : {"n:int=", "n:int=5x", "n:int=x5", "n:int=1.5",
                   "n:int=9223372036854775808", "n:int=0x10", "n:int= 5",
                   "n:int=5 ", "n:int=+5", "n:int=--5"})
    CHECK(rejected(bad));
  CHECK(contains(why("n:int=5x"), "not a 64-bit integer"));
  CHECK(contains(why("n:int=5x"), "'n:int=5x'"));
}

TEST(double values) {
  CHECK_EQUAL(as<double>("x:double=1.5"), 1.5);
  CHECK_EQUAL(as<double>("x:double=-2e3"), -2000.0);
  CHECK_EQUAL(as<double>("x:double=7"), 7.0);
  CHECK_EQUAL(as<double>("x:double=0.1"), 0.1);
  for (auto bad : {"x:double=", "x:double=abc", "x:double=1.5x", "x:double=1,5",
                   "x:double=1.5 "})
    CHECK(rejected(bad));
  CHECK(contains(why("x:double=abc"), "not a number"));
}

TEST(bool values) {
  CHECK_EQUAL(as<bool>("ok:bool=true"), true);
  CHECK_EQUAL(as<bool>("ok:bool=false"), false);
  for (auto bad : {"ok:bool=", "ok:bool=True", "ok:bool=1", "ok:bool=yes",
                   "ok:bool=true "})
    CHECK(rejected(bad));
  CHECK(contains(why("ok:bool=1"), "true or false"));
}

TEST(time values) {
  auto t = as<timestamp>("at:time=2026-11-28T10:00:00Z");
  CHECK_EQUAL(format_timestamp(t), "2026-11-28T10:00:00Z");
  auto u = as<timestamp>("at:time=2026-11-28T11:00:00.5+01:00");
  CHECK_EQUAL(to_micros(u) - to_micros(t), 500'000);
  CHECK(rejected("at:time=yesterday"));
  CHECK(rejected("at:time=2026-02-30"));
  CHECK(rejected("at:time="));
  CHECK(contains(why("at:time=yesterday"), "yesterday"));
}

TEST(bytes values) {
  CHECK(as<bytes>("raw:bytes=deadBEEF") == (bytes{0xde, 0xad, 0xbe, 0xef}));
  CHECK(as<bytes>("raw:bytes=00ff10") == (bytes{0x00, 0xff, 0x10}));
  CHECK(as<bytes>("raw:bytes=").empty());
  for (auto bad :
       {"raw:bytes=abc", "raw:bytes=zz", "raw:bytes=0g", "raw:bytes=+f",
        "raw:bytes=-1", "raw:bytes= f", "raw:bytes=0x"})
    CHECK(rejected(bad));
  CHECK(contains(why("raw:bytes=abc"), "even number"));
  CHECK(contains(why("raw:bytes=zz"), "hex"));
}

TEST(uuid values) {
  auto id = as<uuid>("id:uuid=0b7c8f5e-3c1d-4e0a-9d6f-2a1b3c4d5e6f");
  CHECK_EQUAL(to_string(id), "0b7c8f5e-3c1d-4e0a-9d6f-2a1b3c4d5e6f");
  CHECK(as<uuid>("id:uuid=0B7C8F5E3C1D4E0A9D6F2A1B3C4D5E6F") == id);
  CHECK(rejected("id:uuid=0b7c8f5e"));
  CHECK(rejected("id:uuid="));
}

TEST(malformed pairs are rejected with a reason) {
  CHECK(rejected("novalue"));
  CHECK(contains(why("novalue"), "missing '='"));
  CHECK(rejected(""));
  CHECK(rejected("=5"));
  CHECK(contains(why("=5"), "empty key"));
  CHECK(rejected(":int=5"));
  CHECK(contains(why(":int=5"), "empty key"));
  CHECK(rejected("k:float=1"));
  CHECK(contains(why("k:float=1"), "unknown type 'float'"));
  CHECK(contains(why("k:float=1"), "string, int, double, bool, time, bytes"));
  CHECK(rejected("k:=1"));
  CHECK(rejected("k:INT=1"));
}

TEST(every alternative has a type name) {
  CHECK_EQUAL(type_name(value{std::string{"x"}}), "string");
  CHECK_EQUAL(type_name(value{int64_t{1}}), "int");
  CHECK_EQUAL(type_name(value{1.5}), "double");
  CHECK_EQUAL(type_name(value{true}), "bool");
  CHECK_EQUAL(type_name(value{from_micros(0)}), "timestamp");
  CHECK_EQUAL(type_name(value{bytes{1}}), "bytes");
  CHECK_EQUAL(type_name(value{uuid{}}), "uuid");
  CHECK_EQUAL(type_of("a=1"), "string");
  CHECK_EQUAL(type_of("a:int=1"), "int");
  CHECK_EQUAL(type_of("a:double=1"), "double");
  CHECK_EQUAL(type_of("a:bool=true"), "bool");
  CHECK_EQUAL(type_of("a:time=2026-01-01"), "timestamp");
  CHECK_EQUAL(type_of("a:bytes=00"), "bytes");
  CHECK_EQUAL(type_of("a:uuid=00000000000000000000000000000000"), "uuid");
}

TEST(values render for people) {
  CHECK_EQUAL(to_string(value{std::string{"hi"}}), "hi");
  CHECK_EQUAL(to_string(value{int64_t{-7}}), "-7");
  CHECK_EQUAL(to_string(value{1.5}), "1.5");
  CHECK_EQUAL(to_string(value{0.1}), "0.10000000000000001");
  CHECK_EQUAL(to_string(value{true}), "true");
  CHECK_EQUAL(to_string(value{false}), "false");
  CHECK_EQUAL(to_string(value{from_micros(0)}), "1970-01-01T00:00:00Z");
  CHECK_EQUAL(to_string(value{bytes{0x00, 0xab, 0x7f}}), "00ab7f");
  CHECK_EQUAL(to_string(value{bytes{}}), "");
  CHECK_EQUAL(to_string(value{uuid{}}), "00000000-0000-0000-0000-000000000000");
}

TEST(rendered values parse back with their type suffix) {
  value_map xs{{"s", std::string{"text"}},
               {"i", int64_t{-123}},
               {"d", 0.1},
               {"b", true},
               {"t", from_micros(1'700'000'000'123'456)},
               {"r", bytes{0xde, 0xad}},
               {"u", uuid::random()}};
  const std::map<std::string, std::string> suffix{
    {"string", "string"}, {"int", "int"},        {"double", "double"},
    {"bool", "bool"},     {"timestamp", "time"}, {"bytes", "bytes"},
    {"uuid", "uuid"}};
  for (auto& [key, val] : xs) {
    auto text = key + ":" + suffix.at(std::string{type_name(val)}) + "="
                + to_string(val);
    auto [k, v] = kv(text);
    CHECK_EQUAL(k, key);
    if (v != val)
      MESSAGE("'" << text << "' does not parse back");
    CHECK(v == val);
  }
}

TEST(typed lookup in a value map) {
  value_map xs{{"n", int64_t{5}}, {"s", std::string{"x"}}};
  REQUIRE(get_if<int64_t>(xs, "n") != nullptr);
  CHECK_EQUAL(*get_if<int64_t>(xs, "n"), 5);
  CHECK(get_if<std::string>(xs, "n") == nullptr);
  CHECK(get_if<int64_t>(xs, "missing") == nullptr);
  REQUIRE(get_if<std::string>(xs, "s") != nullptr);
  CHECK_EQUAL(*get_if<std::string>(xs, "s"), "x");
}
