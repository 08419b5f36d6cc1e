#include "actors/handler.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace jm {

job_context::job_context(const jm::job& job, int32_t attempt,
                         std::stop_token stop,
                         std::function<void(std::string_view)> log_sink)
  : job_(job), attempt_(attempt), stop_(std::move(stop)),
    log_sink_(std::move(log_sink)) {}

bool job_context::sleep_for(duration d) const {
  std::mutex mtx;
  std::condition_variable_any cv;
  std::unique_lock guard{mtx};
  // This overload returns the predicate, which is always false here: ask
  // the token whether the sleep was cut short.
  cv.wait_for(guard, stop_, d, [] { return false; });
  return !stop_.stop_requested();
}

void job_context::log(std::string_view text) const {
  if (log_sink_)
    log_sink_(text);
}

void job_context::missing(std::string_view key) const {
  throw std::out_of_range("message data has no value '" + std::string{key}
                          + "' of the requested type");
}

void service_container::missing(const char* type_name) {
  throw std::logic_error(std::string{"no service registered of type "}
                         + type_name);
}

void handler_registry::add(std::string name, handler_defaults defaults,
                           factory make) {
  auto key = name;
  entries_[key] = entry{std::move(name), std::move(defaults), std::move(make)};
}

const handler_registry::entry*
handler_registry::find(std::string_view name) const {
  auto i = entries_.find(std::string{name});
  return i == entries_.end() ? nullptr : &i->second;
}

std::vector<std::string> handler_registry::names() const {
  std::vector<std::string> result;
  for (auto& [name, e] : entries_)
    result.push_back(name);
  std::sort(result.begin(), result.end());
  return result;
}

} // namespace jm
