#pragma once

#include <cstdint>
#include <string>

namespace jm {

struct bench_args {
  uint64_t jobs = 20000;
  uint32_t latency_samples = 200;
  uint32_t parallelism = 2;
  uint32_t batch_size = 1000;
  /// Empty: a fresh temporary directory.
  std::string dir;
  /// Both runs with synchronous=FULL (fsync per commit).
  bool full_sync = false;
};

/// `jobmaster bench`: prints a raw store baseline, end-to-end throughput and
/// schedule-to-start latency, all measured in this run. Returns the exit
/// code.
int run_bench(const bench_args& args);

} // namespace jm
