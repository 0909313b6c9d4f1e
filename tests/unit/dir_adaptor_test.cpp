#include "adaptors/dir.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>

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
