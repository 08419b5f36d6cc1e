// A `main` for the fuzz targets when they are built without libFuzzer (any
// compiler): feeds every file named on the command line, and every regular
// file below every directory named there, to LLVMFuzzerTestOneInput once.
// ctest runs it over fuzz/corpus/<name> so that the corpora act as
// regression tests of the normal (g++) build.
//
// Arguments starting with '-' are ignored, so the command line of a libFuzzer
// binary (e.g. `-runs=0 corpus/`) also works here.
//
// Exit status: 0 when every input ran (a target reports a failed property by
// calling abort()), 1 when a path is missing or no input was found.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool read_file(const fs::path& path, std::vector<uint8_t>& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  out.assign(std::istreambuf_iterator<char>{in},
             std::istreambuf_iterator<char>{});
  return !in.bad();
}

} // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-')
      continue;
    fs::path path{arg};
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (auto& entry : fs::recursive_directory_iterator{path, ec})
        if (entry.is_regular_file())
          inputs.push_back(entry.path());
      if (ec) {
        std::fprintf(stderr, "cannot list %s: %s\n", arg.c_str(),
                     ec.message().c_str());
        return 1;
      }
    } else if (fs::is_regular_file(path, ec)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", arg.c_str());
      return 1;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s FILE|DIR...  (no input found)\n",
                 argc > 0 ? argv[0] : "replay");
    return 1;
  }
  // A fixed order makes a failure reproducible from the log.
  std::sort(inputs.begin(), inputs.end());
  std::vector<uint8_t> buf;
  for (auto& path : inputs) {
    if (!read_file(path, buf)) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 1;
    }
    // Print the name first: if the target aborts, the log shows the culprit.
    std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), buf.size());
    // Copy into an exactly sized heap block, as libFuzzer does, so that a
    // sanitizer build catches reads past the end.
    std::vector<uint8_t> exact(buf.begin(), buf.end());
    LLVMFuzzerTestOneInput(exact.data(), exact.size());
  }
  std::printf("replayed %zu inputs\n", inputs.size());
  return 0;
}
