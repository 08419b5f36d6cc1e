#pragma once

#include "actors/handler.hpp"
#include "config/options.hpp"
#include "messages/api.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <vector>

namespace jm {

/// Optional per-call settings; unset ones fall back to the handler's
/// defaults, then the cluster's.
struct schedule_options {
  std::optional<jm::priority> priority;
  std::optional<std::string> lane;
  std::optional<duration> timeout;
  std::optional<int32_t> max_retries;
  value_map metadata;
};

class runtime;

/// Schedules and manages jobs through the cluster's master.
class scheduler {
public:
  template <class H>
  caf::expected<job_id> once_now(value_map data = {},
                                 schedule_options opts = {}) {
    return one(
      make_spec(std::string{H::name}, std::move(data), std::move(opts)));
  }

  template <class H>
  caf::expected<job_id> once_at(timestamp at, value_map data = {},
                                schedule_options opts = {}) {
    auto spec
      = make_spec(std::string{H::name}, std::move(data), std::move(opts));
    spec.run_at = at;
    return one(std::move(spec));
  }

  template <class H>
  caf::expected<job_id> once_after(duration delay, value_map data = {},
                                   schedule_options opts = {}) {
    auto spec
      = make_spec(std::string{H::name}, std::move(data), std::move(opts));
    spec.after = delay;
    return one(std::move(spec));
  }

  /// Schedules many jobs in one request (all or none).
  caf::expected<std::vector<job_id>> schedule(std::vector<job_spec> specs);

  caf::error cancel(const job_id& id);
  caf::error reschedule(const job_id& id, timestamp at);
  caf::expected<std::vector<job>> list(job_filter filter);
  caf::expected<job_detail> get(const job_id& id);

private:
  friend class runtime;
  explicit scheduler(runtime& rt) : rt_(rt) {}

  static job_spec make_spec(std::string handler, value_map data,
                            schedule_options opts);
  caf::expected<job_id> one(job_spec spec);
  caf::expected<reply> call(request req);

  runtime& rt_;
};

/// One node of a cluster inside the calling process: configure it, register
/// handlers and services, start it, schedule jobs, stop it.
///
///     jm::runtime rt{cfg};
///     rt.add_service(std::make_shared<greeter>());
///     rt.add_handler<hello_handler, greeter>();
///     if (auto err = rt.start()) ...
///     rt.scheduler().once_now<hello_handler>({{"name", std::string{"Ada"}}});
class runtime {
public:
  explicit runtime(cluster_config cfg);
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  template <class T>
  runtime& add_service(std::shared_ptr<T> x) {
    registry().services().add(std::move(x));
    return *this;
  }

  template <class H, class... Deps>
  runtime& add_handler() {
    registry().add<H, Deps...>();
    return *this;
  }

  handler_registry& registry();

  /// Opens and migrates the store, joins the cluster, spawns the actors and
  /// listens for clients. Errors name what failed (store, port, ...).
  caf::error start();

  /// Graceful stop: no new claims, running handlers get the shutdown grace,
  /// unstarted jobs go back to the master, the node leaves the cluster.
  /// Called by the destructor if needed.
  void stop();

  /// Blocks until the node stops by itself (e.g. lost its lease).
  void await_stopped();
  bool running() const;

  jm::scheduler& scheduler() { return scheduler_; }

  const cluster_config& config() const;
  const std::string& node_id() const;
  /// The port the node listens on (useful with listen port 0).
  uint16_t port() const;

private:
  friend class jm::scheduler;
  struct impl;
  std::unique_ptr<impl> impl_;
  jm::scheduler scheduler_;
};

} // namespace jm
