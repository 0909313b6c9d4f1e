// The server's connections, on the real binary: undelivered answers, sessions released on
// the I/O thread, many connections at once, room made at the bound, close-on-exec sockets.

#include "support/fake_docker.hpp"
#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

using namespace actorvol::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

template <class Cond>
bool eventually(Cond cond, std::chrono::milliseconds within = 10s) {
  auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (cond())
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

int mounts(plugin& p, const std::string& name) {
  auto v = p.call("/VolumeDriver.Get", {{"Name", name}}).json()["Volume"]["Status"]["Mounts"];
  return v.is_number() ? v.get<int>() : -1;
}

// Sends a request on a fresh connection and closes it before the answer can be written.
void send_and_leave(plugin& p, const std::string& endpoint, const json& body) {
  connection c(p.socket());
  c.send_raw(http_post(endpoint, body.dump()));
  std::this_thread::sleep_for(300ms);  // the request is with the actors by now
}

// Sets the soft RLIMIT_NOFILE of this process; returns the previous limits.
rlimit set_soft_open_files(rlim_t soft) {
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  rlimit now = old;
  now.rlim_cur = std::min(soft, old.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &now);
  return old;
}

// The fcntl-style flags of every socket the process holds (fd -> flags from fdinfo).
std::map<int, long> socket_flags(pid_t pid) {
  namespace fs = std::filesystem;
  std::map<int, long> out;
  auto dir = "/proc/" + std::to_string(pid);
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir + "/fd", ec)) {
    auto target = fs::read_symlink(e.path(), ec);
    if (ec || target.string().rfind("socket:", 0) != 0)
      continue;
    auto fd = e.path().filename().string();
    std::ifstream info(dir + "/fdinfo/" + fd);
    std::string key, value;
    while (info >> key >> value)
      if (key == "flags:")
        out[std::stoi(fd)] = std::stol(value, nullptr, 8);
  }
  return out;
}

} // namespace

// Item 9: Docker sends no Unmount for a Mount it never heard succeed, so it is undone.
TEST(Undelivered, AMountWhoseClientLeftIsUndoneWhileCreateAndRemoveStayDone) {
  plugin p({}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(1500);adaptor.create=delay(1500);"
                "adaptor.remove=delay(1500)"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "u"}}).json()["Err"], "");

  send_and_leave(p, "/VolumeDriver.Mount", {{"Name", "u"}, {"ID", "gone"}});
  // Get answers at once from the committed state (0 before the Mount commits, 1 after), so
  // wait for the undo itself: the Mount's answer could not be written, the NET actor undid
  // it, and the count is back to 0.
  EXPECT_TRUE(eventually([&] {
    return p.log().find("event=undo-mount") != std::string::npos && mounts(p, "u") == 0;
  }));
  auto un = p.call("/VolumeDriver.Unmount", {{"Name", "u"}, {"ID", "gone"}});
  EXPECT_EQ(un.json()["Err"], "volume \"u\" has no mount with id \"gone\"");

  // A Mount whose answer arrives still counts.
  connection c(p.socket());
  EXPECT_NE(c.post("/VolumeDriver.Mount", R"({"Name":"u","ID":"kept"})").json()["Mountpoint"],
            "");
  EXPECT_EQ(mounts(p, "u"), 1);

  // Create and Remove whose client left stay done.
  send_and_leave(p, "/VolumeDriver.Create", {{"Name", "c2"}});
  EXPECT_TRUE(eventually(
    [&] { return p.call("/VolumeDriver.Get", {{"Name", "c2"}}).json()["Err"] == ""; }));
  send_and_leave(p, "/VolumeDriver.Remove", {{"Name", "c2"}});
  EXPECT_TRUE(eventually(
    [&] { return p.call("/VolumeDriver.Get", {{"Name", "c2"}}).json()["Err"] != ""; }));
  EXPECT_EQ(mounts(p, "u"), 1);
  EXPECT_NE(p.log().find("event=undelivered"), std::string::npos);
}

// Item 10: the actors drop the last reference to a `Connection: close` session on their own
// threads unless it is handed back to the I/O thread. A race: many requests show it.
TEST(IoThread, SessionsAreReleasedOnlyOnTheIoThread) {
  plugin p({"--log-level", "warn"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "v"}}).json()["Err"], "");
  constexpr int threads = 4, each = 5000;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < each; ++i) {
        connection c(p.socket());
        c.send_raw(http_post("/VolumeDriver.Get", R"({"Name":"v"})", false));
        if (c.read_response().status != 200)
          ++failures;
      }
    });
  for (auto& th : clients)
    th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(p.log().find("off-io-thread"), std::string::npos) << p.log().substr(0, 2000);
  EXPECT_EQ(p.call("/Plugin.Activate").status, 200);
}

// Item 11a: 1000 clients at once, each with a request in flight, are all answered. The
// plugin starts under a low soft limit on open files and must raise it itself.
TEST(Connections, AThousandAtOnceAreAllAnswered) {
  auto old = set_soft_open_files(512);
  auto p = std::make_unique<plugin>(std::vector<std::string>{"--log-level", "warn"});
  set_soft_open_files(old.rlim_max);
  constexpr int clients = 1000;
  std::vector<std::unique_ptr<connection>> conns;
  for (int i = 0; i < clients; ++i) {
    conns.push_back(std::make_unique<connection>(p->socket()));
    ASSERT_TRUE(conns.back()->ok()) << i;
    conns.back()->send_raw(http_post("/VolumeDriver.List", ""));
  }
  int answered = 0;
  auto until = std::chrono::steady_clock::now() + 20s;
  for (auto& c : conns) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    if (left.count() > 0 && c->readable(static_cast<int>(left.count()))
        && c->read_response().status == 200)
      ++answered;
  }
  EXPECT_EQ(answered, clients);
  conns.clear();
  p.reset();
  ::setrlimit(RLIMIT_NOFILE, &old);
}

// Item 11b: at the bound, the longest idle keep-alive connection makes room for a new client.
TEST(Connections, AtTheBoundAnIdleConnectionMakesRoom) {
  plugin p({"--max-connections", "8"});
  std::vector<std::unique_ptr<connection>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<connection>(p.socket()));
    ASSERT_EQ(idle.back()->post("/Plugin.Activate", "").status, 200);
    std::this_thread::sleep_for(20ms);
  }
  connection c(p.socket());
  c.send_raw(http_post("/Plugin.Activate", ""));
  ASSERT_TRUE(c.readable(5000)) << "the new client waited for an idle timeout";
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_TRUE(idle[0]->closed_by_peer(2000)) << "the oldest idle connection made room";
  for (int i = 1; i < 8; ++i)
    EXPECT_FALSE(idle[i]->closed_by_peer(50)) << i;
}

// Item 11c: clients that trickle a header forever cannot lock a new client out.
TEST(Connections, SlowlorisClientsCannotLockOthersOut) {
  plugin p({"--max-connections", "8"});
  std::vector<std::unique_ptr<connection>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<connection>(p.socket()));
    slow.back()->send_raw("POST /Plugin.Activate HTTP/1.1\r\nX-Slow: ");
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    while (!done) {
      for (auto& c : slow)
        c->send_raw("a");
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  connection c(p.socket());
  c.send_raw(http_post("/Plugin.Activate", ""));
  bool served = c.readable(5000);
  done = true;
  trickle.join();
  ASSERT_TRUE(served) << "a new client waited behind slow partial requests";
  EXPECT_EQ(c.read_response().status, 200);
}

// A client that pipelines Gets of `name` for `for_how_long` and never reads an answer: the
// plugin's answers back up until it cannot write the next. Returns the socket.
// A raw connection to the plugin's socket (for what `connection` does not do: a small
// receive buffer, sends that must not block).
int connect_to(const std::string& socket, int receive_buffer = 0) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// Sends as much of `all` as the plugin takes within `for_how_long`, never reading; returns
// how much it took.
size_t send_unread(int fd, const std::string& all, std::chrono::milliseconds for_how_long) {
  size_t sent = 0;
  auto until = std::chrono::steady_clock::now() + for_how_long;
  while (sent < all.size() && std::chrono::steady_clock::now() < until) {
    auto n = ::send(fd, all.data() + sent, std::min<size_t>(65536, all.size() - sent),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0)
      sent += static_cast<size_t>(n);
    else
      std::this_thread::sleep_for(10ms);
  }
  return sent;
}

int stalled_reader(const std::string& socket, const std::string& name,
                   std::chrono::milliseconds for_how_long = 1500ms) {
  int fd = connect_to(socket);
  std::string all;
  for (int i = 0; i < 20000; ++i)
    all += http_post("/VolumeDriver.Get", json{{"Name", name}}.dump());
  EXPECT_LT(send_unread(fd, all, for_how_long), all.size())
    << "the plugin read every request: its answers never backed up";
  return fd;
}

// Helper-24: clients that stop reading their answers held both places for 30 s. An answer
// unread for two seconds makes its connection one that may be closed for a new client.
// Helper-25: a new client that came before the answers were long enough unread was only
// served at the 30 s write deadline (nothing tried the accept again): it connects at once.
TEST(Connections, AClientThatStopsReadingMakesRoom) {
  plugin p({"--max-connections", "2", "--idle-timeout", "60"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "v"}}).json()["Err"], "");
  int a = stalled_reader(p.socket(), "v", 300ms);
  int b = stalled_reader(p.socket(), "v", 300ms);
  connection c(p.socket());
  c.send_raw(http_post("/Plugin.Activate", ""));
  EXPECT_TRUE(c.readable(10000)) << "a new client waited behind two that stopped reading";
  if (c.readable(0)) {
    EXPECT_EQ(c.read_response().status, 200);
  }
  ::close(a);
  ::close(b);
  EXPECT_EQ(p.call("/VolumeDriver.Get", {{"Name", "v"}}).status, 200);
}

// Helper-24: a client that stops reading held up the exit after SIGTERM for 30 s. Once
// stopping, an answer gets 3 s to be read.
TEST(Connections, AClientThatStopsReadingDoesNotHoldUpTheExit) {
  plugin p;
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "v"}}).json()["Err"], "");
  int a = stalled_reader(p.socket(), "v");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(p.stop(), 0);
  auto took = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now()
                                                              - start);
  ::close(a);
  EXPECT_LT(took.count(), 20) << "the exit waited for the client's 30 s write deadline";
}

// Helper-25: a client that reads a large answer slowly is reading: at the bound it is not
// closed for a new client (only one that read nothing for a second is).
TEST(Connections, AClientReadingALargeAnswerSlowlyIsNotClosed) {
  plugin p({"--max-connections", "1"});
  // A List of about 430 KB: twice what the kernel holds for the socket at once.
  for (int i = 0; i < 1500; ++i)
    ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", std::string(245, 'a') + std::to_string(i)}})
                .json()["Err"],
              "");
  int fd = connect_to(p.socket(), 4096);
  auto req = http_post("/VolumeDriver.List", "{}", false);
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  // Read nothing for 0.8 s, then about 160 KB a second: the answer takes over three seconds,
  // and has not moved for at most 0.8 s at a time.
  std::string got;
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    std::this_thread::sleep_for(800ms);
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      got.append(buf, static_cast<size_t>(n));
      std::this_thread::sleep_for(25ms);
    }
    reading = false;
  });
  std::this_thread::sleep_for(1300ms);  // the answer has been written for over a second
  connection c(p.socket());  // waits at the bound until the List is read
  c.send_raw(http_post("/Plugin.Activate", ""));
  reader.join();
  ::close(fd);
  auto body = got.substr(std::min(got.size(), got.find("\r\n\r\n") + 4));
  auto listed = json::parse(body, nullptr, false);
  ASSERT_FALSE(listed.is_discarded()) << "the List answer was cut off after " << got.size()
                                      << " bytes";
  EXPECT_EQ(listed["Volumes"].size(), 1500u);
  ASSERT_TRUE(c.readable(10000));
  EXPECT_EQ(c.read_response().status, 200);
}

// Helper-25: a Mount whose answer was not read when actorvol stopped was undone after the
// actors had stopped, so the undo was lost (and a use stayed recorded that no client had).
// Every Mount answer the client gets counts; the one that could not be written is undone.
TEST(Connections, AMountUnreadAtShutdownIsUndoneDurably) {
  temp_dir tmp;
  auto root = (tmp / "root").string();
  int heard = 0;
  {
    plugin p(root, {}, {});
    ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "m"}}).json()["Err"], "");
    int fd = connect_to(p.socket());
    std::string all;
    for (int i = 0; i < 3000; ++i)
      all += http_post("/VolumeDriver.Mount",
                       json{{"Name", "m"}, {"ID", "id" + std::to_string(i)}}.dump());
    ASSERT_LT(send_unread(fd, all, 1500ms), all.size())
      << "the plugin read every Mount: its answers never backed up";
    EXPECT_EQ(p.stop(), 0);  // SIGTERM; the unread answer is given 3 s, then closed
    // What the client gets now is what was written before the connection was closed: whole
    // answers, then at most one cut off (not heard).
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      got.append(buf, static_cast<size_t>(n));
    ::close(fd);
    for (size_t at = 0;;) {
      auto head_end = got.find("\r\n\r\n", at);
      auto length_at = got.find("Content-Length: ", at);
      if (head_end == std::string::npos || length_at == std::string::npos || length_at > head_end)
        break;
      auto length = std::stoul(got.substr(length_at + 16));
      if (got.size() < head_end + 4 + length)
        break;
      EXPECT_EQ(got.compare(at, 12, "HTTP/1.1 200"), 0) << got.substr(at, 200);
      ++heard;
      at = head_end + 4 + length;
    }
  }
  ASSERT_GT(heard, 0);
  plugin again(root, {}, {});
  EXPECT_EQ(mounts(again, "m"), heard) << "uses recorded for answers no client got";
}

// At the bound, a connection whose request is with the actors is never closed: a new client
// waits for one of them to finish, then is served.
TEST(Connections, BusyConnectionsAreNeverClosedToMakeRoom) {
  plugin p({"--max-connections", "2"}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(4000)"});
  for (auto v : {"b1", "b2"})
    ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", v}}).json()["Err"], "");
  connection a(p.socket()), b(p.socket());
  a.send_raw(http_post("/VolumeDriver.Mount", R"({"Name":"b1","ID":"x"})"));
  b.send_raw(http_post("/VolumeDriver.Mount", R"({"Name":"b2","ID":"x"})"));
  std::this_thread::sleep_for(1000ms);  // both requests are with the actors (a loaded CI host)
  connection c(p.socket());
  c.send_raw(http_post("/Plugin.Activate", ""));
  EXPECT_FALSE(c.readable(300)) << "both places are busy with the actors";
  EXPECT_NE(a.read_response().json()["Mountpoint"], "");
  EXPECT_NE(b.read_response().json()["Mountpoint"], "");
  ASSERT_TRUE(c.readable(5000));
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_EQ(mounts(p, "b1"), 1);
  EXPECT_EQ(mounts(p, "b2"), 1);
}

// Item 15: children (mount helpers, mkfs) must inherit no socket: every socket of the
// plugin, listening, accepted and its Docker client's, is close-on-exec.
TEST(Sockets, EverySocketOfThePluginIsCloseOnExec) {
  constexpr long o_cloexec = 02000000;
  temp_dir tmp;
  fake_docker docker((tmp / "docker.sock").string());
  docker.set_hang(true);  // the plugin's Docker connection stays open
  plugin p({"--docker-socket", docker.socket()});
  connection c(p.socket());
  ASSERT_EQ(c.post("/Plugin.Activate", "").status, 200);
  size_t most = 0;
  ASSERT_TRUE(eventually([&] {
    auto fds = socket_flags(p.pid());
    for (auto& [fd, flags] : fds)
      EXPECT_TRUE(flags & o_cloexec) << "fd " << fd << " flags " << std::oct << flags;
    most = std::max(most, fds.size());
    return fds.size() >= 3;  // the listener, our connection, the Docker client
  })) << "sockets seen at once: " << most;
}
