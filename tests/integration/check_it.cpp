// `actorvol check` on roots broken on purpose: what it finds, its exit codes (0 clean, 1
// problems remain, 2 could not check), and what --repair does (never deleting user data).

#include "support/journal.hpp"
#include "support/plugin.hpp"
#include "support/requires.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace actorvol::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A root with volumes `names` (dir volumes), made by the real plugin, which is stopped.
std::string make_root(temp_dir& dir, std::initializer_list<const char*> names) {
  auto root = (dir / "root").string();
  plugin p(root, {}, {});
  for (auto n : names)
    EXPECT_EQ(p.call("/VolumeDriver.Create", {{"Name", n}}).json()["Err"], "");
  EXPECT_EQ(p.stop(SIGTERM), 0);
  return root;
}

run_result check(const std::string& root, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"check", "--root", root};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_binary(args);
}

// The findings of a --json run, by kind.
std::multimap<std::string, json> findings(const run_result& r) {
  std::multimap<std::string, json> out;
  auto j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  if (j.is_discarded())
    return out;
  for (auto& f : j["findings"])
    out.emplace(f["kind"].get<std::string>(), f);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Attaches a 1 MiB image at ROOT/volumes/NAME/disk.img to a free loop device (as a leak
// would leave it); returns the device.
std::string attach_loop(const std::string& root, const std::string& name) {
  auto image = fs::path(root) / "volumes" / name / "disk.img";
  fs::create_directories(image.parent_path());
  { std::ofstream(image).put('\0'); }
  fs::resize_file(image, 1 << 20);
  std::string loop;
  if (FILE* p = ::popen(("losetup --find --show " + image.string()).c_str(), "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, p) != nullptr)
      loop = buf;
    ::pclose(p);
  }
  loop.erase(loop.find_last_not_of("\n") + 1);
  return loop;
}

} // namespace

TEST(Check, ACleanRootIsClean) {
  temp_dir dir;
  auto root = make_root(dir, {"c1", "c2"});
  auto r = check(root);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 volume(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nclean\n"), std::string::npos) << r.out;
  auto j = json::parse(check(root, {"--json"}).out);
  EXPECT_EQ(j["clean"], true);
  EXPECT_EQ(j["volumes"], 2);
}

TEST(Check, CouldNotCheck) {
  temp_dir dir;
  auto root = make_root(dir, {"x"});
  {
    plugin running(root, {}, {});  // holds the root
    auto r = check(root);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("actorvol is running on"), std::string::npos) << r.err;
  }
  EXPECT_EQ(check((dir / "nowhere").string()).code, 2);
  // A directory with volumes but no state (not an actorvol root, or its state is lost, e.g.
  // /var/lib/docker): nothing can be judged orphaned, so nothing is touched.
  auto foreign = dir / "foreign";
  fs::create_directories(foreign / "volumes" / "important" / "_data");
  std::ofstream(foreign / "volumes" / "important" / "_data" / "f") << "precious";
  for (bool with_state_dir : {false, true}) {
    if (with_state_dir)
      fs::create_directories(foreign / "state");
    auto f = check(foreign.string(), {"--repair"});
    EXPECT_EQ(f.code, 2) << f.out << f.err;
    EXPECT_NE(f.err.find("not an actorvol root"), std::string::npos) << f.err;
    EXPECT_EQ(slurp(foreign / "volumes" / "important" / "_data" / "f"), "precious");
    EXPECT_FALSE(fs::exists(foreign / "quarantine"));
  }
  EXPECT_EQ(run_binary({"check"}).code, 2);
  EXPECT_EQ(run_binary({"check", "--root", root, "--frobnicate"}).code, 2);
  // A journal that is not a database: the state cannot be read.
  auto journal = fs::path(root) / "state" / ".journal.sqlite";
  fs::remove(fs::path(root) / "state" / ".journal.sqlite-wal");
  fs::remove(fs::path(root) / "state" / ".journal.sqlite-shm");
  std::ofstream(journal, std::ios::trunc) << std::string(8192, 'x');
  auto r = check(root, {"--json"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(json::parse(r.out)["error"].get<std::string>().find("the state cannot be read"),
            std::string::npos)
    << r.out;
  // A journal that is gone where one was made.
  fs::remove(journal);
  r = check(root);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("a journal was made here before"), std::string::npos) << r.err;
}

TEST(Check, OrphanedDataGoesToQuarantineOnRepair) {
  temp_dir dir;
  auto root = make_root(dir, {"kept"});
  auto orphan = fs::path(root) / "volumes" / "orphan";
  fs::create_directories(orphan / "_data");
  std::ofstream(orphan / "_data" / "file") << "user data";
  auto r = check(root, {"--json"});
  EXPECT_EQ(r.code, 1);
  auto f = findings(r);
  ASSERT_EQ(f.count("orphaned-data"), 1u) << r.out;
  EXPECT_EQ(f.find("orphaned-data")->second["volume"], "orphan");
  EXPECT_TRUE(fs::exists(orphan)) << "a check without --repair changed the root";

  r = check(root, {"--repair", "--json"});
  EXPECT_EQ(r.code, 0) << r.out;
  f = findings(r);
  ASSERT_EQ(f.count("orphaned-data"), 1u);
  EXPECT_EQ(f.find("orphaned-data")->second["repaired"], true);
  EXPECT_FALSE(fs::exists(orphan));
  auto q = json::parse(r.out)["quarantine"];
  ASSERT_EQ(q.size(), 1u) << r.out;
  auto moved = fs::path(q[0]["path"].get<std::string>()) / "volumes" / "orphan" / "_data" / "file";
  EXPECT_EQ(slurp(moved), "user data") << "the orphaned data was not kept";
  EXPECT_EQ(check(root).code, 0);
  EXPECT_TRUE(fs::exists(fs::path(root) / "volumes" / "kept" / "_data"));
}

TEST(Check, MissingDataAndCorruptRecordsAreReportedNotRepaired) {
  temp_dir dir;
  auto root = make_root(dir, {"gone", "bad", "fine"});
  fs::remove_all(fs::path(root) / "volumes" / "gone");
  put_stored_record(root, "bad", "{not a record");
  std::ofstream(fs::path(root) / "volumes" / "bad" / "_data" / "f") << "kept";
  auto r = check(root, {"--repair", "--json"});
  EXPECT_EQ(r.code, 1) << r.out;
  auto f = findings(r);
  ASSERT_EQ(f.count("missing-data"), 1u) << r.out;
  EXPECT_EQ(f.find("missing-data")->second["volume"], "gone");
  EXPECT_EQ(f.find("missing-data")->second["repaired"], false);
  ASSERT_EQ(f.count("corrupt-record"), 1u) << r.out;
  EXPECT_EQ(f.find("corrupt-record")->second["volume"], "bad");
  EXPECT_EQ(slurp(fs::path(root) / "volumes" / "bad" / "_data" / "f"), "kept");
  EXPECT_EQ(f.count("orphaned-data"), 0u) << "a volume with a corrupt record is no orphan";
}

TEST(Check, StrayMountIsDetachedOnRepair) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir dir;
  auto root = make_root(dir, {"idle"});
  auto target = fs::path(root) / "volumes" / "idle" / "_data";
  ASSERT_EQ(::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  auto r = check(root, {"--json"});
  EXPECT_EQ(r.code, 1) << r.out;
  auto f = findings(r);
  ASSERT_EQ(f.count("stray-mount"), 1u) << r.out;
  EXPECT_EQ(f.find("stray-mount")->second["path"], target.string());
  r = check(root, {"--repair"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::ifstream mi("/proc/self/mountinfo");
  std::string all((std::istreambuf_iterator<char>(mi)), {});
  EXPECT_EQ(all.find(" " + target.string() + " "), std::string::npos) << "still mounted";
  if (all.find(" " + target.string() + " ") != std::string::npos)
    ::umount2(target.c_str(), MNT_DETACH);
}

TEST(Check, StrayMountIsFoundWhenTheVolumesDirectoryIsAMountItself) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir dir;
  auto root = make_root(dir, {});
  auto volumes = fs::path(root) / "volumes";
  ASSERT_EQ(::mount("tmpfs", volumes.c_str(), "tmpfs", 0, "size=4m"), 0) << std::strerror(errno);
  auto ghost = volumes / "ghost" / "_data";
  fs::create_directories(ghost);
  ASSERT_EQ(::mount("tmpfs", ghost.c_str(), "tmpfs", 0, "size=1m"), 0);
  auto r = check(root, {"--json"});
  ::umount2(ghost.c_str(), MNT_DETACH);
  ::umount2(volumes.c_str(), MNT_DETACH);
  EXPECT_EQ(r.code, 1) << r.out;
  auto f = findings(r);
  ASSERT_EQ(f.count("stray-mount"), 1u) << r.out;
  EXPECT_EQ(f.find("stray-mount")->second["path"], ghost.string());
}

// A loop device that something still holds open is not released by --repair (the kernel
// only marks it to go when closed), and the check says so.
TEST(Check, ALoopDeviceStillOpenIsNotCountedAsReleased) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir dir;
  auto root = make_root(dir, {});
  auto loop = attach_loop(root, "held");
  ASSERT_FALSE(loop.empty());
  int held = ::open(loop.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0) << std::strerror(errno);
  auto r = check(root, {"--repair", "--json"});
  ::close(held);  // autoclear (set by the detach) releases it now
  std::system(("losetup --detach " + loop + " 2>/dev/null").c_str());
  EXPECT_EQ(r.code, 1) << r.out;
  auto f = findings(r);
  ASSERT_EQ(f.count("leaked-loop-device"), 1u) << r.out;
  EXPECT_EQ(f.find("leaked-loop-device")->second["repaired"], false) << r.out;
  EXPECT_NE(f.find("leaked-loop-device")->second["repair"].get<std::string>().find("still open"),
            std::string::npos)
    << r.out;
}

TEST(Check, LeakedLoopDeviceIsReleasedOnRepair) {
  ACTORVOL_REQUIRE_ROOT();
  temp_dir dir;
  auto root = make_root(dir, {});
  auto loop = attach_loop(root, "leaky");
  ASSERT_FALSE(loop.empty());
  auto r = check(root, {"--json"});
  EXPECT_EQ(r.code, 1) << r.out;
  auto f = findings(r);
  ASSERT_EQ(f.count("leaked-loop-device"), 1u) << r.out;
  EXPECT_EQ(f.find("leaked-loop-device")->second["path"], loop);
  r = check(root, {"--repair", "--json"});
  EXPECT_EQ(r.code, 0) << r.out;
  std::string listing;
  char buf[256];
  FILE* p = ::popen("losetup --list --noheadings --output NAME", "r");
  while (std::fgets(buf, sizeof buf, p) != nullptr)
    listing += buf;
  ::pclose(p);
  EXPECT_EQ(listing.find(loop + "\n"), std::string::npos) << "the loop device is still there";
  if (listing.find(loop + "\n") != std::string::npos)
    std::system(("losetup --detach " + loop).c_str());
  // The image itself (no record named it) went to quarantine, not away.
  EXPECT_EQ(json::parse(r.out)["quarantine"].size(), 1u) << r.out;
}
