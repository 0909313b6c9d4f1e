#pragma once

// Tests that need root skip with a clear message on a machine without it; under CI=true a
// missing requirement is a failure, never a skip.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#define ACTORVOL_REQUIRE_ROOT()                                                            \
  do {                                                                                     \
    if (::geteuid() != 0) {                                                                \
      auto ci = std::getenv("CI");                                                         \
      if (ci != nullptr && std::strcmp(ci, "true") == 0)                                   \
        FAIL() << "this test needs root (mounts), and CI=true runs every test";            \
      GTEST_SKIP() << "needs root for real mounts; run as root to include it";             \
    }                                                                                      \
  } while (false)
