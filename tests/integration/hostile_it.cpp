// What a hostile review found, each on the real binary with real mounts (root): a container
// that nests directories thousands deep, binds whose trees hold other mounts (an rbind's, or
// host mounts that propagate in), option mixes that would reach the host's own directories,
// symlinks planted under ROOT, a --host-root left with "..", and a re-attach that hangs at
// start; a device path swapped mid-mount, an rbind,ro with submounts, and a very wide tree.

#include "integration/safety_support.hpp"
#include "support/journal.hpp"
#include "support/plugin.hpp"
#include "support/requires.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

using namespace actorvol::test;
using namespace actorvol::test::safety;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Whether `path` is a mount point (its mount ID differs from its parent's).
bool is_mountpoint(const fs::path& path) {
  struct statx a {}, b {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &a) != 0
      || ::statx(AT_FDCWD, path.parent_path().c_str(), 0, STATX_MNT_ID, &b) != 0)
    return false;
  return a.stx_mnt_id != b.stx_mnt_id;
}

// Every mount at or below `dir` (a real path), deepest first.
std::vector<std::string> mounts_below(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == dir || point.rfind(dir + "/", 0) == 0)
      out.push_back(point);
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  return out;
}

// A host directory that is a shared mount of its own (as / is under systemd), with a tmpfs
// at SUB holding a file: the host's own mounts, which actorvol must never take off.
void make_shared_host(const fs::path& host) {
  ASSERT_EQ(::mount(host.c_str(), host.c_str(), nullptr, MS_BIND, nullptr), 0)
    << std::strerror(errno);
  ASSERT_EQ(::mount(nullptr, host.c_str(), nullptr, MS_SHARED, nullptr), 0)
    << std::strerror(errno);
  std::ofstream(host / "top.txt") << "top";
}

void mount_host_tmpfs(const fs::path& at) {
  fs::create_directories(at);
  ASSERT_EQ(::mount("hosttmp", at.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  std::ofstream(at / "mine.txt") << "host's own";
}

} // namespace

// A container can nest directories as deep as it likes. Remove walks them without recursion
// and with a bounded number of descriptors: the plugin neither crashes nor runs out.
TEST(Hostile, RemoveOfAVeryDeepTreeNeedsFewDescriptors) {
  rlimit lim{1024, 1024};  // the plugin inherits it: an fd per level would run out at ~500
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0) << std::strerror(errno);
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "deep"}})), "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "other"}})), "");
  auto data = p.call("/VolumeDriver.Mount", {{"Name", "deep"}, {"ID", "c"}})
                .json()["Mountpoint"]
                .get<std::string>();
  int fd = ::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int level = 0; level < 3000; ++level) {
    ASSERT_EQ(::mkdirat(fd, "d", 0755), 0) << "level " << level << ": " << std::strerror(errno);
    int fdf = ::openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fdf, 0);
    ::close(fdf);
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    ASSERT_GE(next, 0);
    fd = next;
  }
  ::close(fd);
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "deep"}, {"ID", "c"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "deep"}})), "");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/deep"));
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "other"}})), "") << "still serving";
}

// A shared host directory (as / is under systemd) with a tmpfs of its own at sub/, and a
// plugin to rbind it.
class RbindOfAHost : public ::testing::Test {
protected:
  void SetUp() override {
    ACTORVOL_REQUIRE_ROOT();
    real_host = fs::canonical(host.path());
    guard.emplace().dirs = {real_host.string()};
    make_shared_host(real_host);
    mount_host_tmpfs(real_host / "sub");
    p.emplace();
    guard_root.emplace().dirs = {fs::canonical(p->root()).string()};
  }

  // Creates `name` as a bind of the host with o=`o`, mounts it: its mountpoint (checked to
  // hold the host's submount), or "" after a failure.
  fs::path mount_host(const std::string& name, const std::string& o) {
    auto made = p->call("/VolumeDriver.Create", {{"Name", name}, {"Opts", bind_opts(real_host, o)}});
    EXPECT_EQ(err_of(made), "");
    auto m = p->call("/VolumeDriver.Mount", {{"Name", name}, {"ID", "a"}});
    EXPECT_EQ(err_of(m), "");
    if (!err_of(made).empty() || !err_of(m).empty())
      return {};
    auto data = fs::canonical(m.json()["Mountpoint"].get<std::string>());
    EXPECT_EQ(slurp(data / "sub" / "mine.txt"), "host's own") << "the rbind has the submount";
    return data;
  }

  temp_dir host;
  fs::path real_host;
  std::optional<unmount_guard> guard;  // the host's mounts come off after the test
  std::optional<plugin> p;
  std::optional<unmount_guard> guard_root;  // then the plugin's, before its root is deleted
};

// An rbind brings the host directory's own submounts along. Unmount takes off our copies,
// never the host's mounts they are copies of, even when the host directory is shared.
TEST_F(RbindOfAHost, UnmountLeavesTheHostsMounts) {
  auto data = mount_host("rb", "rbind");
  ASSERT_FALSE(data.empty());
  auto& p = *this->p;
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "rb"}, {"ID", "a"}})), "");
  EXPECT_EQ(mounts_of(p, "rb"), 0);
  EXPECT_TRUE(mounts_below(data.string()).empty()) << "our copies are all off";
  EXPECT_TRUE(is_mountpoint(real_host / "sub")) << "the host's own tmpfs was taken off";
  EXPECT_EQ(slurp(real_host / "sub" / "mine.txt"), "host's own");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "rb"}})), "");
  EXPECT_EQ(slurp(real_host / "top.txt"), "top");
}

// A plain bind of a shared host directory receives the host's later mounts below it (a
// container's overlay under /var/lib/docker, say). They must not make Unmount fail forever,
// and the host keeps them.
TEST(Hostile, AHostMountThatPropagatedIntoABindDoesNotBlockUnmount) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir host;
  auto real_host = fs::canonical(host.path());
  unmount_guard guard{{real_host.string()}};
  make_shared_host(real_host);
  plugin p;
  unmount_guard guard_root{{fs::canonical(p.root()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "b"}, {"Opts", bind_opts(real_host, "bind")}})),
            "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "b"}, {"ID", "a"}})), "");
  mount_host_tmpfs(real_host / "later");
  auto data = fs::canonical(p.root() + "/volumes/b/_data");
  ASSERT_TRUE(is_mountpoint(data / "later")) << "the host's mount propagated into the bind";
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "b"}, {"ID", "a"}})), "");
  EXPECT_EQ(mounts_of(p, "b"), 0);
  EXPECT_FALSE(is_mountpoint(data));
  EXPECT_TRUE(is_mountpoint(real_host / "later")) << "the host's own tmpfs was taken off";
  EXPECT_EQ(slurp(real_host / "later" / "mine.txt"), "host's own");
}

// `type=tmpfs o=bind` would bind the device path (ignoring ro and the rest): refused.
TEST(Hostile, ATmpfsCannotBeABind) {
  temp_dir host;
  plugin p;
  auto err = err_of(p.call("/VolumeDriver.Create",
                           {{"Name", "tb"},
                            {"Opts", {{"type", "tmpfs"}, {"device", host.path().string()},
                                      {"o", "bind,ro"}}}}));
  EXPECT_NE(err.find("a tmpfs cannot be a bind"), std::string::npos) << err;
  EXPECT_NE(err_of(p.call("/VolumeDriver.Get", {{"Name", "tb"}})), "");
}

// uid, gid and mode on a bind would change the host's own directory for good, and on any
// other pass-through mount the mounted filesystem's own top directory: refused.
TEST(Hostile, OwnershipOptionsAreRefusedOnAPassThroughVolume) {
  temp_dir host;
  ::chmod(host.path().c_str(), 0700);
  plugin p;
  for (auto key : {"uid", "gid", "mode"}) {
    auto opts = bind_opts(host.path(), "bind");
    opts[key] = std::string{key} == "mode" ? "0777" : "1234";
    auto err = err_of(p.call("/VolumeDriver.Create", {{"Name", "own"}, {"Opts", opts}}));
    EXPECT_NE(err.find("not with type=/device="), std::string::npos) << key << ": " << err;
    auto dev = json{{"type", "ext4"}, {"device", "/dev/sda1"}, {key, opts[key]}};
    err = err_of(p.call("/VolumeDriver.Create", {{"Name", "own"}, {"Opts", dev}}));
    EXPECT_NE(err.find("not with type=/device="), std::string::npos) << key << ": " << err;
  }
  struct stat st {};
  ASSERT_EQ(::stat(host.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  auto err = err_of(p.call("/VolumeDriver.Create",
                           {{"Name", "rel"}, {"Opts", bind_opts("relative/dir", "bind")}}));
  EXPECT_NE(err.find("a bind needs an absolute path"), std::string::npos) << err;
}

// size= with type= other than tmpfs says what is wrong, not just "unknown option".
TEST(Hostile, SizeWithAPassThroughTypeSaysWhy) {
  plugin p;
  auto err = err_of(p.call("/VolumeDriver.Create",
                           {{"Name", "s"}, {"Opts", {{"type", "none"}, {"size", "1G"}}}}));
  EXPECT_NE(err.find("size=1G: only for type=tmpfs"), std::string::npos) << err;
}

// A symlink planted for ROOT/volumes (by anyone who can write under ROOT) is never followed:
// Remove deletes nothing through it.
TEST(Hostile, RemoveNeverFollowsASymlinkAboveTheVolume) {
  temp_dir decoy;
  fs::create_directories(decoy.path() / "d3" / "_data");
  std::ofstream(decoy.path() / "d3" / "_data" / "precious") << "keep";
  plugin p;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "d3"}})), "");
  fs::rename(p.root() + "/volumes", p.root() + "/volumes.real");
  fs::create_directory_symlink(decoy.path(), p.root() + "/volumes");
  EXPECT_NE(err_of(p.call("/VolumeDriver.Remove", {{"Name", "d3"}})), "");
  EXPECT_EQ(slurp(decoy.path() / "d3" / "_data" / "precious"), "keep");
}

// Nor does Mount reach through one: no tmpfs lands where a planted symlink points, and a
// directory volume never hands Docker a path through a symlinked _data.
TEST(Hostile, MountNeverFollowsASymlinkUnderRoot) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir decoy;
  auto real_decoy = fs::canonical(decoy.path());
  unmount_guard guard{{real_decoy.string()}};
  plugin p;
  unmount_guard guard_root{{fs::canonical(p.root()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "t2"}, {"Opts", {{"type", "tmpfs"}}}})),
            "");
  fs::rename(p.root() + "/volumes/t2", p.root() + "/t2.moved");
  fs::create_directory_symlink(real_decoy, p.root() + "/volumes/t2");
  EXPECT_NE(err_of(p.call("/VolumeDriver.Mount", {{"Name", "t2"}, {"ID", "a"}})), "");
  EXPECT_TRUE(mounts_below(real_decoy.string()).empty()) << "a tmpfs landed in the decoy";

  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "d2"}})), "");
  fs::remove(p.root() + "/volumes/d2/_data");
  fs::create_directory_symlink(real_decoy, p.root() + "/volumes/d2/_data");
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "d2"}, {"ID", "a"}});
  EXPECT_NE(err_of(m), "") << "Mount answered " << m.body;
}

// --host-root: a device path never leaves it, whatever ".." or symlinks it holds.
TEST(Hostile, DeviceNeverLeavesTheHostRoot) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  auto real = fs::canonical(tmp.path());
  fs::create_directories(real / "fakehost" / "outside");
  std::ofstream(real / "fakehost" / "outside" / "where") << "inside the host root";
  fs::create_directories(real / "outside");
  std::ofstream(real / "outside" / "where") << "outside the host root";
  fs::create_directory_symlink("/../../outside", real / "fakehost" / "link");
  unmount_guard guard{{real.string()}};
  plugin p({"--host-root", (real / "fakehost").string()});
  unmount_guard guard_root{{fs::canonical(p.root()).string()}};
  for (auto device : {"/../outside", "/link"}) {
    SCOPED_TRACE(device);
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                            {{"Name", "h"},
                             {"Opts", {{"type", "none"}, {"o", "bind,ro"}, {"device", device}}}})),
              "");
    auto m = p.call("/VolumeDriver.Mount", {{"Name", "h"}, {"ID", "a"}});
    ASSERT_EQ(err_of(m), "");
    EXPECT_EQ(slurp(m.json()["Mountpoint"].get<std::string>() + "/where"),
              "inside the host root");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "h"}, {"ID", "a"}})), "");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "h"}})), "");
  }
}

// A re-attach that hangs at start never makes Get fail or wait past its deadline: it answers
// from what is known, and says the volume is recovering.
TEST(Hostile, GetDuringAHungReattachAnswersAndSaysRecovering) {
  ACTORVOL_REQUIRE_ROOT();
  std::string root;
  {
    plugin p;
    root = p.root();
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "r"}, {"Opts", {{"type", "tmpfs"}}}})),
              "");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "r"}, {"ID", "a"}})), "");
    p.stop(9);
  }
  unmount_guard guard{{fs::canonical(root).string()}};
  plugin again(root, {"--op-timeout", "1"}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(20000)"});
  auto get = again.call("/VolumeDriver.Get", {{"Name", "r"}});
  ASSERT_EQ(err_of(get), "");
  auto status = get.json()["Volume"]["Status"];
  EXPECT_EQ(status.value("Mounts", -1), 1);
  EXPECT_TRUE(status.contains("Recovering")) << get.body;
  again.stop(9);
}

// A crash between an rbind's attach and its record leaves a stray tree of copies of the
// host's mounts. The start-up sweep takes off our copies only, never the host's mounts.
TEST(Hostile, StraySweepAtStartLeavesTheHostsMounts) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir host;
  auto real_host = fs::canonical(host.path());
  unmount_guard guard{{real_host.string()}};
  make_shared_host(real_host);
  mount_host_tmpfs(real_host / "c1");
  mount_host_tmpfs(real_host / "c1" / "cc");
  temp_dir base;
  std::string root = (base.path() / "root").string();
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                            {{"Name", "stray"}, {"Opts", bind_opts(real_host, "rbind")}})),
              "");
  }
  unmount_guard guard_root{{fs::canonical(root).string()}};
  {
    plugin crash(root, {}, {"ACTORVOL_FAILPOINTS=state.write=1*panic"});
    crash.call("/VolumeDriver.Mount", {{"Name", "stray"}, {"ID", "a"}});
    crash.stop(9);
  }
  auto data = fs::canonical(root) / "volumes" / "stray" / "_data";
  ASSERT_TRUE(is_mountpoint(data)) << "the crash left the attach in place";
  plugin again(root, {}, {});
  EXPECT_FALSE(is_mountpoint(data)) << "the stray was not detached";
  EXPECT_TRUE(is_mountpoint(real_host / "c1")) << "the host's own tmpfs was taken off";
  EXPECT_TRUE(is_mountpoint(real_host / "c1" / "cc")) << "the host's own tmpfs was taken off";
  EXPECT_EQ(slurp(real_host / "c1" / "cc" / "mine.txt"), "host's own");
}

// --host-root: the device is opened once, and the mount names what was opened. A symlink
// swapped in for the device path between the check and the mount (here while a failpoint
// holds the attach) cannot redirect it out of the host root.
TEST(Hostile, ADevicePathSwappedDuringTheMountCannotLeaveTheHostRoot) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  auto real = fs::canonical(tmp.path());
  fs::create_directories(real / "fakehost" / "srv" / "x");
  std::ofstream(real / "fakehost" / "srv" / "x" / "where") << "inside the host root";
  fs::create_directories(real / "outside");
  std::ofstream(real / "outside" / "where") << "outside the host root";
  unmount_guard guard{{real.string()}};
  plugin p({"--host-root", (real / "fakehost").string()},
           {"ACTORVOL_FAILPOINTS=passthrough.device=delay(3000)"});
  unmount_guard guard_root{{fs::canonical(p.root()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "sw"},
                           {"Opts", {{"type", "none"}, {"o", "bind,ro"}, {"device", "/srv/x"}}}})),
            "");
  std::thread swap([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    fs::rename(real / "fakehost" / "srv" / "x", real / "fakehost" / "srv" / "x.old");
    fs::create_directory_symlink(real / "outside", real / "fakehost" / "srv" / "x");
  });
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "sw"}, {"ID", "a"}});
  swap.join();
  ASSERT_EQ(err_of(m), "");
  EXPECT_EQ(slurp(m.json()["Mountpoint"].get<std::string>() + "/where"), "inside the host root");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "sw"}, {"ID", "a"}})), "");
}

// o=rbind,ro: the submounts an rbind brings along are read-only in the volume too; the
// host's own mounts keep their flags (still writable on the host).
TEST_F(RbindOfAHost, ReadOnlyMakesItsSubmountsReadOnly) {
  auto data = mount_host("rro", "rbind,ro");
  ASSERT_FALSE(data.empty());
  auto& p = *this->p;
  for (auto dir : {data, data / "sub"}) {
    int fd = ::open((dir / "new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    int e = errno;
    if (fd >= 0)
      ::close(fd);
    EXPECT_TRUE(fd < 0 && e == EROFS) << dir << " is writable through a read-only volume";
  }
  std::ofstream(real_host / "sub" / "host-writes") << "ok";
  EXPECT_EQ(slurp(real_host / "sub" / "host-writes"), "ok") << "the host's tmpfs became read-only";
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "rro"}, {"ID", "a"}})), "");
  EXPECT_TRUE(is_mountpoint(real_host / "sub"));
}

// A read-only bind of a shared host directory must not stay a peer of it: what the host
// mounts there afterwards (writable) would come in writable through the volume.
TEST_F(RbindOfAHost, ReadOnlyBindReceivesNoLaterHostMount) {
  for (auto o : {"bind,ro", "rbind,ro"}) {
    auto name = std::string{o} == "bind,ro" ? "bro" : "rbro";
    auto& p = *this->p;
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                            {{"Name", name}, {"Opts", bind_opts(real_host, o)}})),
              "");
    auto m = p.call("/VolumeDriver.Mount", {{"Name", name}, {"ID", "a"}});
    ASSERT_EQ(err_of(m), "");
    auto data = fs::canonical(m.json()["Mountpoint"].get<std::string>());
    auto later = real_host / ("later-" + std::string{name});
    mount_host_tmpfs(later);
    EXPECT_FALSE(is_mountpoint(data / later.filename())) << o << ": the host's mount came in";
    int fd = ::open((data / later.filename() / "new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    int e = errno;
    if (fd >= 0)
      ::close(fd);
    EXPECT_TRUE(fd < 0 && e == EROFS) << o << ": not read-only there: " << std::strerror(e);
    EXPECT_FALSE(fs::exists(later / "new")) << o << ": written to the host's mount";
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", name}, {"ID", "a"}})), "");
    EXPECT_TRUE(is_mountpoint(later)) << "the host's own tmpfs was taken off";
  }
}

// The managed plugin's case: the volumes live under a shared mount (the propagated mount)
// whose peer is what Docker sees. A read-only bind leaves the source's peer group, yet
// still reaches that peer, read-only, and its Unmount reaches it too.
TEST(Hostile, AReadOnlyBindStillReachesThePeersOfItsParent) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp, host;
  auto base = fs::canonical(tmp.path());
  auto root = base / "root", peer = base / "peer";
  fs::create_directories(root / "volumes");
  fs::create_directories(peer);
  std::ofstream(host.path() / "top.txt") << "top";
  unmount_guard guard{{base.string()}};
  auto vols = (root / "volumes").string();
  ASSERT_EQ(::mount(vols.c_str(), vols.c_str(), nullptr, MS_BIND, nullptr), 0) << std::strerror(errno);
  ASSERT_EQ(::mount(nullptr, vols.c_str(), nullptr, MS_SHARED, nullptr), 0) << std::strerror(errno);
  ASSERT_EQ(::mount(vols.c_str(), peer.c_str(), nullptr, MS_BIND, nullptr), 0) << std::strerror(errno);
  plugin p(root.string(), {}, {});
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "ro"}, {"Opts", bind_opts(host.path(), "bind,ro")}})),
            "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "ro"}, {"ID", "a"}})), "");
  auto seen = peer / "ro" / "_data";
  EXPECT_TRUE(is_mountpoint(seen)) << "the bind did not propagate to the peer";
  EXPECT_EQ(slurp(seen / "top.txt"), "top");
  int fd = ::open((seen / "new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  int e = errno;
  if (fd >= 0)
    ::close(fd);
  EXPECT_TRUE(fd < 0 && e == EROFS) << "writable where Docker sees it: " << std::strerror(e);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "ro"}, {"ID", "a"}})), "");
  EXPECT_FALSE(is_mountpoint(seen)) << "the Unmount did not reach the peer";
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "ro"}})), "");
  EXPECT_EQ(slurp(host.path() / "top.txt"), "top");
}

// A volume that an older release created with options this one refuses (uid= on a bind)
// stays usable: Create with the same Opts again is ok, as for any existing volume.
TEST(Hostile, CreateAgainWithTheSameOptsIsOkEvenWhenTheyAreNowRefused) {
  temp_dir tmp, host;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  auto opts = bind_opts(host.path(), "bind");
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "old"}, {"Opts", opts}})), "");
  }
  auto record = json::parse(stored_records(root).at("old"));
  record["opts"]["uid"] = "1234";  // as the older release wrote it
  put_stored_record(root, "old", record.dump());
  opts["uid"] = "1234";
  plugin p(root, {}, {});
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "old"}, {"Opts", opts}})), "");
  opts["uid"] = "99";
  EXPECT_NE(err_of(p.call("/VolumeDriver.Create", {{"Name", "old"}, {"Opts", opts}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Get", {{"Name", "old"}})), "");
}

// A container can make tens of thousands of directories side by side. Remove reads each
// directory a bounded number of times (not once per subdirectory), so it finishes well within
// its deadline and the volume is gone.
TEST(Hostile, RemoveOfAVeryWideTreeFinishes) {
  plugin p({"--op-timeout", "120"});  // one read per subdirectory took 146 s for 16,000
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "wide"}})), "");
  auto data = p.call("/VolumeDriver.Mount", {{"Name", "wide"}, {"ID", "c"}})
                .json()["Mountpoint"]
                .get<std::string>();
  int fd = ::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 20000; ++i) {
    auto name = "d" + std::to_string(i);
    ASSERT_EQ(::mkdirat(fd, name.c_str(), 0755), 0) << std::strerror(errno);
    if (i % 1000 == 0)
      ::close(::openat(fd, (name + "/f").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  }
  ::close(fd);
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "wide"}, {"ID", "c"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "wide"}})), "");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/wide"));
}
