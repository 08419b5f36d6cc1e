// The next-occurrence search of the reference library, step for step (see
// naturalcron.md §9-§10): a candidate from the every rule, then a forward scan
// that, while some filter does not match, jumps by the shortest of the
// per-rule jumps.

#include "cron/detail/eval.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <numeric>
#include <vector>

namespace jm::cron::detail {

namespace {

constexpr int min_of(unit u) noexcept {
  return u == unit::second || u == unit::minute || u == unit::hour ? 0 : 1;
}

int max_of(unit u, int y, int m) noexcept {
  switch (u) {
    case unit::second:
    case unit::minute:
      return 59;
    case unit::hour:
      return 23;
    case unit::day:
      return days_in_month(y, m);
    case unit::week:
      return 7;
    case unit::month:
      return 12;
    case unit::year:
      return 9999;
  }
  return 0;
}

int part(unit u, const wall& t) noexcept {
  switch (u) {
    case unit::second:
      return t.s;
    case unit::minute:
      return t.mi;
    case unit::hour:
      return t.h;
    case unit::day:
      return t.d;
    case unit::week:
      return weekday_of(t);
    case unit::month:
      return t.mo;
    case unit::year:
      return t.y;
  }
  return 0;
}

bool is_end(const wall& t) noexcept {
  return t.t >= end_t;
}

/// DateTimeUtil.Add: calendar-aware for months and years.
wall add_unit(unit u, const wall& t, std::int64_t n) noexcept {
  if (is_end(t))
    return t;
  switch (u) {
    case unit::year:
      return add_years(t, n);
    case unit::month:
      return add_months(t, n);
    case unit::week:
      if (n > 1'000'000'000'000 || n < -1'000'000'000'000)
        return make_wall(n > 0 ? end_t : min_t);
      return add_seconds(t, n * 7 * 86400);
    case unit::day:
      if (n > 1'000'000'000'000 || n < -1'000'000'000'000)
        return make_wall(n > 0 ? end_t : min_t);
      return add_seconds(t, n * 86400);
    case unit::hour:
      if (n > 1'000'000'000'000'000 || n < -1'000'000'000'000'000)
        return make_wall(n > 0 ? end_t : min_t);
      return add_seconds(t, n * 3600);
    case unit::minute:
      if (n > 1'000'000'000'000'000 || n < -1'000'000'000'000'000)
        return make_wall(n > 0 ? end_t : min_t);
      return add_seconds(t, n * 60);
    case unit::second:
      return add_seconds(t, n);
  }
  return t;
}

/// DateTimeUtil.AdvanceTimeSafety: week means "one day"; overflow ends.
wall advance(unit u, const wall& t, std::int64_t amount) noexcept {
  if (u == unit::week) {
    u = unit::day;
    amount = 1;
  }
  if (t.t >= max_t)
    return make_wall(end_t);
  return add_unit(u, t, amount);
}

struct jump {
  std::int64_t amount = 1;
  unit u = unit::second;
};

std::int64_t duration(const jump& j, int y, int m) noexcept {
  switch (j.u) {
    case unit::second:
      return j.amount;
    case unit::minute:
      return j.amount * 60;
    case unit::hour:
      return j.amount * 3600;
    case unit::day:
      return j.amount * 86400;
    case unit::week:
      return j.amount * 7 * 86400;
    case unit::month:
      return j.amount * days_in_month(y, m) * 86400;
    case unit::year:
      return j.amount * (is_leap(y) ? 366 : 365) * 86400;
  }
  return j.amount;
}

/// A jump that ends the search (used where the reference overflows).
constexpr jump give_up{9999, unit::year};

/// NaturalCronMatchableRule.GetMinSafeTimeToAdvance.
jump min_safe_jump(unit u, const wall& t) noexcept {
  if (u == unit::second)
    return {1, unit::second};
  if (u == unit::week || u == unit::month)
    return {1, unit::day};
  auto v = static_cast<unit>(idx(u) - 1);
  std::int64_t k = max_of(v, t.y, t.mo) - part(v, t) - 1;
  if (k <= 0)
    return {1, v};
  return {k, v};
}

/// NaturalCronAtInOnRule.GetTimeToAdvanceToNextOccurence.
jump at_jump(unit u, std::optional<int> target, const wall& t) noexcept {
  std::int64_t k = std::int64_t{target.value_or(0)} - part(u, t) - 1;
  if (k <= 0)
    return {1, u};
  return {k, u};
}

/// Jumps to the start of the next `u` (next hour 00:00, next day 00:00:00...).
jump to_next_start_of(unit u, const wall& t) noexcept {
  auto target = advance(u, t, 1);
  if (is_end(target))
    return give_up;
  for (auto v : {unit::year, unit::month, unit::day, unit::hour, unit::minute,
                 unit::second}) {
    if (idx(v) >= idx(u))
      continue;
    target = add_unit(v, target, -(part(v, target) - min_of(v)));
  }
  auto diff = target.t - t.t;
  if (diff > 0)
    return {diff, unit::second};
  return {1, unit::second};
}

constexpr std::array<unit, 6> units_desc = {unit::year, unit::month,
                                            unit::day,  unit::hour,
                                            unit::minute, unit::second};

constexpr std::array<unit, 6> units_asc = {unit::second, unit::minute,
                                           unit::hour,   unit::day,
                                           unit::month,  unit::year};

/// Positions of a list rule sorted chronologically for one month.
struct sorted_positions {
  int y = INT_MIN;
  int m = 0;
  std::vector<std::size_t> perm;
  std::array<std::vector<std::optional<int>>, num_units> resolved;

  [[nodiscard]] std::optional<int> at(unit u, std::size_t i) const {
    return resolved[static_cast<std::size_t>(idx(u))][perm[i]];
  }
};

class evaluator {
public:
  explicit evaluator(const schedule_data& x)
    : x_(x), sorted_(x.filters.size()), matches_(x.filters.size()) {
    // nop
  }

  // -- matching ---------------------------------------------------------------

  bool match(std::size_t k, const wall& t) {
    return std::visit([&](const auto& r) { return match_rule(k, r, t); },
                      x_.filters[k].rule);
  }

  /// Computes the match of every filter; returns true if all match.
  bool match_all(const wall& t) {
    bool all = true;
    for (std::size_t k = 0; k < x_.filters.size(); ++k) {
      matches_[k] = match(k, t);
      all = all && matches_[k];
    }
    return all;
  }

  // -- scanning ---------------------------------------------------------------

  /// The shortest jump over all filters that do not match `t` (requires a
  /// preceding `match_all(t)`).
  jump next_jump(const wall& t) {
    std::optional<jump> best;
    std::int64_t best_duration = 0;
    for (std::size_t k = 0; k < x_.filters.size(); ++k) {
      if (matches_[k])
        continue;
      auto j = std::visit([&](const auto& r) { return jump_of(k, r, t); },
                          x_.filters[k].rule);
      if (j.u == unit::week) {
        j = {1, unit::day};
      } else if (j.u == unit::month
                 || (j.u == unit::year && is_leap(t.y) && t.mo == 2)) {
        // Months differ in length: go to the 1st of the target month (the
        // reference advances by months also for the leap-February year case).
        auto sim = advance(unit::month, t, j.amount);
        if (is_end(sim)) {
          j = give_up;
        } else {
          sim = make_wall(sim.y, sim.mo, 1, sim.h, sim.mi, sim.s);
          auto days = (sim.t - t.t) / 86400;
          j = days > 0 ? jump{days, unit::day} : give_up;
        }
      }
      auto d = duration(j, t.y, t.mo);
      if (!best || d < best_duration) {
        best = j;
        best_duration = d;
      }
    }
    return best.value_or(jump{1, unit::second});
  }

  // -- every rule -------------------------------------------------------------

  bool has_unit_rule(unit u) const {
    for (const auto& f : x_.filters) {
      if (unit_of(f.rule) == u)
        return true;
      if (auto r = std::get_if<multiple_rule>(&f.rule); r && r->has(u))
        return true;
    }
    return false;
  }

  /// NaturalCronEveryXRule.AddEveryXTime.
  wall add_every(wall c) const {
    const auto& ev = *x_.every;
    c = add_unit(ev.u, c, ev.step);
    if (is_end(c))
      return c;
    std::vector<unit> resets;
    for (auto u : {unit::second, unit::minute, unit::hour, unit::day,
                   unit::month, unit::year, unit::week}) {
      if (idx(u) >= idx(ev.u) || !has_unit_rule(u))
        continue;
      auto r = u == unit::week ? unit::day : u;
      if (std::find(resets.begin(), resets.end(), r) == resets.end())
        resets.push_back(r);
    }
    for (auto r : resets)
      c = add_unit(r, c, -(part(r, c) - min_of(r)));
    if (ev.u == unit::week) {
      bool weekday_list = std::any_of(
        x_.filters.begin(), x_.filters.end(), [](const filter& f) {
          auto r = std::get_if<multiple_rule>(&f.rule);
          return r != nullptr && r->has(unit::week);
        });
      if (weekday_list)
        c = add_unit(unit::day, c, -6);
    }
    return c;
  }

  /// NaturalCronEveryXRule.ApplyAnchoredValueIfPresent.
  wall apply_anchor(wall c, const wall& base) const {
    const auto& ev = *x_.every;
    if (!ev.anchor || ev.anchor->empty() || !ev.anchor_value)
      return c;
    const int a = *ev.anchor_value;
    if (ev.u == unit::week) {
      // The reference loops forever for anchors outside 1..7; we ignore them.
      if (a < 1 || a > 7)
        return c;
      for (int i = 0; i < 7 && !is_end(c) && weekday_of(c) != a; ++i)
        c = add_unit(unit::day, c, 1);
      return c;
    }
    if (ev.step <= 0)
      return c;
    const std::int64_t x = part(ev.u, c);
    std::int64_t offset = (x - a) % ev.step;
    if (offset == 0)
      return c;
    if (offset < 0)
      offset += ev.step;
    c = add_unit(ev.u, c, -offset);
    for (int guard = 0; c.t < base.t && guard < 1'000'000; ++guard)
      c = add_every(c);
    return c;
  }

  /// NaturalCronExpr.ShouldAddEveryX.
  bool should_add_every(const wall& base, const wall& c) {
    if (c.t != base.t || !match_all(c))
      return false;
    const auto eu = idx(x_.every->u);
    for (std::size_t k = 0; k < x_.filters.size(); ++k) {
      auto r = std::get_if<multiple_rule>(&x_.filters[k].rule);
      if (r == nullptr || r->length == 0)
        continue;
      bool relevant = false;
      for (int u = 0; u <= eu && u < num_units; ++u)
        relevant = relevant || r->has(static_cast<unit>(u));
      if (!relevant)
        continue;
      const auto& s = sort(k, *r, base);
      if (!match_position(*r, s, r->length - 1, base))
        return false;
    }
    return true;
  }

  /// Smallest unit among the non-between filters and the between filters
  /// that do not match `c` (week counts as day).
  unit min_advance_unit(const wall& c) {
    std::optional<unit> result;
    for (std::size_t k = 0; k < x_.filters.size(); ++k) {
      const auto& rule = x_.filters[k].rule;
      bool between = std::holds_alternative<between_rule>(rule)
                     || std::holds_alternative<between_multiple_rule>(rule);
      if (between && match(k, c))
        continue;
      auto u = unit_of(rule);
      if (!result || u < *result)
        result = u;
    }
    auto u = result.value_or(unit::second);
    return u == unit::week ? unit::day : u;
  }

private:
  // -- list rules -------------------------------------------------------------

  const sorted_positions& sort(std::size_t k, const multiple_rule& r,
                               const wall& t) {
    auto& s = sorted_[k];
    if (s.y == t.y && s.m == t.mo)
      return s;
    s.y = t.y;
    s.m = t.mo;
    for (int u = 0; u < num_units; ++u) {
      auto& dst = s.resolved[static_cast<std::size_t>(u)];
      const auto& src = r.values[static_cast<std::size_t>(u)];
      dst.clear();
      for (const auto& v : src)
        dst.push_back(resolve(static_cast<unit>(u), t.y, t.mo, v));
    }
    s.perm.resize(r.length);
    std::iota(s.perm.begin(), s.perm.end(), std::size_t{0});
    // Compared by year, month, weekday, day, hour, minute, second; values
    // that do not resolve this month sort first (as in the reference).
    constexpr std::array<unit, 7> order = {unit::year, unit::month, unit::week,
                                           unit::day,  unit::hour, unit::minute,
                                           unit::second};
    std::stable_sort(s.perm.begin(), s.perm.end(),
                     [&s, &r, &order](std::size_t a, std::size_t b) {
                       for (auto u : order) {
                         if (!r.has(u))
                           continue;
                         const auto& xs
                           = s.resolved[static_cast<std::size_t>(idx(u))];
                         const auto& va = xs[a];
                         const auto& vb = xs[b];
                         if (!va && !vb)
                           continue;
                         if (va && vb) {
                           if (*va != *vb)
                             return *va < *vb;
                           continue;
                         }
                         return !va; // no value < value
                       }
                       return false;
                     });
    return s;
  }

  static bool match_unit(const multiple_rule& r, const sorted_positions& s,
                         std::size_t i, unit u, const wall& t) {
    if (!r.has(u))
      return true;
    auto v = s.at(u, i);
    return v && part(u, t) == *v;
  }

  static bool match_position(const multiple_rule& r, const sorted_positions& s,
                             std::size_t i, const wall& t) {
    for (int u = 0; u < num_units; ++u)
      if (!match_unit(r, s, i, static_cast<unit>(u), t))
        return false;
    return true;
  }

  bool match_rule(std::size_t, const at_rule& r, const wall& t) const {
    auto v = resolve(r.u, t.y, t.mo, r.value);
    return v && part(r.u, t) == *v;
  }

  bool match_rule(std::size_t k, const multiple_rule& r, const wall& t) {
    const auto& s = sort(k, r, t);
    for (std::size_t i = 0; i < r.length; ++i)
      if (match_position(r, s, i, t))
        return true;
    return false;
  }

  static bool match_between(const between_rule& r, const wall& t) {
    auto b = build_between(r, t);
    if (b.projected < b.start || b.projected > b.end)
      return false;
    if (const auto& w = r.ranges[static_cast<std::size_t>(idx(unit::week))]) {
      auto s = resolve(unit::week, t.y, t.mo, w->start);
      auto e = resolve(unit::week, t.y, t.mo, w->end);
      if (!s || !e)
        return false;
      auto wd = weekday_of(t);
      if (wd < *s || wd > *e)
        return false;
    }
    return true;
  }

  bool match_rule(std::size_t, const between_rule& r, const wall& t) const {
    return match_between(r, t);
  }

  bool match_rule(std::size_t, const between_multiple_rule& r,
                  const wall& t) const {
    return std::any_of(r.members.begin(), r.members.end(),
                       [&t](const between_rule& m) {
                         return match_between(m, t);
                       });
  }

  // -- jumps ------------------------------------------------------------------

  jump jump_of(std::size_t, const at_rule& r, const wall& t) const {
    return at_jump(r.u, resolve(r.u, t.y, t.mo, r.value), t);
  }

  static jump between_jump(const between_rule& r, const wall& t) {
    if (r.ranges[static_cast<std::size_t>(idx(unit::week))])
      return {1, unit::day};
    auto b = build_between(r, t);
    auto secs = b.start - t.t;
    if (secs > 0)
      return {secs, unit::second};
    return min_safe_jump(r.u, t);
  }

  jump jump_of(std::size_t, const between_rule& r, const wall& t) const {
    return between_jump(r, t);
  }

  jump jump_of(std::size_t, const between_multiple_rule& r,
               const wall& t) const {
    std::optional<jump> best;
    std::int64_t best_duration = 0;
    for (const auto& m : r.members) {
      auto j = between_jump(m, t);
      auto d = duration(j, t.y, t.mo);
      if (!best || d < best_duration) {
        best = j;
        best_duration = d;
      }
    }
    return best.value_or(jump{1, unit::second});
  }

  jump jump_of(std::size_t k, const multiple_rule& r, const wall& t) {
    if (r.length == 0)
      return {1, unit::second};
    const auto& s = sort(k, r, t);
    std::array<jump, 3> candidates = {by_target_index(r, s, t),
                                      by_max_target(r, s, t),
                                      min_for_list(r, s, t)};
    // The longest of the three (first on ties).
    std::size_t best = 0;
    auto best_duration = duration(candidates[0], t.y, t.mo);
    for (std::size_t i = 1; i < candidates.size(); ++i) {
      auto d = duration(candidates[i], t.y, t.mo);
      if (d > best_duration) {
        best = i;
        best_duration = d;
      }
    }
    return candidates[best];
  }

  /// Strategy 1: the first position still ahead of `t`.
  static jump by_target_index(const multiple_rule& r,
                              const sorted_positions& s, const wall& t) {
    for (std::size_t i = 0; i < r.length; ++i) {
      for (auto u : units_desc) {
        if (!r.has(u))
          continue;
        auto target = s.at(u, i);
        auto current = part(u, t);
        if (target && current < *target) {
          if (r.has(unit::week) && idx(u) >= idx(unit::week))
            return {1, unit::day};
          return to_next_start_of(u, t);
        }
        if (target && current > *target)
          break;
      }
    }
    // No position ahead: advance the smallest unit that position 0 misses.
    for (auto u : units_asc) {
      if (match_unit(r, s, 0, u, t))
        continue;
      if (u == unit::second)
        return {1, unit::second};
      return at_jump(u, s.at(u, 0), t);
    }
    return {1, unit::second};
  }

  /// Strategy 2: `t` is beyond the last position in the largest unit.
  static jump by_max_target(const multiple_rule& r, const sorted_positions& s,
                            const wall& t) {
    for (auto u : {unit::year, unit::month, unit::day, unit::hour,
                   unit::minute}) {
      if (!r.has(u))
        continue;
      auto last = s.at(u, r.length - 1);
      if (!last)
        return {1, unit::second};
      if (part(u, t) > *last) {
        if (u == unit::year)
          return give_up;
        return to_next_start_of(u, t);
      }
      return {1, unit::second};
    }
    return {1, unit::second};
  }

  /// Strategy 3: second-only lists jump to the next listed second.
  static jump min_for_list(const multiple_rule& r, const sorted_positions& s,
                           const wall& t) {
    if (r.u == unit::second && r.has(unit::second)) {
      const auto& xs = s.resolved[static_cast<std::size_t>(idx(unit::second))];
      std::optional<int> lo;
      std::optional<int> hi;
      bool any_null = false;
      for (const auto& v : xs) {
        if (!v) {
          any_null = true;
          continue;
        }
        lo = lo ? std::min(*lo, *v) : *v;
        hi = hi ? std::max(*hi, *v) : *v;
      }
      if (any_null)
        lo.reset();
      const int actual = t.s;
      if (lo && actual < *lo)
        return {*lo - actual, unit::second};
      if (hi && actual > *hi)
        return {60 - actual, unit::second};
    }
    return min_safe_jump(r.u, t);
  }

  const schedule_data& x_;
  std::vector<sorted_positions> sorted_;
  std::vector<char> matches_;
};

/// Integer values outside the unit's range can never match (e.g. "at 25:00").
bool impossible(unit u, const value_expr& v) noexcept {
  if (v.kind != value_kind::integer)
    return false;
  auto hi = u == unit::day ? 31 : max_of(u, 1, 1);
  return v.number < min_of(u) || v.number > hi;
}

/// True if some filter can never match, whatever the date.
bool never_matches(const schedule_data& x) {
  for (const auto& f : x.filters) {
    if (auto r = std::get_if<at_rule>(&f.rule); r && impossible(r->u, r->value))
      return true;
    if (auto r = std::get_if<multiple_rule>(&f.rule); r && r->length > 0) {
      bool any_possible = false;
      for (std::size_t i = 0; i < r->length && !any_possible; ++i) {
        bool possible = true;
        for (int u = 0; u < num_units && possible; ++u) {
          const auto& vs = r->values[static_cast<std::size_t>(u)];
          if (!vs.empty() && impossible(static_cast<unit>(u), vs[i]))
            possible = false;
        }
        any_possible = possible;
      }
      if (!any_possible)
        return true;
    }
  }
  return false;
}

/// The year of an `at <year>` rule, if any: nothing matches after it.
std::optional<int> last_possible_year(const schedule_data& x) {
  for (const auto& f : x.filters)
    if (auto r = std::get_if<at_rule>(&f.rule);
        r && r->u == unit::year && r->value.kind == value_kind::integer)
      return r->value.number;
  return std::nullopt;
}

} // namespace

between_bounds build_between(const between_rule& r, const wall& t) {
  std::array<int, 6> start = {t.y, t.mo, 1, 0, 0, 0};
  std::array<int, 6> end = start;
  std::array<int, 6> projected = start;
  for (std::size_t i = 0; i < units_desc.size(); ++i) {
    auto u = units_desc[i];
    const auto& rg = r.ranges[static_cast<std::size_t>(idx(u))];
    if (!rg)
      continue;
    auto s = resolve(u, t.y, t.mo, rg->start);
    auto e = resolve(u, t.y, t.mo, rg->end);
    if (!s || !e)
      break;
    int sv = *s;
    int ev = *e;
    sv = std::min(sv, max_of(u, start[0], start[1]));
    ev = std::min(ev, max_of(u, end[0], end[1]));
    sv = std::max(sv, min_of(u));
    ev = std::max(ev, min_of(u));
    start[i] = sv;
    end[i] = ev;
    projected[i] = part(u, t);
  }
  auto secs = [](const std::array<int, 6>& x) {
    return to_seconds(x[0], x[1], x[2], x[3], x[4], x[5]);
  };
  return {secs(start), secs(end), secs(projected)};
}

bool is_valid_range(const between_rule& r) {
  for (auto u : r.order) {
    const auto& rg = *r.ranges[static_cast<std::size_t>(idx(u))];
    if (!resolve_full(u, 1, 1, rg.start).valid
        || !resolve_full(u, 1, 1, rg.end).valid)
      return false;
  }
  if (const auto& w = r.ranges[static_cast<std::size_t>(idx(unit::week))]) {
    auto s = resolve(unit::week, 1, 1, w->start);
    auto e = resolve(unit::week, 1, 1, w->end);
    if (!s || !e || *s > *e)
      return false;
  }
  auto b = build_between(r, make_wall(min_t));
  return b.end >= b.start;
}

std::optional<wall> search(const schedule_data& x, const wall& base,
                           std::int64_t limit) {
  if (!x.every && x.filters.empty())
    return std::nullopt;
  if (base.t >= max_t || never_matches(x))
    return std::nullopt;
  const auto last_year = last_possible_year(x);
  evaluator ev{x};
  wall c = base;
  // Step 1: the candidate from the every rule.
  if (x.every) {
    c = ev.apply_anchor(c, base);
    if (ev.should_add_every(base, c))
      c = ev.add_every(c);
    if (x.every->anchor) {
      auto upper = idx(x.every->u) + 1;
      if (upper < idx(unit::year)) {
        auto uu = static_cast<unit>(upper);
        if (!is_end(c) && part(uu, c) > part(uu, base)) {
          c = ev.apply_anchor(c, base);
          if (ev.should_add_every(base, c))
            c = ev.add_every(c);
        }
      }
    }
  }
  // Step 2: make sure the candidate is after the reference.
  if (c.t <= base.t) {
    auto u = ev.min_advance_unit(c);
    for (int guard = 0; c.t <= base.t && guard < 1'000'000; ++guard)
      c = advance(u, c, 1);
  }
  // Step 3: scan forward. The step budget shrinks for expressions whose
  // steps are expensive (long lists), bounding the total work.
  std::int64_t cost = 0;
  for (const auto& f : x.filters) {
    cost += 1;
    if (auto list = std::get_if<multiple_rule>(&f.rule))
      cost += static_cast<std::int64_t>(list->length);
    else if (auto ranges = std::get_if<between_multiple_rule>(&f.rule))
      cost += static_cast<std::int64_t>(ranges->members.size());
  }
  const auto budget
    = std::max<std::int64_t>(20'000, max_scan_steps / std::max<std::int64_t>(
                                                         1, cost / 8));
  for (std::int64_t steps = 0; c.t < limit && steps < budget; ++steps) {
    if (last_year && c.y > *last_year)
      break;
    if (ev.match_all(c))
      return c;
    auto j = ev.next_jump(c);
    c = advance(j.u, c, j.amount);
  }
  return std::nullopt;
}

} // namespace jm::cron::detail
