#pragma once

// Parser of NaturalCron expressions. Internal header.

#include "cron/detail/model.hpp"
#include "cron/result.hpp"

#include <cstddef>
#include <string_view>

namespace jm::cron::detail {

/// Longer inputs are rejected (keeps every step of parsing and searching
/// cheap; real expressions are a few dozen bytes).
inline constexpr std::size_t max_expression_length = 16 * 1024;

/// Tokenizes, parses and validates `text`.
result<schedule_data> parse_schedule(std::string_view text);

} // namespace jm::cron::detail
