#include "actors/outcome.hpp"

namespace jm {

job_write record_outcome(const job& running, const execution_result& result,
                         const retry_config& retry, std::string_view worker_id,
                         double random01, bool delete_succeeded) {
  job_write w;
  w.job = running;
  w.expected_version = running.version;
  auto& x = w.job;
  attempt a;
  a.job = x.id;
  a.worker_id = std::string{worker_id};
  a.started_at = result.started_at;
  a.ended_at = result.ended_at;
  a.outcome = result.outcome;
  a.error = result.error;
  w.attempt = std::move(a);
  clear_placement(x);
  if (result.outcome == attempt_outcome::succeeded) {
    x.status = job_status::succeeded;
    if (delete_succeeded) {
      w.remove = true;
      w.attempt.reset();
    }
    return w;
  }
  x.failure_count += 1;
  if (x.failure_count > x.max_retries) {
    x.status = job_status::failed;
    return w;
  }
  x.status = job_status::held_on_master;
  x.scheduled_at
    = result.ended_at + retry_delay(retry, x.failure_count, random01);
  return w;
}

job_write hand_back(const job& claimed) {
  job_write w;
  w.job = claimed;
  w.expected_version = claimed.version;
  w.job.status = job_status::held_on_master;
  clear_placement(w.job);
  return w;
}

} // namespace jm
