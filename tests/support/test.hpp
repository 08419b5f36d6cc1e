#pragma once

// Include after defining CAF_SUITE. Short aliases for CAF's test macros and
// a helper that unwraps a caf::expected or fails the test with its error.

#include "messages/error.hpp"

#include <caf/test/unit_test.hpp>

#include <utility>

#define TEST CAF_TEST
#define CHECK CAF_CHECK
#define CHECK_EQUAL CAF_CHECK_EQUAL
#define CHECK_NOT_EQUAL CAF_CHECK_NOT_EQUAL
#define REQUIRE CAF_REQUIRE
#define REQUIRE_EQUAL CAF_REQUIRE_EQUAL
#define FAIL(msg) CAF_FAIL(msg)
#define MESSAGE CAF_MESSAGE

namespace jm::test {

/// Returns the value of `x`, or fails the test with the error's text.
template <class T>
T unbox(caf::expected<T> x) {
  if (!x)
    CAF_FAIL("unexpected error: " << jm::describe(x.error()));
  return std::move(*x);
}

/// Fails the test when `err` holds an error.
inline void require_ok(const caf::error& err) {
  if (err)
    CAF_FAIL("unexpected error: " << jm::describe(err));
}

} // namespace jm::test
