#pragma once

#include "messages/error.hpp"
#include "messages/job.hpp"
#include "messages/schedule.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace jm {

/// A job to schedule. Unset fields take the handler's default, then the
/// cluster's.
struct job_spec {
  std::string handler;
  value_map data;
  value_map metadata;
  /// Absolute due time; wins over `after`.
  std::optional<timestamp> run_at;
  /// Due time relative to the master's clock on arrival.
  std::optional<duration> after;
  std::optional<jm::priority> priority;
  std::optional<std::string> lane;
  std::optional<duration> timeout;
  std::optional<int32_t> max_retries;
};

struct cancel_request {
  job_id id;
};

struct reschedule_request {
  job_id id;
  timestamp run_at;
};

struct get_job_request {
  job_id id;
};

struct ping_request {};

struct get_schedule_request {
  schedule_id id;
};

struct cancel_schedule_request {
  schedule_id id;
};

struct run_schedule_now_request {
  schedule_id id;
};

/// Everything the MASTER's front door accepts. A `recurring_spec` creates a
/// schedule (replied with its id); `run_schedule_now_request` makes one
/// extra job of a schedule (replied with the job's id).
using request
  = std::variant<std::vector<job_spec>, cancel_request, reschedule_request,
                 job_filter, get_job_request, ping_request, recurring_spec,
                 schedule_filter, get_schedule_request,
                 cancel_schedule_request, run_schedule_now_request>;

struct error_reply {
  ec code = ec::none;
  std::string text;
};

struct done_reply {};

struct job_detail {
  jm::job job;
  std::vector<attempt> attempts;
};

struct pong_reply {
  std::string cluster_id;
};

struct schedule_detail {
  recurring_schedule schedule;
  /// Its latest jobs, newest first.
  std::vector<job> jobs;
  /// Its next occurrences from now (for an active schedule).
  std::vector<timestamp> upcoming;
};

struct cancelled_reply {
  /// Unstarted jobs of the schedule that were cancelled with it.
  uint64_t jobs = 0;
};

/// Everything the MASTER answers.
using reply
  = std::variant<error_reply, std::vector<job_id>, done_reply,
                 std::vector<job>, job_detail, pong_reply,
                 std::vector<recurring_schedule>, schedule_detail,
                 cancelled_reply>;

/// The reply's payload of the kind a request expects; a reply of another
/// kind (a peer speaking nonsense) is `ec::malformed_message`.
template <class T>
caf::expected<T> reply_as(caf::expected<reply> r) {
  if (!r)
    return r.error();
  if (auto x = std::get_if<T>(&*r))
    return std::move(*x);
  return make_error(ec::malformed_message, "unexpected kind of reply");
}

/// Turns an error into its reply form and back.
error_reply to_reply(const caf::error& err);
caf::error to_error(const error_reply& x);

} // namespace jm
