#pragma once

#include "messages/job.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <unordered_map>

namespace jm {

/// Defaults a handler type declares for its jobs. Precedence when a job is
/// scheduled: call argument > handler default > cluster default.
struct handler_defaults {
  std::optional<duration> timeout;
  std::optional<int32_t> max_retries;
  std::optional<jm::priority> priority;
  std::optional<std::string> lane;
  /// Overlaid by the caller's metadata (the caller wins per key).
  value_map metadata;
};

/// What a running handler sees of its job.
class job_context {
public:
  job_context(const jm::job& job, int32_t attempt, std::stop_token stop,
              std::function<void(std::string_view)> log_sink);

  const jm::job& job() const { return job_; }
  const job_id& id() const { return job_.id; }
  const value_map& data() const { return job_.data; }
  const value_map& metadata() const { return job_.metadata; }
  /// 1 for the first run, then 1 + the failures so far (a run cut short by
  /// a crash is not a failure, so it does not count).
  int32_t attempt() const { return attempt_; }

  /// Requested when the job's timeout passes or the node shuts down. A
  /// handler that keeps running past the timeout is abandoned: its attempt
  /// is recorded as timed out and its result ignored.
  std::stop_token stop_token() const { return stop_; }
  bool stop_requested() const { return stop_.stop_requested(); }

  /// Sleeps for `d` or until a stop is requested; returns false if stopped.
  bool sleep_for(duration d) const;

  /// A log line attributed to this job (printed with the job's id).
  void log(std::string_view text) const;

  /// Typed access to message data; throws std::out_of_range naming the key
  /// when it is absent or of another type (the run then fails).
  template <class T>
  const T& get(std::string_view key) const {
    if (auto p = get_if<T>(job_.data, key))
      return *p;
    missing(key);
  }

private:
  [[noreturn]] void missing(std::string_view key) const;

  const jm::job& job_;
  int32_t attempt_;
  std::stop_token stop_;
  std::function<void(std::string_view)> log_sink_;
};

/// The interface every job handler implements. A fresh instance is made for
/// every run, so a handler may keep per-run state in members. Returning
/// means success; throwing means failure (the exception's text is recorded).
class job_handler {
public:
  virtual ~job_handler() = default;
  virtual void handle(job_context& ctx) = 0;
};

/// Services that handlers receive through their constructors.
class service_container {
public:
  template <class T>
  void add(std::shared_ptr<T> x) {
    services_[std::type_index{typeid(T)}] = std::move(x);
  }

  /// The registered service; throws std::logic_error when absent.
  template <class T>
  T& get() const {
    auto i = services_.find(std::type_index{typeid(T)});
    if (i == services_.end())
      missing(typeid(T).name());
    return *static_cast<T*>(i->second.get());
  }

private:
  [[noreturn]] static void missing(const char* type_name);

  std::unordered_map<std::type_index, std::shared_ptr<void>> services_;
};

/// Maps handler names to factories. A handler type `H` provides
/// `static constexpr std::string_view name`, `void handle(job_context&)`
/// (deriving from job_handler is optional), optionally
/// `static handler_defaults defaults()`, and a constructor taking the
/// services listed as `Deps...` by reference.
class handler_registry {
public:
  using factory
    = std::function<std::unique_ptr<job_handler>(const service_container&)>;

  struct entry {
    std::string name;
    handler_defaults defaults;
    factory make;
  };

  template <class H, class... Deps>
  void add() {
    handler_defaults defaults;
    if constexpr (requires { H::defaults(); })
      defaults = H::defaults();
    add(std::string{H::name}, std::move(defaults),
        [](const service_container& services) -> std::unique_ptr<job_handler> {
          if constexpr (std::is_base_of_v<job_handler, H>) {
            return std::make_unique<H>(services.template get<Deps>()...);
          } else {
            // Any type with `void handle(job_context&)` will do.
            struct adapter final : job_handler {
              explicit adapter(Deps&... deps) : impl(deps...) {}
              void handle(job_context& ctx) override { impl.handle(ctx); }
              H impl;
            };
            return std::make_unique<adapter>(services.template get<Deps>()...);
          }
        });
  }

  /// Registers a factory; a second registration of a name replaces it.
  void add(std::string name, handler_defaults defaults, factory make);

  const entry* find(std::string_view name) const;

  std::vector<std::string> names() const;

  service_container& services() { return services_; }
  const service_container& services() const { return services_; }

private:
  std::unordered_map<std::string, entry> entries_;
  service_container services_;
};

} // namespace jm
