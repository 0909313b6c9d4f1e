#include "adaptors/dir.hpp"

#include "support/mock_sys.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

using namespace actorvol;
namespace fs = std::filesystem;

class DirAdaptor : public ::testing::Test {
protected:
  test::temp_dir tmp;
  dir_adaptor dir{tmp / "volumes"};
  volume_spec db{"db", {}};
};

TEST_F(DirAdaptor, AcceptsOnlyNoOptions) {
  EXPECT_TRUE(dir.accepts({}));
  EXPECT_FALSE(dir.accepts({{"size", "1G"}}));
  EXPECT_FALSE(dir.validate(db));
  auto err = dir.validate({"db", {{"sizee", "1"}}});
  EXPECT_EQ(render(err), "volume \"db\": unknown option \"sizee\"");
}

TEST_F(DirAdaptor, CreateMountUnmountRemove) {
  ASSERT_FALSE(dir.create(db));
  EXPECT_TRUE(fs::is_directory(tmp / "volumes/db/_data"));
  auto mp = dir.mount(db);
  ASSERT_TRUE(mp);
  EXPECT_EQ(*mp, (tmp / "volumes/db/_data").string());
  std::ofstream(*mp + "/file") << "data";
  EXPECT_FALSE(dir.unmount(db));
  EXPECT_TRUE(fs::exists(tmp / "volumes/db/_data/file"));
  EXPECT_EQ(dir.status(db), (status_map{{"Backend", "dir"}}));
  ASSERT_FALSE(dir.remove(db));
  EXPECT_FALSE(fs::exists(tmp / "volumes/db"));
}

TEST_F(DirAdaptor, CreateIsIdempotentAndKeepsData) {
  ASSERT_FALSE(dir.create(db));
  std::ofstream(tmp / "volumes/db/_data/keep") << "x";
  ASSERT_FALSE(dir.create(db));
  EXPECT_TRUE(fs::exists(tmp / "volumes/db/_data/keep"));
}

TEST_F(DirAdaptor, MissingDataIsReported) {
  auto mp = dir.mount(db);
  ASSERT_FALSE(mp);
  EXPECT_NE(render(mp.error()).find("no such file or directory"), std::string::npos);
  EXPECT_EQ(dir.status(db).count("Problem"), 1u);
}

TEST_F(DirAdaptor, CreateFailureCarriesTheOsReason) {
  std::ofstream(tmp / "volumes") << "a file where the directory should be";
  auto err = dir.create(db);
  ASSERT_TRUE(err);
  EXPECT_NE(render(err).find("create of"), std::string::npos) << render(err);
}

// -- with the system calls mocked (support/mock_sys.hpp) -----------------------------------

class DirAdaptorMocked : public ::testing::Test {
protected:
  void TearDown() override {
    if (HasFailure())
      std::cerr << "the calls made:\n" << sys->trace();
  }
  static std::string text(const caf::error& err) {
    return err ? render(err) : "";
  }

  std::shared_ptr<test::mock_sys> sys = std::make_shared<test::mock_sys>();
  dir_adaptor dir{sys->root() / "volumes", sys};
  fs::path vol = sys->root() / "volumes/db";
  std::string data = (vol / "_data").string();
};

TEST_F(DirAdaptorMocked, CreateSetsOwnershipThroughTheSeam) {
  volume_spec v{"db", {{"uid", "1000"}, {"mode", "0700"}}};
  ASSERT_EQ(text(dir.create(v)), "");
  ASSERT_EQ(sys->count("make_dirs"), 1u);
  EXPECT_EQ(sys->calls_of("make_dirs")[0].args, (std::vector<std::string>{data}));
  ASSERT_EQ(sys->count("chown"), 1u);
  EXPECT_EQ(sys->calls_of("chown")[0].args, (std::vector<std::string>{data, "1000", "-1"}));
  EXPECT_EQ(fs::status(data).permissions(), fs::perms::owner_all);
}

TEST_F(DirAdaptorMocked, FailedChownRemovesWhatCreateMade) {
  sys->fail("chown", EPERM);
  EXPECT_EQ(text(dir.create({"db", {{"uid", "1000"}}})),
            "volume \"db\": chown of " + data + " failed: operation not permitted");
  EXPECT_FALSE(fs::exists(vol));
  ASSERT_EQ(sys->count("remove_tree"), 1u);
  EXPECT_EQ(sys->calls_of("remove_tree")[0].args[0], vol.string());
}

TEST_F(DirAdaptorMocked, NameTooLongAtCreate) {
  sys->fail("make_dirs", ENAMETOOLONG);
  EXPECT_EQ(text(dir.create({"db", {}})),
            "volume \"db\": create of " + data + " failed: file name too long");
  EXPECT_FALSE(fs::exists(vol));
  EXPECT_EQ(sys->count("chown") + sys->count("chmod"), 0u);
}

TEST_F(DirAdaptorMocked, RemoveRefusesWhileSomethingIsMountedInside) {
  ASSERT_EQ(text(dir.create({"db", {}})), "");
  sys->push_mount(data, {"/srv/host", "", 0, 0, ""});
  EXPECT_EQ(text(dir.remove({"db", {}})), "volume \"db\": remove of " + vol.string()
                                            + " failed: " + data
                                            + " is still mounted: device or resource busy");
  EXPECT_TRUE(fs::is_directory(data));
  EXPECT_EQ(sys->count("remove_tree"), 0u);
}

TEST_F(DirAdaptorMocked, FailedRemoveCarriesTheOsReason) {
  ASSERT_EQ(text(dir.create({"db", {}})), "");
  sys->fail("remove_tree", EIO);
  EXPECT_EQ(text(dir.remove({"db", {}})),
            "volume \"db\": remove of " + vol.string() + " failed: input/output error");
  EXPECT_TRUE(fs::is_directory(data));
}

TEST_F(DirAdaptorMocked, UnreadableDataDirectoryIsReported) {
  ASSERT_EQ(text(dir.create({"db", {}})), "");
  sys->fail("check_dir", EACCES);
  auto mp = dir.mount({"db", {}});
  ASSERT_FALSE(mp);
  EXPECT_EQ(render(mp.error()),
            "volume \"db\": mount of " + data + " failed: permission denied");
  EXPECT_EQ(dir.status({"db", {}}).count("Problem"), 1u);
}
