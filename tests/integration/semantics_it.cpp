// The contract's semantic rules, against the real binary over its socket.

#include "support/journal.hpp"
#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <fstream>

using namespace actorvol::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

class Semantics : public ::testing::Test {
protected:
  std::string err(const std::string& ep, const json& body) {
    auto r = p.call(ep, body);
    EXPECT_TRUE(r.status == 200 || r.status == 500) << r.status;
    return r.json().value("Err", "<no Err>");
  }
  int mounts(const std::string& name) {
    return p.call("/VolumeDriver.Get", {{"Name", name}}).json()["Volume"]["Status"]["Mounts"];
  }
  plugin p;
};

TEST_F(Semantics, CreateIsIdempotentWithTheSameOpts) {
  ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
  auto created = p.call("/VolumeDriver.Get", {{"Name", "v"}}).json()["Volume"]["CreatedAt"];
  std::ofstream(p.root() + "/volumes/v/_data/keep") << "data";
  EXPECT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}, {"Opts", nullptr}}), "");
  EXPECT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}, {"Opts", json::object()}}), "");
  EXPECT_EQ(p.call("/VolumeDriver.Get", {{"Name", "v"}}).json()["Volume"]["CreatedAt"], created);
  EXPECT_TRUE(fs::exists(p.root() + "/volumes/v/_data/keep"));
}

TEST_F(Semantics, UnknownOptionIsNamedAndNothingIsMade) {
  EXPECT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}, {"Opts", {{"colour", "red"}}}}),
            "volume \"v\": unknown option \"colour\"");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/v"));
  EXPECT_EQ(p.call("/VolumeDriver.List").json()["Volumes"].size(), 0u);
  EXPECT_EQ(err("/VolumeDriver.Get", {{"Name", "v"}}), "volume \"v\" not found");
}

TEST_F(Semantics, CreateWithDifferentOptsOfAnExistingNameFails) {
  ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
  auto e = err("/VolumeDriver.Create", {{"Name", "v"}, {"Opts", {{"colour", "red"}}}});
  EXPECT_NE(e, "");
  EXPECT_NE(e.find("\"v\""), std::string::npos);
  EXPECT_TRUE(fs::exists(p.root() + "/volumes/v/_data"));
}

TEST_F(Semantics, MountCountsPerId) {
  ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
  // Docker repeats an ID (docker cp into a running container) and sends one Unmount per Mount.
  ASSERT_EQ(err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}), "");
  ASSERT_EQ(err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}), "");
  ASSERT_EQ(err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "b"}}), "");
  EXPECT_EQ(mounts("v"), 3);
  ASSERT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}}), "");
  EXPECT_EQ(mounts("v"), 2);
  ASSERT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}}), "");
  EXPECT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}}),
            "volume \"v\" has no mount with id \"a\"");
  EXPECT_EQ(mounts("v"), 1);
  EXPECT_NE(p.call("/VolumeDriver.Path", {{"Name", "v"}}).json()["Mountpoint"], "");
  ASSERT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "b"}}), "");
  EXPECT_EQ(mounts("v"), 0);
  EXPECT_EQ(p.call("/VolumeDriver.Path", {{"Name", "v"}}).json()["Mountpoint"], "");
}

TEST_F(Semantics, UnmountOfAnUnknownIdChangesNothing) {
  ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
  ASSERT_EQ(err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}), "");
  EXPECT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "zzz"}}),
            "volume \"v\" has no mount with id \"zzz\"");
  EXPECT_EQ(mounts("v"), 1);
  EXPECT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}}), "");
}

TEST_F(Semantics, RemoveInUseIsRefusedAndDeletesNothing) {
  ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
  ASSERT_EQ(err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}), "");
  std::ofstream(p.root() + "/volumes/v/_data/precious") << "data";
  auto e = err("/VolumeDriver.Remove", {{"Name", "v"}});
  EXPECT_NE(e.find("in use"), std::string::npos) << e;
  EXPECT_NE(e.find("\"v\""), std::string::npos) << e;
  EXPECT_TRUE(fs::exists(p.root() + "/volumes/v/_data/precious"));
  EXPECT_EQ(mounts("v"), 1);
  ASSERT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}}), "");
  EXPECT_EQ(err("/VolumeDriver.Remove", {{"Name", "v"}}), "");
  EXPECT_FALSE(fs::exists(p.root() + "/volumes/v"));
}

TEST_F(Semantics, OperationsOnAMissingVolumeFail) {
  EXPECT_EQ(err("/VolumeDriver.Mount", {{"Name", "nope"}, {"ID", "a"}}),
            "volume \"nope\" not found");
  EXPECT_EQ(err("/VolumeDriver.Unmount", {{"Name", "nope"}, {"ID", "a"}}),
            "volume \"nope\" not found");
  EXPECT_EQ(err("/VolumeDriver.Remove", {{"Name", "nope"}}), "volume \"nope\" not found");
  EXPECT_EQ(err("/VolumeDriver.Get", {{"Name", "nope"}}), "volume \"nope\" not found");
  EXPECT_EQ(err("/VolumeDriver.Path", {{"Name", "nope"}}), "volume \"nope\" not found");
}

TEST_F(Semantics, RemovedVolumesAreGoneAndNamesReusable) {
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
    ASSERT_EQ(err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}}), "");
    ASSERT_EQ(err("/VolumeDriver.Unmount", {{"Name", "v"}, {"ID", "a"}}), "");
    ASSERT_EQ(err("/VolumeDriver.Remove", {{"Name", "v"}}), "");
    EXPECT_EQ(err("/VolumeDriver.Get", {{"Name", "v"}}), "volume \"v\" not found");
    EXPECT_EQ(err("/VolumeDriver.Remove", {{"Name", "v"}}), "volume \"v\" not found");
  }
}

TEST_F(Semantics, InvalidNamesTouchNothing) {
  std::vector<std::string> bad{"", "..", ".", "../etc", "a/b", "/abs", "-x", "_x",
                               std::string("a\0b", 3), std::string(256, 'n'), "sp ace"};
  for (auto& name : bad) {
    for (auto ep : {"/VolumeDriver.Create", "/VolumeDriver.Get", "/VolumeDriver.Remove",
                    "/VolumeDriver.Path"}) {
      auto e = err(ep, {{"Name", name}});
      EXPECT_EQ(e.rfind("invalid volume name", 0), 0u) << ep << " " << e;
    }
    auto e = err("/VolumeDriver.Mount", {{"Name", name}, {"ID", "a"}});
    EXPECT_EQ(e.rfind("invalid volume name", 0), 0u) << e;
  }
  EXPECT_TRUE(fs::is_empty(p.root() + "/volumes"));
  EXPECT_TRUE(stored_records(p.root()).empty()) << "a record was written";
  EXPECT_TRUE(fs::exists(p.root() + "/../p.sock")) << "nothing outside the root either";
  EXPECT_EQ(err("/VolumeDriver.Create", {{"Name", std::string(255, 'n')}}), "");
}

TEST_F(Semantics, ListIsSortedByName) {
  for (auto n : {"m", "b", "z", "a", "B", "0"})
    ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", n}}), "");
  auto vols = p.call("/VolumeDriver.List").json()["Volumes"];
  std::vector<std::string> names;
  for (auto& v : vols)
    names.push_back(v["Name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"0", "B", "a", "b", "m", "z"}));
}

TEST_F(Semantics, GetNeverFailsForAnExistingVolume) {
  ASSERT_EQ(err("/VolumeDriver.Create", {{"Name", "v"}}), "");
  fs::remove_all(p.root() + "/volumes/v");  // the backing store vanished under us
  // Get answers from the last backend read and reads again in the background: the problem
  // shows within about a second, and no Get ever fails meanwhile.
  std::string problem;
  for (int i = 0; i < 50 && problem.empty(); ++i) {
    auto r = p.call("/VolumeDriver.Get", {{"Name", "v"}});
    ASSERT_EQ(r.json()["Err"], "");
    problem = r.json()["Volume"]["Status"].value("Problem", "");
    if (problem.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(problem, "");
  auto e = err("/VolumeDriver.Mount", {{"Name", "v"}, {"ID", "a"}});
  EXPECT_NE(e.find("no such file or directory"), std::string::npos) << e;
  EXPECT_EQ(mounts("v"), 0);
}
