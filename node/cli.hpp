#pragma once

#include "messages/api.hpp"

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace jm::cli {

// Parsing of CLI arguments into requests; kept apart from main() so that the
// tests can feed it bad input.

struct schedule_args {
  std::string handler;
  std::vector<std::string> data;
  std::vector<std::string> metadata;
  std::string at;
  std::string after;
  std::string priority;
  std::string lane;
  bool lane_set = false;
  std::string timeout;
  int max_retries = -1;
  // Recurring: exactly one of `every` (NaturalCron) and `interval`.
  std::string every;
  std::string interval;
  std::string tz;
  std::string start_after;
  std::string end_before;
  std::string catch_up;
  uint32_t catch_up_limit = 100;
  std::string overlap;
};

caf::expected<job_spec> make_spec(const schedule_args& args);

/// True when the arguments ask for a recurring schedule.
bool is_recurring(const schedule_args& args);

/// The recurring schedule of `schedule --every/--interval`.
caf::expected<recurring_spec> make_recurring_spec(const schedule_args& args);

/// `host:port`, `:port` or `host` (port 4710). Port 0 ("any free port") is
/// allowed only where the node listens, not where a client connects.
caf::expected<std::pair<std::string, uint16_t>>
parse_endpoint(const std::string& text, bool allow_port_zero = false);

/// `--at` value: an ISO-8601 time, or `now`, or `+30s` (relative).
caf::expected<timestamp> parse_when(const std::string& text);

} // namespace jm::cli
