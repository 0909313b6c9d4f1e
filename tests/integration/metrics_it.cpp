// The metrics endpoint (--metrics-address, --metrics-socket) of the real binary, scraped over
// TCP and a Unix socket: the values move with the requests the test sends.

#include "support/fake_docker.hpp"
#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <cstring>
#include <map>
#include <set>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

using namespace actorvol::test;

namespace {

// One HTTP/1.0 exchange on a connected socket: the whole response (the server closes).
std::string http_exchange(int fd, const std::string& request) {
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string get_tcp(int port, const std::string& method = "GET",
                    const std::string& path = "/metrics") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  return http_exchange(fd, method + " " + path + " HTTP/1.0\r\nHost: x\r\n\r\n");
}

std::string get_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  return http_exchange(fd, "GET /metrics HTTP/1.0\r\n\r\n");
}

// The port the plugin logged for its metrics listener (it was asked for port 0).
int metrics_port(const plugin& p) {
  std::smatch m;
  auto log = p.log();
  if (std::regex_search(log, m, std::regex("metrics=127\\.0\\.0\\.1:([0-9]+)")))
    return std::stoi(m[1]);
  return -1;
}

// The samples of an exposition text, by "name{labels}"; fails the test on a malformed line
// or a sample whose metric has no # TYPE.
std::map<std::string, double> samples(const std::string& response) {
  std::map<std::string, double> out;
  auto body_at = response.find("\r\n\r\n");
  EXPECT_NE(body_at, std::string::npos) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
    << response.substr(0, body_at);
  std::istringstream in(response.substr(body_at + 4));
  std::set<std::string> typed;
  std::regex sample(R"(^([a-z_]+)(\{[^}]*\})? (\S+)$)");
  std::regex type(R"(^# TYPE ([a-z_]+) (counter|gauge|histogram)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type)) {
      typed.insert(m[1]);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0)
      continue;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not an exposition line: '" << line << "'";
      continue;
    }
    std::string name = m[1];
    auto base = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
    EXPECT_TRUE(typed.count(name) || typed.count(base)) << name << " has no # TYPE before it";
    out[name + std::string(m[2])] = m[3] == "+Inf" ? 1e300 : std::stod(m[3]);
  }
  return out;
}

double value(const std::map<std::string, double>& s, const std::string& key) {
  auto i = s.find(key);
  EXPECT_NE(i, s.end()) << "no sample " << key;
  return i == s.end() ? -1 : i->second;
}

std::string requests(const std::string& ep, const std::string& result) {
  return "actorvol_requests_total{endpoint=\"" + ep + "\",result=\"" + result + "\"}";
}

} // namespace

TEST(Metrics, ValuesMoveWithTheRequests) {
  plugin p({"--metrics-address", "127.0.0.1:0"});
  int port = metrics_port(p);
  ASSERT_GT(port, 0) << p.log();
  auto before = samples(get_tcp(port));
  EXPECT_EQ(value(before, "actorvol_build_info{version=\"0.1.0\"}"), 1);
  EXPECT_EQ(value(before, "actorvol_volumes"), 0);

  for (auto name : {"m1", "m2"})
    ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", name}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Mount", {{"Name", "m1"}, {"ID", "c1"}}).json()["Err"], "");
  EXPECT_NE(p.call("/VolumeDriver.Get", {{"Name", "missing"}}).json()["Err"], "");
  {
    connection c(p.socket());
    EXPECT_EQ(c.post("/VolumeDriver.Create", "{not json").status, 400);
  }
  {
    connection c(p.socket());
    EXPECT_EQ(c.post("/VolumeDriver.Frobnicate", "{}").status, 404);
  }
  auto after = samples(get_tcp(port));
  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(delta(requests("/VolumeDriver.Create", "ok")), 2);
  EXPECT_EQ(delta(requests("/VolumeDriver.Create", "rejected")), 1);
  EXPECT_EQ(delta(requests("/VolumeDriver.Mount", "ok")), 1);
  EXPECT_EQ(delta(requests("/VolumeDriver.Get", "error")), 1);
  EXPECT_EQ(delta(requests("other", "rejected")), 1);
  EXPECT_EQ(delta("actorvol_request_duration_seconds_count{endpoint=\"/VolumeDriver.Create\"}"),
            3);
  EXPECT_GT(delta("actorvol_request_duration_seconds_sum{endpoint=\"/VolumeDriver.Create\"}"), 0);
  EXPECT_EQ(value(after, "actorvol_request_duration_seconds_bucket{endpoint=\"/VolumeDriver."
                         "Mount\",le=\"+Inf\"}"),
            1);
  EXPECT_EQ(value(after, "actorvol_volumes"), 2);
  EXPECT_EQ(value(after, "actorvol_active_uses"), 1);
  // Two Creates and a Mount were made durable, in one or more commits.
  EXPECT_EQ(delta("actorvol_state_commit_batch_size_sum"), 3);
  EXPECT_GE(delta("actorvol_state_commit_duration_seconds_count"), 1);
  EXPECT_EQ(value(after, "actorvol_blocking_jobs_in_flight"), 0);

  ASSERT_EQ(p.call("/VolumeDriver.Unmount", {{"Name", "m1"}, {"ID", "c1"}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Remove", {{"Name", "m2"}}).json()["Err"], "");
  auto last = samples(get_tcp(port));
  EXPECT_EQ(value(last, "actorvol_volumes"), 1);
  EXPECT_EQ(value(last, "actorvol_active_uses"), 0);

  EXPECT_NE(get_tcp(port, "GET", "/").find(" 404 "), std::string::npos);
  EXPECT_NE(get_tcp(port, "POST").find(" 405 "), std::string::npos);
  // The plugin socket does not serve metrics, and the metrics listener no plugin calls.
  EXPECT_NE(get_tcp(port, "POST", "/Plugin.Activate").find(" 404 "), std::string::npos);
}

// Bad requests get a 400 and the endpoint goes on serving; idle clients beyond the bound
// make room instead of locking scrapers out.
TEST(Metrics, BadRequestsAndIdleClientsDoNotStopScrapes) {
  plugin p({"--metrics-address", "127.0.0.1:0"});
  int port = metrics_port(p);
  ASSERT_GT(port, 0);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_NE(http_exchange(fd, "this is not HTTP\r\n\r\n").find(" 400 "), std::string::npos);
  std::vector<int> idle;
  for (int i = 0; i < 40; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::send(c, "GET /metr", 9, MSG_NOSIGNAL);  // and never the rest
    idle.push_back(c);
  }
  auto s = samples(get_tcp(port));
  EXPECT_EQ(value(s, "actorvol_build_info{version=\"0.1.0\"}"), 1);
  for (int c : idle)
    ::close(c);
  EXPECT_EQ(p.call("/Plugin.Activate").status, 200);
}

TEST(Metrics, BlockingJobsInFlightWhileABackendCallRuns) {
  plugin p({"--metrics-address", "127.0.0.1:0"}, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(1500)"});
  int port = metrics_port(p);
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "slow"}}).json()["Err"], "");
  auto mount = std::async(std::launch::async, [&] {
    return p.call("/VolumeDriver.Mount", {{"Name", "slow"}, {"ID", "c1"}}).json();
  });
  double seen = 0;
  for (int i = 0; i < 100 && seen == 0; ++i) {
    seen = value(samples(get_tcp(port)), "actorvol_blocking_jobs_in_flight");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(seen, 1) << "the slow attach was not counted while it ran";
  EXPECT_EQ(mount.get()["Err"], "");
  EXPECT_EQ(value(samples(get_tcp(port)), "actorvol_blocking_jobs_in_flight"), 0);
}

TEST(Metrics, OnAUnixSocketRemovedAtStop) {
  temp_dir dir;
  auto sock = (dir / "metrics.sock").string();
  plugin p({"--metrics-socket", sock});
  auto s = samples(get_unix(sock));
  EXPECT_EQ(value(s, "actorvol_build_info{version=\"0.1.0\"}"), 1);
  EXPECT_EQ(p.stop(SIGTERM), 0) << p.log();
  EXPECT_EQ(::access(sock.c_str(), F_OK), -1) << "the metrics socket was left behind";
}

TEST(Metrics, ReconcileDropsAreCounted) {
  temp_dir tmp;
  fake_docker docker{(tmp / "docker.sock").string()};
  docker.set_containers("[]");
  plugin p({"--metrics-address", "127.0.0.1:0", "--docker-socket", docker.socket(),
            "--reconcile-interval", "1", "--reconcile-grace", "0"});
  ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "r"}}).json()["Err"], "");
  ASSERT_EQ(p.call("/VolumeDriver.Mount", {{"Name", "r"}, {"ID", "gone"}}).json()["Err"], "");
  int port = metrics_port(p);
  double dropped = 0;
  for (int i = 0; i < 300 && dropped == 0; ++i) {
    dropped = value(samples(get_tcp(port)), "actorvol_reconcile_dropped_uses_total");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(dropped, 1) << p.log();
}

TEST(Metrics, BadListenersStopTheStart) {
  EXPECT_EQ(run_binary({"--metrics-address", "127.0.0.1:1", "--metrics-socket", "/tmp/x"}).code,
            2);
  temp_dir dir;
  auto r = run_binary({"--socket", (dir / "p.sock").string(), "--root", (dir / "root").string(),
                       "--metrics-address", "localhost:9100"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not an IP address"), std::string::npos) << r.err;
  r = run_binary({"--socket", (dir / "p.sock").string(), "--root", (dir / "root").string(),
                  "--metrics-address", "127.0.0.1:99999"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the port must be 0..65535"), std::string::npos) << r.err;
}
