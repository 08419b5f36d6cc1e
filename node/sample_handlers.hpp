#pragma once

// Handlers that ship with the `jobmaster` program: for trying the system out
// (`jobmaster node --demo`) and for the end-to-end tests.

#include "actors/handler.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace jm::samples {

/// A service injected into `hello` through its constructor.
struct greeter {
  std::string greeting = "Hello";
  std::string greet(const std::string& name) const {
    return greeting + ", " + name + "!";
  }
};

/// Logs a greeting for `Name` (string, default "world").
struct hello {
  static constexpr std::string_view name = "hello";
  explicit hello(greeter& g) : greeter_(g) {}
  void handle(job_context& ctx) {
    auto who = get_if<std::string>(ctx.data(), "Name");
    ctx.log(greeter_.greet(who ? *who : "world"));
  }
  greeter& greeter_;
};

/// Fails its first `fail_times` runs (int, default 2), then succeeds.
struct flaky {
  static constexpr std::string_view name = "flaky";
  static handler_defaults defaults() {
    handler_defaults d;
    d.max_retries = 3;
    return d;
  }
  void handle(job_context& ctx) {
    auto n = get_if<int64_t>(ctx.data(), "fail_times");
    auto fail_times = n ? *n : 2;
    if (ctx.attempt() <= fail_times)
      throw std::runtime_error("failing attempt "
                               + std::to_string(ctx.attempt()) + " of "
                               + std::to_string(fail_times) + " on purpose");
    ctx.log("succeeded on attempt " + std::to_string(ctx.attempt()));
  }
};

/// Sleeps `ms` milliseconds (int, default 100) but stops when asked.
struct sleepy {
  static constexpr std::string_view name = "sleep";
  void handle(job_context& ctx) {
    auto ms = get_if<int64_t>(ctx.data(), "ms");
    if (!ctx.sleep_for(std::chrono::milliseconds{ms ? *ms : 100}))
      throw std::runtime_error("stopped before finishing");
  }
};

/// Ignores its stop token: sleeps `ms` milliseconds no matter what.
struct stubborn {
  static constexpr std::string_view name = "stubborn";
  void handle(job_context& ctx) {
    auto ms = get_if<int64_t>(ctx.data(), "ms");
    std::this_thread::sleep_for(std::chrono::milliseconds{ms ? *ms : 1000});
  }
};

/// Always fails.
struct failing {
  static constexpr std::string_view name = "fail";
  void handle(job_context&) {
    throw std::runtime_error("this handler always fails");
  }
};

/// Does nothing (benchmarks).
struct noop {
  static constexpr std::string_view name = "noop";
  void handle(job_context&) {}
};

/// Appends the job's id as one line to the file named by `file`: an
/// independent witness of how often each job ran. With `times` (bool) the
/// line also holds the job's original due time, the run's start and its end
/// (microseconds since the epoch), for timing checks of recurring jobs.
struct record {
  static constexpr std::string_view name = "record";
  void handle(job_context& ctx) {
    auto file = get_if<std::string>(ctx.data(), "file");
    if (!file)
      throw std::runtime_error("record needs data 'file'");
    auto started = now();
    auto ms = get_if<int64_t>(ctx.data(), "ms");
    if (ms && !ctx.sleep_for(std::chrono::milliseconds{*ms}))
      throw std::runtime_error("stopped before finishing");
    auto line = to_string(ctx.id());
    if (auto times = get_if<bool>(ctx.data(), "times"); times && *times)
      line += " " + std::to_string(to_micros(ctx.job().original_scheduled_at))
              + " " + std::to_string(to_micros(started)) + " "
              + std::to_string(to_micros(now()));
    line += "\n";
    int fd = ::open(file->c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
      throw std::runtime_error("cannot open " + *file);
    // One write(2) of a short line with O_APPEND: lines never interleave.
    auto written = ::write(fd, line.data(), line.size());
    ::close(fd);
    if (written != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("short write to " + *file);
  }
};

/// Registers every sample handler (and the greeter service).
inline void add_samples(handler_registry& r) {
  r.services().add(std::make_shared<greeter>());
  r.add<hello, greeter>();
  r.add<flaky>();
  r.add<sleepy>();
  r.add<stubborn>();
  r.add<failing>();
  r.add<noop>();
  r.add<record>();
}

} // namespace jm::samples
