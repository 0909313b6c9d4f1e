// Reconciling with Docker, against a stand-in Docker Engine socket (the real dockerd is in
// tests/e2e). Waits poll for a condition; they carry no timing goal.

#include "support/fake_docker.hpp"
#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

using namespace actorvol::test;
using json = nlohmann::json;

namespace {

int mounts(plugin& p, const std::string& vol) {
  return p.call("/VolumeDriver.Get", {{"Name", vol}}).json()["Volume"]["Status"]["Mounts"];
}

// Polls `cond` for up to `limit`.
template <class F>
bool eventually(F cond, std::chrono::seconds limit = std::chrono::seconds(15)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

struct Reconcile : ::testing::Test {
  temp_dir tmp;
  fake_docker docker{(tmp / "docker.sock").string()};

  std::unique_ptr<plugin> start(const std::string& grace) {
    auto p = std::make_unique<plugin>(std::vector<std::string>{
      "--docker-socket", docker.socket(), "--reconcile-interval", "1", "--reconcile-grace",
      grace});
    for (auto v : {"used", "idle"}) {
      EXPECT_EQ(p->call("/VolumeDriver.Create", {{"Name", v}}).json()["Err"], "");
      EXPECT_EQ(p->call("/VolumeDriver.Mount", {{"Name", v}, {"ID", "m1"}}).json()["Err"], "");
    }
    return p;
  }
};

} // namespace

TEST_F(Reconcile, DropsUsesNoLiveContainerExplains) {
  docker.set_containers("[" + container_json("running", "used") + ","
                        + container_json("exited", "idle") + "]");
  auto p = start("0");
  ASSERT_TRUE(eventually([&] { return mounts(*p, "idle") == 0; })) << p->log();
  EXPECT_EQ(mounts(*p, "used"), 1) << "a running container's volume keeps its use";
  EXPECT_EQ(p->call("/VolumeDriver.Path", {{"Name", "idle"}}).json()["Mountpoint"], "")
    << "the volume is detached";
  EXPECT_NE(p->log().find("event=reconcile-drop volume=idle id=m1"), std::string::npos)
    << p->log();
  EXPECT_EQ(p->call("/VolumeDriver.Remove", {{"Name", "idle"}}).json()["Err"], "");
  // Once its container is gone, the other volume's use goes too.
  docker.set_containers("[]");
  EXPECT_TRUE(eventually([&] { return mounts(*p, "used") == 0; }));
}

TEST_F(Reconcile, UsesYoungerThanTheGraceAreKept) {
  docker.set_containers("[]");
  auto p = start("3600");
  auto seen = docker.requests();
  ASSERT_TRUE(eventually([&] { return docker.requests() >= seen + 2; }));
  EXPECT_EQ(mounts(*p, "idle"), 1);
  EXPECT_EQ(mounts(*p, "used"), 1);
}

TEST_F(Reconcile, ADaemonThatHangsNeverBlocksRequests) {
  docker.set_hang(true);
  auto p = start("0");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(p->call("/VolumeDriver.Mount", {{"Name", "idle"}, {"ID", "x"}}).json()["Err"], "");
    EXPECT_EQ(p->call("/VolumeDriver.Unmount", {{"Name", "idle"}, {"ID", "x"}}).json()["Err"],
              "");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(mounts(*p, "idle"), 1) << "nothing is dropped without an answer from Docker";
}

TEST(ReconcileOff, ADaemonThatIsDownDropsNothing) {
  temp_dir tmp;
  plugin p({"--docker-socket", (tmp / "absent.sock").string(), "--reconcile-interval", "1",
            "--reconcile-grace", "0"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "v"}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}).json()["Err"], "");
  ASSERT_TRUE(eventually([&] { return p.log().find("event=reconcile") != std::string::npos; }));
  EXPECT_NE(p.log().find("docker engine: GET /containers/json?all=1"), std::string::npos)
    << p.log();
  EXPECT_EQ(mounts(p, "v"), 1);
}

TEST(ReconcileOff, WithoutTheFlagNothingIsDropped) {
  temp_dir tmp;
  fake_docker docker((tmp / "docker.sock").string());
  plugin p({"--reconcile-interval", "1", "--reconcile-grace", "0"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "v"}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}).json()["Err"], "");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(docker.requests(), 0);
  EXPECT_EQ(mounts(p, "v"), 1);
}
