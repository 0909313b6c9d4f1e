// Robustness of the real binary: an elastic worker pool for blocking backend calls,
// deadlines (and their rollbacks), size limits, long names with size=, the local driver's
// tmpfs form, child processes without our descriptors, and rollbacks that fail.
//
// Time bounds here only prove ordering ("answered while the slow mounts were in flight",
// "one wave, not ten"); they are generous on purpose.

#include "support/journal.hpp"
#include "support/plugin.hpp"
#include "support/requires.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

using namespace actorvol::test;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::string err_of(const response& r) {
  if (r.status == 0)
    return "<no answer>";
  auto j = r.json();
  if (!j.is_object())
    return "<not json: " + r.body + ">";
  return j.value("Err", "<no Err>");
}

bool is_mountpoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.find(" " + path + " ") != std::string::npos)
      return true;
  return false;
}

// Detaches whatever a test left on `path` (stacked mounts too).
void unmount_all(const std::string& path) {
  for (int i = 0; i < 16 && is_mountpoint(path); ++i)
    ::umount2(path.c_str(), MNT_DETACH);
}

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines of `log` that contain every one of `words`.
std::string lines_with(const std::string& log, std::initializer_list<std::string> words) {
  std::istringstream in(log);
  std::string line, out;
  while (std::getline(in, line)) {
    bool all = true;
    for (auto& w : words)
      all = all && line.find(w) != std::string::npos;
    if (all)
      out += line + "\n";
  }
  return out;
}

// One request on its own connection, answered on another thread.
std::future<response> post_async(const std::string& socket, const std::string& endpoint,
                                 json body) {
  return std::async(std::launch::async, [socket, endpoint, body] {
    connection c(socket);
    return c.post(endpoint, body.dump());
  });
}

bool ready(std::future<response>& f) {
  return f.wait_for(0s) == std::future_status::ready;
}

} // namespace

// -- 7. blocking work on an elastic pool ----------------------------------------------------

TEST(Robustness, SlowMountsDoNotHoldUpOtherVolumesAndRunInOneWave) {
  constexpr int n = 20;
  plugin p({"--workers", "2"}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(3000)"});
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "v" + std::to_string(i)}})), "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "idle"}})), "");

  std::atomic<int> answered{0};
  std::vector<std::string> errs(n);
  std::vector<std::thread> clients;
  auto t0 = steady::now();
  for (int i = 0; i < n; ++i)
    clients.emplace_back([&, i] {
      connection c(p.socket());
      auto r = c.post("/VolumeDriver.Mount",
                      json{{"Name", "v" + std::to_string(i)}, {"ID", "c" + std::to_string(i)}}
                        .dump());
      errs[i] = err_of(r);
      ++answered;
    });
  std::this_thread::sleep_for(500ms);  // the Mounts reach their volumes; each takes 3 s

  // An idle volume is served while every Mount is in flight.
  auto get = p.call("/VolumeDriver.Get", {{"Name", "idle"}});
  EXPECT_EQ(answered.load(), 0) << "Get of an idle volume waited for the slow Mounts";
  EXPECT_EQ(err_of(get), "");
  EXPECT_EQ(get.json()["Volume"]["Name"], "idle");
  auto path = p.call("/VolumeDriver.Path", {{"Name", "idle"}});
  EXPECT_EQ(err_of(path), "");
  EXPECT_EQ(path.json()["Mountpoint"], "");
  auto list = p.call("/VolumeDriver.List");
  EXPECT_EQ(err_of(list), "");
  EXPECT_EQ(list.json()["Volumes"].size(), static_cast<size_t>(n + 1));
  EXPECT_EQ(answered.load(), 0) << "Path/List of an idle volume waited for the slow Mounts";

  // Get of a volume whose Mount is in flight answers from its committed state at once.
  auto same = p.call("/VolumeDriver.Get", {{"Name", "v0"}});
  EXPECT_EQ(answered.load(), 0) << "Get of v0 waited for v0's Mount";
  EXPECT_EQ(err_of(same), "");
  EXPECT_EQ(same.json()["Volume"]["Status"]["Mounts"], 0);
  EXPECT_FALSE(same.json()["Volume"].contains("Mountpoint")) << same.body;

  for (auto& t : clients)
    t.join();
  auto total = seconds_since(t0);
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(errs[i], "") << "v" << i;
  // One wave takes 3 s; a second wave (a fixed pool of 2 needs 10) would take at least 6 s.
  EXPECT_LT(total, 6.0) << "the 20 Mounts did not run in one wave";
  auto after = p.call("/VolumeDriver.Get", {{"Name", "v0"}}).json();
  EXPECT_EQ(after["Volume"]["Status"]["Mounts"], 1);
}

// A directory volume attaches nothing: a Mount of an ID more and every Unmount only write its
// record, and are answered while the one WORKER is busy with another volume's slow Remove.
TEST(Robustness, UsesOfAnAttachedDirectoryVolumeChangeWithoutAWorker) {
  plugin p({"--workers", "1", "--max-workers", "1"},
           {"ACTORVOL_FAILPOINTS=adaptor.remove=delay(4000)"});
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "v"}})), "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "s"}})), "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}})), "");
  auto slow = post_async(p.socket(), "/VolumeDriver.Remove", {{"Name", "s"}});
  std::this_thread::sleep_for(500ms);  // the Remove holds the only WORKER for 4 s

  auto m = p.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "b"}});
  EXPECT_EQ(err_of(m), "");
  EXPECT_EQ(m.json()["Mountpoint"], p.root() + "/volumes/v/_data");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "b"}})), "");
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}})), "");
  EXPECT_FALSE(ready(slow)) << "the changes of v waited for the WORKER";
  auto get = p.call("/VolumeDriver.Get", {{"Name", "v"}}).json();
  EXPECT_EQ(get["Volume"]["Status"]["Mounts"], 0);
  EXPECT_EQ(get["Volume"]["Status"]["Backend"], "dir");
  EXPECT_EQ(p.call("/VolumeDriver.Path", {{"Name", "v"}}).json()["Mountpoint"], "");
  EXPECT_EQ(err_of(slow.get()), "");

  // What was answered is durable: after a crash v has no use left, and mounts again.
  p.stop(SIGKILL);
  plugin again(p.root(), {}, {});
  EXPECT_EQ(again.call("/VolumeDriver.Get", {{"Name", "v"}}).json()["Volume"]["Status"]["Mounts"],
            0);
  EXPECT_NE(err_of(again.call("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}})), "");
  EXPECT_EQ(err_of(again.call("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "c"}})), "");
}

// -- 8. deadlines ---------------------------------------------------------------------------

namespace {

// A Mount whose backend call hangs past --mount-timeout fails with a timed-out Err, so does
// one queued behind it, others are served meanwhile, and the late attach is rolled back.
void hung_mount_times_out(const json& opts) {
  bool tmpfs = opts.contains("type");
  // Only the first backend mount hangs (6 s); later ones are quick.
  plugin p({"--mount-timeout", "2", "--op-timeout", "1"},
           {"ACTORVOL_FAILPOINTS=adaptor.mount=1*delay(6000)"});
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "slow"}, {"Opts", opts}})), "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "other"}})), "");
  auto target = p.root() + "/volumes/slow/_data";

  auto t0 = steady::now();
  auto first = post_async(p.socket(), "/VolumeDriver.Mount", {{"Name", "slow"}, {"ID", "a"}});
  std::this_thread::sleep_for(300ms);
  auto second = post_async(p.socket(), "/VolumeDriver.Mount", {{"Name", "slow"}, {"ID", "b"}});
  std::this_thread::sleep_for(200ms);

  // Other volumes are served while the backend hangs.
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "fresh"}})), "");
  auto other = p.call("/VolumeDriver.Get", {{"Name", "other"}});
  EXPECT_EQ(err_of(other), "");
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 3u);
  EXPECT_FALSE(ready(first)) << "the hung Mount answered before the others were served";

  auto r1 = first.get();
  auto t1 = seconds_since(t0);
  EXPECT_NE(err_of(r1).find("timed out"), std::string::npos) << err_of(r1);
  EXPECT_NE(err_of(r1).find("slow"), std::string::npos) << err_of(r1);
  EXPECT_LT(t1, 5.0) << "the Mount waited for its backend instead of its deadline";
  auto r2 = second.get();
  auto t2 = seconds_since(t0);
  EXPECT_NE(err_of(r2).find("timed out"), std::string::npos) << err_of(r2);
  EXPECT_NE(err_of(r2).find("waiting for an earlier operation"), std::string::npos)
    << err_of(r2);
  EXPECT_LT(t2, 5.5) << "the queued Mount waited for the hung one instead of its deadline";

  // After the backend call ends, the late attach is rolled back: nothing is in use.
  std::this_thread::sleep_until(t0 + 7s);
  auto deadline = t0 + 20s;
  while (tmpfs && is_mountpoint(target) && steady::now() < deadline)
    std::this_thread::sleep_for(100ms);
  auto get = p.call("/VolumeDriver.Get", {{"Name", "slow"}});
  EXPECT_EQ(err_of(get), "");
  EXPECT_EQ(get.json()["Volume"]["Status"]["Mounts"], 0) << get.body;
  EXPECT_FALSE(get.json()["Volume"].contains("Mountpoint")) << get.body;
  if (tmpfs) {
    EXPECT_FALSE(is_mountpoint(target)) << "the late attach was not rolled back";
  }
  EXPECT_NE(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "slow"}, {"ID", "a"}})), "")
    << "the timed-out Mount left a use behind";

  // The volume works again.
  auto again = p.call("/VolumeDriver.Mount", {{"Name", "slow"}, {"ID", "c"}});
  EXPECT_EQ(err_of(again), "");
  EXPECT_EQ(again.json()["Mountpoint"], target);
  if (tmpfs) {
    EXPECT_TRUE(is_mountpoint(target));
  }
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "slow"}, {"ID", "c"}})), "");
  if (tmpfs) {
    EXPECT_FALSE(is_mountpoint(target));
  }
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "slow"}})), "");
  p.stop(SIGTERM);
  unmount_all(target);
}

} // namespace

TEST(Robustness, HungMountFailsAtItsDeadlineOnADirVolume) {
  hung_mount_times_out(json::object());
}

TEST(Robustness, HungMountFailsAtItsDeadlineAndTheLateTmpfsIsDetached) {
  ACTORVOL_REQUIRE_ROOT();
  hung_mount_times_out({{"type", "tmpfs"}, {"o", "size=1m"}});
}

TEST(Robustness, SigtermWhileABackendCallHangsExits) {
  plugin p({}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(30000)"});
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "hang"}})), "");
  auto mount = post_async(p.socket(), "/VolumeDriver.Mount", {{"Name", "hang"}, {"ID", "a"}});
  std::this_thread::sleep_for(500ms);
  ASSERT_FALSE(ready(mount));
  auto t0 = steady::now();
  int code = p.stop(SIGTERM);
  auto took = seconds_since(t0);
  EXPECT_EQ(code, 0) << p.log();
  EXPECT_LT(took, 20.0) << "SIGTERM waited for the hung backend call";
  auto r = mount.get();
  if (r.status != 0) {  // an answer, if any, is a failure: the use was never recorded
    EXPECT_NE(err_of(r), "");
  }
}

// -- 12. sizes that overflow or exceed the free space ---------------------------------------

TEST(Robustness, OverflowingAndOversizedSizesAreRefusedAtCreate) {
  plugin p;
  for (std::string size : {"16777217T", "99999999999999T", "8388608T", "16777216T"}) {
    auto err = err_of(p.call("/VolumeDriver.Create", {{"Name", "big"}, {"Opts", {{"size", size}}}}));
    EXPECT_NE(err.find("bad option size=" + size), std::string::npos) << size << ": " << err;
  }
  struct statvfs st {};
  ASSERT_EQ(::statvfs(p.root().c_str(), &st), 0);
  auto free_gib = static_cast<uint64_t>(st.f_bavail) * st.f_frsize >> 30;
  auto too_big = std::to_string(free_gib + 64) + "G";  // parses, but does not fit
  auto err =
    err_of(p.call("/VolumeDriver.Create", {{"Name", "big"}, {"Opts", {{"size", too_big}}}}));
  EXPECT_NE(err.find("exceeds the free space"), std::string::npos) << too_big << ": " << err;
  EXPECT_NE(err.find("big"), std::string::npos) << err;

  // Nothing was made.
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
  EXPECT_NE(err_of(p.call("/VolumeDriver.Get", {{"Name", "big"}})), "");
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(p.root() + "/volumes", ec) || fs::is_empty(p.root() + "/volumes"));
  EXPECT_FALSE(fs::exists(p.root() + "/images/big.img"));
  EXPECT_TRUE(stored_records(p.root()).empty());
}

// -- 13. the longest names with size= -------------------------------------------------------

TEST(Robustness, LongestNamesWorkWithSize) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  for (size_t len : {252u, 255u}) {
    std::string name(len, 'n');
    name[0] = 'L';
    SCOPED_TRACE("name of " + std::to_string(len) + " bytes");
    auto target = p.root() + "/volumes/" + name + "/_data";
    ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", name}, {"Opts", {{"size", "8M"}}}})),
              "");
    auto m = p.call("/VolumeDriver.Mount", {{"Name", name}, {"ID", "a"}});
    ASSERT_EQ(err_of(m), "");
    EXPECT_EQ(m.json()["Mountpoint"], target);
    EXPECT_TRUE(is_mountpoint(target));
    {
      std::ofstream out(target + "/hello");
      out << "world";
    }
    EXPECT_EQ(slurp(target + "/hello"), "world");
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", name}, {"ID", "a"}})), "");
    EXPECT_FALSE(is_mountpoint(target));
    EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", name}})), "");
    EXPECT_FALSE(fs::exists(p.root() + "/volumes/" + name));
    unmount_all(target);
  }
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
}

// -- 14. the local driver's tmpfs form ------------------------------------------------------

TEST(Robustness, TmpfsInTheLocalDriversForm) {
  ACTORVOL_REQUIRE_ROOT();
  plugin p;
  auto target = p.root() + "/volumes/t/_data";
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create",
                          {{"Name", "t"},
                           {"Opts", {{"type", "tmpfs"}, {"device", "tmpfs"},
                                     {"o", "size=100m,uid=1000"}}}})),
            "");
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "t"}, {"ID", "a"}});
  ASSERT_EQ(err_of(m), "");
  EXPECT_EQ(m.json()["Mountpoint"], target);
  ASSERT_TRUE(is_mountpoint(target));
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(target.c_str(), &vfs), 0);
  EXPECT_EQ(static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize, 100ull << 20);
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Unmount", {{"Name", "t"}, {"ID", "a"}})), "");
  EXPECT_FALSE(is_mountpoint(target));
  EXPECT_EQ(err_of(p.call("/VolumeDriver.Remove", {{"Name", "t"}})), "");
  p.stop(SIGTERM);
  unmount_all(target);
}

// -- 15. child processes inherit none of our descriptors ------------------------------------

TEST(Robustness, ChildProcessesInheritNoDescriptors) {
  temp_dir bin;
  auto record = (bin / "fds").string();
  auto script = (bin / "mkfs.ext4").string();
  {
    std::ofstream out(script);
    // No redirection in the shell itself (a shell saves the fds it redirects on fds >= 10):
    // find writes the record. Each line: "N -> TARGET".
    out << "#!/bin/sh\n"
        << "find /proc/$$/fd -mindepth 1 -maxdepth 1 -fprintf " << record << " '%f -> %l\\n'\n"
        << "exec /sbin/mkfs.ext4 \"$@\"\n";
  }
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  std::string path = bin.path().string() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "");
  plugin p({}, {"PATH=" + path});
  connection idle(p.socket());  // a client connection open while the helper runs
  ASSERT_TRUE(idle.ok());
  ASSERT_NE(err_of(idle.post("/VolumeDriver.Get", json{{"Name", "none"}}.dump())), "");
  ASSERT_EQ(err_of(p.call("/VolumeDriver.Create", {{"Name", "q"}, {"Opts", {{"size", "8M"}}}})),
            "");
  auto fds = slurp(record);
  ASSERT_FALSE(fds.empty()) << "the fake mkfs.ext4 did not run";
  std::set<int> numbers;
  std::istringstream in(fds);
  std::string line;
  while (std::getline(in, line)) {
    auto arrow = line.find(" -> ");
    if (arrow == std::string::npos)
      continue;
    auto target = line.substr(arrow + 4);
    int fd = std::atoi(line.substr(0, arrow).c_str());
    EXPECT_EQ(target.find("socket:"), std::string::npos) << "fd " << fd << ": " << line;
    EXPECT_EQ(target.find(p.root()), std::string::npos) << "fd " << fd << ": " << line;
    if (target == script)
      continue;  // the shell's own handle on the script it runs
    numbers.insert(fd);
  }
  EXPECT_EQ(numbers, (std::set<int>{0, 1, 2})) << fds;
}

// -- 17. a rollback that fails is reported --------------------------------------------------

namespace {

// A Mount attaches, its state write fails, and the undo (detach) fails too: the Mount
// answers Err, the log has an error line for the rollback, and Get says so in its Status.
void failed_rollback_shows_up(const json& opts) {
  bool tmpfs = opts.contains("type");
  temp_dir tmp;
  auto root = (tmp / "root").string();
  {
    plugin first(root, {}, {});
    ASSERT_EQ(err_of(first.call("/VolumeDriver.Create", {{"Name", "r"}, {"Opts", opts}})), "");
    ASSERT_EQ(first.stop(SIGTERM), 0);
  }
  plugin p(root, {}, {"ACTORVOL_FAILPOINTS=state.write=error(EIO);adaptor.unmount=error(EBUSY)"});
  auto real_root = fs::canonical(root).string();
  auto target = real_root + "/volumes/r/_data";
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "r"}, {"ID", "a"}});
  auto err = err_of(m);
  EXPECT_NE(err, "");
  EXPECT_NE(err.find("input/output error"), std::string::npos) << err;
  if (tmpfs) {  // the undo really failed: the tmpfs is still there, and that is what Get says
    EXPECT_TRUE(is_mountpoint(target));
  }
  auto log = p.log();
  auto lines = lines_with(log, {"level=error", "event=rollback", "volume=r"});
  EXPECT_NE(lines, "") << log;
  EXPECT_NE(lines.find("rollback of attach failed"), std::string::npos) << lines;
  auto get = p.call("/VolumeDriver.Get", {{"Name", "r"}});
  EXPECT_EQ(err_of(get), "");
  auto status = get.json()["Volume"]["Status"];
  EXPECT_EQ(status["Mounts"], 0) << get.body;
  ASSERT_TRUE(status.contains("Problem")) << get.body;
  EXPECT_NE(status["Problem"].get<std::string>().find("rollback of attach failed"),
            std::string::npos)
    << get.body;
  p.stop(SIGTERM);
  unmount_all(target);
}

} // namespace

TEST(Robustness, FailedRollbackOfAnAttachShowsUpOnADirVolume) {
  failed_rollback_shows_up(json::object());
}

TEST(Robustness, FailedRollbackOfATmpfsAttachShowsUp) {
  ACTORVOL_REQUIRE_ROOT();
  failed_rollback_shows_up({{"type", "tmpfs"}, {"o", "size=1m"}});
}
