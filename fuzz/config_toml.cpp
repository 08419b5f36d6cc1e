// Fuzz target: the TOML configuration loader (config/toml_loader.hpp).
//
// The whole input is a configuration file. parse_toml must return a
// validated configuration or an error naming the source, never crash.

#include "config/toml_loader.hpp"
#include "messages/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto cfg = jm::parse_toml(text, "fuzz");
  if (!cfg) {
    // Every failure is reported as invalid_config, naming the source.
    if (jm::code_of(cfg.error()) != jm::ec::invalid_config) {
      std::fprintf(stderr, "config_toml: error code is not invalid_config\n");
      std::abort();
    }
    auto why = jm::describe(cfg.error());
    if (why.find("fuzz") == std::string::npos) {
      std::fprintf(stderr, "config_toml: error does not name the source: %s\n",
                   why.c_str());
      std::abort();
    }
  }
  return 0;
}
