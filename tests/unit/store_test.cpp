#include "actors/store.hpp"

#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>

using namespace actorvol;
namespace fs = std::filesystem;

class Store : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(store.init());
  }
  void TearDown() override {
    failpoint::configure("");
  }
  test::temp_dir tmp;
  state_store store{tmp / "state"};
  volume_record db{"db", {{"k", "v"}}, "2026-01-01T00:00:00Z", {{"id1", 2}}, {{"id1", 42}}};
};

TEST_F(Store, EncodeDecodeRoundTrip) {
  auto back = state_store::decode("db", state_store::encode(db));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, db);
}

TEST_F(Store, WriteLoadErase) {
  ASSERT_FALSE(store.write(db, nullptr));
  auto loaded = store.load_all();
  ASSERT_EQ(loaded.size(), 1u);
  ASSERT_TRUE(loaded[0].record);
  EXPECT_EQ(*loaded[0].record, db);
  ASSERT_FALSE(store.erase("db"));
  EXPECT_TRUE(store.load_all().empty());
  EXPECT_FALSE(store.erase("db")) << "erasing a missing record is no error";
}

TEST_F(Store, TornTempFilesAreIgnoredAndRemoved) {
  ASSERT_FALSE(store.write(db, nullptr));
  std::ofstream(tmp / "state/.tmp/db") << "{\"name\":\"db\",\"op";
  auto loaded = store.load_all();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, db);
  EXPECT_FALSE(fs::exists(tmp / "state/.tmp/db"));
}

TEST_F(Store, CorruptRecordsAreReportedNotDropped) {
  std::ofstream(tmp / "state/bad") << "{not json";
  std::ofstream(tmp / "state/empty") << "";
  std::ofstream(tmp / "state/other") << state_store::encode(db);
  auto loaded = store.load_all();
  ASSERT_EQ(loaded.size(), 3u);
  for (auto& l : loaded) {
    ASSERT_FALSE(l.record) << l.name;
    EXPECT_EQ(l.problem.rfind("corrupt state record: ", 0), 0u) << l.problem;
  }
}

TEST_F(Store, FailedWriteLeavesTheOldRecord) {
  ASSERT_FALSE(store.write(db, nullptr));
  ASSERT_EQ(failpoint::configure("state.write=error(EIO)"), "");
  auto next = db;
  next.uses["id2"] = 1;
  auto err = store.write(next, &db);
  ASSERT_TRUE(err);
  EXPECT_EQ(render(err), "volume \"db\": state write failed: input/output error");
  EXPECT_TRUE(store.erase("db"));
  failpoint::configure("");
  auto loaded = store.load_all();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, db);
}

TEST_F(Store, LongestNameFits) {
  auto r = db;
  r.name = std::string(255, 'n');
  ASSERT_FALSE(store.write(r, nullptr));
  auto loaded = store.load_all();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].record->name, r.name);
}

TEST_F(Store, LoadsManyRecordsInParallel) {
  for (int i = 0; i < 1500; ++i) {
    auto r = db;
    r.name = "v" + std::to_string(i);
    ASSERT_FALSE(store.write(r, nullptr));
  }
  auto loaded = store.load_all(4);
  ASSERT_EQ(loaded.size(), 1500u);
  for (auto& l : loaded) {
    ASSERT_TRUE(l.record) << l.name;
    EXPECT_EQ(l.record->name, l.name);
  }
}
