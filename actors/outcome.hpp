#pragma once

#include "actors/executor_pool.hpp"
#include "config/options.hpp"
#include "providers/store.hpp"

namespace jm {

/// The fenced write that records a finished run: succeeded; or, on failure
/// or timeout, a retry (held on the master, due after the backoff) while
/// retries are left, else failed. Appends the attempt, except that a
/// success removes the job with its history when `delete_succeeded`.
/// @param running The job as its owner last wrote it (status processing or
///                queued, with the version the store holds).
/// @param random01 Jitter draw in [0, 1).
job_write record_outcome(const job& running, const execution_result& result,
                         const retry_config& retry, std::string_view worker_id,
                         double random01, bool delete_succeeded);

/// The fenced write that returns a claimed, unstarted job to the master.
job_write hand_back(const job& claimed);

} // namespace jm
