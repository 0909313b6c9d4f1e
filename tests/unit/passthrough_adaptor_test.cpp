// The pass-through adaptor (type/device/o, like the local driver), with and without a host
// root and a bind, its system calls mocked: which calls it makes, with which flags, and what
// it leaves behind when one fails.

#include "unit/mounted_fixture.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>

using namespace actorvol;
using namespace actorvol::test;
namespace fs = std::filesystem;

// -- passthrough --------------------------------------------------------------------------

TEST_F(MountedAdaptor, PassthroughMountsTheDeviceWithItsOptions) {
  volume_spec v{"db", {{"type", "nfs"}, {"device", "srv:/export"},
                       {"o", "addr=10.0.0.1,ro,noexec"}}};
  ASSERT_EQ(text(pass.create(v)), "");
  ASSERT_EQ(text(pass.mount(v)), "");
  auto mounts = sys->calls_of("mount");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].args, (std::vector<std::string>{"srv:/export", target, "nfs",
                                                      hex(MS_RDONLY | MS_NOEXEC),
                                                      "addr=10.0.0.1"}));
  EXPECT_EQ(sys->count("bind"), 0u);
}

TEST_F(MountedAdaptor, PassthroughBindGetsItsFlagsInOneCall) {
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "bind,ro,nosuid"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  ASSERT_EQ(text(hosted.mount(v)), "");
  auto binds = sys->calls_of("bind");
  ASSERT_EQ(binds.size(), 1u);
  EXPECT_EQ(binds[0].args.at(0).rfind("/proc/self/fd/", 0), 0u) << binds[0].text();
  EXPECT_EQ(binds[0].args.at(1), target);
  EXPECT_EQ(binds[0].args.at(2), hex(MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(sys->count("mount"), 0u);
  auto on = sys->mounts_on(target).at(0);
  EXPECT_EQ(on.source, (root / "host/srv/data").string());
  EXPECT_EQ(on.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(sys->open_files(), 0u) << "the device's descriptor is closed after the bind";
}

// A device path in the host root is opened once, and the mount names that descriptor: the
// path is never resolved again, so nothing swapped in afterwards can redirect the mount.
TEST_F(MountedAdaptor, PassthroughHostedDeviceIsOpenedOnceAndClosedWhateverHappens) {
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "bind"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  sys->fail("bind", EIO, 1);
  EXPECT_EQ(text(hosted.mount(v)),
            "volume \"db\": mount of /srv/data on " + target + " failed: input/output error");
  EXPECT_EQ(sys->open_files(), 0u) << "closed after a failed bind too";
  sys->fail("open_in_root", ENAMETOOLONG, 1);
  EXPECT_EQ(text(hosted.mount(v)),
            "volume \"db\": mount of /srv/data on " + target + " failed: file name too long");
  EXPECT_EQ(attaches(), 1u) << "nothing is attached without the descriptor";
  ASSERT_EQ(text(hosted.mount(v)), "");
  EXPECT_EQ(sys->count("open_in_root"), 3u);
  EXPECT_EQ(sys->count("close"), 2u);
  EXPECT_EQ(sys->open_files(), 0u);
}

// Without a host root (the legacy plugin on the host), a device is what the operator wrote.
TEST_F(MountedAdaptor, PassthroughWithoutAHostRootUsesTheDeviceAsGiven) {
  volume_spec v{"db", {{"type", "none"}, {"device", (root / "host/srv/data").string()},
                       {"o", "bind"}}};
  ASSERT_EQ(text(pass.create(v)), "");
  ASSERT_EQ(text(pass.mount(v)), "");
  EXPECT_EQ(sys->calls_of("bind").at(0).args.at(0), (root / "host/srv/data").string());
  EXPECT_EQ(sys->count("open_in_root"), 0u);
}

// Without mount_setattr, a bind is attached (and propagated, writable) before a remount
// could restrict it: ro, nosuid, nodev and noexec are refused there, and nothing is mounted.
TEST_F(MountedAdaptor, PassthroughDefaultBindRefusesRestrictingFlags) {
  sys->use_default_bind(true);
  for (auto o : {"bind,ro", "rbind,ro,nodev", "bind,nosuid", "rbind,noexec"}) {
    volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", o}}};
    ASSERT_EQ(text(hosted.create(v)), "");
    auto err = text(hosted.mount(v));
    EXPECT_NE(err.find("needs mount_setattr: Linux 5.12 or later"), std::string::npos) << err;
  }
  EXPECT_EQ(sys->count("mount"), 0u);
  EXPECT_EQ(sys->mount_count(), 0u);
}

// Other flags are set by a remount after the bind.
TEST_F(MountedAdaptor, PassthroughDefaultBindRemountsWithTheOtherFlags) {
  sys->use_default_bind(true);
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "bind,noatime"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  ASSERT_EQ(text(hosted.mount(v)), "");
  auto mounts = sys->calls_of("mount");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].flags, static_cast<unsigned long>(MS_BIND));
  EXPECT_EQ(mounts[1].flags, static_cast<unsigned long>(MS_REMOUNT | MS_BIND | MS_NOATIME));
  EXPECT_EQ(sys->mounts_on(target).at(0).flags, static_cast<unsigned long>(MS_NOATIME));
}

// A restricted bind leaves the source's peer group, so it cannot be a peer or a slave of it.
TEST_F(MountedAdaptor, PassthroughRestrictedBindCannotBeSharedOrASlave) {
  for (auto o : {"bind,ro,rslave", "rbind,nosuid,slave", "bind,ro,rshared", "rbind,nodev,shared"}) {
    volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", o}}};
    EXPECT_NE(text(hosted.validate(v)).find("cannot be shared or a slave"), std::string::npos)
      << o;
  }
  for (auto o : {"bind,rslave", "bind,rshared", "bind,ro,private", "rbind,ro,unbindable"}) {
    volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", o}}};
    EXPECT_EQ(text(hosted.validate(v)), "") << o;
  }
}

// A cifs share is not a path in the host root: it is passed on as written. Any other
// device that starts with // is a path, and stays inside the host root.
TEST_F(MountedAdaptor, PassthroughShareDeviceIsUsedAsGivenWithAHostRoot) {
  volume_spec v{"sh", {{"type", "cifs"}, {"device", "//server/share"}, {"o", "guest"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  ASSERT_EQ(text(hosted.mount(v)), "");
  EXPECT_EQ(sys->count("open_in_root"), 0u);
  auto mounts = sys->calls_of("mount");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].args.at(0), "//server/share");
  ASSERT_EQ(text(hosted.unmount(v)), "");
  for (auto opts : std::vector<volume_opts>{
         {{"type", "none"}, {"device", "//srv/data"}, {"o", "bind"}},
         {{"type", "cifs"}, {"device", "//srv/data"}, {"o", "bind"}},
         {{"type", "ext4"}, {"device", "//srv/data"}}}) {
    volume_spec w{"sh", opts};
    ASSERT_EQ(text(hosted.mount(w)), "");
    ASSERT_EQ(text(hosted.unmount(w)), "");
  }
  EXPECT_EQ(sys->count("open_in_root"), 3u) << "a // path is resolved in the host root";
}

// Without restricting flags, an rbind's submounts are left exactly as they are.
TEST_F(MountedAdaptor, PassthroughDefaultRbindWithoutRoLeavesSubmountsAlone) {
  sys->use_default_bind(true);
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "rbind"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  fs::create_directories(target + "/sub");
  sys->push_mount(target + "/sub", {"/dev/sdz1", "ext4", MS_RDONLY, 0, ""});
  ASSERT_EQ(text(hosted.mount(v)), "");
  EXPECT_EQ(sys->calls_of("mount").size(), 2u);
  EXPECT_EQ(sys->mounts_on(target + "/sub").at(0).flags, static_cast<unsigned long>(MS_RDONLY));
}

TEST_F(MountedAdaptor, PassthroughDefaultBindWhoseRemountFailsIsDetached) {
  sys->use_default_bind(true);
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "bind,noatime"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  sys->fail("mount", EPERM, 2);  // the bind works, the remount with noatime does not
  EXPECT_EQ(text(hosted.mount(v)),
            "volume \"db\": mount of /srv/data on " + target + " failed: operation not permitted");
  EXPECT_EQ(sys->calls_of("mount").at(0).result, 0);
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(sys->count("unmount"), 1u);
}

TEST_F(MountedAdaptor, PassthroughPropagationIsSetAfterTheBind) {
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "bind,rslave"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  ASSERT_EQ(text(hosted.mount(v)), "");
  auto mounts = sys->calls_of("mount");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].args,
            (std::vector<std::string>{"", target, "", hex(MS_SLAVE | MS_REC), ""}));
  EXPECT_LT(sys->first("bind"), sys->first("mount"));
  EXPECT_EQ(sys->mounts_on(target).at(0).propagation,
            static_cast<unsigned long>(MS_SLAVE | MS_REC));
}

TEST_F(MountedAdaptor, PassthroughFailedPropagationChangeDetachesTheBind) {
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/data"}, {"o", "rbind,rshared"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  sys->fail("mount", EIO);
  EXPECT_EQ(text(hosted.mount(v)),
            "volume \"db\": propagation change of " + target + " failed: input/output error");
  EXPECT_EQ(sys->calls_of("bind").at(0).result, 0) << "the bind itself had worked";
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(sys->count("unmount"), 1u);
}

TEST_F(MountedAdaptor, PassthroughFailedPropagationChangeDetachesTheMount) {
  volume_spec v{"db", {{"type", "nfs"}, {"device", "srv:/export"}, {"o", "shared"}}};
  ASSERT_EQ(text(pass.create(v)), "");
  sys->fail("mount", EINVAL, 2);
  EXPECT_EQ(text(pass.mount(v)),
            "volume \"db\": propagation change of " + target + " failed: invalid argument");
  EXPECT_EQ(sys->mount_count(), 0u);
  EXPECT_EQ(sys->count("unmount"), 1u);
}

TEST_F(MountedAdaptor, PassthroughBindOfAMissingSourceFails) {
  volume_spec v{"db", {{"type", "none"}, {"device", "/srv/missing"}, {"o", "bind"}}};
  ASSERT_EQ(text(hosted.create(v)), "");
  EXPECT_EQ(text(hosted.mount(v)), "volume \"db\": mount of /srv/missing on " + target
                                     + " failed: no such file or directory");
  EXPECT_EQ(sys->mount_count(), 0u);
}
