#include "net/router.hpp"

#include <gtest/gtest.h>

using namespace actorvol;
using namespace actorvol::net;

TEST(Router, EveryEndpointRoundTrips) {
  for (auto ep : {endpoint::activate, endpoint::capabilities, endpoint::create, endpoint::get,
                  endpoint::list, endpoint::mount, endpoint::path, endpoint::unmount,
                  endpoint::remove}) {
    auto path = net::path_of(ep);
    auto back = net::route(path);
    ASSERT_TRUE(back.has_value()) << path;
    EXPECT_EQ(*back, ep);
  }
}

TEST(Router, KnownPaths) {
  EXPECT_EQ(net::route("/Plugin.Activate"), endpoint::activate);
  EXPECT_EQ(net::route("/VolumeDriver.Mount"), endpoint::mount);
  EXPECT_EQ(net::route("/VolumeDriver.Remove?x=1"), endpoint::remove);
}

TEST(Router, UnknownPaths) {
  for (auto p : {"/", "", "/VolumeDriver.mount", "/VolumeDriver.Mount/", "VolumeDriver.Mount",
                 "/NetworkDriver.Create", "/VolumeDriver.Capability"})
    EXPECT_FALSE(net::route(p).has_value()) << p;
}
