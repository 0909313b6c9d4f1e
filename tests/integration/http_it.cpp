// HTTP behaviour of the real server: keep-alive, pipelining, split bodies, protocol errors,
// and concurrency.

#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

using namespace actorvol::test;
using json = nlohmann::json;

class Http : public ::testing::Test {
protected:
  // The server must still serve after whatever went before.
  void expect_serving() {
    auto r = p.call("/Plugin.Activate");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["Implements"][0], "VolumeDriver");
  }
  plugin p;
};

TEST_F(Http, KeepAliveServesManyRequestsOnOneConnection) {
  connection c(p.socket());
  ASSERT_EQ(c.post("/VolumeDriver.Create", R"({"Name":"k"})").json()["Err"], "");
  for (int i = 0; i < 50; ++i) {
    auto r = c.post("/VolumeDriver.Mount", R"({"Name":"k","ID":"x"})");
    ASSERT_EQ(r.status, 200) << i;
  }
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(c.post("/VolumeDriver.Unmount", R"({"Name":"k","ID":"x"})").json()["Err"], "");
  EXPECT_FALSE(c.closed_by_peer(100));
}

TEST_F(Http, PipelinedRequestsAreAnsweredInOrder) {
  connection c(p.socket());
  c.send_raw(http_post("/VolumeDriver.Create", R"({"Name":"p1"})")
             + http_post("/VolumeDriver.Mount", R"({"Name":"p1","ID":"a"})")
             + http_post("/VolumeDriver.Get", R"({"Name":"p1"})")
             + http_post("/VolumeDriver.Nope", "{}")
             + http_post("/VolumeDriver.List", ""));
  EXPECT_EQ(c.read_response().json(), json::parse(R"({"Err":""})"));
  EXPECT_NE(c.read_response().json()["Mountpoint"], "");
  EXPECT_EQ(c.read_response().json()["Volume"]["Status"]["Mounts"], 1);
  EXPECT_EQ(c.read_response().status, 404);
  EXPECT_EQ(c.read_response().json()["Volumes"][0]["Name"], "p1");
}

TEST_F(Http, BodySplitAcrossReads) {
  connection c(p.socket());
  std::string body = R"({"Name":"split","Opts":null})";
  std::string head = "POST /VolumeDriver.Create HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     + std::to_string(body.size()) + "\r\n\r\n";
  c.send_raw(head.substr(0, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.send_raw(head.substr(10) + body.substr(0, 7));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.send_raw(body.substr(7));
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["Err"], "");
  EXPECT_EQ(p.call("/VolumeDriver.Get", {{"Name", "split"}}).json()["Err"], "");
}

TEST_F(Http, ChunkedBodyAndContentTypeAreOptional) {
  connection c(p.socket());
  c.send_raw("POST /VolumeDriver.Create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
             "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Nam\r\n8\r\ne\":\"ch\"}\r\n0\r\n\r\n");
  EXPECT_EQ(c.read_response().json()["Err"], "");
  EXPECT_EQ(p.call("/VolumeDriver.Get", {{"Name", "ch"}}).json()["Err"], "");
}

TEST_F(Http, UnknownPathIs404) {
  connection c(p.socket());
  auto r = c.post("/VolumeDriver.Explode", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["Err"], "unknown endpoint /VolumeDriver.Explode");
  // A 404 keeps the connection usable.
  EXPECT_EQ(c.post("/Plugin.Activate", "").status, 200);
}

TEST_F(Http, BadJsonAndIllTypedFieldsAre400) {
  connection c(p.socket());
  for (auto body : {"{", "[]", R"({"Name":1})", R"({"Nam":"x"})", "null"}) {
    auto r = c.post("/VolumeDriver.Get", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.json()["Err"].get<std::string>().rfind("bad request: ", 0), 0u) << body;
  }
  auto r = c.post("/VolumeDriver.Mount", R"({"Name":"x","ID":5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["Err"], "volume \"x\": bad request: field \"ID\" must be a string");
  r = c.post("/VolumeDriver.Create", R"({"Name":"x","Opts":{"size":10}})");
  EXPECT_EQ(r.status, 400);
  expect_serving();
}

TEST_F(Http, BodyOver1MiBIs413) {
  connection c(p.socket());
  std::string big(1024 * 1024 + 1, ' ');
  c.send_raw(http_post("/VolumeDriver.Create", big));
  auto r = c.read_response();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json()["Err"], "request body too large: limit is 1048576");
  expect_serving();
}

TEST_F(Http, BodyOfExactly1MiBIsAccepted) {
  connection c(p.socket());
  std::string body = R"({"Name":"big","Opts":null})";
  body += std::string(1024 * 1024 - body.size(), ' ');
  auto r = c.post("/VolumeDriver.Create", body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["Err"], "");
}

TEST_F(Http, HeaderBlockOver8KiBIs431) {
  connection c(p.socket());
  c.send_raw("POST /Plugin.Activate HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a')
             + "\r\nContent-Length: 0\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.json()["Err"], "request header block too large: limit is 8192");
  expect_serving();
}

TEST_F(Http, GarbageIs400AndTheServerGoesOn) {
  connection c(p.socket());
  c.send_raw("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.json()["Err"].get<std::string>().find("malformed HTTP"), std::string::npos);
  EXPECT_TRUE(c.closed_by_peer());
  expect_serving();
}

// Helper-24: a HEAD's answer carried a body on a connection kept open, which a client reads
// as the start of the next answer. It is refused like any other method, and closed.
TEST_F(Http, AHeadIsRefusedAndTheConnectionClosed) {
  connection c(p.socket());
  c.send_raw("HEAD /VolumeDriver.List HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["Err"], "bad request: method must be POST");
  EXPECT_TRUE(c.closed_by_peer());
  expect_serving();
}

TEST_F(Http, PeerThatVanishesMidRequestHurtsNothing) {
  {
    connection c(p.socket());
    c.send_raw("POST /VolumeDriver.Create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"Na");
  }
  {
    connection c(p.socket());
    c.send_raw(http_post("/VolumeDriver.Create", R"({"Name":"gone"})"));
  }  // closed before the answer is written
  expect_serving();
  // The Create stays done: it shows as soon as its job has run.
  std::string err = "not yet";
  for (int i = 0; i < 50 && !err.empty(); ++i) {
    err = p.call("/VolumeDriver.Get", {{"Name", "gone"}}).json()["Err"];
    if (!err.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(err, "");
}

TEST_F(Http, ConnectionCloseIsHonoured) {
  connection c(p.socket());
  c.send_raw(http_post("/Plugin.Activate", "", false));
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_TRUE(c.closed_by_peer());
}

// 64 clients cycle Mount/Unmount on 16 volumes; every count ends at zero, every Remove works.
TEST_F(Http, SixtyFourClientsOnSixteenVolumes) {
  constexpr int volumes = 16, clients = 64, cycles = 40;
  for (int v = 0; v < volumes; ++v)
    ASSERT_EQ(p.call("/VolumeDriver.Create", {{"Name", "c" + std::to_string(v)}}).json()["Err"],
              "");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      connection c(p.socket());
      for (int i = 0; i < cycles; ++i) {
        auto vol = "c" + std::to_string(rng() % volumes);
        auto id = "client" + std::to_string(t) + "-" + std::to_string(i % 3);
        json body{{"Name", vol}, {"ID", id}};
        auto m = c.post("/VolumeDriver.Mount", body.dump());
        auto u = c.post("/VolumeDriver.Unmount", body.dump());
        if (m.status != 200 || u.status != 200 || m.json()["Mountpoint"] == "")
          ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int v = 0; v < volumes; ++v) {
    auto name = "c" + std::to_string(v);
    auto get = p.call("/VolumeDriver.Get", {{"Name", name}}).json();
    EXPECT_EQ(get["Volume"]["Status"]["Mounts"], 0) << name;
    EXPECT_EQ(p.call("/VolumeDriver.Remove", {{"Name", name}}).json()["Err"], "") << name;
  }
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
}

TEST(HttpLimits, IdleConnectionsAreClosed) {
  plugin p({"--idle-timeout", "1"});
  connection c(p.socket());
  ASSERT_EQ(c.post("/Plugin.Activate", "").status, 200);
  EXPECT_TRUE(c.closed_by_peer(5000));
  EXPECT_EQ(p.call("/Plugin.Activate").status, 200);
}

// The idle timeout counts from the start of a request: a client that trickles one byte at a
// time is closed when it passes, however often its bytes arrive (slowloris).
TEST(HttpLimits, ARequestTrickledInIsClosedAtTheIdleTimeout) {
  plugin p({"--idle-timeout", "1"});
  connection c(p.socket());
  std::string head = "POST /VolumeDriver.List HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {  // one byte every 100 ms, for at most 4 s
    c.send_raw(i < static_cast<int>(head.size()) ? head.substr(i, 1) : "a");
    closed = c.closed_by_peer(100);
  }
  EXPECT_TRUE(closed) << "a request trickled in was still open after 4 s";
  EXPECT_EQ(p.call("/Plugin.Activate").status, 200);
}
