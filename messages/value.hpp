#pragma once

#include "messages/time.hpp"
#include "messages/uuid.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jm {

using bytes = std::vector<uint8_t>;

/// One typed value of message data or metadata. Every alternative survives a
/// round trip through the wire format and every store unchanged (bytes stay
/// bytes, timestamps stay timestamps: the original turns both into strings).
using value
  = std::variant<std::string, int64_t, double, bool, timestamp, bytes, uuid>;

/// String-keyed bag of values: a job's message data or its metadata.
using value_map = std::map<std::string, value, std::less<>>;

/// Name of the held alternative: string, int, double, bool, timestamp,
/// bytes, uuid.
std::string_view type_name(const value& x);

/// Renders a value for people (bytes as hex, timestamps in ISO-8601).
std::string to_string(const value& x);

/// Parses `key=value` as given on the command line. The value is typed by an
/// optional suffix on the key (`n:int=5`, `ok:bool=true`, `at:time=...`,
/// `raw:bytes=deadbeef`, `id:uuid=...`, `x:double=1.5`, `s:string=5`);
/// without a suffix it is a string.
caf::expected<std::pair<std::string, value>>
parse_key_value(std::string_view text);

/// Returns a typed pointer to a value in `map`, or nullptr when the key is
/// absent or holds another type.
template <class T>
const T* get_if(const value_map& map, std::string_view key) {
  auto i = map.find(key);
  return i == map.end() ? nullptr : std::get_if<T>(&i->second);
}

} // namespace jm
