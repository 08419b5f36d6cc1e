#include "messages/schedule.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cctype>

namespace jm {

namespace {

std::string normalized(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

// Finds the enumerator of E (numbered first..last) whose name is `text`.
template <class E>
caf::expected<E> parse_enum(std::string_view text, int first, int last,
                            std::string_view what) {
  auto name = normalized(text);
  std::string known;
  for (int i = first; i <= last; ++i) {
    auto x = static_cast<E>(i);
    if (name == to_string(x))
      return x;
    known += (known.empty() ? "" : ", ") + std::string{to_string(x)};
  }
  return make_error(ec::invalid_argument, "invalid " + std::string{what} + " '"
                                            + std::string{text} + "' (" + known
                                            + ")");
}

} // namespace

std::string_view to_string(schedule_status x) {
  switch (x) {
  case schedule_status::active:
    return "active";
  case schedule_status::cancelled:
    return "cancelled";
  case schedule_status::inactive:
    return "inactive";
  case schedule_status::completed:
    return "completed";
  }
  return "invalid";
}

caf::expected<schedule_status> parse_schedule_status(std::string_view text) {
  return parse_enum<schedule_status>(text, 2, 5, "schedule status");
}

bool is_final(schedule_status x) {
  return x != schedule_status::active;
}

std::string_view to_string(catch_up_policy x) {
  switch (x) {
  case catch_up_policy::all:
    return "all";
  case catch_up_policy::latest:
    return "latest";
  case catch_up_policy::skip:
    return "skip";
  }
  return "invalid";
}

caf::expected<catch_up_policy> parse_catch_up_policy(std::string_view text) {
  return parse_enum<catch_up_policy>(text, 1, 3, "catch-up policy");
}

std::string_view to_string(overlap_policy x) {
  switch (x) {
  case overlap_policy::allow:
    return "allow";
  case overlap_policy::skip:
    return "skip";
  }
  return "invalid";
}

caf::expected<overlap_policy> parse_overlap_policy(std::string_view text) {
  return parse_enum<overlap_policy>(text, 1, 2, "overlap policy");
}

} // namespace jm
