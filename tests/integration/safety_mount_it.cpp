// Safety of the user's data around mounts, on the real binary with real mounts (root): mount
// checks on a --root given through a symlink, with `//` and `/./`, or relative; bind flags
// (ro, nosuid, ...) take effect; stray mounts are detached on start; a failed directory sync
// of a Mount leaves the disk agreeing with the answer; a Mount never follows a symlinked
// _data. Deletion, corrupt records and quarantine: safety_delete_it.cpp.

#include "integration/safety_support.hpp"
#include "support/journal.hpp"
#include "support/plugin.hpp"
#include "support/requires.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace actorvol::test;
using namespace actorvol::test::safety;
namespace fs = std::filesystem;

namespace {

// -- 1. a --root that is not already its real path -------------------------------------------

struct root_form {
  const char* label;
  // Makes TMP/real and the --root text (and the cwd to start from) naming TMP/real/root.
  void (*make)(const fs::path& tmp, std::string& root, std::string& cwd);
};

const root_form forms[] = {
  {"ThroughASymlink",
   [](const fs::path& tmp, std::string& root, std::string& cwd) {
     fs::create_directories(tmp / "real");
     fs::create_directory_symlink(tmp / "real", tmp / "link");
     root = (tmp / "link" / "root").string();
     cwd = "";
   }},
  {"WithDoubleSlashAndDot",
   [](const fs::path& tmp, std::string& root, std::string& cwd) {
     fs::create_directories(tmp / "real");
     root = tmp.string() + "//real/./root";
     cwd = "";
   }},
  {"Relative",
   [](const fs::path& tmp, std::string& root, std::string& cwd) {
     fs::create_directories(tmp / "real");
     root = "root";
     cwd = (tmp / "real").string();
   }},
};

void PrintTo(const root_form& f, std::ostream* os) {
  *os << f.label;
}

class RootForms : public ::testing::TestWithParam<root_form> {};

// A tmpfs volume whose Mount fails at `fault`: answered Err, detached, nothing counted, and
// so after a kill -9 and a restart too.
void mount_whose_commit_fails_counts_nothing(const std::string& fault) {
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  unmount_guard guard{{root}};
  auto target = root + "/volumes/v/_data";
  {
    plugin p(root, {}, {});
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "v"}, {"Opts", {{"type", "tmpfs"}}}})),
              "");
    p.stop();
  }
  {
    plugin p(root, {}, {"ACTORVOL_FAILPOINTS=" + fault + "=1*error(EIO)"});
    auto err = err_of(p.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}));
    EXPECT_NE(err, "");
    EXPECT_NE(err.find("volume \"v\""), std::string::npos) << err;
    EXPECT_EQ(mounts_of(p, "v"), 0);
    EXPECT_EQ(mounts_on(target), 0) << "the attach is undone";
    p.stop(SIGKILL);
  }
  plugin p(root, {}, {});
  EXPECT_EQ(mounts_of(p, "v"), 0) << "the disk disagrees with the answer";
  EXPECT_EQ(mounts_on(target), 0);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}})),
            "volume \"v\" has no mount with id \"a\"");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "v"}})), "");
}

} // namespace

TEST_P(RootForms, MountChecksUseTheRealPath) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  temp_dir host;
  fill_host(host.path());
  std::string root_arg, cwd;
  GetParam().make(tmp.path(), root_arg, cwd);
  auto real_root = (fs::canonical(tmp.path()) / "real" / "root").string();
  unmount_guard guard{{fs::canonical(tmp.path()).string()}};
  plugin p(root_arg, {}, {}, cwd);
  // The socket opens before the root is prepared; the first answer comes after.
  ASSERT_EQ(p.call("/Plugin.Activate").status, 200);
  ASSERT_TRUE(fs::is_directory(real_root + "/state")) << "the root is where it was asked for";

  // A bind of host data: attached and detached on the real path, never deleted.
  {
    auto target = real_root + "/volumes/b/_data";
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "b"}, {"Opts", bind_opts(host.path())}})),
              "");
    auto m = p.call("/VolumeDriver.Mount", {{"Name", "b"}, {"ID", "a"}});
    ASSERT_EQ(err_of(m), "");
    EXPECT_EQ(m.json()["Mountpoint"], target) << "the mountpoint is on the real root";
    EXPECT_EQ(mounts_on(target), 1);
    EXPECT_EQ(slurp(target + "/a.txt"), "alpha");
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "b"}, {"ID", "a"}})), "");
    EXPECT_EQ(mounts_on(target), 0) << "Unmount left the bind on " << target;
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "b"}})), "");
    expect_host_intact(host.path(), "bind volume removed");
    EXPECT_FALSE(fs::exists(real_root + "/volumes/b"));
  }

  // tmpfs: each Mount/Unmount cycle attaches exactly one tmpfs and takes it off again.
  {
    auto target = real_root + "/volumes/t/_data";
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                            {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}, {"o", "size=1m"}}}})),
              "");
    for (int cycle = 0; cycle < 3; ++cycle) {
      ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}})), "")
        << "cycle " << cycle;
      EXPECT_EQ(mounts_on(target), 1) << "cycle " << cycle << ": stacked tmpfs";
      ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}})), "")
        << "cycle " << cycle;
      EXPECT_EQ(mounts_on(target), 0) << "cycle " << cycle << ": tmpfs left behind";
    }
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "t"}})), "");
  }

  // size=: a loop-mounted image comes off on Unmount and can be mounted again.
  {
    auto target = real_root + "/volumes/q/_data";
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "q"}, {"Opts", {{"size", "8M"}}}})),
              "");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "q"}, {"ID", "a"}})), "");
    EXPECT_EQ(mounts_on(target), 1);
    std::ofstream(target + "/kept") << "k";
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "q"}, {"ID", "a"}})), "");
    EXPECT_EQ(mounts_on(target), 0);
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "q"}, {"ID", "b"}})), "")
      << "mounted again";
    EXPECT_EQ(mounts_on(target), 1);
    EXPECT_EQ(slurp(target + "/kept"), "k");
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "q"}, {"ID", "b"}})), "");
    EXPECT_EQ(mounts_on(target), 0);
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "q"}})), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Safety, RootForms, ::testing::ValuesIn(forms),
                         [](const auto& info) { return std::string{info.param.label}; });

// -- 2. bind flags ------------------------------------------------------------------------------

TEST(Safety, ReadOnlyBindIsReadOnly) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir host;
  fill_host(host.path());
  plugin p;
  unmount_guard guard{{fs::canonical(p.root()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "r"}, {"Opts", bind_opts(host.path(), "bind,ro")}})),
            "");
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "r"}, {"ID", "a"}});
  ASSERT_EQ(err_of(m), "");
  auto mp = m.json()["Mountpoint"].get<std::string>();
  EXPECT_EQ(slurp(mp + "/a.txt"), "alpha") << "the host data shows through";
  errno = 0;
  int fd = ::open((mp + "/written").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  int create_err = errno;
  if (fd >= 0)
    ::close(fd);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(create_err, EROFS) << std::strerror(create_err);
  fd = ::open((mp + "/a.txt").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  int write_err = errno;
  if (fd >= 0)
    ::close(fd);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(write_err, EROFS);
  EXPECT_TRUE(has_option(options_of(fs::canonical(mp).string()), "ro"))
    << options_of(fs::canonical(mp).string());
  EXPECT_FALSE(fs::exists(host.path() / "written"));
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "r"}, {"ID", "a"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "r"}})), "");
  expect_host_intact(host.path(), "ro bind");
}

TEST(Safety, BindFlagsShowInMountinfo) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir host;
  fill_host(host.path());
  plugin p;
  unmount_guard guard{{fs::canonical(p.root()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "f"},
                           {"Opts", bind_opts(host.path(), "bind,nosuid,nodev,noexec")}})),
            "");
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "f"}, {"ID", "a"}});
  ASSERT_EQ(err_of(m), "");
  auto mp = fs::canonical(m.json()["Mountpoint"].get<std::string>()).string();
  auto opts = options_of(mp);
  EXPECT_TRUE(has_option(opts, "nosuid")) << opts;
  EXPECT_TRUE(has_option(opts, "nodev")) << opts;
  EXPECT_TRUE(has_option(opts, "noexec")) << opts;
  EXPECT_TRUE(has_option(opts, "rw")) << opts;
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "f"}, {"ID", "a"}})), "");
  EXPECT_EQ(mounts_on(mp), 0);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "f"}})), "");
  expect_host_intact(host.path(), "bind with flags");
}

// -- 3. stray mounts ----------------------------------------------------------------------------

TEST(Safety, AMountNoRecordExplainsIsDetachedOnStart) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  unmount_guard guard{{root}};
  auto target = root + "/volumes/s/_data";
  {
    plugin a(root, {}, {});
    ASSERT_EQ(err_of(a.call("/VolumeDriver.Create", {{"Name", "s"}, {"Opts", {{"type", "tmpfs"}}}})),
              "");
    a.stop();
  }
  {
    // The attach happens; the state write aborts the process: a crash between the two.
    plugin b(root, {}, {"ACTORVOL_FAILPOINTS=state.write=panic"});
    EXPECT_EQ(b.call("/VolumeDriver.Mount", {{"Name", "s"}, {"ID", "x"}}).status, 0)
      << "no answer: the process died";
    EXPECT_EQ(b.stop(SIGKILL), 128 + SIGABRT);
  }
  ASSERT_EQ(mounts_on(target), 1) << "the crash left the tmpfs attached";
  plugin c(root, {}, {});
  EXPECT_EQ(mounts_on(target), 0) << "the stray tmpfs is still on " << target;
  EXPECT_EQ(mounts_of(c, "s"), 0);
  EXPECT_EQ(c.call("/VolumeDriver.Path", {{"Name", "s"}}).json()["Mountpoint"], "");
  EXPECT_NE(c.log().find("detached stray mount"), std::string::npos) << c.log();
  ASSERT_EQ(err_of(c.call("/VolumeDriver.Mount", {{"Name", "s"}, {"ID", "y"}})), "");
  EXPECT_EQ(mounts_on(target), 1);
  ASSERT_EQ(err_of(c.call("/VolumeDriver.Unmount", {{"Name", "s"}, {"ID", "y"}})), "");
  EXPECT_EQ(mounts_on(target), 0);
  EXPECT_EQ(err_of(c.call("/VolumeDriver.Remove", {{"Name", "s"}})), "");
}

TEST(Safety, AMountWithRecordedUsesSurvivesAKillNineRestart) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  unmount_guard guard{{root}};
  auto target = root + "/volumes/k/_data";
  {
    plugin a(root, {}, {});
    ASSERT_EQ(err_of(a.call("/VolumeDriver.Create", {{"Name", "k"}, {"Opts", {{"type", "tmpfs"}}}})),
              "");
    ASSERT_EQ(err_of(a.call("/VolumeDriver.Mount", {{"Name", "k"}, {"ID", "x"}})), "");
    std::ofstream(target + "/in-use") << "data";
    a.stop(SIGKILL);
  }
  plugin b(root, {}, {});
  EXPECT_EQ(mounts_on(target), 1) << "the recorded use keeps its mount, once";
  EXPECT_EQ(slurp(target + "/in-use"), "data") << "the same tmpfs, not a fresh one";
  EXPECT_EQ(mounts_of(b, "k"), 1);
  EXPECT_EQ(b.log().find("stray"), std::string::npos) << b.log();
  ASSERT_EQ(err_of(b.call("/VolumeDriver.Unmount", {{"Name", "k"}, {"ID", "x"}})), "");
  EXPECT_EQ(mounts_on(target), 0);
  EXPECT_EQ(err_of(b.call("/VolumeDriver.Remove", {{"Name", "k"}})), "");
}

// -- 4. a Mount whose record fails to commit ------------------------------------------------
// state.commit: the batch fails before its COMMIT. state.synced: the COMMIT reached the disk,
// then reported failure (an fsync error after the log was written): it is undone by a second
// transaction, so a restart after kill -9 finds what the answer said.

TEST(Safety, MountWhoseCommitFailsCountsNothingAfterARestart) {
  ACTORVOL_REQUIRE_ROOT();
  for (auto fault : {"state.commit", "state.synced"}) {
    SCOPED_TRACE(fault);
    mount_whose_commit_fails_counts_nothing(fault);
  }
}

// A tmpfs's data lives only while it is mounted. Its last Unmount detached first and wrote the
// record after: a write that failed "re-attached" a new, empty tmpfs (the Unmount answered Err,
// the volume stayed mounted, its files were gone), and a crash between the two lost them too.
// The record now goes first (review, helper-26).
TEST(Safety, ATmpfsWhoseLastUnmountCannotBeRecordedKeepsItsData) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir tmp;
  auto root = (fs::canonical(tmp.path()) / "root").string();
  unmount_guard guard{{root}};
  auto target = root + "/volumes/t/_data";
  auto file = target + "/precious";
  auto has_data = [&] {
    std::ifstream in(file);
    std::string text;
    return std::getline(in, text) && text == "precious";
  };
  {
    plugin a(root, {}, {});
    ASSERT_EQ(err_of(a.call("/VolumeDriver.Create",
                            {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}, {"o", "size=1m"}}}})),
              "");
    ASSERT_EQ(err_of(a.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}})), "");
    std::ofstream(file) << "precious\n";
    ASSERT_TRUE(has_data());
    a.stop();
  }
  {
    // The write fails: the Unmount fails, and nothing changed.
    plugin b(root, {}, {"ACTORVOL_FAILPOINTS=state.write=1*error(EIO)"});
    auto r = b.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}});
    EXPECT_NE(err_of(r).find("state write failed"), std::string::npos) << err_of(r);
    EXPECT_TRUE(has_data()) << "the failed Unmount emptied the tmpfs";
    EXPECT_EQ(mounts_on(target), 1);
    EXPECT_EQ(mounts_of(b, "t"), 1);
    b.stop();
  }
  {
    // The process dies at the write: after a restart the use and the data are both there.
    plugin c(root, {}, {"ACTORVOL_FAILPOINTS=state.write=panic"});
    EXPECT_EQ(c.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}}).status, 0)
      << "no answer: the process died";
    EXPECT_EQ(c.stop(SIGKILL), 128 + SIGABRT);
  }
  plugin d(root, {}, {});
  EXPECT_EQ(mounts_of(d, "t"), 1);
  EXPECT_TRUE(has_data()) << "a crash in the last Unmount emptied the tmpfs";
  EXPECT_EQ(mounts_on(target), 1);
  ASSERT_EQ(err_of(d.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}})), "");
  EXPECT_EQ(mounts_on(target), 0);
  EXPECT_EQ(mounts_of(d, "t"), 0);
  EXPECT_EQ(err_of(d.call("/VolumeDriver.Remove", {{"Name", "t"}})), "");
}

// -- found by this suite (c52c371), fixed since ---------------------------------------------

// A mounting adaptor's attach follows a symlink at ROOT/volumes/NAME/_data (mount(2)
// follows the target): the tmpfs lands on the link's target, the Mount fails ("nothing is
// mounted there after it"), and the stray tmpfs stays on the host directory, hiding its files.
TEST(Safety, MountNeverFollowsASymlinkedDataDir) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir host;
  fill_host(host.path());
  plugin p;
  unmount_guard guard{{fs::canonical(p.root()).string(), fs::canonical(host.path()).string()}};
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "t"}, {"Opts", {{"type", "tmpfs"}}}})),
            "");
  auto data = p.root() + "/volumes/t/_data";
  fs::remove(data);
  fs::create_directory_symlink(host.path(), data);
  p.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}});
  EXPECT_EQ(mounts_on(fs::canonical(host.path()).string()), 0)
    << "a tmpfs was mounted over the host directory through the link";
  expect_host_intact(host.path(), "Mount through a symlinked _data");
}
