#pragma once

#include "actors/handler.hpp"
#include "config/options.hpp"
#include "cron/builder.hpp"
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

/// Optional settings of a recurring schedule; unset job settings fall back
/// to the handler's defaults, then the cluster's, at each occurrence.
struct recurring_options : schedule_options {
  /// Zone for expressions without `tz`; empty: the cluster's time zone.
  std::string time_zone;
  std::optional<timestamp> start_after;
  std::optional<timestamp> end_before;
  catch_up_policy catch_up = catch_up_policy::latest;
  uint32_t catch_up_limit = 100;
  overlap_policy overlap = overlap_policy::allow;
};

/// A recurrence as callers write it: NaturalCron text, a builder, or an
/// interval (at least one second).
struct recurrence_text {
  std::string type;
  std::string expression;

  recurrence_text(std::string_view natural_cron)
    : type(expression_types::natural_cron), expression(natural_cron) {}
  recurrence_text(const char* natural_cron)
    : recurrence_text(std::string_view{natural_cron}) {}
  recurrence_text(const cron::builder& x)
    : type(expression_types::natural_cron), expression(x.to_string()) {}
  recurrence_text(const cron::every_builder&) = delete;
  recurrence_text(duration interval);
};

/// Builds the spec of a recurring schedule.
recurring_spec make_recurring_spec(std::string handler,
                                   const recurrence_text& when, value_map data,
                                   recurring_options opts);

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

  /// Creates a recurring schedule of handler H; returns its id.
  ///
  ///     sched.recurring<report>("every weekday at 9:00 tz Europe/Lisbon");
  ///     sched.recurring<report>(cron::every(1).day().at("10:30"));
  ///     sched.recurring<ping>(std::chrono::seconds{30});
  template <class H>
  caf::expected<schedule_id> recurring(const recurrence_text& when,
                                       value_map data = {},
                                       recurring_options opts = {}) {
    return recurring(make_recurring_spec(std::string{H::name}, when,
                                         std::move(data), std::move(opts)));
  }

  caf::expected<schedule_id> recurring(recurring_spec spec);

  /// Cancels a schedule and its jobs that have not started; returns how
  /// many jobs were cancelled.
  caf::expected<uint64_t> cancel_recurring(const schedule_id& id);

  /// Makes one extra job of a schedule, due now; returns its id.
  caf::expected<job_id> run_now(const schedule_id& id);

  caf::expected<std::vector<recurring_schedule>>
  list_schedules(schedule_filter filter = {});

  caf::expected<schedule_detail> get_schedule(const schedule_id& id);

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

  /// Declares a static schedule of handler H under a unique name (before
  /// `start`): created or updated by name when the node starts, kept alive
  /// while a node declares it, retired once none does
  /// (`static_schedule_ttl`).
  template <class H>
  runtime& add_static_schedule(std::string name, const recurrence_text& when,
                               value_map data = {},
                               recurring_options opts = {}) {
    auto spec = make_recurring_spec(std::string{H::name}, when, std::move(data),
                                    std::move(opts));
    spec.static_name = std::move(name);
    return add_static_schedule(std::move(spec));
  }

  runtime& add_static_schedule(recurring_spec spec);

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
