#pragma once

// Backend-neutral pieces of the SQL stores: argument checks, the claim
// deadline arithmetic and the texts of the attempts a store writes on its
// own. Header-only; every function takes the backend's name ("mysql", ...)
// for its error texts.

#include "messages/error.hpp"
#include "messages/job.hpp"
#include "messages/schedule.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace jm::store_common {

inline bool in_range(int64_t x, int64_t lo, int64_t hi) {
  return x >= lo && x <= hi;
}

inline bool valid_status(int64_t x) {
  return in_range(x, 1, 8);
}

inline bool valid_priority(int64_t x) {
  return in_range(x, 1, num_priorities);
}

inline bool valid_outcome(int64_t x) {
  return in_range(x, 1, 5);
}

inline bool valid_schedule_status(int64_t x) {
  return in_range(x, 2, 5);
}

inline bool fits_int32(int64_t x) {
  return in_range(x, std::numeric_limits<int32_t>::min(),
                  std::numeric_limits<int32_t>::max());
}

inline caf::error invalid(std::string_view backend, std::string text) {
  return make_error(ec::invalid_argument,
                    std::string{backend} + ": " + std::move(text));
}

inline caf::error failure(std::string_view backend, std::string_view op,
                          std::string_view what) {
  return make_error(ec::store_failure, std::string{backend} + ": "
                                         + std::string{op} + ": "
                                         + std::string{what});
}

/// Runs `f()` with exceptions turned into `store_failure` values: nothing
/// throws across the store interfaces.
template <class F>
auto guarded(std::string_view backend, std::string_view op, F&& f)
  -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return failure(backend, op, e.what());
  } catch (...) {
    return failure(backend, op, "unknown exception");
  }
}

/// The ` AND status IN (...)` of a listing (sorted, without repeats); empty
/// when the filter names no status.
template <class Status>
caf::expected<std::string>
status_clause(std::string_view backend, const std::vector<Status>& xs,
              bool (*valid)(int64_t), std::string_view op) {
  std::set<int64_t> ns;
  for (auto x : xs) {
    auto n = static_cast<int64_t>(x);
    if (!valid(n))
      return invalid(backend, std::string{op} + ": invalid status "
                                + std::to_string(n));
    ns.insert(n);
  }
  std::string out;
  for (auto n : ns)
    out += (out.empty() ? " AND status IN (" : ", ") + std::to_string(n);
  return out.empty() ? out : out + ")";
}

/// Rejects jobs that would be written as rows that cannot be read back.
inline caf::error check_job(std::string_view backend, const job& x) {
  auto what = [&x]() -> std::string {
    if (!valid_status(static_cast<int64_t>(x.status)))
      return "invalid status " + std::to_string(static_cast<int>(x.status));
    if (!valid_priority(static_cast<int64_t>(x.priority)))
      return "invalid priority " + std::to_string(static_cast<int>(x.priority));
    if (!in_range(static_cast<int64_t>(x.source), 1, 3))
      return "invalid trigger source "
             + std::to_string(static_cast<int>(x.source));
    return {};
  }();
  if (what.empty())
    return {};
  return invalid(backend, "job " + to_string(x.id) + ": " + what);
}

inline caf::error check_schedule(std::string_view backend,
                                 const recurring_schedule& x) {
  auto& spec = x.spec;
  const char* what = nullptr;
  if (!valid_schedule_status(static_cast<int64_t>(x.status)))
    what = "invalid status";
  else if (!in_range(static_cast<int64_t>(spec.catch_up), 1, 3))
    what = "invalid catch-up policy";
  else if (!in_range(static_cast<int64_t>(spec.overlap), 1, 2))
    what = "invalid overlap policy";
  else if (spec.priority
           && !valid_priority(static_cast<int64_t>(*spec.priority)))
    what = "invalid priority";
  if (what == nullptr)
    return {};
  return invalid(backend, "schedule " + to_string(x.id) + ": " + what);
}

/// Checks a table prefix (at most 20 letters, digits and underscores, not
/// starting with a digit) and folds it to lower case.
inline caf::expected<std::string> table_prefix(std::string_view backend,
                                               std::string prefix) {
  auto ok = prefix.size() <= 20
            && std::all_of(prefix.begin(), prefix.end(),
                           [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c))
                                    || c == '_';
                           })
            && (prefix.empty()
                || !std::isdigit(static_cast<unsigned char>(prefix[0])));
  if (!ok)
    return make_error(ec::invalid_config,
                      std::string{backend} + ": invalid table prefix '" + prefix
                        + "': use at most 20 letters, digits and underscores, "
                          "not starting with a digit");
  for (auto& c : prefix)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return prefix;
}

inline int64_t saturating_add(int64_t x, int64_t y) {
  int64_t result = 0;
  if (!__builtin_add_overflow(x, y, &result))
    return result;
  return y > 0 ? std::numeric_limits<int64_t>::max()
               : std::numeric_limits<int64_t>::min();
}

/// The process deadline of a claim: `base` (due_by + grace) plus the job's
/// timeout, saturated at INT64_MAX; a negative timeout counts as zero.
inline int64_t claim_deadline(int64_t base, int64_t timeout_us) {
  if (timeout_us < 0)
    return base;
  return saturating_add(base, timeout_us);
}

/// The order of claims and listings: due time, then id.
inline bool earlier(const job& x, const job& y) {
  if (x.scheduled_at != y.scheduled_at)
    return x.scheduled_at < y.scheduled_at;
  return x.id < y.id;
}

/// The attempt that says why a row that does not decode was set aside.
inline attempt quarantine_note(std::string_view why) {
  attempt a;
  a.worker_id = "store";
  a.started_at = a.ended_at = jm::now();
  a.outcome = attempt_outcome::failed;
  a.error = "the stored job could not be decoded and was set aside: "
            + std::string{why};
  return a;
}

/// The attempt of an occurrence skipped by the overlap guard.
inline attempt skipped_note(const schedule_id& schedule) {
  attempt a;
  a.started_at = a.ended_at = jm::now();
  a.outcome = attempt_outcome::skipped;
  a.error = "skipped: an earlier run of schedule " + to_string(schedule)
            + " was still queued or processing (overlap policy skip)";
  return a;
}

/// The attempt of a processing job whose worker went away.
inline attempt lost_note(std::string worker_id, timestamp at,
                         std::string why) {
  attempt a;
  a.worker_id = std::move(worker_id);
  a.started_at = a.ended_at = at;
  a.outcome = attempt_outcome::lost;
  a.error = std::move(why);
  return a;
}

} // namespace jm::store_common
