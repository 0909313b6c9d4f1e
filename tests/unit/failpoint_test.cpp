#include "core/failpoint.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace actorvol;

class Failpoint : public ::testing::Test {
protected:
  void TearDown() override {
    failpoint::configure("");
  }
};

TEST_F(Failpoint, UnsetDoesNothing) {
  EXPECT_EQ(failpoint::configure(""), "");
  EXPECT_EQ(failpoint::hit("adaptor.mount"), "");
}

TEST_F(Failpoint, ErrorWithErrnoName) {
  ASSERT_EQ(failpoint::configure("state.write=error(EIO);adaptor.mount=error(boom)"), "");
  EXPECT_EQ(failpoint::hit("state.write"), "input/output error");
  EXPECT_EQ(failpoint::hit("adaptor.mount"), "boom");
  EXPECT_EQ(failpoint::hit("adaptor.unmount"), "");
}

TEST_F(Failpoint, Delay) {
  ASSERT_EQ(failpoint::configure("adaptor.create=delay(30)"), "");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(failpoint::hit("adaptor.create"), "");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
}

TEST_F(Failpoint, PanicAborts) {
  ASSERT_EQ(failpoint::configure("adaptor.remove=panic"), "");
  EXPECT_DEATH(failpoint::hit("adaptor.remove"), "");
}

TEST_F(Failpoint, SetSaysWhichAreConfiguredEvenWithNoHitsLeft) {
  EXPECT_FALSE(failpoint::set("adaptor.unmount"));
  ASSERT_EQ(failpoint::configure("adaptor.unmount=1*error(EBUSY)"), "");
  EXPECT_TRUE(failpoint::set("adaptor.unmount"));
  EXPECT_FALSE(failpoint::set("adaptor.mount"));
  EXPECT_EQ(failpoint::hit("adaptor.unmount"), "device or resource busy");
  EXPECT_TRUE(failpoint::set("adaptor.unmount"));
  ASSERT_EQ(failpoint::configure(""), "");
  EXPECT_FALSE(failpoint::set("adaptor.unmount"));
}

TEST_F(Failpoint, BadSpecs) {
  EXPECT_NE(failpoint::configure("nothing"), "");
  EXPECT_NE(failpoint::configure("a=explode"), "");
  EXPECT_NE(failpoint::configure("a=delay(x)"), "");
  EXPECT_NE(failpoint::configure("a=delay(5"), "");
}

TEST_F(Failpoint, CountedActionFiresForTheFirstHitsOnly) {
  ASSERT_EQ(failpoint::configure("state.write=1*error(EIO);adaptor.mount=2*error(boom)"), "");
  EXPECT_EQ(failpoint::hit("state.write"), "input/output error");
  EXPECT_EQ(failpoint::hit("state.write"), "");
  EXPECT_EQ(failpoint::hit("state.write"), "");
  EXPECT_EQ(failpoint::hit("adaptor.mount"), "boom");
  EXPECT_EQ(failpoint::hit("adaptor.mount"), "boom");
  EXPECT_EQ(failpoint::hit("adaptor.mount"), "");
  // Without a count an action fires on every hit.
  ASSERT_EQ(failpoint::configure("state.write=error(EIO)"), "");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(failpoint::hit("state.write"), "input/output error");
}

TEST_F(Failpoint, CountedDelayThenGoesOn) {
  ASSERT_EQ(failpoint::configure("adaptor.create=1*delay(200)"), "");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(failpoint::hit("adaptor.create"), "");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(failpoint::hit("adaptor.create"), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(200));
}

TEST_F(Failpoint, BadCounts) {
  EXPECT_NE(failpoint::configure("a=0*error(EIO)"), "");
  EXPECT_NE(failpoint::configure("a=-1*error(EIO)"), "");
  EXPECT_NE(failpoint::configure("a=x*error(EIO)"), "");
  EXPECT_NE(failpoint::configure("a=*error(EIO)"), "");
}
