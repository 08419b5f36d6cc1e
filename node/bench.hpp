#pragma once

#include "config/options.hpp"

#include <cstdint>
#include <string>

namespace jm {

struct bench_args {
  uint64_t jobs = 20000;
  uint32_t latency_samples = 200;
  uint32_t parallelism = 2;
  uint32_t batch_size = 1000;
  /// `sqlite`, `postgres` or `mysql`.
  std::string store = "sqlite";
  /// Server stores: the connection string of a throwaway database (MySQL:
  /// `mysql://user[:password]@host[:port]/db`). The bench creates tables
  /// prefixed `jmbench_` and drops them at the end.
  std::string url;
  /// The open-loop latency run: jobs per second and for how long (0 skips
  /// it).
  uint32_t latency_rate = 200;
  uint32_t latency_seconds = 20;
  /// SQLite, empty: a fresh temporary directory.
  std::string dir;
  /// SQLite: every run with synchronous=FULL (fsync per commit).
  bool full_sync = false;
  /// Server stores: the nodes' `agent_connections`.
  uint32_t agent_connections = store_config{}.agent_connections;
  /// Empty, or a separate agent store for the nodes: `sqlite` (a file next
  /// to the others), `postgres` or `mysql` (at `agent_url`, tables
  /// `jmbench_agent_*`, dropped at the end).
  std::string agent;
  std::string agent_url;
  /// The cluster deletes succeeded jobs (`delete_succeeded`); the floors
  /// and the store alone then delete instead of writing a result and an
  /// attempt, and the drain counts the jobs gone.
  bool delete_succeeded = false;
};

/// `jobmaster bench`: prints raw store baselines, end-to-end throughput and
/// schedule-to-start latency, all measured in this run. Returns the exit
/// code.
int run_bench(const bench_args& args);

} // namespace jm
