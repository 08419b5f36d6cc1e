#pragma once

#include "config/options.hpp"

#include <caf/error.hpp>

namespace jm {

/// Sets up spdlog: coloured console output at the configured level and,
/// when `debug_jsonl_file_logger` is set, one JSON object per record in that
/// file (buffered; flushed by size and interval). Call once per process.
caf::error setup_logging(const logging_config& cfg);

/// Flushes and closes every sink.
void shutdown_logging();

} // namespace jm
