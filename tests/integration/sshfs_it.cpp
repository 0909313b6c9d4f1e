// The sshfs backend and the secrets, end to end: the real binary, a real sshd on 127.0.0.1
// (tests/support/sshd.hpp), real FUSE mounts by Debian's sshfs, and `actorvol secret`.

#include "support/plugin.hpp"
#include "support/requires.hpp"
#include "support/sshd.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace actorvol::test;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `actorvol secret ...` on the plugin's root.
run_result secret(const plugin& p, std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "secret");
  args.insert(args.end(), {"--root", p.root()});
  return run_binary(args, input);
}

json sshfs_opts(const sshd& s, const std::string& secret_name, json extra = json::object()) {
  json o = {{"type", "sshfs"},          {"host", "127.0.0.1"},
            {"port", std::to_string(s.port())}, {"user", "root"},
            {"path", s.export_dir()},   {"secret", secret_name},
            {"known_host", s.host_key()}};
  for (auto& [k, v] : extra.items())
    o[k] = v;
  return o;
}

std::string create(plugin& p, const std::string& name, const json& opts) {
  return p.call("/VolumeDriver.Create", {{"Name", name}, {"Opts", opts}}).json()["Err"];
}

json mount(plugin& p, const std::string& name, const std::string& id) {
  return p.call("/VolumeDriver.Mount", {{"Name", name}, {"ID", id}}).json();
}

std::string unmount(plugin& p, const std::string& name, const std::string& id) {
  return p.call("/VolumeDriver.Unmount", {{"Name", name}, {"ID", id}}).json()["Err"];
}

std::string remove(plugin& p, const std::string& name) {
  return p.call("/VolumeDriver.Remove", {{"Name", name}}).json()["Err"];
}

// Whether a FUSE filesystem is mounted at `path` (from the mount table, without touching it).
int fuse_mounts_at(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mp;
    f >> id >> parent >> dev >> root >> mp;
    if (mp == path && line.find(" - fuse.sshfs ") != std::string::npos)
      ++n;
  }
  return n;
}

// True when `pred` holds within `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// Nothing serves `mountpoint` any more: no FUSE mount, no sshfs, no ssh to `port` (its
// arguments name the port).
void expect_detached(const std::string& mountpoint, int port) {
  EXPECT_EQ(fuse_mounts_at(mountpoint), 0) << mountpoint;
  EXPECT_TRUE(processes("sshfs", mountpoint).empty()) << "an sshfs still serves " << mountpoint;
  EXPECT_TRUE(eventually([&] { return processes("ssh", std::to_string(port), true).empty(); }))
    << "an ssh to port " << port << " is still running";
}

} // namespace

TEST(Sshfs, DataFlowsBothWaysAndNothingIsLeftAfterTheLastUnmountOrRemove) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s;
  ASSERT_TRUE(s.ok());
  plugin p;
  auto set = secret(p, {"set", "k"}, s.client_key());
  ASSERT_EQ(set.code, 0) << set.err;
  ASSERT_EQ(create(p, "v", sshfs_opts(s, "k")), "");
  // On the server: a directory only root may write, a file only root may read.
  auto locked = fs::path(s.export_dir()) / "locked";
  fs::create_directories(locked);
  { std::ofstream(locked / "public") << "anyone"; }
  { std::ofstream(locked / "private") << "root only"; }
  ::chmod(locked.c_str(), 0755);
  ::chmod((locked / "public").c_str(), 0644);
  ::chmod((locked / "private").c_str(), 0600);

  auto m = mount(p, "v", "a");
  ASSERT_EQ(m["Err"], "") << p.log();
  std::string mp = m["Mountpoint"];
  EXPECT_EQ(fuse_mounts_at(mp), 1);
  // Written through the volume, it is on the server; written on the server, it is seen.
  { std::ofstream(fs::path(mp) / "from-container") << "hello server"; }
  EXPECT_EQ(slurp(fs::path(s.export_dir()) / "from-container"), "hello server");
  { std::ofstream(fs::path(s.export_dir()) / "from-server") << "hello container"; }
  EXPECT_EQ(slurp(fs::path(mp) / "from-server"), "hello container");

  // Another local user (a container running as nobody) gets what the remote files' modes
  // give it, not the remote account's rights (default_permissions with allow_other).
  ::chmod(fs::path(p.root()).parent_path().c_str(), 0711);
  std::string out;
  auto as_nobody = [&](const std::string& cmd) {
    out.clear();
    return shell("setpriv --reuid=65534 --regid=65534 --clear-groups " + cmd, "", out);
  };
  EXPECT_EQ(as_nobody("cat " + mp + "/locked/public"), 0) << out;
  EXPECT_EQ(out, "anyone");
  EXPECT_NE(as_nobody("cat " + mp + "/locked/private"), 0) << out;
  EXPECT_NE(as_nobody("touch " + mp + "/locked/by-nobody"), 0) << out;
  EXPECT_FALSE(fs::exists(fs::path(s.export_dir()) / "locked" / "by-nobody"));

  // Two uses, then one: still attached; none: detached, and no process left behind.
  ASSERT_EQ(mount(p, "v", "b")["Err"], "");
  ASSERT_EQ(unmount(p, "v", "a"), "");
  EXPECT_EQ(fuse_mounts_at(mp), 1);
  EXPECT_EQ(slurp(fs::path(mp) / "from-server"), "hello container");
  ASSERT_EQ(unmount(p, "v", "b"), "");
  expect_detached(mp, s.port());

  // Get says where the remote is and that it answers; never a secret.
  auto got = p.call("/VolumeDriver.Get", {{"Name", "v"}}).json();
  EXPECT_EQ(got["Volume"]["Status"]["Backend"], "sshfs") << got.dump();
  EXPECT_EQ(got["Volume"]["Status"]["Reachable"], "true") << got.dump();
  EXPECT_NE(got["Volume"]["Status"]["Remote"].get<std::string>().find(std::to_string(s.port())),
            std::string::npos);

  // Remove while mounted is refused; after the last use it detaches and deletes everything.
  ASSERT_EQ(mount(p, "v", "c")["Err"], "");
  EXPECT_NE(remove(p, "v"), "");
  ASSERT_EQ(unmount(p, "v", "c"), "");
  ASSERT_EQ(remove(p, "v"), "");
  expect_detached(mp, s.port());
  EXPECT_FALSE(fs::exists(fs::path(p.root()) / "volumes" / "v"));
  // The data is the server's: still there.
  EXPECT_EQ(slurp(fs::path(s.export_dir()) / "from-container"), "hello server");
}

TEST(Sshfs, KillNineWhileMountedThenARestartReattachesTheUses) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s;
  ASSERT_TRUE(s.ok());
  temp_dir dir;
  auto root = (dir / "root").string();
  std::string mp;
  {
    plugin p(root, {}, {});
    ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
    ASSERT_EQ(create(p, "v", sshfs_opts(s, "k")), "");
    auto m = mount(p, "v", "a");
    ASSERT_EQ(m["Err"], "") << p.log();
    mp = m["Mountpoint"];
    EXPECT_EQ(p.stop(SIGKILL), 128 + SIGKILL);
  }
  // The sshfs daemon outlived actorvol; the restarted one adopts its mount.
  EXPECT_EQ(fuse_mounts_at(mp), 1);
  {
    plugin p(root, {}, {});
    auto got = p.call("/VolumeDriver.Get", {{"Name", "v"}}).json();
    EXPECT_EQ(got["Volume"]["Mountpoint"], mp) << got.dump();
    { std::ofstream(fs::path(mp) / "after-restart") << "1"; }
    EXPECT_EQ(slurp(fs::path(s.export_dir()) / "after-restart"), "1");
    EXPECT_EQ(fuse_mounts_at(mp), 1);

    // Now the daemon dies with actorvol (a plugin restarted in a new PID namespace): the
    // mount left behind is dead, and the restart attaches a live one in its place.
    auto daemons = processes("sshfs", mp);
    ASSERT_FALSE(daemons.empty());
    EXPECT_EQ(p.stop(SIGKILL), 128 + SIGKILL);
    for (auto pid : daemons)
      ::kill(pid, SIGKILL);
    ASSERT_TRUE(eventually([&] { return processes("sshfs", mp).empty(); }));
  }
  {
    plugin p(root, {}, {});
    // Requests to a volume being re-attached wait for the re-attach: Get answers after it.
    auto got = p.call("/VolumeDriver.Get", {{"Name", "v"}}).json();
    EXPECT_EQ(got["Volume"]["Status"]["Attached"], "true") << got.dump() << p.log();
    EXPECT_FALSE(processes("sshfs", mp).empty()) << "the use was not re-attached: " << p.log();
    EXPECT_EQ(fuse_mounts_at(mp), 1);
    EXPECT_EQ(slurp(fs::path(mp) / "after-restart"), "1");
    ASSERT_EQ(unmount(p, "v", "a"), "") << p.log();
    expect_detached(mp, s.port());
    ASSERT_EQ(remove(p, "v"), "");
  }
}

TEST(Sshfs, ADeadOrSilentRemoteFailsItsMountInTimeWhileOtherVolumesProceed) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s;
  ASSERT_TRUE(s.ok());
  silent_server silent;
  auto refused = closed_port();
  plugin p;
  ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
  ASSERT_EQ(create(p, "slow", sshfs_opts(s, "k", {{"port", std::to_string(silent.port())},
                                                   {"timeout", "8"}})),
            "");
  ASSERT_EQ(create(p, "dead", sshfs_opts(s, "k", {{"port", std::to_string(refused)}})), "");
  for (auto name : {"good1", "good2"})
    ASSERT_EQ(create(p, name, sshfs_opts(s, "k")), "");
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "plain"}}).json()["Err"], "");

  // The silent remote holds its Mount up to ssh's ConnectTimeout (8 s)...
  std::atomic<bool> slow_done{false};
  json slow;
  auto started = std::chrono::steady_clock::now();
  std::thread t{[&] {
    slow = mount(p, "slow", "s");
    slow_done = true;
  }};
  std::this_thread::sleep_for(200ms);
  // ...while other clients mount and unmount the other volumes, many times over.
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      std::string vol = c == 3 ? "plain" : c % 2 ? "good1" : "good2";
      for (int i = 0; i < 2; ++i) {
        auto id = "c" + std::to_string(c) + "-" + std::to_string(i);
        if (mount(p, vol, id)["Err"] != "" || unmount(p, vol, id) != "")
          ++failures;
      }
    });
  for (auto& c : clients)
    c.join();
  EXPECT_FALSE(slow_done) << "the silent remote answered early: " << slow.dump();
  EXPECT_EQ(failures, 0) << p.log();

  // A dead remote fails at once, and says where and why.
  auto dead = mount(p, "dead", "d");
  std::string dead_err = dead["Err"];
  EXPECT_NE(dead_err.find("127.0.0.1 port " + std::to_string(refused)), std::string::npos)
    << dead_err;
  EXPECT_NE(dead_err.find("refused"), std::string::npos) << dead_err;

  t.join();
  auto took = std::chrono::steady_clock::now() - started;
  std::string slow_err = slow["Err"];
  EXPECT_NE(slow_err.find("127.0.0.1 port " + std::to_string(silent.port())), std::string::npos)
    << slow_err;
  EXPECT_NE(slow_err.find("timed out"), std::string::npos) << slow_err;
  // Within its bound (2 * timeout + 5 s), far inside Docker's deadline.
  EXPECT_LT(took, 22s);

  // Get answers for both, from what it knows, and says whether the remote answers.
  auto got = p.call("/VolumeDriver.Get", {{"Name", "dead"}}).json();
  EXPECT_EQ(got["Err"], "");
  EXPECT_TRUE(eventually([&] {
    got = p.call("/VolumeDriver.Get", {{"Name", "dead"}}).json();
    return got["Volume"]["Status"]["Reachable"].get<std::string>().rfind("false", 0) == 0;
  })) << got.dump();
  expect_detached((fs::path(p.root()) / "volumes" / "slow" / "_data").string(), silent.port());
  expect_detached((fs::path(p.root()) / "volumes" / "dead" / "_data").string(), refused);
}

TEST(Sshfs, ASecretNeverLeaks) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s{"actorvol-sshtest"};
  ASSERT_TRUE(s.ok());
  plugin p({"--log-level", "debug"});
  ASSERT_EQ(secret(p, {"set", "pw", "--password-stdin"}, s.password() + "\n").code, 0);
  ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
  std::string wrong = "wrong-" + s.password().substr(3);
  ASSERT_EQ(secret(p, {"set", "bad", "--password-stdin"}, wrong).code, 0);
  // A distinctive line from the middle of the key, and the passwords.
  auto key_lines = s.client_key();
  auto line_start = key_lines.find('\n') + 1;
  auto key_line = key_lines.substr(line_start, key_lines.find('\n', line_start) - line_start);
  ASSERT_GE(key_line.size(), 40u);
  std::vector<std::string> needles = {s.password(), wrong, key_line};

  ASSERT_EQ(create(p, "pwvol", sshfs_opts(s, "pw", {{"user", "actorvol-sshtest"}})), "");
  ASSERT_EQ(create(p, "keyvol", sshfs_opts(s, "k")), "");
  ASSERT_EQ(create(p, "badvol", sshfs_opts(s, "bad", {{"user", "actorvol-sshtest"}})), "");
  std::string seen;  // everything a client sees
  auto m1 = mount(p, "pwvol", "a");
  ASSERT_EQ(m1["Err"], "") << p.log();
  { std::ofstream(fs::path(m1["Mountpoint"].get<std::string>()) / "by-password") << "x"; }
  EXPECT_TRUE(fs::exists(fs::path(s.export_dir()) / "by-password"));
  auto m2 = mount(p, "keyvol", "b");
  ASSERT_EQ(m2["Err"], "") << p.log();
  auto m3 = mount(p, "badvol", "c");
  EXPECT_NE(m3["Err"], "");
  EXPECT_NE(m3["Err"].get<std::string>().find("ermission denied"), std::string::npos) << m3.dump();
  seen += m1.dump() + m2.dump() + m3.dump();
  for (auto name : {"pwvol", "keyvol", "badvol"})
    seen += p.call("/VolumeDriver.Get", {{"Name", name}}).json().dump();
  seen += p.call("/VolumeDriver.List").json().dump();
  seen += secret(p, {"ls"}).out + secret(p, {"ls"}).err;
  seen += secret(p, {"rm", "pw"}).err;  // refused: in use
  seen += p.call("/VolumeDriver.Create", {{"Name", "inline"},
                                          {"Opts", {{"type", "sshfs"}, {"password", wrong}}}})
            .json()
            .dump();

  // Every place a secret must never be: answers, the log (at debug), every process's
  // arguments and environment, and everything under ROOT but the secrets.
  std::vector<std::pair<std::string, std::string>> places = {{"answers", seen},
                                                             {"log", p.log()}};
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (!std::isdigit(static_cast<unsigned char>(name[0])))
      continue;
    places.emplace_back("/proc/" + name + "/cmdline", slurp(e.path() / "cmdline"));
    places.emplace_back("/proc/" + name + "/environ", slurp(e.path() / "environ"));
  }
  struct stat root_st {};
  ::stat(p.root().c_str(), &root_st);
  for (auto it = fs::recursive_directory_iterator(p.root()); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0)
      continue;
    if (it->path().filename() == "secrets" || st.st_dev != root_st.st_dev) {
      it.disable_recursion_pending();  // the secrets themselves, and the remote's files
      continue;
    }
    if (S_ISREG(st.st_mode))
      places.emplace_back(it->path().string(), slurp(it->path()));
  }
  ASSERT_GT(places.size(), 20u);
  for (auto& [where, text] : places)
    for (auto& n : needles)
      EXPECT_EQ(text.find(n), std::string::npos) << "a secret is in " << where;

  ASSERT_EQ(unmount(p, "pwvol", "a"), "");
  ASSERT_EQ(unmount(p, "keyvol", "b"), "");
  for (auto name : {"pwvol", "keyvol", "badvol"})
    ASSERT_EQ(remove(p, name), "");
}

TEST(Sshfs, InlineCredentialsAndUncheckedHostKeysAreRefusedWithoutEchoingThem) {
  plugin p;
  const std::string pw = "hunter2-do-not-echo";
  json base = {{"type", "sshfs"}, {"host", "127.0.0.1"}, {"path", "/srv"}, {"secret", "k"}};
  auto with = [&](json extra) {
    auto o = base;
    for (auto& [k, v] : extra.items())
      o[k] = v;
    return o;
  };
  for (auto& bad : {with({{"password", pw}}), with({{"Password", pw}}),
                    with({{"o", "reconnect,password=" + pw}}),
                    with({{"o", "IdentityFile=/root/.ssh/" + pw}}),
                    with({{"key", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + pw}})}) {
    auto err = create(p, "v", bad);
    EXPECT_NE(err.find("secret="), std::string::npos) << err;
    EXPECT_EQ(err.find(pw), std::string::npos) << err;
  }
  auto err = create(p, "v", with({{"o", "StrictHostKeyChecking=no"}}));
  EXPECT_NE(err.find("host keys are always checked"), std::string::npos) << err;
  err = create(p, "v", with({{"o", "UserKnownHostsFile=/dev/null"}}));
  EXPECT_NE(err.find("host keys are always checked"), std::string::npos) << err;
  for (auto& o : {"ProxyCommand=sh", "ssh_command=sh", "reconnect,LocalCommand=x"}) {
    err = create(p, "v", with({{"o", o}}));
    EXPECT_NE(err, "") << o;
  }
  // Options that would reach ssh's command line as options of their own.
  const std::vector<std::pair<std::string, std::string>> bad_values = {
    {"host", "-oProxyCommand=sh"}, {"user", "-oProxyCommand=sh"}, {"path", "relative"},
    {"port", "0"}, {"secret", "../etc/shadow"}, {"known_host", "ssh-ed25519"}, {"timeout", "0"}};
  for (auto& [k, v] : bad_values) {
    err = create(p, "v", with({{k, v}}));
    EXPECT_NE(err, "") << k << "=" << v;
  }
  EXPECT_NE(create(p, "v", {{"type", "sshfs"}, {"host", "h"}, {"path", "/x"}}).find("secret="),
            std::string::npos);
  // A secret that is not set: refused at Create, saying how to set it.
  err = create(p, "v", base);
  EXPECT_NE(err.find("actorvol secret set k"), std::string::npos) << err;
  EXPECT_EQ(p.log().find(pw), std::string::npos);
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
}

TEST(Sshfs, HostKeysAreAlwaysChecked) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s;
  ASSERT_TRUE(s.ok());
  plugin p;
  ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
  // No key given and none known: refused, never accepted on first sight.
  auto unknown = sshfs_opts(s, "k");
  unknown.erase("known_host");
  ASSERT_EQ(create(p, "unknown", unknown), "");
  auto m = mount(p, "unknown", "a");
  EXPECT_NE(m["Err"].get<std::string>().find("Host key verification failed"), std::string::npos)
    << m.dump();
  EXPECT_NE(m["Err"].get<std::string>().find("known_host="), std::string::npos) << m.dump();
  // Another server's key: refused.
  std::string out;
  temp_dir keys;
  ASSERT_EQ(shell("ssh-keygen -q -t ed25519 -N '' -f " + (keys / "k").string(), "", out), 0);
  auto other_pub = slurp(keys / "k.pub");
  other_pub = other_pub.substr(0, other_pub.find(' ', other_pub.find(' ') + 1));
  ASSERT_EQ(create(p, "wrong", sshfs_opts(s, "k", {{"known_host", other_pub}})), "");
  m = mount(p, "wrong", "a");
  EXPECT_NE(m["Err"].get<std::string>().find("Host key verification failed"), std::string::npos)
    << m.dump();
  // The operator's known_hosts file in the secrets directory: accepted.
  std::ofstream(fs::path(p.root()) / "secrets" / "known_hosts")
    << "[127.0.0.1]:" << s.port() << " " << s.host_key() << "\n";
  m = mount(p, "unknown", "a");
  ASSERT_EQ(m["Err"], "") << m.dump();
  ASSERT_EQ(unmount(p, "unknown", "a"), "");
  for (auto name : {"unknown", "wrong"})
    ASSERT_EQ(remove(p, name), "");
}

TEST(Sshfs, RotatingASecretTakesEffectAtTheNextAttach) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s;
  ASSERT_TRUE(s.ok());
  plugin p;
  ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
  ASSERT_EQ(create(p, "v", sshfs_opts(s, "k")), "");
  auto m = mount(p, "v", "a");
  ASSERT_EQ(m["Err"], "");
  std::string mp = m["Mountpoint"];
  // A key the server does not know: the attached volume goes on working...
  ASSERT_EQ(secret(p, {"set", "k"}, s.other_key()).code, 0);
  { std::ofstream(fs::path(mp) / "still") << "ok"; }
  EXPECT_EQ(slurp(fs::path(s.export_dir()) / "still"), "ok");
  ASSERT_EQ(unmount(p, "v", "a"), "");
  // ...and the next attach uses the new key, which the server refuses.
  m = mount(p, "v", "b");
  EXPECT_NE(m["Err"].get<std::string>().find("ermission denied"), std::string::npos) << m.dump();
  expect_detached(mp, s.port());
  // Back to the known key: the next attach works.
  ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
  ASSERT_EQ(mount(p, "v", "c")["Err"], "");
  ASSERT_EQ(unmount(p, "v", "c"), "");
  ASSERT_EQ(remove(p, "v"), "");
}

TEST(Sshfs, ASecretBoundToItsServersGoesNowhereElse) {
  ACTORVOL_REQUIRE(sshfs_missing());
  sshd s;
  ASSERT_TRUE(s.ok());
  plugin p;
  auto port = std::to_string(s.port());
  ASSERT_EQ(secret(p, {"set", "k", "--host", "127.0.0.1:" + port}, s.client_key()).code, 0);
  // Another host (or port) named by a volume: refused at Create, saying where it may go.
  auto err = create(p, "elsewhere", sshfs_opts(s, "k", {{"host", "localhost"}}));
  EXPECT_NE(err.find("may only be sent to 127.0.0.1:" + port), std::string::npos) << err;
  err = create(p, "otherport", sshfs_opts(s, "k", {{"port", "1"}}));
  EXPECT_NE(err.find("may only be sent to"), std::string::npos) << err;
  ASSERT_EQ(create(p, "v", sshfs_opts(s, "k")), "");
  ASSERT_EQ(mount(p, "v", "a")["Err"], "");
  ASSERT_EQ(unmount(p, "v", "a"), "");
  // Bound elsewhere now: the next attach of the existing volume is refused.
  ASSERT_EQ(secret(p, {"set", "k", "--host", "files.example"}, s.client_key()).code, 0);
  auto m = mount(p, "v", "b");
  EXPECT_NE(m["Err"].get<std::string>().find("may only be sent to files.example:22"),
            std::string::npos)
    << m.dump();
  // Unbound again (set without --host): any server.
  ASSERT_EQ(secret(p, {"set", "k"}, s.client_key()).code, 0);
  ASSERT_EQ(mount(p, "v", "c")["Err"], "");
  ASSERT_EQ(unmount(p, "v", "c"), "");
  ASSERT_EQ(remove(p, "v"), "");
  EXPECT_EQ(secret(p, {"set", "x", "--host", "-oProxyCommand=sh"}, s.client_key()).code, 1);
}

TEST(Sshfs, SecretCommands) {
  plugin p;
  auto dir = fs::path(p.root()) / "secrets";
  // set: a key from stdin (never from an argument); a password with --password-stdin.
  EXPECT_EQ(secret(p, {"set", "notakey"}, "hunter2\n").code, 1);
  auto key = std::string{"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretbytes\n"
                         "-----END OPENSSH PRIVATE KEY-----"};
  auto r = secret(p, {"set", "k"}, key);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(secret(p, {"set", "pw", "--password-stdin"}, "hunter2\n").code, 0);
  EXPECT_EQ(secret(p, {"set", "bad/name"}, key).code, 1);
  EXPECT_EQ(secret(p, {"set", "x", "--password-stdin"}, "two\nlines\n").code, 1);
  EXPECT_EQ(secret(p, {"set"}, key).code, 2);
  // Root-only files, the bytes as given (a key keeps its final newline).
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir / "k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(slurp(dir / "k.key"), key + "\n");
  EXPECT_EQ(slurp(dir / "pw.password"), "hunter2");
  // ls: names only.
  r = secret(p, {"ls"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "k\npw\n");
  // A password replaces a key of the same name.
  ASSERT_EQ(secret(p, {"set", "k", "--password-stdin"}, "other").code, 0);
  EXPECT_FALSE(fs::exists(dir / "k.key"));
  EXPECT_EQ(secret(p, {"ls"}).out, "k\npw\n");
  // rm: refused while a volume names it, done after the volume is gone.
  ASSERT_EQ(create(p, "v", {{"type", "sshfs"}, {"host", "127.0.0.1"}, {"path", "/srv"},
                            {"secret", "k"}}),
            "");
  r = secret(p, {"rm", "k"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("used by volume(s) v"), std::string::npos) << r.err;
  EXPECT_EQ(secret(p, {"ls"}).out, "k\npw\n");
  ASSERT_EQ(remove(p, "v"), "");
  r = secret(p, {"rm", "k"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(secret(p, {"ls"}).out, "pw\n");
  EXPECT_EQ(secret(p, {"rm", "k"}).code, 1);
  // A secret file others can read is refused at use, not trusted.
  ::chmod((dir / "pw.password").c_str(), 0644);
  auto err = create(p, "w", {{"type", "sshfs"}, {"host", "127.0.0.1"}, {"path", "/srv"},
                             {"secret", "pw"}});
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
}
