// Every row of the contract's protocol table, against the real binary over its socket.

#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace actorvol::test;
using json = nlohmann::json;

class ProtocolTable : public ::testing::Test {
protected:
  plugin p;
};

TEST_F(ProtocolTable, Activate) {
  auto r = p.call("/Plugin.Activate", nullptr);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json(), json::parse(R"({"Implements":["VolumeDriver"]})"));
  EXPECT_EQ(r.header("Content-Type"), "application/vnd.docker.plugins.v1+json");
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(ProtocolTable, ActivateWithEmptyBody) {
  connection c(p.socket());
  auto r = c.post("/Plugin.Activate", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["Implements"][0], "VolumeDriver");
}

TEST_F(ProtocolTable, Capabilities) {
  for (auto body : {"", "{}"}) {
    connection c(p.socket());
    auto r = c.post("/VolumeDriver.Capabilities", body);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json(), json::parse(R"({"Capabilities":{"Scope":"local"}})"));
  }
}

TEST(ProtocolScope, GlobalScopeIsReported) {
  plugin p({"--scope", "global"});
  EXPECT_EQ(p.call("/VolumeDriver.Capabilities").json()["Capabilities"]["Scope"], "global");
}

TEST_F(ProtocolTable, CreateWithNullOpts) {
  auto r = p.call("/VolumeDriver.Create", {{"Name", "v1"}, {"Opts", nullptr}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json(), json::parse(R"({"Err":""})"));
  EXPECT_TRUE(std::filesystem::is_directory(p.root() + "/volumes/v1/_data"));
}

TEST_F(ProtocolTable, GetOfAnUnmountedVolume) {
  p.call("/VolumeDriver.Create", {{"Name", "v1"}});
  auto r = p.call("/VolumeDriver.Get", {{"Name", "v1"}});
  EXPECT_EQ(r.status, 200);
  auto j = r.json();
  EXPECT_EQ(j["Err"], "");
  EXPECT_EQ(j["Volume"]["Name"], "v1");
  EXPECT_FALSE(j["Volume"].contains("Mountpoint"));
  // RFC 3339, UTC: 2026-11-24T09:44:57Z
  auto created = j["Volume"]["CreatedAt"].get<std::string>();
  EXPECT_EQ(created.size(), 20u) << created;
  EXPECT_EQ(created[10], 'T');
  EXPECT_EQ(created.back(), 'Z');
  EXPECT_EQ(j["Volume"]["Status"]["Mounts"], 0);
}

TEST_F(ProtocolTable, List) {
  for (auto body : {"", "{}"}) {
    connection c(p.socket());
    auto r = c.post("/VolumeDriver.List", body);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json(), json::parse(R"({"Volumes":[],"Err":""})"));
  }
  p.call("/VolumeDriver.Create", {{"Name", "v1"}});
  auto j = p.call("/VolumeDriver.List").json();
  ASSERT_EQ(j["Volumes"].size(), 1u);
  EXPECT_EQ(j["Volumes"][0]["Name"], "v1");
  EXPECT_TRUE(j["Volumes"][0].contains("CreatedAt"));
  EXPECT_FALSE(j["Volumes"][0].contains("Mountpoint"));
}

TEST_F(ProtocolTable, MountPathUnmountRemove) {
  p.call("/VolumeDriver.Create", {{"Name", "v1"}});
  auto m = p.call("/VolumeDriver.Mount", {{"Name", "v1"}, {"ID", "c1"}});
  EXPECT_EQ(m.status, 200);
  auto mp = p.root() + "/volumes/v1/_data";
  EXPECT_EQ(m.json(), json({{"Mountpoint", mp}, {"Err", ""}}));

  auto path = p.call("/VolumeDriver.Path", {{"Name", "v1"}});
  EXPECT_EQ(path.json(), json({{"Mountpoint", mp}, {"Err", ""}}));
  auto get = p.call("/VolumeDriver.Get", {{"Name", "v1"}}).json();
  EXPECT_EQ(get["Volume"]["Mountpoint"], mp);
  EXPECT_EQ(get["Volume"]["Status"]["Mounts"], 1);
  auto list = p.call("/VolumeDriver.List").json();
  EXPECT_EQ(list["Volumes"][0]["Mountpoint"], mp);

  auto u = p.call("/VolumeDriver.Unmount", {{"Name", "v1"}, {"ID", "c1"}});
  EXPECT_EQ(u.status, 200);
  EXPECT_EQ(u.json(), json::parse(R"({"Err":""})"));
  EXPECT_EQ(p.call("/VolumeDriver.Path", {{"Name", "v1"}}).json(),
            json::parse(R"({"Mountpoint":"","Err":""})"));

  auto rm = p.call("/VolumeDriver.Remove", {{"Name", "v1"}});
  EXPECT_EQ(rm.status, 200);
  EXPECT_EQ(rm.json(), json::parse(R"({"Err":""})"));
  EXPECT_FALSE(std::filesystem::exists(p.root() + "/volumes/v1"));
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
}

TEST_F(ProtocolTable, FailuresAnswer500WithErr) {
  auto r = p.call("/VolumeDriver.Mount", {{"Name", "ghost"}, {"ID", "c1"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.json(), json::parse(R"({"Err":"volume \"ghost\" not found"})"));
  EXPECT_EQ(r.header("Content-Type"), "application/vnd.docker.plugins.v1+json");
}
