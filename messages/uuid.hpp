#pragma once

#include <caf/expected.hpp>

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace jm {

/// A random (version 4) UUID; job and schedule ids are UUIDs.
struct uuid {
  std::array<uint8_t, 16> bytes{};

  /// A fresh random id.
  static uuid random();

  bool is_nil() const;

  friend auto operator<=>(const uuid&, const uuid&) = default;
};

/// Canonical text form: 8-4-4-4-12 lowercase hex digits.
std::string to_string(const uuid& x);

/// Accepts the canonical form (any case) or 32 hex digits without dashes.
caf::expected<uuid> parse_uuid(std::string_view text);

using job_id = uuid;

} // namespace jm
