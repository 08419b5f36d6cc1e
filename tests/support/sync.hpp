#pragma once

// Waiting for events across threads in tests, without sleeps.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace jm::test {

/// How long a test waits for something that should happen at once.
constexpr auto patience = std::chrono::seconds{10};

/// A one-shot event that threads can wait for.
class gate {
public:
  void open() {
    {
      std::lock_guard guard{mtx_};
      open_ = true;
    }
    cv_.notify_all();
  }

  /// Returns false if the gate did not open within `patience`.
  bool wait() {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, patience, [this] { return open_; });
  }

  bool is_open() const {
    std::lock_guard guard{mtx_};
    return open_;
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = false;
};

} // namespace jm::test
