#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace jm {

/// The project's one error enum. Numbers are append-only: they cross the wire.
enum class ec : uint8_t {
  none = 0,
  /// A value from outside (CLI, config, request) is malformed or out of range.
  invalid_argument = 1,
  /// No handler is registered under the requested name.
  unknown_handler = 2,
  /// No job has the requested id.
  unknown_job = 3,
  /// The job's encoded data and metadata exceed the cluster's size limit.
  payload_too_large = 4,
  /// The requested status change is not allowed from the job's status.
  illegal_transition = 5,
  /// Somebody else changed the job since it was read (fencing token moved).
  version_conflict = 6,
  /// The store failed (I/O, SQL error, corrupt row).
  store_failure = 7,
  /// Bytes from the network or a store do not decode to a valid message.
  malformed_message = 8,
  /// The node, master or store cannot be reached.
  unavailable = 9,
  /// The configuration is invalid.
  invalid_config = 10,
  /// The cluster refuses the operation in its current mode or state.
  refused = 11,
  /// No recurring schedule has the given id.
  unknown_schedule = 12,
};

/// The CAF error category of `ec`.
constexpr std::string_view error_category_name = "jobmaster";

/// Returns the enum's name, e.g. "unknown_job".
std::string_view to_string(ec code);

/// Makes a `caf::error` of category "jobmaster" carrying a human-readable text.
caf::error make_error(ec code, std::string text);

/// Returns the project error code of `err`, or `ec::none` for foreign errors.
ec code_of(const caf::error& err);

/// Renders any error as one line for people: the text if one was attached,
/// else the code's name. Works for CAF's own errors too.
std::string describe(const caf::error& err);

} // namespace jm
