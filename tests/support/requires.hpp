#pragma once

// Tests that need root skip with a clear message on a machine without it; under CI=true a
// missing requirement is a failure, never a skip.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

// Skips the test with `why` (what is missing, e.g. "needs root (mounts)") unless it is empty;
// under CI=true fails instead.
#define ACTORVOL_REQUIRE(why)                                                              \
  do {                                                                                     \
    std::string missing_ = (why);                                                          \
    if (!missing_.empty()) {                                                               \
      auto ci = std::getenv("CI");                                                         \
      if (ci != nullptr && std::strcmp(ci, "true") == 0)                                   \
        FAIL() << "this test " << missing_ << ", and CI=true runs every test";             \
      GTEST_SKIP() << "this test " << missing_;                                            \
    }                                                                                      \
  } while (false)

#define ACTORVOL_REQUIRE_ROOT()                                                            \
  ACTORVOL_REQUIRE(::geteuid() == 0 ? "" : "needs root for real mounts; run as root to include it")
