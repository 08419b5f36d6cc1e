#pragma once

// The recurring-schedule planner: pure functions that turn a schedule into
// the jobs of its next occurrences. The STORE actor runs them (they may scan
// an expression for a while) and writes their result fenced by the
// schedule's version, so a crash, a retry or two planners at once never
// create an occurrence twice (the store's occurrence key backs this up).

#include "actors/master.hpp"
#include "messages/schedule.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <vector>

namespace jm {

struct planner_limits {
  /// Occurrences are materialised up to this far ahead of now.
  duration horizon = std::chrono::seconds{30};
  /// Jobs made per schedule and step; the rest wait for the next step.
  uint32_t max_jobs = 1000;
  /// Occurrence searches per schedule and step (bounds catching up after a
  /// long outage of a fast schedule).
  uint32_t max_steps = 100000;
  /// An occurrence this far in the past when first planned was missed: the
  /// schedule's catch-up policy decides whether it runs.
  duration missed_after = std::chrono::seconds{1};
};

/// Validates a request for a new schedule and makes it (active, cursor at
/// now or its start, whichever is later).
caf::expected<recurring_schedule> make_schedule(const recurring_spec& spec,
                                                const master_config& cfg,
                                                timestamp now);

/// The job for one occurrence of `x` due at `at` (`at` may be in the past:
/// the job is then due now and keeps `at` as its original time).
caf::expected<job> make_occurrence(const recurring_schedule& x, timestamp at,
                                   const master_config& cfg, timestamp now);

/// Plans `x` from its cursor up to `now + limits.horizon` (or its end).
caf::expected<schedule_plan> plan_schedule(const recurring_schedule& x,
                                           timestamp now,
                                           const master_config& cfg,
                                           const planner_limits& limits);

/// Up to `count` occurrences of an active schedule after `now`, searched
/// from its cursor (so that unanchored steps keep their phase).
std::vector<timestamp> upcoming_occurrences(const recurring_schedule& x,
                                            timestamp now,
                                            const master_config& cfg,
                                            size_t count);

} // namespace jm
