#pragma once

#include "config/options.hpp"

#include <caf/expected.hpp>

#include <filesystem>
#include <string_view>

namespace jm {

/// Reads a `jobmaster node --config` file. Keys use the names of the fluent
/// C++ API (docs/configuration.md lists them all). Unknown keys, wrong types
/// and invalid values are errors naming the key and the file position; the
/// result is validated.
caf::expected<cluster_config> load_toml_file(const std::filesystem::path& path);

/// The same for text already in memory; `source` names it in errors.
caf::expected<cluster_config> parse_toml(std::string_view text,
                                         std::string_view source);

} // namespace jm
