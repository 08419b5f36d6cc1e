// Public API of jm::cron schedules: parsing, searching, rendering.

#include "cron/schedule.hpp"

#include "cron/detail/calendar.hpp"
#include "cron/detail/eval.hpp"
#include "cron/detail/keywords.hpp"
#include "cron/detail/model.hpp"
#include "cron/detail/parser.hpp"
#include "cron/detail/time_zone.hpp"

#include <cstdio>

namespace jm::cron {

namespace {

using detail::wall;

/// Searches never look further than this many years ahead by default.
constexpr std::int64_t default_horizon_years = 1000;

/// At most this many wall-clock results are skipped because their instants
/// (DST overlaps) are not after the reference.
constexpr int max_skips = 10'000;

std::int64_t default_limit(const wall& base) {
  auto x = detail::add_years(base, default_horizon_years);
  return std::min(x.t, detail::end_t);
}

bool valid_fields(const date_time& x) {
  return x.year >= 1 && x.year <= 9999 && x.month >= 1 && x.month <= 12
         && x.day >= 1 && x.day <= detail::days_in_month(x.year, x.month)
         && x.hour >= 0 && x.hour <= 23 && x.minute >= 0 && x.minute <= 59
         && x.second >= 0 && x.second <= 59;
}

const std::shared_ptr<const detail::schedule_data>& empty_data() {
  static const auto instance = std::make_shared<const detail::schedule_data>();
  return instance;
}

// -- rendering ----------------------------------------------------------------

constexpr std::string_view short_weekdays[] = {"Sun", "Mon", "Tue", "Wed",
                                               "Thu", "Fri", "Sat"};

constexpr std::string_view short_months[]
  = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string weekday_name(int x) {
  if (x >= 1 && x <= 7)
    return std::string{short_weekdays[x - 1]};
  return "?";
}

std::string with_offset(std::string x, const detail::value_expr& v) {
  if (!v.offset_valid)
    return x + "(bad offset)";
  if (v.offset > 0)
    x += "+" + std::to_string(v.offset);
  else if (v.offset < 0)
    x += std::to_string(v.offset);
  return x;
}

std::string render(const detail::value_expr& v, detail::unit u) {
  using detail::value_kind;
  switch (v.kind) {
    case value_kind::integer:
      // Names and numbers are the same value for weekdays and months.
      if (u == detail::unit::week && v.number >= 1 && v.number <= 7)
        return weekday_name(v.number);
      if (u == detail::unit::month && v.number >= 1 && v.number <= 12)
        return std::string{short_months[v.number - 1]};
      return std::to_string(v.number);
    case value_kind::weekday_name:
      return weekday_name(v.number);
    case value_kind::month_name:
      return v.number >= 1 && v.number <= 12
               ? std::string{short_months[v.number - 1]}
               : "?";
    case value_kind::last:
      return with_offset("Last", v);
    case value_kind::first:
      return with_offset("First", v);
    case value_kind::last_of_weekday:
      return with_offset("Last" + weekday_name(v.weekday), v);
    case value_kind::nth_weekday: {
      constexpr std::string_view nth[] = {"1st", "2nd", "3rd", "4th", "5th"};
      auto prefix = v.number >= 0 && v.number < 5
                      ? std::string{nth[v.number]}
                      : std::string{"?"};
      return with_offset(prefix + weekday_name(v.weekday), v);
    }
    case value_kind::last_weekday:
      return with_offset("LastWeekday", v);
    case value_kind::first_weekday:
      return with_offset("FirstWeekday", v);
    case value_kind::closest_weekday:
      return "ClosestWeekdayTo " + std::to_string(v.number);
    case value_kind::invalid:
      break;
  }
  return "invalid(" + detail::to_upper(v.text) + ")";
}

const char* every_unit_name(detail::unit u) {
  return u == detail::unit::week ? "week" : detail::to_string(u);
}

std::string render(const detail::between_rule& r) {
  using detail::unit;
  std::string result;
  for (auto u : {unit::year, unit::month, unit::day, unit::hour, unit::minute,
                 unit::second, unit::week}) {
    const auto& rg = r.ranges[static_cast<std::size_t>(detail::idx(u))];
    if (!rg)
      continue;
    if (!result.empty())
      result += "; ";
    result += detail::to_string(u);
    result += ' ';
    result += render(rg->start, u);
    result += "..";
    result += render(rg->end, u);
  }
  return result;
}

std::string render(const detail::filter_rule& x) {
  using namespace detail;
  if (auto r = std::get_if<at_rule>(&x))
    return std::string{"at("} + to_string(r->u) + " " + render(r->value, r->u)
           + ")";
  if (auto r = std::get_if<multiple_rule>(&x)) {
    std::string result = "list(";
    bool first = true;
    for (int u = 0; u < num_units; ++u) {
      const auto& vs = r->values[static_cast<std::size_t>(u)];
      if (vs.empty())
        continue;
      if (!first)
        result += "; ";
      first = false;
      result += to_string(static_cast<unit>(u));
      result += "=[";
      for (std::size_t i = 0; i < vs.size(); ++i) {
        if (i > 0)
          result += ", ";
        result += render(vs[i], static_cast<unit>(u));
      }
      result += "]";
    }
    return result + ")";
  }
  if (auto r = std::get_if<between_rule>(&x))
    return "between(" + render(*r) + ")";
  if (auto r = std::get_if<between_multiple_rule>(&x)) {
    std::string result = "between[";
    for (std::size_t i = 0; i < r->members.size(); ++i) {
      if (i > 0)
        result += ", ";
      result += "(" + render(r->members[i]) + ")";
    }
    return result + "]";
  }
  return "?";
}

} // namespace

// -- parse_error / date_time --------------------------------------------------

std::string to_string(const parse_error& x) {
  std::string result = x.message;
  result += " (at ";
  result += std::to_string(x.position);
  if (!x.expected.empty()) {
    result += ", expected ";
    result += x.expected;
  }
  result += ")";
  return result;
}

std::string to_string(const date_time& x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", x.year,
                x.month, x.day, x.hour, x.minute, x.second);
  return buf;
}

std::optional<date_time> parse_date_time(std::string_view text) {
  std::size_t i = 0;
  auto number = [&](std::size_t min_digits, std::size_t max_digits)
    -> std::optional<int> {
    std::size_t start = i;
    int value = 0;
    while (i < text.size() && detail::is_digit(text[i])
           && i - start < max_digits) {
      value = value * 10 + (text[i] - '0');
      ++i;
    }
    if (i - start < min_digits)
      return std::nullopt;
    return value;
  };
  auto expect = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  date_time result;
  auto y = number(4, 4);
  if (!y || !expect('-'))
    return std::nullopt;
  auto mo = number(1, 2);
  if (!mo || !expect('-'))
    return std::nullopt;
  auto d = number(1, 2);
  if (!d)
    return std::nullopt;
  result.year = *y;
  result.month = *mo;
  result.day = *d;
  if (i < text.size()) {
    if (!expect(' ') && !expect('T'))
      return std::nullopt;
    auto h = number(1, 2);
    if (!h || !expect(':'))
      return std::nullopt;
    auto mi = number(2, 2);
    if (!mi)
      return std::nullopt;
    result.hour = *h;
    result.minute = *mi;
    if (expect(':')) {
      auto s = number(2, 2);
      if (!s)
        return std::nullopt;
      result.second = *s;
    }
  }
  if (i != text.size() || !valid_fields(result))
    return std::nullopt;
  return result;
}

// -- schedule -----------------------------------------------------------------

schedule::schedule() : data_(empty_data()) {
  // nop
}

schedule::schedule(std::shared_ptr<const detail::schedule_data> data)
  : data_(std::move(data)) {
  // nop
}

const std::string& schedule::expression() const noexcept {
  return data_->expression;
}

const std::string& schedule::time_zone() const noexcept {
  return data_->zone;
}

bool operator==(const schedule& x, const schedule& y) {
  return to_debug_string(x) == to_debug_string(y);
}

result<schedule> parse(std::string_view expression) {
  auto data = detail::parse_schedule(expression);
  if (!data)
    return data.error();
  return schedule{
    std::make_shared<const detail::schedule_data>(std::move(*data))};
}

std::string to_debug_string(const schedule& x) {
  const auto& d = x.data();
  std::string result;
  auto append = [&result](const std::string& s) {
    if (!result.empty())
      result += ' ';
    result += s;
  };
  if (d.every) {
    std::string s = "every(";
    s += every_unit_name(d.every->u);
    s += ' ';
    s += std::to_string(d.every->step);
    if (d.every->anchor) {
      s += " anchor=";
      if (d.every->anchor_value)
        s += std::to_string(*d.every->anchor_value);
      else
        s += "'" + detail::to_upper(*d.every->anchor) + "'";
    }
    s += ')';
    append(s);
  }
  for (const auto& f : d.filters)
    append(render(f.rule));
  if (!d.zone.empty())
    append("tz(" + d.zone + ")");
  return result;
}

// -- searching ----------------------------------------------------------------

std::optional<time_point> next_occurrence(const schedule& x, time_point after,
                                          const search_options& opts) {
  const auto& d = x.data();
  if (!d.every && d.filters.empty())
    return std::nullopt;
  auto zone = detail::locate(d.zone.empty() ? std::string_view{opts.default_zone}
                                            : std::string_view{d.zone});
  if (!zone.ok)
    return std::nullopt;
  const std::int64_t after_s = after.time_since_epoch().count();
  // Keep the conversion inside the representable range.
  if (after_s >= detail::max_t)
    return std::nullopt;
  wall base = after_s < detail::min_t ? detail::make_wall(detail::min_t)
                                      : detail::to_local(zone, after_s);
  if (base.t < detail::min_t)
    base = detail::make_wall(detail::min_t);
  if (base.t >= detail::max_t)
    return std::nullopt;
  std::int64_t limit = default_limit(base);
  std::optional<std::int64_t> limit_s;
  if (opts.limit) {
    limit_s = opts.limit->time_since_epoch().count();
    if (*limit_s <= after_s)
      return std::nullopt;
    if (*limit_s < detail::max_t)
      limit = detail::to_local(zone, *limit_s).t;
    else
      limit = detail::end_t;
  }
  for (int i = 0; i < max_skips; ++i) {
    auto w = detail::search(d, base, limit);
    if (!w)
      return std::nullopt;
    auto r = detail::to_sys(zone, *w);
    if (r > after_s) {
      if (limit_s && r >= *limit_s)
        return std::nullopt;
      return time_point{std::chrono::seconds{r}};
    }
    // An overlap maps this wall-clock value to an instant that is not after
    // the reference: it already fired. Continue after it.
    base = *w;
  }
  return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point>
next_occurrence(const schedule& x, std::chrono::system_clock::time_point after,
                const search_options& opts) {
  using namespace std::chrono;
  auto secs = floor<seconds>(after);
  auto r = next_occurrence(x, time_point{secs.time_since_epoch()}, opts);
  if (!r)
    return std::nullopt;
  constexpr auto max_secs = duration_cast<seconds>(system_clock::duration::max());
  if (r->time_since_epoch() >= max_secs)
    return std::nullopt;
  return system_clock::time_point{
    duration_cast<system_clock::duration>(r->time_since_epoch())};
}

std::vector<time_point> next_occurrences(const schedule& x, time_point after,
                                         std::size_t count,
                                         const search_options& opts) {
  std::vector<time_point> result;
  for (std::size_t i = 0; i < count; ++i) {
    auto r = next_occurrence(x, after, opts);
    if (!r)
      break;
    result.push_back(*r);
    after = *r;
  }
  return result;
}

std::optional<date_time> next_local_occurrence(const schedule& x,
                                               const date_time& after,
                                               std::optional<date_time> limit) {
  if (!valid_fields(after) || (limit && !valid_fields(*limit)))
    return std::nullopt;
  auto base = detail::make_wall(after);
  auto end = limit ? detail::make_wall(*limit).t : default_limit(base);
  auto w = detail::search(x.data(), base, end);
  if (!w)
    return std::nullopt;
  return detail::to_date_time(*w);
}

bool is_known_time_zone(std::string_view name) {
  return detail::canonical_zone(name).has_value();
}

} // namespace jm::cron
