#include "messages/uuid.hpp"

#include "messages/error.hpp"

#include <random>

namespace jm {

uuid uuid::random() {
  // One generator per thread: schedulers on several threads never contend.
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  uuid result;
  for (size_t i = 0; i < 16; i += 8) {
    auto x = gen();
    for (size_t j = 0; j < 8; ++j)
      result.bytes[i + j] = static_cast<uint8_t>(x >> (8 * j));
  }
  result.bytes[6] = static_cast<uint8_t>((result.bytes[6] & 0x0f) | 0x40);
  result.bytes[8] = static_cast<uint8_t>((result.bytes[8] & 0x3f) | 0x80);
  return result;
}

bool uuid::is_nil() const {
  for (auto b : bytes)
    if (b != 0)
      return false;
  return true;
}

std::string to_string(const uuid& x) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    out += hex[x.bytes[i] >> 4];
    out += hex[x.bytes[i] & 0x0f];
  }
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

caf::expected<uuid> parse_uuid(std::string_view text) {
  auto fail = [&] {
    return make_error(ec::invalid_argument,
                      "invalid id '" + std::string{text}
                        + "': expected a UUID like "
                          "0b7c8f5e-3c1d-4e0a-9d6f-2a1b3c4d5e6f");
  };
  bool dashed = text.size() == 36;
  if (!dashed && text.size() != 32)
    return fail();
  uuid result;
  size_t pos = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (dashed && (i == 4 || i == 6 || i == 8 || i == 10)) {
      if (text[pos] != '-')
        return fail();
      ++pos;
    }
    auto hi = hex_value(text[pos]);
    auto lo = hex_value(text[pos + 1]);
    if (hi < 0 || lo < 0)
      return fail();
    result.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    pos += 2;
  }
  return result;
}

} // namespace jm
