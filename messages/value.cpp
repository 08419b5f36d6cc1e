#include "messages/value.hpp"

#include "messages/error.hpp"

#include <charconv>
#include <cstdio>

namespace jm {

std::string_view type_name(const value& x) {
  static constexpr std::string_view names[]
    = {"string", "int", "double", "bool", "timestamp", "bytes", "uuid"};
  return names[x.index()];
}

std::string to_string(const value& x) {
  struct visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      return buf;
    }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(timestamp t) const { return format_timestamp(t); }
    std::string operator()(const bytes& b) const {
      static constexpr char hex[] = "0123456789abcdef";
      std::string out;
      for (auto c : b) {
        out += hex[c >> 4];
        out += hex[c & 0x0f];
      }
      return out;
    }
    std::string operator()(const uuid& u) const { return jm::to_string(u); }
  };
  return std::visit(visitor{}, x);
}

namespace {

caf::error bad_pair(std::string_view text, std::string_view why) {
  return make_error(ec::invalid_argument, "invalid key=value '"
                                            + std::string{text}
                                            + "': " + std::string{why});
}

} // namespace

caf::expected<std::pair<std::string, value>>
parse_key_value(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos)
    return bad_pair(text, "missing '='");
  auto key = text.substr(0, eq);
  auto raw = text.substr(eq + 1);
  std::string_view type = "string";
  if (auto colon = key.find(':'); colon != std::string_view::npos) {
    type = key.substr(colon + 1);
    key = key.substr(0, colon);
  }
  if (key.empty())
    return bad_pair(text, "empty key");
  auto result = [&](value v) {
    return std::pair<std::string, value>{std::string{key}, std::move(v)};
  };
  if (type == "string" || type == "str")
    return result(std::string{raw});
  if (type == "int") {
    int64_t n = 0;
    auto [p, e] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
    if (e != std::errc{} || p != raw.data() + raw.size() || raw.empty())
      return bad_pair(text, "not a 64-bit integer");
    return result(n);
  }
  if (type == "double") {
    std::string copy{raw};
    char* end = nullptr;
    double d = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size())
      return bad_pair(text, "not a number");
    return result(d);
  }
  if (type == "bool") {
    if (raw == "true")
      return result(true);
    if (raw == "false")
      return result(false);
    return bad_pair(text, "a bool is true or false");
  }
  if (type == "time") {
    auto t = parse_timestamp(raw);
    if (!t)
      return t.error();
    return result(*t);
  }
  if (type == "uuid") {
    auto u = parse_uuid(raw);
    if (!u)
      return u.error();
    return result(*u);
  }
  if (type == "bytes") {
    if (raw.size() % 2 != 0)
      return bad_pair(text, "bytes are an even number of hex digits");
    bytes b;
    for (size_t i = 0; i < raw.size(); i += 2) {
      unsigned v = 0;
      auto [p, e] = std::from_chars(raw.data() + i, raw.data() + i + 2, v, 16);
      if (e != std::errc{} || p != raw.data() + i + 2)
        return bad_pair(text, "bytes are hex digits");
      b.push_back(static_cast<uint8_t>(v));
    }
    return result(std::move(b));
  }
  return bad_pair(text, "unknown type '" + std::string{type}
                          + "' (string, int, double, bool, time, bytes, uuid)");
}

} // namespace jm
