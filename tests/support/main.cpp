// The one translation unit per test binary that holds CAF's test runner.
#define CAF_SUITE main
#include <caf/test/unit_test_impl.hpp>
