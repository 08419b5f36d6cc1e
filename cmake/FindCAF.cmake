# Finds the C++ Actor Framework 0.17 as Debian packages it (libcaf-dev), which
# ships neither CMake config files nor pkg-config files.
#
# Imported targets: CAF::core, CAF::io, CAF::openssl (when found) and CAF::test
# (header-only test framework).

find_path(CAF_INCLUDE_DIR NAMES caf/config.hpp caf/all.hpp)
foreach (comp core io openssl)
  find_library(CAF_${comp}_LIBRARY NAMES caf_${comp})
endforeach ()

if (CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX MATCH "[0-9]+" caf_version_number "${caf_version_line}")
  math(EXPR CAF_VERSION_MAJOR "${caf_version_number} / 10000")
  math(EXPR CAF_VERSION_MINOR "(${caf_version_number} / 100) % 100")
  math(EXPR CAF_VERSION_PATCH "${caf_version_number} % 100")
  set(CAF_VERSION "${CAF_VERSION_MAJOR}.${CAF_VERSION_MINOR}.${CAF_VERSION_PATCH}")
endif ()

set(caf_required_vars CAF_INCLUDE_DIR)
foreach (comp ${CAF_FIND_COMPONENTS})
  if (comp STREQUAL "test")
    set(CAF_test_FOUND TRUE)
  elseif (CAF_${comp}_LIBRARY)
    set(CAF_${comp}_FOUND TRUE)
  endif ()
endforeach ()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS ${caf_required_vars}
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

# The code is written against the 0.17 API and BASP version 3.
if (CAF_FOUND AND CAF_VERSION VERSION_GREATER_EQUAL "0.18")
  message(FATAL_ERROR "CAF ${CAF_VERSION} found; this project needs 0.17.x")
endif ()

if (CAF_FOUND)
  find_package(Threads REQUIRED)
  if (CAF_core_LIBRARY AND NOT TARGET CAF::core)
    add_library(CAF::core SHARED IMPORTED)
    set_target_properties(CAF::core PROPERTIES
      IMPORTED_LOCATION "${CAF_core_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif ()
  if (CAF_io_LIBRARY AND NOT TARGET CAF::io)
    add_library(CAF::io SHARED IMPORTED)
    set_target_properties(CAF::io PROPERTIES
      IMPORTED_LOCATION "${CAF_io_LIBRARY}"
      INTERFACE_LINK_LIBRARIES CAF::core)
  endif ()
  if (CAF_openssl_LIBRARY AND NOT TARGET CAF::openssl)
    add_library(CAF::openssl SHARED IMPORTED)
    set_target_properties(CAF::openssl PROPERTIES
      IMPORTED_LOCATION "${CAF_openssl_LIBRARY}"
      INTERFACE_LINK_LIBRARIES CAF::io)
  endif ()
  if (NOT TARGET CAF::test)
    add_library(CAF::test INTERFACE IMPORTED)
    set_target_properties(CAF::test PROPERTIES INTERFACE_LINK_LIBRARIES CAF::core)
  endif ()
endif ()
