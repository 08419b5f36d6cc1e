#include "actors/executor_pool.hpp"

#include <exception>

namespace jm {

bool executor_pool::order::operator()(const execution_request& a,
                                      const execution_request& b) const {
  // std::priority_queue pops the largest: "a < b" means b runs first.
  if (a.job.priority != b.job.priority)
    return a.job.priority < b.job.priority;
  return a.job.scheduled_at > b.job.scheduled_at;
}

executor_pool::executor_pool(const handler_registry& handlers, size_t threads,
                             log_function log)
  : handlers_(handlers), log_(std::move(log)), threads_(threads) {}

std::shared_ptr<executor_pool>
executor_pool::make(const handler_registry& handlers, size_t threads,
                    log_function log) {
  std::shared_ptr<executor_pool> pool{
    new executor_pool(handlers, threads, std::move(log))};
  std::lock_guard guard{pool->mtx_};
  for (size_t i = 0; i < threads; ++i)
    pool->spawn_thread();
  // Nothing to watch without threads.
  if (threads > 0)
    std::thread{watchdog_main, std::weak_ptr<executor_pool>{pool},
                pool->watchdog_stop_.get_token()}
      .detach();
  return pool;
}

executor_pool::~executor_pool() {
  watchdog_stop_.request_stop();
}

void executor_pool::spawn_thread() {
  ++live_threads_;
  // Detached: an abandoned handler may never return, and joining it would
  // hang the process. Each thread leaves when the pool closes, and holds the
  // pool alive until then.
  std::thread{[self = shared_from_this()] { self->thread_main(); }}.detach();
}

void executor_pool::submit(execution_request req) {
  {
    std::lock_guard guard{mtx_};
    if (closed_)
      return;
    queue_.push(std::move(req));
  }
  cv_.notify_one();
}

size_t executor_pool::load() const {
  std::lock_guard guard{mtx_};
  return queue_.size() + running_.size();
}

std::vector<execution_request> executor_pool::shutdown(duration grace) {
  std::vector<execution_request> unstarted;
  std::unique_lock guard{mtx_};
  if (!closed_) {
    closed_ = true;
    while (!queue_.empty()) {
      unstarted.push_back(
        std::move(const_cast<execution_request&>(queue_.top())));
      queue_.pop();
    }
  }
  cv_.notify_all();
  idle_cv_.wait_for(guard, grace, [this] { return running_.empty(); });
  for (auto& r : running_)
    r.stop.request_stop();
  watchdog_stop_.request_stop();
  return unstarted;
}

void executor_pool::thread_main() {
  std::unique_lock guard{mtx_};
  for (;;) {
    cv_.wait(guard, [this] { return closed_ || !queue_.empty(); });
    if (closed_ && queue_.empty()) {
      --live_threads_;
      return;
    }
    auto req = std::make_unique<execution_request>(
      std::move(const_cast<execution_request&>(queue_.top())));
    queue_.pop();
    if (req->withdrawn && req->withdrawn->load())
      continue; // Handed back to the master before it started.
    auto slot = running_.emplace(running_.end());
    slot->req = req.get();
    slot->started_at = now();
    slot->deadline = slot->started_at + req->job.timeout;
    guard.unlock();
    run_one(*req, slot);
    guard.lock();
    bool abandoned = slot->abandoned;
    running_.erase(slot);
    if (running_.empty())
      idle_cv_.notify_all();
    if (abandoned) {
      // A replacement was started when this run was abandoned.
      --live_threads_;
      return;
    }
  }
}

void executor_pool::run_one(execution_request& req,
                            std::list<running>::iterator slot) {
  if (req.on_start)
    req.on_start(req.job.id, slot->started_at);
  execution_result result;
  result.id = req.job.id;
  result.started_at = slot->started_at;
  auto* entry = handlers_.find(req.job.handler);
  try {
    if (entry == nullptr)
      throw std::runtime_error("no handler named '" + req.job.handler
                               + "' is registered on this node");
    auto handler = entry->make(handlers_.services());
    job_context ctx{req.job, req.attempt, slot->stop.get_token(),
                    [this, &req](std::string_view text) {
                      if (log_)
                        log_(req.job, text);
                    }};
    handler->handle(ctx);
    result.outcome = attempt_outcome::succeeded;
  } catch (const std::exception& e) {
    result.outcome = attempt_outcome::failed;
    result.error = e.what();
    if (result.error.empty())
      result.error = "exception without a message";
  } catch (...) {
    result.outcome = attempt_outcome::failed;
    result.error = "unknown exception";
  }
  result.ended_at = now();
  {
    std::lock_guard guard{mtx_};
    if (slot->abandoned)
      return; // The watchdog reported a timeout already.
    slot->finished = true;
  }
  req.on_done(std::move(result));
}

void executor_pool::watchdog_main(std::weak_ptr<executor_pool> weak,
                                  std::stop_token stop) {
  std::mutex sleep_mtx;
  std::condition_variable_any sleep_cv;
  while (!stop.stop_requested()) {
    auto self = weak.lock();
    if (!self)
      return;
    // Copies, taken under the lock: the abandoned run's request dies with
    // its thread, which may return at any moment.
    std::vector<
      std::pair<std::function<void(execution_result)>, execution_result>>
      timed_out;
    {
      std::lock_guard guard{self->mtx_};
      auto t = now();
      for (auto& r : self->running_) {
        if (!r.finished && !r.abandoned && r.deadline <= t) {
          r.abandoned = true;
          r.stop.request_stop();
          timed_out.emplace_back(
            r.req->on_done,
            execution_result{r.req->job.id, attempt_outcome::timed_out,
                             "timed out after "
                               + format_duration(r.req->job.timeout),
                             r.started_at, t});
          if (!self->closed_)
            self->spawn_thread();
        }
      }
    }
    for (auto& [done, result] : timed_out)
      done(std::move(result));
    self.reset(); // not held while sleeping: the pool may go meanwhile
    // Timeouts are checked every 10 ms: a bound on how late one is noticed.
    std::unique_lock guard{sleep_mtx};
    sleep_cv.wait_for(guard, stop, std::chrono::milliseconds{10},
                      [] { return false; });
  }
}

} // namespace jm
