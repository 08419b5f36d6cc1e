// The one translation unit of jm-test-cron that holds CAF's test runner.
#define CAF_SUITE cron
#include <caf/test/unit_test_impl.hpp>
