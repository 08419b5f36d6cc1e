#include "node/logging.hpp"

#include "messages/error.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <vector>

namespace jm {

namespace {

// Appends records as JSON lines: {"ts","level","thread","msg"}. Buffered,
// because a job system logs a lot; flushed when the buffer is full, when
// the interval has passed, on warnings and above, and on shutdown.
class jsonl_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
  jsonl_sink(std::ofstream out, size_t max_buffer,
             std::chrono::microseconds interval)
    : out_(std::move(out)), max_buffer_(max_buffer), interval_(interval),
      last_flush_(std::chrono::steady_clock::now()) {}

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    nlohmann::json j;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      msg.time.time_since_epoch());
    j["ts"] = format_timestamp(from_micros(us.count()));
    j["level"] = spdlog::level::to_string_view(msg.level).data();
    j["thread"] = msg.thread_id;
    j["msg"] = std::string{msg.payload.data(), msg.payload.size()};
    buffer_.push_back(j.dump());
    auto t = std::chrono::steady_clock::now();
    if (buffer_.size() >= max_buffer_ || msg.level >= spdlog::level::warn
        || t - last_flush_ >= interval_)
      flush_();
  }

  void flush_() override {
    for (auto& line : buffer_)
      out_ << line << '\n';
    buffer_.clear();
    out_.flush();
    last_flush_ = std::chrono::steady_clock::now();
  }

private:
  std::ofstream out_;
  size_t max_buffer_;
  std::chrono::microseconds interval_;
  std::chrono::steady_clock::time_point last_flush_;
  std::vector<std::string> buffer_;
};

} // namespace

caf::error setup_logging(const logging_config& cfg) {
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%H:%M:%S.%e %^%-5l%$ %v");
  sinks.push_back(console);
  if (!cfg.jsonl_path.empty()) {
    std::ofstream out{cfg.jsonl_path, std::ios::app};
    if (!out)
      return make_error(ec::invalid_config, "cannot open the JSONL log file '"
                                              + cfg.jsonl_path + "'");
    sinks.push_back(std::make_shared<jsonl_sink>(
      std::move(out), cfg.jsonl_max_buffer, cfg.jsonl_flush_interval));
  }
  auto logger
    = std::make_shared<spdlog::logger>("jobmaster", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(cfg.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  // Flushes buffered JSONL records when no new record arrives to do it.
  spdlog::flush_every(std::chrono::duration_cast<std::chrono::seconds>(
    std::max(cfg.jsonl_flush_interval, duration{std::chrono::seconds{1}})));
  return {};
}

void shutdown_logging() {
  spdlog::default_logger()->flush();
  spdlog::shutdown();
}

} // namespace jm
