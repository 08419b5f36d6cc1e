// Time-zone lookups and conversions over the system tz database.

#include "cron/detail/time_zone.hpp"

#include "cron/detail/keywords.hpp"

#include <date/tz.h>

#include <chrono>
#include <exception>
#include <unordered_map>

namespace jm::cron::detail {

namespace {

struct zone_names {
  /// Upper-case name -> canonical spelling.
  std::unordered_map<std::string, std::string> by_upper;
};

const zone_names& names() {
  static const zone_names instance = [] {
    zone_names result;
    try {
      const auto& db = date::get_tzdb();
      for (const auto& z : db.zones) {
        const auto& name = z.name();
        if (name == "localtime")
          continue;
        result.by_upper.emplace(to_upper(name), name);
      }
    } catch (const std::exception&) {
      // No tz database: only UTC is known.
    }
    result.by_upper.emplace("UTC", "UTC");
    return result;
  }();
  return instance;
}

} // namespace

std::optional<std::string> canonical_zone(std::string_view name) {
  const auto& xs = names().by_upper;
  auto i = xs.find(to_upper(name));
  if (i == xs.end())
    return std::nullopt;
  return i->second;
}

zone_ref locate(std::string_view name) noexcept {
  try {
    if (name.empty())
      return zone_ref{true, nullptr};
    auto canonical = canonical_zone(name);
    if (!canonical)
      return zone_ref{};
    try {
      return zone_ref{true, date::locate_zone(*canonical)};
    } catch (const std::exception&) {
      if (*canonical == "UTC")
        return zone_ref{true, nullptr};
      return zone_ref{};
    }
  } catch (...) {
    return zone_ref{};
  }
}

wall to_local(const zone_ref& zone, std::int64_t sys) noexcept {
  if (zone.tz == nullptr)
    return make_wall(sys);
  try {
    auto tp = date::sys_seconds{std::chrono::seconds{sys}};
    auto info = zone.tz->get_info(tp);
    return make_wall(sys + info.offset.count());
  } catch (...) {
    return make_wall(sys);
  }
}

std::int64_t to_sys(const zone_ref& zone, const wall& w) noexcept {
  if (zone.tz == nullptr)
    return w.t;
  try {
    auto lt = date::local_seconds{std::chrono::seconds{w.t}};
    auto info = zone.tz->get_info(lt);
    switch (info.result) {
      case date::local_info::unique:
      case date::local_info::ambiguous:
        // Ambiguous: `first` is the earlier (pre-transition) offset.
        return w.t - info.first.offset.count();
      case date::local_info::nonexistent:
        // The first valid instant after the gap is the transition itself.
        return info.second.begin.time_since_epoch().count();
    }
  } catch (...) {
    // fall through
  }
  return w.t;
}

} // namespace jm::cron::detail
