#pragma once

#include "actors/handler.hpp"
#include "messages/job.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <queue>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace jm {

/// How one run ended, as the executor pool reports it.
struct execution_result {
  job_id id;
  attempt_outcome outcome = attempt_outcome::succeeded;
  std::string error;
  timestamp started_at;
  timestamp ended_at;
};

/// One run to perform.
struct execution_request {
  jm::job job;
  int32_t attempt = 1;
  /// Set by the owner to withdraw a run that has not started yet.
  std::shared_ptr<std::atomic<bool>> withdrawn;
  /// Called once, from a pool thread, when the run starts.
  std::function<void(const job_id&, timestamp)> on_start;
  /// Called exactly once, from a pool thread, with the outcome.
  std::function<void(execution_result)> on_done;
};

/// Runs handlers on its own threads, where blocking is allowed. Higher
/// priority first, then earlier due time. Enforces timeouts: at the deadline
/// the run's stop token is requested and the run is reported as timed out;
/// a handler that ignores the token is abandoned (its thread is replaced and
/// its eventual result discarded). Handler exceptions become failures.
/// Thread-safe; not an actor, so that no CAF header is needed here.
class executor_pool : public std::enable_shared_from_this<executor_pool> {
public:
  using log_function = std::function<void(const jm::job&, std::string_view)>;

  /// Pool threads keep the pool alive, so that a handler abandoned after a
  /// timeout can still return safely after its owner let go of the pool.
  static std::shared_ptr<executor_pool> make(const handler_registry& handlers,
                                             size_t threads, log_function log);

  ~executor_pool();

  executor_pool(const executor_pool&) = delete;
  executor_pool& operator=(const executor_pool&) = delete;

  void submit(execution_request req);

  /// Runs that are queued or running.
  size_t load() const;

  /// Threads not stuck in an abandoned handler.
  size_t capacity() const { return threads_; }

  /// Stops accepting work, waits for running handlers up to `grace`, then
  /// abandons the rest. Queued runs are reported as not started through the
  /// returned list (the caller hands them back).
  std::vector<execution_request> shutdown(duration grace);

private:
  struct running {
    std::stop_source stop;
    timestamp deadline;
    bool finished = false;
    bool abandoned = false;
    execution_request* req = nullptr;
    timestamp started_at;
  };

  struct order {
    bool operator()(const execution_request& a,
                    const execution_request& b) const;
  };

  executor_pool(const handler_registry& handlers, size_t threads,
                log_function log);

  void spawn_thread();
  void thread_main();
  /// Runs on its own detached thread and holds the pool only weakly, so
  /// that nobody ever has to join it (a join would block an actor).
  static void watchdog_main(std::weak_ptr<executor_pool> weak,
                            std::stop_token stop);
  void run_one(execution_request& req, std::list<running>::iterator slot);

  const handler_registry& handlers_;
  log_function log_;
  size_t threads_;

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::priority_queue<execution_request, std::vector<execution_request>, order>
    queue_;
  std::list<running> running_;
  size_t live_threads_ = 0;
  bool closed_ = false;
  std::stop_source watchdog_stop_;
};

} // namespace jm
