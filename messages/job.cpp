#include "messages/job.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cctype>

namespace jm {

namespace {

std::string lowercase(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Accept both `held-on-master` and `held_on_master` spellings.
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

} // namespace

std::string_view to_string(job_status x) {
  switch (x) {
  case job_status::save_pending:
    return "save_pending";
  case job_status::held_on_master:
    return "held_on_master";
  case job_status::assigned_to_bucket:
    return "assigned_to_bucket";
  case job_status::processing:
    return "processing";
  case job_status::succeeded:
    return "succeeded";
  case job_status::queued:
    return "queued";
  case job_status::failed:
    return "failed";
  case job_status::cancelled:
    return "cancelled";
  }
  return "invalid";
}

caf::expected<job_status> parse_job_status(std::string_view text) {
  auto name = lowercase(text);
  for (uint8_t i = 1; i <= 8; ++i) {
    auto x = static_cast<job_status>(i);
    if (name == to_string(x))
      return x;
  }
  return make_error(ec::invalid_argument,
                    "invalid status '" + std::string{text}
                      + "' (save_pending, held_on_master, assigned_to_bucket, "
                        "queued, processing, succeeded, failed, cancelled)");
}

bool is_final(job_status x) {
  return x == job_status::succeeded || x == job_status::failed
         || x == job_status::cancelled;
}

bool can_transition(job_status from, job_status to) {
  using s = job_status;
  if (is_final(from))
    return false;
  switch (to) {
  case s::save_pending:
    return false;
  case s::held_on_master:
    // From any live status: a retry, the rescue of a lost bucket, the
    // deadline sweep, a hand-back on shutdown, or a reschedule.
    return true;
  case s::assigned_to_bucket:
    // Placed by the assigner; or given back to its bucket when a crashed
    // bucket's successor releases what its predecessor had claimed.
    return from == s::save_pending || from == s::held_on_master
           || from == s::queued || from == s::processing;
  case s::queued:
    // Claimed by its bucket, or adopted (due and held) by a bucket of its
    // priority and lane.
    return from == s::assigned_to_bucket || from == s::held_on_master;
  case s::processing:
    return from == s::queued;
  case s::succeeded:
    return from == s::processing;
  case s::failed:
    // A run failed with no retries left; or the store set aside a job
    // whose stored bytes no longer decode, whatever its status.
    return true;
  case s::cancelled:
    // Only before a worker claimed it: a claimed job may already run.
    return from == s::save_pending || from == s::held_on_master
           || from == s::assigned_to_bucket;
  }
  return false;
}

std::string_view to_string(priority x) {
  switch (x) {
  case priority::very_low:
    return "very_low";
  case priority::low:
    return "low";
  case priority::medium:
    return "medium";
  case priority::high:
    return "high";
  case priority::critical:
    return "critical";
  }
  return "invalid";
}

caf::expected<priority> parse_priority(std::string_view text) {
  auto name = lowercase(text);
  for (uint8_t i = 1; i <= num_priorities; ++i) {
    auto x = static_cast<priority>(i);
    if (name == to_string(x) || name == std::to_string(i))
      return x;
  }
  if (name == "verylow")
    return priority::very_low;
  return make_error(ec::invalid_argument,
                    "invalid priority '" + std::string{text}
                      + "' (very_low, low, medium, high, critical or 1-5)");
}

bool has_metadata(const job& x, const value_map& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&x](const auto& kvp) {
    auto i = x.metadata.find(kvp.first);
    return i != x.metadata.end() && i->second == kvp.second;
  });
}

void clear_placement(job& x) {
  x.bucket_id.clear();
  x.worker_id.clear();
  x.process_deadline.reset();
}

std::string_view to_string(attempt_outcome x) {
  switch (x) {
  case attempt_outcome::succeeded:
    return "succeeded";
  case attempt_outcome::failed:
    return "failed";
  case attempt_outcome::timed_out:
    return "timed_out";
  case attempt_outcome::lost:
    return "lost";
  case attempt_outcome::skipped:
    return "skipped";
  }
  return "invalid";
}

} // namespace jm
