// CAF's threads run as SCHED_BATCH (core/threads.hpp); the helpers they start do not: the
// sshfs daemon that serves containers' I/O keeps the normal class.

#include "adaptors/sys.hpp"
#include "core/threads.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <thread>

using namespace actorvol;

TEST(Threads, ABatchThreadSpawnsHelpersInTheNormalClass) {
  int mine = -1;
  int rc = -1;
  std::string policy;
  std::thread t([&] {
    ASSERT_EQ(threads::batch(), 0);
    mine = ::sched_getscheduler(0);
    // Field 41 of /proc/PID/stat is the scheduling policy (0: SCHED_OTHER, 3: SCHED_BATCH).
    rc = real_sys()->run({"/bin/sh", "-c", "cut -d' ' -f41 /proc/$$/stat"}, policy);
  });
  t.join();
  EXPECT_EQ(mine, SCHED_BATCH);
  ASSERT_EQ(rc, 0) << policy;
  EXPECT_EQ(policy, "0\n") << "a helper inherited SCHED_BATCH";
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER) << "only the calling thread changes";
}
