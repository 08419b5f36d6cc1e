#pragma once

// Backend-neutral pieces of the SQL stores: argument checks, the claim
// deadline arithmetic and the texts of the attempts a store writes on its
// own. Header-only; every function takes the backend's name ("mysql", ...)
// for its error texts.

#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "messages/job.hpp"
#include "messages/schedule.hpp"
#include "providers/store.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
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
      return invalid(backend,
                     std::string{op} + ": invalid status " + std::to_string(n));
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

/// Rejects jobs that cannot go into a save-pending queue.
inline caf::error check_pending(std::string_view backend, const job& x) {
  if (auto err = check_job(backend, x))
    return err;
  if (x.bucket_id.empty() || x.bucket_id == corrupt_queue)
    return invalid(backend, "job " + to_string(x.id)
                              + ": a save-pending job needs its bucket");
  return {};
}

/// Decodes one save-pending entry into `out.jobs`, or notes its `seq` in
/// `out.corrupt` when its bytes are no job of that queue (or one that the
/// master store would refuse, which would block the queue's head).
inline void read_pending_entry(int64_t seq, std::string_view bucket_id,
                               std::string_view bytes, pending_read& out) {
  auto x = decode_job(
    {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  if (x && x->bucket_id == bucket_id && !check_pending("queue", *x))
    out.jobs.push_back(pending_job{seq, std::move(*x)});
  else
    out.corrupt.push_back(seq);
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

/// A claimed job's placement: the claiming bucket, and its worker when the
/// claim adopts held jobs (as the claim statements write it).
inline void take_placement(job& x, std::string_view bucket_id,
                           const std::optional<held_route>& adopt) {
  x.bucket_id = bucket_id;
  if (adopt)
    x.worker_id = adopt->worker_id;
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
inline attempt lost_note(std::string worker_id, timestamp at, std::string why) {
  attempt a;
  a.worker_id = std::move(worker_id);
  a.started_at = a.ended_at = at;
  a.outcome = attempt_outcome::lost;
  a.error = std::move(why);
  return a;
}

// -- reading rows -------------------------------------------------------------
//
// The readers take any row type with `null(col)`, `text(col)`,
// `i64(col, int64_t&)`, `id(col, uuid&)`, `boolean(col, bool&)` and
// `map(col) -> caf::expected<value_map>`; each backend decodes its own wire
// format, the checks are the same everywhere.

inline caf::error malformed(std::string_view backend, std::string text) {
  return make_error(ec::malformed_message,
                    std::string{backend} + ": " + std::move(text));
}

/// Reads an optional bigint column through `convert(int64_t, out) -> bool`;
/// false when it holds something else.
template <class Row, class T, class F>
bool read_optional(const Row& r, int col, std::optional<T>& out, F convert) {
  if (r.null(col))
    return true;
  int64_t v = 0;
  if (!r.i64(col, v))
    return false;
  return convert(v, out);
}

/// Reads a job from columns 0 .. 19: id, handler, status, priority, source,
/// lane, original_scheduled_at, scheduled_at, created_at, timeout_us,
/// max_retries, failure_count, data, metadata, recurring_schedule_id,
/// bucket_id, worker_id, process_deadline, skip_if_running, version.
template <class Row>
caf::expected<job> read_job(std::string_view backend, const Row& r) {
  job x;
  if (!r.id(0, x.id))
    return malformed(backend, "a job row has an invalid id");
  auto bad = [&](std::string what) {
    return malformed(backend, "job " + to_string(x.id) + ": " + what);
  };
  int64_t n = 0;
  x.handler = r.text(1);
  if (!r.i64(2, n) || !valid_status(n))
    return bad("invalid status");
  x.status = static_cast<job_status>(n);
  if (!r.i64(3, n) || !valid_priority(n))
    return bad("invalid priority");
  x.priority = static_cast<jm::priority>(n);
  if (!r.i64(4, n) || !in_range(n, 1, 3))
    return bad("invalid trigger source");
  x.source = static_cast<trigger_source>(n);
  x.lane = r.text(5);
  if (!r.i64(6, n))
    return bad("invalid original_scheduled_at");
  x.original_scheduled_at = from_micros(n);
  if (!r.i64(7, n))
    return bad("invalid scheduled_at");
  x.scheduled_at = from_micros(n);
  if (!r.i64(8, n))
    return bad("invalid created_at");
  x.created_at = from_micros(n);
  if (!r.i64(9, n))
    return bad("invalid timeout");
  x.timeout = duration{n};
  if (!r.i64(10, n) || !fits_int32(n))
    return bad("invalid max_retries");
  x.max_retries = static_cast<int32_t>(n);
  if (!r.i64(11, n) || !fits_int32(n))
    return bad("invalid failure_count");
  x.failure_count = static_cast<int32_t>(n);
  if (auto m = r.map(12))
    x.data = std::move(*m);
  else
    return bad("data does not decode: " + describe(m.error()));
  if (auto m = r.map(13))
    x.metadata = std::move(*m);
  else
    return bad("metadata does not decode: " + describe(m.error()));
  if (!r.null(14)) {
    uuid u;
    if (!r.id(14, u))
      return bad("invalid recurring_schedule_id");
    x.recurring_schedule_id = u;
  }
  x.bucket_id = r.text(15);
  x.worker_id = r.text(16);
  if (!r.null(17)) {
    if (!r.i64(17, n))
      return bad("invalid process_deadline");
    x.process_deadline = from_micros(n);
  }
  if (!r.boolean(18, x.skip_if_running))
    return bad("invalid skip_if_running");
  if (!r.i64(19, n))
    return bad("invalid version");
  x.version = n;
  return x;
}

/// Reads an attempt from columns 0 .. 6: job_id, number, worker_id,
/// started_at, ended_at, outcome, error.
template <class Row>
caf::expected<attempt> read_attempt(std::string_view backend, const Row& r) {
  attempt x;
  if (!r.id(0, x.job))
    return malformed(backend, "an attempt row has an invalid job id");
  auto bad = [&](std::string what) {
    return malformed(backend,
                     "attempt of job " + to_string(x.job) + ": " + what);
  };
  int64_t n = 0;
  if (!r.i64(1, n) || !fits_int32(n) || n < 1)
    return bad("invalid number");
  x.number = static_cast<int32_t>(n);
  x.worker_id = r.text(2);
  if (!r.i64(3, n))
    return bad("invalid started_at");
  x.started_at = from_micros(n);
  if (!r.i64(4, n))
    return bad("invalid ended_at");
  x.ended_at = from_micros(n);
  if (!r.i64(5, n) || !valid_outcome(n))
    return bad("invalid outcome");
  x.outcome = static_cast<attempt_outcome>(n);
  x.error = r.text(6);
  return x;
}

/// Reads a schedule from columns 0 .. 23: id, handler, expression_type,
/// expression, time_zone, data, metadata, priority, lane, timeout_us,
/// max_retries, start_after, end_before, catch_up, catch_up_limit, overlap,
/// static_name, status, created_at, terminated_at, occurrence_cursor,
/// planned_until, ensured_at, version.
template <class Row>
caf::expected<recurring_schedule> read_schedule(std::string_view backend,
                                                const Row& r) {
  recurring_schedule x;
  if (!r.id(0, x.id))
    return malformed(backend, "a schedule row has an invalid id");
  auto bad = [&](std::string what) {
    return malformed(backend, "schedule " + to_string(x.id) + ": " + what);
  };
  auto& spec = x.spec;
  int64_t n = 0;
  spec.handler = r.text(1);
  spec.expression_type = r.text(2);
  spec.expression = r.text(3);
  spec.time_zone = r.text(4);
  if (auto m = r.map(5))
    spec.data = std::move(*m);
  else
    return bad("data does not decode: " + describe(m.error()));
  if (auto m = r.map(6))
    spec.metadata = std::move(*m);
  else
    return bad("metadata does not decode: " + describe(m.error()));
  auto to_time = [](int64_t v, std::optional<timestamp>& out) {
    out = from_micros(v);
    return true;
  };
  if (!read_optional(r, 7, spec.priority, [](int64_t v, auto& out) {
        if (!valid_priority(v))
          return false;
        out = static_cast<priority>(v);
        return true;
      }))
    return bad("invalid priority");
  if (!r.null(8))
    spec.lane = r.text(8);
  if (!read_optional(r, 9, spec.timeout, [](int64_t v, auto& out) {
        out = duration{v};
        return true;
      }))
    return bad("invalid timeout");
  if (!read_optional(r, 10, spec.max_retries, [](int64_t v, auto& out) {
        out = static_cast<int32_t>(v);
        return fits_int32(v);
      }))
    return bad("invalid max_retries");
  if (!read_optional(r, 11, spec.start_after, to_time))
    return bad("invalid start_after");
  if (!read_optional(r, 12, spec.end_before, to_time))
    return bad("invalid end_before");
  if (!r.i64(13, n) || !in_range(n, 1, 3))
    return bad("invalid catch_up");
  spec.catch_up = static_cast<catch_up_policy>(n);
  if (!r.i64(14, n) || !in_range(n, 0, UINT32_MAX))
    return bad("invalid catch_up_limit");
  spec.catch_up_limit = static_cast<uint32_t>(n);
  if (!r.i64(15, n) || !in_range(n, 1, 2))
    return bad("invalid overlap");
  spec.overlap = static_cast<overlap_policy>(n);
  spec.static_name = r.text(16);
  if (!r.i64(17, n) || !valid_schedule_status(n))
    return bad("invalid status");
  x.status = static_cast<schedule_status>(n);
  if (!r.i64(18, n))
    return bad("invalid created_at");
  x.created_at = from_micros(n);
  if (!read_optional(r, 19, x.terminated_at, to_time))
    return bad("invalid terminated_at");
  if (!r.i64(20, n))
    return bad("invalid occurrence_cursor");
  x.cursor = from_micros(n);
  if (!r.i64(21, n))
    return bad("invalid planned_until");
  x.planned_until = from_micros(n);
  if (!read_optional(r, 22, x.ensured_at, to_time))
    return bad("invalid ensured_at");
  if (!r.i64(23, n))
    return bad("invalid version");
  x.version = n;
  return x;
}

/// A job row that does not decode (written by a newer version, or damaged
/// by hand), identified by its id so that it can be set aside.
struct corrupt_row {
  uuid id;
  std::string why;
};

/// Reads a job row into `out`, or into `bad` when it does not decode, so
/// that one bad row cannot stall a bucket or the assigner forever. Fails
/// only when not even the id reads.
template <class Row>
caf::error read_job_tolerant(std::string_view backend, const Row& r,
                             std::vector<job>& out,
                             std::vector<corrupt_row>& bad) {
  auto x = read_job(backend, r);
  if (x) {
    out.emplace_back(std::move(*x));
    return {};
  }
  uuid id;
  if (!r.id(0, id))
    return std::move(x.error());
  bad.push_back(corrupt_row{id, describe(x.error())});
  return {};
}

} // namespace jm::store_common
