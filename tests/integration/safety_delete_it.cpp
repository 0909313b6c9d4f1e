// Safety of the user's data when volumes are deleted, on the real binary (some tests need
// root for real mounts): deletion never follows a link or crosses a mount; a corrupt record
// never leads to deletion, its files go to quarantine; data left by a crash is quarantined,
// not adopted; a failed directory sync leaves the disk agreeing with the answer. Mounts,
// bind flags and stray mounts: safety_mount_it.cpp.

#include "integration/safety_support.hpp"
#include "support/journal.hpp"
#include "support/plugin.hpp"
#include "support/requires.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace actorvol::test;
using namespace actorvol::test::safety;
namespace fs = std::filesystem;

// -- 1. deletion never follows a link nor crosses a mount ----------------------------------------

TEST(Safety, RemoveNeverFollowsASymlink) {
  temp_dir host;
  fill_host(host.path());
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "s"}})), "");
  auto data = p.call("/VolumeDriver.Mount", {{"Name", "s"}, {"ID", "a"}})
                .json()["Mountpoint"]
                .get<std::string>();
  fs::create_directory_symlink(host.path(), data + "/to-host-dir");
  fs::create_symlink(host.path() / "a.txt", data + "/to-host-file");
  fs::create_directories(data + "/deep");
  fs::create_directory_symlink(host.path() / "sub", data + "/deep/to-host-sub");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "s"}, {"ID", "a"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "s"}})), "");
  EXPECT_FALSE(fs::exists(fs::symlink_status(p.root() + "/volumes/s")));
  expect_host_intact(host.path(), "links removed, never followed");
}

TEST(Safety, RemoveNeverCrossesAMountInsideTheVolume) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir host;
  fill_host(host.path());
  plugin p;
  unmount_guard guard{{fs::canonical(p.root()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "x"}})), "");
  auto data = fs::canonical(p.root() + "/volumes/x/_data").string();
  std::ofstream(data + "/own.txt") << "own";
  fs::create_directories(data + "/inner/bound");
  auto bound = data + "/inner/bound";
  ASSERT_EQ(::mount(host.path().c_str(), bound.c_str(), nullptr, MS_BIND, nullptr), 0)
    << std::strerror(errno);
  auto err = err_of(p.call("/VolumeDriver.Remove", {{"Name", "x"}}));
  EXPECT_NE(err, "") << "Remove went through a mount inside the volume";
  expect_host_intact(host.path(), "Remove refused with a bind inside");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "x"}})), "") << "the volume stays";
  EXPECT_EQ(mounts_on(bound), 1);
  ASSERT_EQ(::umount2(bound.c_str(), 0), 0) << std::strerror(errno);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "x"}})), "");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/x"));
  expect_host_intact(host.path(), "after the bind was taken off");
}

// -- 2. a corrupt record never leads to deletion ------------------------------------------------

TEST(Safety, CorruptRecordOfAMountedVolumeKeepsItsData) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  temp_dir host;
  fill_host(host.path());
  auto root = (fs::canonical(tmp.path()) / "root").string();
  unmount_guard guard{{root}};
  auto target = root + "/volumes/c/_data";
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "c"}, {"Opts", bind_opts(host.path())}})),
              "");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "c"}, {"ID", "a"}})), "");
    p.stop(SIGKILL);
  }
  ASSERT_EQ(mounts_on(target), 1);
  put_stored_record(root, "c", "{\"name\":\"c\",\"opts\":{\"ty");
  plugin p(root, {}, {});
  auto get = p.call("/VolumeDriver.Get", {{"Name", "c"}}).json();
  EXPECT_EQ(get["Err"], "");
  EXPECT_NE(get["Volume"]["Status"].value("Problem", "").find("corrupt state record"),
            std::string::npos)
    << get.dump();
  auto list = p.call("/VolumeDriver.List").json()["Volumes"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Name"], "c");
  EXPECT_EQ(mounts_on(target), 1) << "a volume of unknown state keeps its mount";

  auto err = err_of(p.call("/VolumeDriver.Remove", {{"Name", "c"}}));
  EXPECT_NE(err, "") << "Remove of a volume whose data is still mounted";
  expect_host_intact(host.path(), "Remove of a corrupt, mounted volume");
  EXPECT_EQ(stored_records(root).count("c"), 1u) << "the record stays while the Remove fails";
  EXPECT_EQ(mounts_on(target), 1);
  EXPECT_TRUE(quarantined(root, "c").empty()) << "nothing is moved while mounted";
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "c"}})), "");

  ASSERT_EQ(::umount2(target.c_str(), 0), 0) << std::strerror(errno);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "c"}})), "");
  EXPECT_EQ(stored_records(root).count("c"), 0u);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "c"}})), "volume \"c\" not found");
  EXPECT_EQ(quarantined(root, "c").size(), 1u) << "the volume's directory is set aside";
  EXPECT_FALSE(fs::exists(root + "/volumes/c"));
  EXPECT_NE(p.log().find("event=quarantine volume=c"), std::string::npos) << p.log();
  expect_host_intact(host.path(), "after the Remove");
}

TEST(Safety, CorruptRecordOfADirVolumeSendsItsFilesToQuarantine) {
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "d"}})), "");
    p.stop();
  }
  fs::create_directories(root + "/volumes/d/_data/sub");
  std::ofstream(root + "/volumes/d/_data/one.txt") << "one";
  std::ofstream(root + "/volumes/d/_data/sub/two.txt") << "two";
  put_stored_record(root, "d", "not json at all");
  plugin p(root, {}, {});
  EXPECT_NE(p.call("/VolumeDriver.Get", {{"Name", "d"}})
              .json()["Volume"]["Status"]
              .value("Problem", "")
              .find("corrupt state record"),
            std::string::npos);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "d"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "d"}})), "volume \"d\" not found");
  EXPECT_EQ(stored_records(root).count("d"), 0u);
  EXPECT_FALSE(fs::exists(root + "/volumes/d"));
  auto q = quarantined(root, "d");
  ASSERT_EQ(q.size(), 1u) << "the files are kept, not deleted";
  EXPECT_EQ(slurp(q[0] / "_data" / "one.txt"), "one");
  EXPECT_EQ(slurp(q[0] / "_data" / "sub" / "two.txt"), "two");
  EXPECT_NE(p.log().find("event=quarantine volume=d"), std::string::npos) << p.log();
}

// -- 3. data left by a crash between record erase and data delete --------------------------------

TEST(Safety, LeftoverDataIsQuarantinedNotAdopted) {
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  {
    plugin a(root, {}, {});
    ASSERT_EQ(err_of(a.call("/VolumeDriver.Create", {{"Name", "l"}})), "");
    std::ofstream(root + "/volumes/l/_data/old.txt") << "old data";
    a.stop(SIGKILL);
  }
  ASSERT_TRUE(erase_stored_record(root, "l"));
  plugin b(root, {}, {});
  EXPECT_EQ(err_of(b.call("/VolumeDriver.Get", {{"Name", "l"}})), "volume \"l\" not found");
  ASSERT_EQ(err_of(b.call("/VolumeDriver.Create", {{"Name", "l"}})), "");
  auto m = b.call("/VolumeDriver.Mount", {{"Name", "l"}, {"ID", "a"}});
  ASSERT_EQ(err_of(m), "");
  auto mp = m.json()["Mountpoint"].get<std::string>();
  EXPECT_TRUE(fs::is_directory(mp));
  EXPECT_TRUE(fs::is_empty(mp)) << "the new volume adopted the old volume's data";
  auto q = quarantined(root, "l");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(slurp(q[0] / "_data" / "old.txt"), "old data");
  EXPECT_NE(b.log().find("event=quarantine volume=l"), std::string::npos) << b.log();
  EXPECT_EQ(err_of(b.call("/VolumeDriver.Unmount", {{"Name", "l"}, {"ID", "a"}})), "");
}

// -- 4. a failed commit of the state journal ---------------------------------------------------------

TEST(Safety, CreateWhoseCommitFailsDoesNotExistAfterARestart) {
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  {
    plugin p(root, {}, {"ACTORVOL_FAILPOINTS=state.commit=1*error(EIO)"});
    auto err = err_of(p.call("/VolumeDriver.Create", {{"Name", "w"}}));
    EXPECT_NE(err, "");
    EXPECT_NE(err.find("volume \"w\""), std::string::npos) << err;
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "w"}})), "volume \"w\" not found");
    p.stop(SIGKILL);
  }
  plugin p(root, {}, {});
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "w"}})), "volume \"w\" not found")
    << "the disk disagrees with the answer";
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
  EXPECT_EQ(stored_records(root).count("w"), 0u);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "w"}})), "") << "and can be made";
}

// -- found by this suite (c52c371), fixed since ---------------------------------------------

// Remove of a volume with a corrupt record whose record erase fails to commit: the answer is
// Err, the volume stays listed, and after a restart too (the unreadable record is still there
// byte for byte); the quarantine move is logged.
TEST(Safety, RemoveOfACorruptVolumeWhoseCommitFailsKeepsIt) {
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "d"}})), "");
    p.stop();
  }
  std::ofstream(root + "/volumes/d/_data/one.txt") << "one";
  put_stored_record(root, "d", "not json");
  {
    plugin p(root, {}, {"ACTORVOL_FAILPOINTS=state.commit=1*error(EIO)"});
    EXPECT_NE(err_of(p.call("/VolumeDriver.Remove", {{"Name", "d"}})), "");
    EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 1u);
    EXPECT_NE(p.log().find("event=quarantine"), std::string::npos) << p.log();
    p.stop(SIGKILL);
  }
  plugin p(root, {}, {});
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 1u)
    << "the Remove failed, yet the volume is gone after a restart";
  EXPECT_EQ(stored_records(root)["d"], "not json");
}
