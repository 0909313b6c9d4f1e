// actorvol under a service manager: systemd's socket activation (the real
// systemd-socket-activate passes the socket, as systemd does for actorvol.socket) and the
// sd_notify protocol (a datagram socket of the test's own stands in for systemd's).

#include "support/plugin.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

using namespace actorvol::test;

namespace {

const char* socket_activate = "/usr/bin/systemd-socket-activate";

#define REQUIRE_SOCKET_ACTIVATE()                                                          \
  do {                                                                                     \
    if (::access(socket_activate, X_OK) != 0) {                                            \
      auto ci = std::getenv("CI");                                                         \
      if (ci != nullptr && std::strcmp(ci, "true") == 0)                                   \
        FAIL() << socket_activate << " is missing (package systemd); CI runs every test";  \
      GTEST_SKIP() << "needs " << socket_activate << " (apt-get install systemd)";         \
    }                                                                                      \
  } while (false)

// A child process with its output in a file.
class child {
public:
  child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
        std::string log_path)
    : pid_(spawn(argv, env, log_path)), log_path_(std::move(log_path)) {
  }
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Sends `sig` and returns the exit code (128+signal when killed).
  int stop(int sig = SIGTERM) {
    ::kill(pid_, sig);
    return wait();
  }
  // Waits up to 20 s for the exit; -1 if it did not come.
  int wait() {
    for (int i = 0; i < 2000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

private:
  pid_t pid_ = -1;
  std::string log_path_;
};

response post(const std::string& socket, const std::string& endpoint, const std::string& body) {
  connection c(socket);
  return c.post(endpoint, body);
}

// systemd's end of NOTIFY_SOCKET: a datagram socket that collects the notices.
class notify_socket {
public:
  explicit notify_socket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot bind " + path_ + ": " + std::strerror(errno));
  }
  ~notify_socket() {
    ::close(fd_);
  }
  const std::string& path() const {
    return path_;
  }
  // The next notice, or "" when none comes within `ms`.
  std::string next(int ms = 10000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1)
      return "";
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

private:
  std::string path_;
  int fd_ = -1;
};

} // namespace

// The socket systemd binds is the one served: requests work on it, the log says so, and on
// stop the socket file stays (it is systemd's, for the next activation).
TEST(Service, SocketActivation) {
  REQUIRE_SOCKET_ACTIVATE();
  temp_dir dir;
  auto sock = (dir / "activated.sock").string();
  child p({socket_activate, "-l", sock, binary_under_test(), "--socket",
           (dir / "unused.sock").string(), "--root", (dir / "root").string()},
          {}, (dir / "log").string());
  // systemd-socket-activate binds, then starts actorvol on the first connection.
  for (int i = 0; i < 500 && ::access(sock.c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto r = post(sock, "/Plugin.Activate", "");
  ASSERT_EQ(r.status, 200) << p.log();
  EXPECT_EQ(r.json()["Implements"][0], "VolumeDriver");
  EXPECT_EQ(post(sock, "/VolumeDriver.Create", R"({"Name":"sa"})").json()["Err"], "");
  auto got = post(sock, "/VolumeDriver.Get", R"({"Name":"sa"})").json();
  EXPECT_EQ(got["Err"], "");
  EXPECT_EQ(got["Volume"]["Name"], "sa");
  EXPECT_EQ(post(sock, "/VolumeDriver.Remove", R"({"Name":"sa"})").json()["Err"], "");
  EXPECT_EQ(p.stop(SIGTERM), 0) << p.log();
  auto log = p.log();
  EXPECT_NE(log.find("event=start socket=" + sock + " activated=yes"), std::string::npos) << log;
  EXPECT_EQ(::access(sock.c_str(), F_OK), 0) << "the activated socket file was removed";
  EXPECT_EQ(::access((dir / "unused.sock").c_str(), F_OK), -1)
    << "--socket was bound although a socket was passed";
}

// A passed socket actorvol cannot serve on stops the start with a clear error: a datagram
// socket, or more than one socket.
TEST(Service, UnusableActivationSocketsAreRefused) {
  REQUIRE_SOCKET_ACTIVATE();
  temp_dir dir;
  {
    auto sock = (dir / "dgram.sock").string();
    child p({socket_activate, "--datagram", "-l", sock, binary_under_test(), "--root",
             (dir / "root").string()},
            {}, (dir / "log1").string());
    for (int i = 0; i < 500 && ::access(sock.c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // A datagram wakes it (systemd-socket-activate execs on the first activity).
    int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
    ::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::close(fd);
    EXPECT_EQ(p.wait(), 1) << p.log();
    EXPECT_NE(p.log().find("is not a listening Unix stream socket"), std::string::npos)
      << p.log();
  }
  {
    auto a = (dir / "a.sock").string();
    auto b = (dir / "b.sock").string();
    child p({socket_activate, "-l", a, "-l", b, binary_under_test(), "--root",
             (dir / "root").string()},
            {}, (dir / "log2").string());
    for (int i = 0; i < 500 && ::access(a.c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    connection c(a);  // wakes it
    EXPECT_EQ(p.wait(), 1) << p.log();
    EXPECT_NE(p.log().find("systemd passed 2 sockets; actorvol serves one"), std::string::npos)
      << p.log();
  }
  {
    // A passed socket and --listen tcp:// (ACTORVOL_LISTEN in /etc/default/actorvol, say).
    auto sock = (dir / "tcp-too.sock").string();
    child p({socket_activate, "-l", sock, binary_under_test(), "--root", (dir / "root").string(),
             "--listen", "tcp://127.0.0.1:0", "--insecure-tcp-loopback"},
            {}, (dir / "log3").string());
    for (int i = 0; i < 500 && ::access(sock.c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    connection c(sock);  // wakes it
    EXPECT_EQ(p.wait(), 1) << p.log();
    EXPECT_NE(p.log().find("serve one or the other"), std::string::npos) << p.log();
  }
}

// Type=notify: READY=1 comes once recovery is done and requests are served (so Docker,
// ordered after actorvol, finds every volume), with a status naming the count; STOPPING=1
// comes on SIGTERM.
TEST(Service, NotifiesReadyAfterRecoveryAndStopping) {
  temp_dir dir;
  auto root = (dir / "root").string();
  {
    plugin first(root, {}, {});
    for (auto name : {"n1", "n2", "n3"})
      ASSERT_EQ(first.call("/VolumeDriver.Create", {{"Name", name}}).json()["Err"], "");
    ASSERT_EQ(first.stop(SIGTERM), 0);
  }
  notify_socket manager((dir / "notify").string());
  auto sock = (dir / "p.sock").string();
  child p({binary_under_test(), "--socket", sock, "--root", root},
          {"NOTIFY_SOCKET=" + manager.path()}, (dir / "log").string());
  auto ready = manager.next();
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << ready << "\n" << p.log();
  EXPECT_NE(ready.find("STATUS=serving 3 volumes on " + sock), std::string::npos) << ready;
  // Ready means served: the recovered volumes answer at once.
  auto list = post(sock, "/VolumeDriver.List", "{}").json();
  EXPECT_EQ(list["Volumes"].size(), 3u) << list.dump();
  EXPECT_EQ(manager.next(200), "") << "a second notice before any stop";
  EXPECT_EQ(p.stop(SIGTERM), 0) << p.log();
  auto stopping = manager.next();
  EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
}

// Without systemd (no LISTEN_FDS, no NOTIFY_SOCKET) nothing changes: the binary binds
// --socket itself and removes it on stop.
TEST(Service, WithoutSystemdBindsItsOwnSocket) {
  plugin p;
  EXPECT_EQ(p.call("/Plugin.Activate").status, 200);
  auto sock = p.socket();
  EXPECT_EQ(p.stop(SIGTERM), 0);
  EXPECT_NE(p.log().find("activated=no"), std::string::npos) << p.log();
  EXPECT_EQ(::access(sock.c_str(), F_OK), -1) << "the socket file was left behind";
}
