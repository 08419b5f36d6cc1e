#include "actors/planner.hpp"

#include "cron/recurrence.hpp"
#include "messages/error.hpp"

#include <algorithm>

namespace jm {

namespace {

caf::error invalid(std::string text) {
  return make_error(ec::invalid_argument, std::move(text));
}

timestamp whole_seconds(timestamp x) {
  return std::chrono::floor<std::chrono::seconds>(x);
}

// The zone a schedule evaluates in: its own, else the cluster's.
const std::string& zone_of(const recurring_spec& spec,
                           const master_config& cfg) {
  return spec.time_zone.empty() ? cfg.cluster.time_zone : spec.time_zone;
}

caf::expected<cron::recurrence> compile(const recurring_spec& spec,
                                        const std::string& zone) {
  auto x = cron::compile(spec.expression_type, spec.expression, zone);
  if (!x)
    return invalid("invalid " + spec.expression_type + " expression '"
                   + spec.expression + "': " + cron::to_string(x.error()));
  return std::move(*x);
}

} // namespace

caf::expected<recurring_schedule> make_schedule(const recurring_spec& spec,
                                                const master_config& cfg,
                                                timestamp now) {
  recurring_schedule x;
  x.spec = spec;
  x.spec.time_zone = zone_of(spec, cfg);
  auto compiled = compile(x.spec, x.spec.time_zone);
  if (!compiled)
    return compiled.error();
  x.spec.expression_type = compiled->type();
  if (spec.start_after && spec.end_before
      && *spec.end_before <= *spec.start_after)
    return invalid("end_before must lie after start_after");
  if (spec.end_before && *spec.end_before <= now)
    return invalid("end_before " + format_timestamp(*spec.end_before)
                   + " has passed: the schedule would never run");
  if (spec.catch_up_limit < 1 || spec.catch_up_limit > 10000)
    return invalid("catch-up limit must be between 1 and 10000");
  x.id = uuid::random();
  x.status = schedule_status::active;
  x.created_at = now;
  x.cursor = whole_seconds(std::max(now, spec.start_after.value_or(now)));
  x.planned_until = x.cursor;
  // The job settings and the handler are checked as a first occurrence
  // would be, so that a schedule that could never make a job is refused.
  if (auto j = make_occurrence(x, x.cursor, cfg, now); !j)
    return j.error();
  return x;
}

caf::expected<job> make_occurrence(const recurring_schedule& x, timestamp at,
                                   const master_config& cfg, timestamp now) {
  job_spec spec;
  spec.handler = x.spec.handler;
  spec.data = x.spec.data;
  spec.metadata = x.spec.metadata;
  spec.run_at = at;
  spec.priority = x.spec.priority;
  spec.lane = x.spec.lane;
  spec.timeout = x.spec.timeout;
  spec.max_retries = x.spec.max_retries;
  auto j = make_job(spec, cfg, now);
  if (!j)
    return j.error();
  j->source = x.spec.static_name.empty() ? trigger_source::dynamic_recurring
                                         : trigger_source::static_recurring;
  j->recurring_schedule_id = x.id;
  j->skip_if_running = x.spec.overlap == overlap_policy::skip;
  return j;
}

caf::expected<schedule_plan> plan_schedule(const recurring_schedule& x,
                                           timestamp now,
                                           const master_config& cfg,
                                           const planner_limits& limits) {
  schedule_plan result;
  result.next = x;
  auto& next = result.next;
  if (x.status != schedule_status::active)
    return result;
  auto compiled = compile(x.spec, zone_of(x.spec, cfg));
  if (!compiled)
    return compiled.error();
  auto stop = now + limits.horizon;
  bool ended = false;
  auto cursor = x.cursor;
  std::vector<timestamp> due;
  bool full = false;
  // Set when a break ends the search before the step budget does.
  bool stopped = false;
  for (uint32_t step = 0; step < limits.max_steps && !stopped; ++step) {
    auto t = compiled->next(cron::instant{cursor.time_since_epoch()});
    if (!t) {
      ended = stopped = true;
      break;
    }
    auto at = timestamp{t->time_since_epoch()};
    if (x.spec.end_before && at >= *x.spec.end_before) {
      ended = stopped = true;
      break;
    }
    if (at > stop) {
      stopped = true;
      break;
    }
    cursor = at;
    due.push_back(at);
    // Missed ones are not jobs yet: the policy may drop them below.
    if (at >= now - limits.missed_after
        && due.size() - result.missed >= limits.max_jobs) {
      full = stopped = true;
      break;
    }
    if (at < now - limits.missed_after)
      ++result.missed;
  }
  // Catch-up: the first `missed` entries of `due` fell due unplanned.
  auto keep = uint64_t{0};
  switch (x.spec.catch_up) {
  case catch_up_policy::all:
    keep = std::min<uint64_t>(result.missed, x.spec.catch_up_limit);
    break;
  case catch_up_policy::latest:
    keep = std::min<uint64_t>(result.missed, 1);
    break;
  case catch_up_policy::skip:
    keep = 0;
    break;
  }
  result.dropped = result.missed - keep;
  for (size_t i = result.dropped; i < due.size(); ++i) {
    auto j = make_occurrence(x, due[i], cfg, now);
    if (!j)
      return j.error();
    result.jobs.push_back(std::move(*j));
  }
  next.cursor = cursor;
  // The watermark: everything up to it is planned. When the step stopped
  // early (job or step budget), only up to the last occurrence taken.
  next.planned_until = full || !stopped ? cursor : std::max(cursor, stop);
  if (ended) {
    next.status = schedule_status::completed;
    next.terminated_at = now;
  }
  return result;
}

std::vector<timestamp> upcoming_occurrences(const recurring_schedule& x,
                                            timestamp now,
                                            const master_config& cfg,
                                            size_t count) {
  std::vector<timestamp> result;
  if (x.status != schedule_status::active)
    return result;
  auto compiled = compile(x.spec, zone_of(x.spec, cfg));
  if (!compiled)
    return result;
  auto cursor = cron::instant{x.cursor.time_since_epoch()};
  for (int step = 0; step < 100000 && result.size() < count; ++step) {
    auto next = compiled->next(cursor);
    if (!next)
      break;
    auto at = timestamp{next->time_since_epoch()};
    if (x.spec.end_before && at >= *x.spec.end_before)
      break;
    cursor = *next;
    if (at > now)
      result.push_back(at);
  }
  return result;
}

} // namespace jm
