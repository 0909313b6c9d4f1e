// The binary's life: flags, the socket file, logging, signals, restarts.

#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

using namespace actorvol::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

TEST(Lifecycle, HelpAndVersion) {
  auto help = run_binary({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--socket"), std::string::npos);
  auto version = run_binary({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out.rfind("actorvol ", 0), 0u);
}

TEST(Lifecycle, BadFlagPrintsUsageAndExits2) {
  auto r = run_binary({"--frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option --frobnicate"), std::string::npos);
  EXPECT_NE(r.err.find("usage:"), std::string::npos);
  EXPECT_EQ(run_binary({"--scope", "planet"}).code, 2);
}

TEST(Lifecycle, SocketModeIs0660AndParentIsCreated) {
  plugin p;
  struct stat st {};
  ASSERT_EQ(::stat(p.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(Lifecycle, EnvironmentConfiguresAndFlagsWin) {
  temp_dir tmp;
  auto root = (tmp / "env-root").string();
  plugin p({"--log-level", "warn"}, {"ACTORVOL_SCOPE=global", "ACTORVOL_LOG_LEVEL=debug"});
  EXPECT_EQ(p.call("/VolumeDriver.Capabilities").json()["Capabilities"]["Scope"], "global");
  p.call("/Plugin.Activate");
  EXPECT_EQ(p.log().find("endpoint=/Plugin.Activate"), std::string::npos)
    << "--log-level warn must win over ACTORVOL_LOG_LEVEL=debug";
}

TEST(Lifecycle, OneStructuredLogLinePerRequest) {
  plugin p;
  p.call("/VolumeDriver.Create", {{"Name", "logged"}});
  p.call("/VolumeDriver.Mount", {{"Name", "nope"}, {"ID", "i"}});
  p.call("/VolumeDriver.Get", {{"Name", "logged"}});
  p.stop();
  auto log = p.log();
  EXPECT_EQ(log.find("endpoint=/VolumeDriver.Get"), std::string::npos)
    << "a read that succeeds is logged at debug only\n" << log;
  EXPECT_NE(log.find("level=info endpoint=/VolumeDriver.Create volume=logged status=200 "
                     "result=ok us="),
            std::string::npos)
    << log;
  EXPECT_NE(log.find("level=warn endpoint=/VolumeDriver.Mount volume=nope status=500 "
                     "result=\"volume \\\"nope\\\" not found\" us="),
            std::string::npos)
    << log;
}

TEST(Lifecycle, ReadsAreLoggedAtDebugFailuresAtWarn) {
  plugin p({"--log-level", "debug"});
  p.call("/VolumeDriver.Create", {{"Name", "logged"}});
  p.call("/VolumeDriver.Get", {{"Name", "logged"}});
  p.call("/VolumeDriver.Get", {{"Name", "nope"}});
  p.call("/VolumeDriver.Nope");
  p.stop();
  auto log = p.log();
  EXPECT_NE(log.find("level=warn endpoint=/VolumeDriver.Nope volume=\"\" status=404"),
            std::string::npos)
    << "a request that is not understood is a failure\n" << log;
  EXPECT_NE(log.find("level=debug endpoint=/VolumeDriver.Get volume=logged status=200 result=ok"),
            std::string::npos)
    << log;
  EXPECT_NE(log.find("level=warn endpoint=/VolumeDriver.Get volume=nope status=500"),
            std::string::npos)
    << log;
}

TEST(Lifecycle, StaleSocketIsReplaced) {
  temp_dir tmp;
  auto sock = (tmp / "p.sock").string();
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);  // bound, never listening: a stale socket file
  }
  ASSERT_TRUE(fs::exists(sock));
  plugin first;
  plugin p({"--socket", sock});  // the later --socket wins
  EXPECT_EQ(connection(sock).post("/Plugin.Activate", "").status, 200);
}

TEST(Lifecycle, RefusesToStartWhileAnotherInstanceAnswers) {
  plugin first;
  auto r = run_binary({"--socket", first.socket(), "--root", first.root() + "-other"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("another instance is already listening"), std::string::npos) << r.err;
  EXPECT_EQ(first.call("/Plugin.Activate").status, 200);
}

TEST(Lifecycle, RefusesANonSocketFile) {
  temp_dir tmp;
  auto path = (tmp / "file").string();
  std::ofstream(path) << "x";
  auto r = run_binary({"--socket", path, "--root", (tmp / "root").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not a socket"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(path));
}

TEST(Lifecycle, SigtermFinishesInFlightRequestsThenExits0) {
  plugin p({}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(700)"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "slow"}}).json()["Err"], "");
  connection idle(p.socket());
  ASSERT_EQ(idle.post("/Plugin.Activate", "").status, 200);
  auto inflight = std::async(std::launch::async, [&] {
    return p.call("/VolumeDriver.Mount", {{"Name", "slow"}, {"ID", "a"}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto sock = p.socket();
  auto log_before = p.log();
  EXPECT_EQ(p.stop(SIGTERM), 0);
  auto r = inflight.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.json()["Mountpoint"], "");
  EXPECT_FALSE(fs::exists(sock)) << "the socket is removed";
  EXPECT_TRUE(idle.closed_by_peer());
  // The answered Mount is durable.
  plugin again(p.root(), {}, {});
  EXPECT_EQ(again.call("/VolumeDriver.Get", {{"Name", "slow"}}).json()["Volume"]["Status"]["Mounts"],
            1);
}

// A Mount whose record is still being written when the shutdown grace (5 s) runs out is
// answered by the write's outcome, never "shutting down" while its use reaches the disk
// (Docker would send no Unmount for it, and the use would stay forever).
TEST(Lifecycle, AMountWhoseWriteOutlivesTheShutdownGraceIsAnsweredByItsOutcome) {
  plugin p;
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "v"}}).json()["Err"], "");
  ASSERT_EQ(p.stop(SIGTERM), 0);
  plugin slow(p.root(), {}, {"ACTORVOL_FAILPOINTS=state.write=1*delay(7000)"});
  auto inflight = std::async(std::launch::async, [&] {
    return slow.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(slow.stop(SIGTERM), 0);
  auto r = inflight.get();
  bool mounted = r.json()["Err"] == "";
  EXPECT_TRUE(mounted) << r.body;
  plugin again(p.root(), {}, {});
  EXPECT_EQ(again.call("/VolumeDriver.Get", {{"Name", "v"}}).json()["Volume"]["Status"]["Mounts"],
            mounted ? 1 : 0)
    << "the answer and the disk disagree";
}

TEST(Lifecycle, SigintStopsToo) {
  plugin p;
  auto sock = p.socket();
  EXPECT_EQ(p.stop(SIGINT), 0);
  EXPECT_FALSE(fs::exists(sock));
}

TEST(Lifecycle, VolumesAndMountIdsSurviveARestart) {
  plugin p;
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "keep"}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Mount", {{"Name", "keep"}, {"ID", "a"}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Mount", {{"Name", "keep"}, {"ID", "a"}}).json()["Err"], "");
  auto created = p.call("/VolumeDriver.Get", {{"Name", "keep"}}).json()["Volume"]["CreatedAt"];
  auto root = p.root();
  p.stop(SIGKILL);
  plugin again(root, {}, {});
  auto get = again.call("/VolumeDriver.Get", {{"Name", "keep"}}).json();
  EXPECT_EQ(get["Volume"]["CreatedAt"], created);
  EXPECT_EQ(get["Volume"]["Status"]["Mounts"], 2);
  EXPECT_EQ(get["Volume"]["Mountpoint"], root + "/volumes/keep/_data");
  EXPECT_EQ(again.call("/VolumeDriver.Unmount", {{"Name", "keep"}, {"ID", "a"}}).json()["Err"], "");
  EXPECT_EQ(again.call("/VolumeDriver.Unmount", {{"Name", "keep"}, {"ID", "a"}}).json()["Err"], "");
  EXPECT_EQ(again.call("/VolumeDriver.Remove", {{"Name", "keep"}}).json()["Err"], "");
}
