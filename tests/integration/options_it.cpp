// Volume options on real mounts (root): uid/gid/mode, tmpfs, size= on a loop device, and the
// local driver's type/device/o pass-through.

#include "support/plugin.hpp"
#include "support/requires.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

using namespace actorvol::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string err_of(const response& r) {
  return r.status == 0 ? "<no answer>" : r.json().value("Err", "<no Err>");
}

bool is_mountpoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.find(" " + path + " ") != std::string::npos)
      return true;
  return false;
}

// Writes `bytes` to `path`; returns the errno of the first failure, or 0.
int write_bytes(const std::string& path, size_t bytes) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f)
    return errno;
  std::string chunk(1 << 16, 'x');
  int err = 0;
  for (size_t done = 0; done < bytes && err == 0; done += chunk.size())
    if (std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size())
      err = errno;
  if (std::fflush(f) != 0 && err == 0)
    err = errno;
  if (std::fclose(f) != 0 && err == 0)
    err = errno;
  return err;
}

} // namespace

TEST(Options, OwnershipAndMode) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "own"}, {"Opts", {{"uid", "1234"}, {"gid", "5678"}, {"mode", "0750"}}}})),
            "");
  auto mp = p.call("/VolumeDriver.Mount", {{"Name", "own"}, {"ID", "a"}}).json()["Mountpoint"];
  struct stat st {};
  ASSERT_EQ(::stat(mp.get<std::string>().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST(Options, BadValuesAreRefusedBeforeAnythingIsMade) {
  plugin p;
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "m"}, {"Opts", {{"mode", "9z"}}}})),
            "volume \"m\": bad option mode=9z: must be an octal mode such as 0755");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "u"}, {"Opts", {{"uid", "-1"}}}})),
            "volume \"u\": bad option uid=-1: must be a whole number from 0 to 4294967294");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "u"}, {"Opts", {{"gid", "4294967295"}}}})),
            "volume \"u\": bad option gid=4294967295: must be a whole number from 0 to "
            "4294967294");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "s"}, {"Opts", {{"size", "lots"}}}})),
            "volume \"s\": bad option size=lots: must be N, NK, NM, NG or NT (at most 8388607T)");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}, {"colour", "red"}}}})),
            "volume \"t\": unknown option \"colour\"");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "d"}, {"Opts", {{"type", "ext4"}}}})),
            "volume \"d\": bad option type and device: both are needed to mount a device");
  EXPECT_TRUE(fs::is_empty(p.root() + "/volumes"));
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
}

TEST(Options, TmpfsIsMountedOnFirstUseAndSized) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}, {"o", "size=1m"}}}})),
            "");
  auto target = p.root() + "/volumes/t/_data";
  EXPECT_FALSE(is_mountpoint(target));
  auto mp = p.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}}).json()["Mountpoint"];
  EXPECT_EQ(mp, target);
  EXPECT_TRUE(is_mountpoint(target));
  EXPECT_EQ(write_bytes(target + "/big", 2 << 20), ENOSPC);
  EXPECT_EQ(p.call("/VolumeDriver.Get", {{"Name", "t"}}).json()["Volume"]["Status"]["Backend"],
            "tmpfs");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}})), "");
  EXPECT_FALSE(is_mountpoint(target));
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "t"}})), "");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/t"));
}

// Helper-24: the kernel refuses a tmpfs option only at Mount (as for the local driver), with
// EINVAL alone; the error says which options were given.
TEST(Options, ARefusedTmpfsMountSaysWhichOptions) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}, {"o", "size=abc"}}}})),
            "");
  auto target = p.root() + "/volumes/t/_data";
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}})),
            "volume \"t\": mount of tmpfs on " + target + " with size=abc failed: invalid argument");
  EXPECT_FALSE(is_mountpoint(target));
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "t"}})), "");
}

TEST(Options, SizeIsAHardLimitOnALoopDevice) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "q"}, {"Opts", {{"size", "8M"}}}})),
            "");
  EXPECT_EQ(fs::file_size(p.root() + "/volumes/q/disk.img"), 8u << 20);
  auto target = p.root() + "/volumes/q/_data";
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "q"}, {"ID", "a"}})), "");
  EXPECT_TRUE(is_mountpoint(target));
  EXPECT_EQ(write_bytes(target + "/small", 1 << 20), 0);
  EXPECT_EQ(write_bytes(target + "/big", 16 << 20), ENOSPC);
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "q"}, {"ID", "a"}})), "");
  EXPECT_FALSE(is_mountpoint(target));
  // The data outlives the mount.
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "q"}, {"ID", "b"}})), "");
  EXPECT_TRUE(fs::exists(target + "/small"));
  EXPECT_NE(err_of(p.call("/VolumeDriver.Remove", {{"Name", "q"}})).find("in use"),
            std::string::npos);
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "q"}, {"ID", "b"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "q"}})), "");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/q/disk.img"));
}

TEST(Options, PassThroughBindLikeTheLocalDriver) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  temp_dir host;
  std::ofstream(host / "from-host") << "x";
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "b"},
                           {"Opts", {{"type", "none"}, {"o", "bind"}, {"device", host.path().string()}}}})),
            "");
  auto mp = p.call("/VolumeDriver.Mount", {{"Name", "b"}, {"ID", "a"}}).json()["Mountpoint"].get<std::string>();
  EXPECT_TRUE(fs::exists(mp + "/from-host"));
  std::ofstream(mp + "/from-volume") << "y";
  EXPECT_TRUE(fs::exists(host / "from-volume"));
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "b"}, {"ID", "a"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "b"}})), "");
  EXPECT_TRUE(fs::exists(host / "from-host")) << "removing the volume never deletes host data";
}

TEST(Options, UsesWhoseMountIsGoneAreReattachedOnStart) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  auto root = (tmp / "root").string();
  auto target = root + "/volumes/t/_data";
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}}}})),
              "");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}})), "");
    p.stop(SIGKILL);
  }
  ASSERT_EQ(::umount2(target.c_str(), 0), 0);  // as after a reboot
  plugin p(root, {}, {});
  auto get = p.call("/VolumeDriver.Get", {{"Name", "t"}}).json();
  EXPECT_EQ(get["Volume"]["Status"]["Mounts"], 1);
  EXPECT_EQ(get["Volume"]["Mountpoint"], target);
  EXPECT_TRUE(is_mountpoint(target));
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}})), "");
  EXPECT_FALSE(is_mountpoint(target));
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "t"}})), "");
}
