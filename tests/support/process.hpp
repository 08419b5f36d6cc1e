#pragma once

// Real child processes for end-to-end tests: start, read their output line
// by line with a deadline, signal, reap.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace jm::test {

/// Result of running a command to completion.
struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `argv` to completion (stdin closed) and captures its output.
run_result run(const std::vector<std::string>& argv);

/// A long-running child whose stdout is read through a pipe; its stderr
/// goes to a file (kept for diagnosis).
class child {
public:
  child(const std::vector<std::string>& argv, const std::string& stderr_path);
  ~child();

  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const { return pid_; }

  /// Reads stdout until a line containing `needle` arrives; returns it, or
  /// nullopt at end of output or after `timeout`.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);

  /// Sends `sig` and waits for the exit; returns the wait status.
  int stop(int sig, std::chrono::milliseconds timeout);

  bool running() const { return pid_ > 0; }

private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

/// A free TCP port on 127.0.0.1 (bound and released).
uint16_t free_port();

/// Polls `pred` every `interval` until true or `timeout`; returns its last
/// value. For conditions in another process, which cannot notify us.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval
                = std::chrono::milliseconds{50});

} // namespace jm::test

#include <thread>

template <class Pred>
bool jm::test::eventually(Pred pred, std::chrono::milliseconds timeout,
                          std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(interval);
  }
}
