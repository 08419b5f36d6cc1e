#include "messages/error.hpp"

#include <caf/atom.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace jm {

namespace {

constexpr auto category_atom = caf::atom("jobmaster");

} // namespace

std::string_view to_string(ec code) {
  switch (code) {
  case ec::none:
    return "none";
  case ec::invalid_argument:
    return "invalid_argument";
  case ec::unknown_handler:
    return "unknown_handler";
  case ec::unknown_job:
    return "unknown_job";
  case ec::payload_too_large:
    return "payload_too_large";
  case ec::illegal_transition:
    return "illegal_transition";
  case ec::version_conflict:
    return "version_conflict";
  case ec::store_failure:
    return "store_failure";
  case ec::malformed_message:
    return "malformed_message";
  case ec::unavailable:
    return "unavailable";
  case ec::invalid_config:
    return "invalid_config";
  case ec::refused:
    return "refused";
  case ec::unknown_schedule:
    return "unknown_schedule";
  }
  return "unknown_error";
}

caf::error make_error(ec code, std::string text) {
  return caf::error{static_cast<uint8_t>(code), category_atom,
                    caf::make_message(std::move(text))};
}

ec code_of(const caf::error& err) {
  if (!err || err.category() != category_atom)
    return ec::none;
  return static_cast<ec>(err.code());
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == category_atom) {
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      return ctx.get_as<std::string>(0);
    return std::string{to_string(static_cast<ec>(err.code()))};
  }
  return caf::to_string(err);
}

} // namespace jm
