// The mounting adaptors (tmpfs, loop; the pass-through one is in passthrough_adaptor_test.cpp) on a temp dir, with
// their system calls mocked (support/mock_sys.hpp): the calls they make, and what they leave
// behind when a call fails, also in the middle of an attach.

#include "unit/mounted_fixture.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>

using namespace actorvol;
using namespace actorvol::test;
namespace fs = std::filesystem;

// -- every backend ------------------------------------------------------------------------

enum class kind { tmpfs, loop, passthrough, bind };

struct backend {
  std::string label;    // the test's name
  kind k;
  std::string status;   // what Status says the backend is
  volume_opts opts;
};

void PrintTo(const backend& b, std::ostream* os) {
  *os << b.label;
}

class EveryBackend : public MountedAdaptor, public ::testing::WithParamInterface<backend> {
protected:
  adaptor& a() {
    switch (GetParam().k) {
      case kind::tmpfs: return tmpfs;
      case kind::loop: return loop;
      case kind::passthrough: return pass;
      case kind::bind: return hosted;
    }
    return tmpfs;
  }

  volume_spec v(volume_opts extra = {}) const {
    auto opts = GetParam().opts;
    opts.insert(extra.begin(), extra.end());
    return {"db", opts};
  }

  // Makes the next attach fail (EIO, or the mount helper's complaint), or, with
  // `succeed_without_effect`, return success and mount nothing.
  void break_attach(bool succeed_without_effect) {
    auto op = GetParam().k == kind::bind ? "bind" : "mount";
    if (GetParam().k == kind::loop)
      sys->script("mount", succeed_without_effect ? 0 : 32,
                  succeed_without_effect ? "" : "mount: " + target
                                                  + ": can't read superblock on /dev/loop0.\n",
                  1, !succeed_without_effect);
    else if (succeed_without_effect)
      sys->no_effect(op, 1);
    else
      sys->fail(op, EIO, 1);
  }

  // The error break_attach(false) must give.
  std::string attach_error() const {
    switch (GetParam().k) {
      case kind::tmpfs:
        return "volume \"db\": mount of tmpfs on " + target
               + " with size=64m failed: input/output error";
      case kind::loop:
        return "volume \"db\": mount of " + image + " failed: mount: " + target
               + ": can't read superblock on /dev/loop0.";
      case kind::passthrough:
        return "volume \"db\": mount of srv:/export on " + target
               + " failed: input/output error";
      case kind::bind:
        return "volume \"db\": mount of /srv/data on " + target + " failed: input/output error";
    }
    return "";
  }
};

INSTANTIATE_TEST_SUITE_P(
  Mounted, EveryBackend,
  ::testing::Values(
    backend{"tmpfs", kind::tmpfs, "tmpfs", {{"type", "tmpfs"}, {"o", "nosuid"}, {"size", "64m"}}},
    backend{"loop", kind::loop, "loop", {{"size", "64M"}}},
    backend{"passthrough",
            kind::passthrough,
            "passthrough",
            {{"type", "nfs"}, {"device", "srv:/export"}, {"o", "addr=10.0.0.1,ro"}}},
    backend{"bind",
            kind::bind,
            "passthrough",
            {{"type", "none"}, {"device", "/srv/data"}, {"o", "bind,ro"}}}),
  [](const auto& info) { return info.param.label; });

TEST_P(EveryBackend, CreateMountUnmountRemove) {
  ASSERT_FALSE(a().validate(v())) << text(a().validate(v()));
  ASSERT_EQ(text(a().create(v())), "");
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(sys->mount_count(), 0u) << "create attaches nothing";

  auto mp = a().mount(v());
  ASSERT_EQ(text(mp), "");
  EXPECT_EQ(*mp, target);
  EXPECT_EQ(sys->mounts_on(target).size(), 1u);
  EXPECT_EQ(a().status(v()), (status_map{{"Backend", GetParam().status}, {"Attached", "true"}}));

  auto again = a().mount(v());
  ASSERT_EQ(text(again), "");
  EXPECT_EQ(sys->mounts_on(target).size(), 1u) << "a second mount attaches nothing more";
  EXPECT_EQ(attaches(), 1u);

  ASSERT_EQ(text(a().unmount(v())), "");
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(a().status(v()).at("Attached"), "false");

  ASSERT_EQ(text(a().remove(v())), "");
  EXPECT_FALSE(fs::exists(vol));
  EXPECT_EQ(sys->count("remove_tree"), 1u);
}

TEST_P(EveryBackend, BusyUnmountFailsUnmountAndRemoveAndDeletesNothing) {
  ASSERT_EQ(text(a().create(v())), "");
  ASSERT_EQ(text(a().mount(v())), "");
  std::ofstream(target + "/keep") << "data";
  sys->fail("unmount", EBUSY);

  auto busy = "volume \"db\": unmount of " + target + " failed: device or resource busy";
  EXPECT_EQ(text(a().unmount(v())), busy);
  EXPECT_EQ(text(a().remove(v())), busy);
  EXPECT_EQ(sys->mounts_on(target).size(), 1u);
  EXPECT_TRUE(fs::exists(target + "/keep"));
  EXPECT_EQ(sys->count("remove_tree"), 0u);
  EXPECT_EQ(sys->count("unlink"), 0u);
  if (GetParam().k == kind::loop) {
    EXPECT_TRUE(fs::exists(image));
  }
}

TEST_P(EveryBackend, NameTooLongAtCreateLeavesNothing) {
  sys->fail("make_dirs", ENAMETOOLONG);
  EXPECT_EQ(text(a().create(v())),
            "volume \"db\": create of " + target + " failed: file name too long");
  EXPECT_FALSE(fs::exists(vol));
  EXPECT_EQ(sys->count("open_new"), 0u);
  EXPECT_EQ(sys->count("run"), 0u);
}

TEST_P(EveryBackend, NameTooLongAtMountOfAMissingDirectory) {
  ASSERT_EQ(text(a().create(v())), "");
  fs::remove(target);  // as after a reboot of a tmpfs-backed root
  sys->fail("make_dirs", ENAMETOOLONG);
  EXPECT_EQ(text(a().mount(v())),
            "volume \"db\": mount on " + target + " failed: file name too long");
  EXPECT_EQ(attaches(), 0u);
}

TEST_P(EveryBackend, MountRecreatesAMissingDirectory) {
  ASSERT_EQ(text(a().create(v())), "");
  fs::remove(target);
  ASSERT_EQ(text(a().mount(v())), "");
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(sys->mounts_on(target).size(), 1u);
}

TEST_P(EveryBackend, FailedAttachLeavesNothingMounted) {
  ASSERT_EQ(text(a().create(v())), "");
  break_attach(false);
  EXPECT_EQ(text(a().mount(v())), attach_error());
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(sys->count("chown") + sys->count("chmod"), 0u);
  ASSERT_EQ(text(a().mount(v())), "") << "the next mount tries again";
  EXPECT_EQ(sys->mounts_on(target).size(), 1u);
}

TEST_P(EveryBackend, AnAttachThatMountsNothingIsAnError) {
  ASSERT_EQ(text(a().create(v())), "");
  break_attach(true);
  EXPECT_EQ(text(a().mount(v())), "volume \"db\": mount on " + target
                                    + " (nothing is mounted there after it) failed: "
                                      "input/output error");
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(attaches(), 1u);
}

TEST_P(EveryBackend, FailedChownAfterTheAttachDetachesAgain) {
  auto owned = v({{"uid", "1000"}, {"gid", "1000"}});
  if (GetParam().k == kind::passthrough || GetParam().k == kind::bind) {
    // The top directory is the mounted filesystem's own: never changed, refused up front.
    EXPECT_EQ(text(a().validate(owned)),
              "volume \"db\": bad option uid=1000: not with type=/device= (it would change the mounted "
              "filesystem's own top directory); only for tmpfs and size= volumes");
    // A record written before they were refused: mounted, its top directory left as it is.
    ASSERT_EQ(text(a().create(owned)), "");
    ASSERT_EQ(text(a().mount(owned)), "");
    EXPECT_EQ(sys->count("chown") + sys->count("chmod"), 0u);
    return;
  }
  ASSERT_EQ(text(a().validate(owned)), "");
  ASSERT_EQ(text(a().create(owned)), "");
  sys->fail("chown", EPERM);
  EXPECT_EQ(text(a().mount(owned)),
            "volume \"db\": chown of " + target + " failed: operation not permitted");
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(sys->count("unmount"), 1u);
  EXPECT_LT(sys->first("chown"), sys->first("unmount"));
}

TEST_P(EveryBackend, NeverMountsThroughASymlink) {
  ASSERT_EQ(text(a().create(v())), "");
  fs::create_directory(root / "elsewhere");
  fs::remove(target);
  fs::create_directory_symlink(root / "elsewhere", target);
  EXPECT_EQ(text(a().mount(v())), "volume \"db\": mount on " + target
                                    + " (a symlink or file is in the way) "
                                      "failed: not a directory");
  EXPECT_EQ(attaches(), 0u);
}

TEST_P(EveryBackend, RemoveRefusesWhileSomethingIsMountedBelow) {
  ASSERT_EQ(text(a().create(v())), "");
  fs::create_directory(target + "/sub");
  sys->push_mount(target + "/sub", {"/dev/sdz1", "ext4", 0, 0, ""});
  EXPECT_EQ(text(a().remove(v())), "volume \"db\": remove of " + vol.string() + " ("
                                     + target + "/sub is still mounted) failed: "
                                       "device or resource busy");
  EXPECT_TRUE(fs::is_directory(target + "/sub"));
  EXPECT_EQ(sys->count("remove_tree"), 0u);
}

// -- tmpfs --------------------------------------------------------------------------------

TEST_F(MountedAdaptor, TmpfsPassesItsFlagsAndSize) {
  volume_spec v{"db", {{"type", "tmpfs"}, {"device", "scratch"},
                       {"o", "nosuid,nodev,mode=1777"}, {"size", "64m"}}};
  ASSERT_EQ(text(tmpfs.create(v)), "");
  ASSERT_EQ(text(tmpfs.mount(v)), "");
  auto mounts = sys->calls_of("mount");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].args, (std::vector<std::string>{"scratch", target, "tmpfs",
                                                      hex(MS_NOSUID | MS_NODEV),
                                                      "mode=1777,size=64m"}));
  auto on = sys->mounts_on(target);
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0].flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV));
}

TEST_F(MountedAdaptor, TmpfsOwnershipIsSetOnTheMountedDirectory) {
  volume_spec v{"db", {{"type", "tmpfs"}, {"gid", "2000"}, {"mode", "0750"}}};
  ASSERT_EQ(text(tmpfs.create(v)), "");
  EXPECT_EQ(sys->count("chown") + sys->count("chmod"), 0u) << "nothing is mounted yet";
  ASSERT_EQ(text(tmpfs.mount(v)), "");
  auto chown = sys->calls_of("chown");
  ASSERT_EQ(chown.size(), 1u);
  EXPECT_EQ(chown[0].args, (std::vector<std::string>{target, "-1", "2000"}));
  EXPECT_LT(sys->first("mount"), sys->first("chown"));
  EXPECT_LT(sys->first("chown"), sys->first("chmod"));
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(MountedAdaptor, TmpfsFailedChmodDetachesAgain) {
  volume_spec v{"db", {{"type", "tmpfs"}, {"mode", "0750"}}};
  ASSERT_EQ(text(tmpfs.create(v)), "");
  sys->fail("chmod", EROFS);
  EXPECT_EQ(text(tmpfs.mount(v)),
            "volume \"db\": chmod of " + target + " failed: read-only file system");
  EXPECT_EQ(sys->mount_count(), 0u);
}

TEST_F(MountedAdaptor, StackedMountsAllComeOff) {
  volume_spec v{"db", {{"type", "tmpfs"}}};
  ASSERT_EQ(text(tmpfs.create(v)), "");
  ASSERT_EQ(text(tmpfs.mount(v)), "");
  sys->push_mount(target, {"tmpfs", "tmpfs", 0, 0, ""});  // mounted twice
  ASSERT_EQ(text(tmpfs.unmount(v)), "");
  EXPECT_EQ(sys->count("unmount"), 2u);
  EXPECT_EQ(sys->mount_count(), 0u);
}

TEST_F(MountedAdaptor, AnUnmountThatLeavesTheMountIsBusy) {
  volume_spec v{"db", {{"type", "tmpfs"}}};
  ASSERT_EQ(text(tmpfs.create(v)), "");
  ASSERT_EQ(text(tmpfs.mount(v)), "");
  sys->no_effect("unmount");
  EXPECT_EQ(text(tmpfs.unmount(v)),
            "volume \"db\": unmount of " + target + " failed: device or resource busy");
  EXPECT_EQ(sys->mounts_on(target).size(), 1u);
  EXPECT_GE(sys->count("unmount"), 1u);
}

// -- loop ---------------------------------------------------------------------------------

TEST_F(MountedAdaptor, LoopCreateSizesAndFormatsTheImage) {
  volume_spec v{"db", {{"size", "64M"}}};
  ASSERT_EQ(text(loop.create(v)), "");
  auto open = sys->calls_of("open_new");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].args, (std::vector<std::string>{image, "0600"}));
  auto sized = sys->calls_of("ftruncate");
  ASSERT_EQ(sized.size(), 1u);
  EXPECT_EQ(sized[0].args[1], std::to_string(64u << 20));
  EXPECT_EQ(fs::file_size(image), 64u << 20);
  EXPECT_EQ(sys->open_files(), 0u);
  auto mkfs = runs_of("mkfs.ext4");
  ASSERT_EQ(mkfs.size(), 1u);
  EXPECT_EQ(mkfs[0].args, (std::vector<std::string>{"mkfs.ext4", "-q", "-F", "-m", "0", image}));
  EXPECT_LT(sys->first("close"), sys->first("run")) << "mkfs runs on a closed image";
}

TEST_F(MountedAdaptor, LoopXfsIsMadeByMkfsXfs) {
  volume_spec v{"db", {{"size", "300M"}, {"fs", "xfs"}}};
  ASSERT_EQ(text(loop.create(v)), "");
  auto mkfs = runs_of("mkfs.xfs");
  ASSERT_EQ(mkfs.size(), 1u);
  EXPECT_EQ(mkfs[0].args, (std::vector<std::string>{"mkfs.xfs", "-q", image}));
}

TEST_F(MountedAdaptor, LoopMountsTheImageThroughTheMountHelper) {
  volume_spec v{"db", {{"size", "64M"}}};
  ASSERT_EQ(text(loop.create(v)), "");
  ASSERT_EQ(text(loop.mount(v)), "");
  auto mounts = runs_of("mount");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].args, (std::vector<std::string>{"mount", "-o", "loop", "--", image, target}));
  auto on = sys->mounts_on(target);
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0].source, image);
  EXPECT_EQ(sys->count("mount"), 0u) << "mount(8) does the loop ioctls, not we";
}

TEST_F(MountedAdaptor, LoopNoSpaceWhileSizingLeavesNothingBehind) {
  volume_spec v{"db", {{"size", "64M"}}};
  sys->fail("ftruncate", ENOSPC, 1);
  EXPECT_EQ(text(loop.create(v)),
            "volume \"db\": sizing of " + image + " failed: no space left on device");
  ASSERT_EQ(sys->calls_of("open_new").size(), 1u);
  EXPECT_EQ(sys->calls_of("open_new")[0].result, 0) << "the image had been made";
  EXPECT_FALSE(fs::exists(vol));
  EXPECT_EQ(sys->open_files(), 0u);
  EXPECT_EQ(sys->count("run"), 0u);
}

TEST_F(MountedAdaptor, LoopFailedOpenLeavesNothingBehind) {
  volume_spec v{"db", {{"size", "64M"}}};
  sys->fail("open_new", EIO);
  EXPECT_EQ(text(loop.create(v)),
            "volume \"db\": create of " + image + " failed: input/output error");
  EXPECT_FALSE(fs::exists(vol));
  EXPECT_EQ(sys->count("ftruncate"), 0u);
}

TEST_F(MountedAdaptor, LoopFailedMkfsLeavesNothingBehind) {
  volume_spec v{"db", {{"size", "64M"}}};
  sys->script("mkfs.ext4", 1, "mkfs.ext4: Device size reported to be zero.\n");
  EXPECT_EQ(text(loop.create(v)),
            "volume \"db\": mkfs.ext4 failed: mkfs.ext4: Device size reported to be zero.");
  ASSERT_EQ(sys->calls_of("ftruncate").size(), 1u);
  EXPECT_EQ(sys->calls_of("ftruncate")[0].result, 0) << "the image had been made and sized";
  EXPECT_FALSE(fs::exists(vol));
}

TEST_F(MountedAdaptor, LoopMkfsWithoutOutputGivesItsExitCode) {
  volume_spec v{"db", {{"size", "64M"}}};
  sys->script("mkfs.ext4", 127);
  EXPECT_EQ(text(loop.create(v)), "volume \"db\": mkfs.ext4 failed: exit 127");
  EXPECT_FALSE(fs::exists(vol));
}

TEST_F(MountedAdaptor, LoopRefusesASizeOverTheFreeSpace) {
  volume_spec v{"db", {{"size", "64M"}}};
  sys->set_free_space(10u << 20);
  auto err = loop.create(v);
  EXPECT_EQ(code_of(err), ec::bad_option);
  EXPECT_EQ(text(err), "volume \"db\": bad option size=64M: exceeds the free space of " + root.string()
                         + " (10 MiB)");
  EXPECT_EQ(sys->count("open_new"), 0u);
  EXPECT_FALSE(fs::exists(vol));
}

TEST_F(MountedAdaptor, LoopUsesAndDeletesARelease01Image) {
  volume_spec v{"db", {{"size", "64M"}}};
  fs::create_directories(root / "images");
  auto legacy = (root / "images/db.img").string();
  std::ofstream(legacy) << "an image";
  fs::create_directories(target);  // release 0.1 made only the mountpoint
  EXPECT_EQ(loop.image_of("db").string(), legacy);
  ASSERT_EQ(text(loop.mount(v)), "");
  EXPECT_EQ(sys->mounts_on(target).at(0).source, legacy);
  ASSERT_EQ(text(loop.unmount(v)), "");
  sys->fail("unlink", EIO, 1);
  EXPECT_EQ(text(loop.remove(v)),
            "volume \"db\": remove of " + legacy + " failed: input/output error");
  EXPECT_TRUE(fs::exists(vol)) << "nothing else is deleted";
  ASSERT_EQ(text(loop.remove(v)), "");
  EXPECT_FALSE(fs::exists(legacy));
  EXPECT_FALSE(fs::exists(vol));
}
