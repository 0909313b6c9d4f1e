// The read view (actors/read_view.hpp): what the I/O thread answers Get and Path from.

#include "actors/read_view.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

using namespace actorvol;

namespace {

volume_info info_of(const std::string& name, uint64_t mounts) {
  volume_info info;
  info.name = name;
  info.mounts = mounts;
  info.mountpoint = mounts > 0 ? "/mnt/" + name : "";
  return info;
}

} // namespace

TEST(ReadView, PublishFindWithdraw) {
  read_view view;
  EXPECT_EQ(view.find("v"), nullptr);
  auto slot = view.open("v");
  EXPECT_EQ(view.find("v"), nullptr) << "an open slot with nothing published: ask the actors";
  EXPECT_EQ(view.open("v"), slot) << "one slot per name";
  view.publish(*slot, info_of("v", 1), true, true, false);
  auto e = view.find("v");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e, slot->load());
  EXPECT_EQ(e->info.mountpoint, "/mnt/v");
  EXPECT_TRUE(e->exists && e->reads);
  view.publish(*slot, info_of("v", 0), false, true, false);
  EXPECT_FALSE(view.find("v")->exists) << "a removal is published, not dropped";
  EXPECT_EQ(e->info.mounts, 1u) << "a reader keeps what it found";
  view.withdraw("v");
  EXPECT_EQ(view.find("v"), nullptr);
  view.publish(*slot, info_of("v", 2), true, true, false);
  EXPECT_EQ(view.find("v"), nullptr) << "a late publish into a withdrawn slot is never seen";
  EXPECT_NE(view.open("v"), slot) << "the name taken on again gets a new slot";
}

// At most one status refresh a second per volume, however many Gets; none in the second
// after a change that read the status.
TEST(ReadView, HintsAreClaimedOnceASecond) {
  read_view view;
  view.publish(*view.open("v"), info_of("v", 0), true, true, false);
  auto e = view.find("v");
  EXPECT_TRUE(read_view::claim_hint(*e));
  EXPECT_FALSE(read_view::claim_hint(*e));
  view.publish(*view.open("w"), info_of("w", 0), true, true, true);
  EXPECT_FALSE(read_view::claim_hint(*view.find("w"))) << "the status was just read";
}

// While a List holds the view still, a publish waits: List sees all slots at one instant.
TEST(ReadView, PublishWaitsWhileAListHoldsTheViewStill) {
  read_view view;
  auto slot = view.open("v");
  view.publish(*slot, info_of("v", 0), true, true, false);
  std::thread writer;
  {
    auto still = view.hold_still();
    writer = std::thread([&] { view.publish(*slot, info_of("v", 1), true, true, false); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(slot->load()->info.mounts, 0u) << "published while the view was held still";
  }
  writer.join();
  EXPECT_EQ(slot->load()->info.mounts, 1u);
}

// Readers and writers on many threads: every find sees a whole entry that was published.
TEST(ReadView, ConcurrentReadersSeeWholeEntries) {
  read_view view;
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&view, w] {
      for (uint64_t i = 0; i < 20000; ++i) {
        auto name = "v" + std::to_string((i + w) % 50);
        view.publish(*view.open(name), info_of(name, i % 3), true, true, false);
      }
    });
  std::atomic<int> bad{0};
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&view, &bad] {
      for (int i = 0; i < 20000; ++i) {
        auto name = "v" + std::to_string(i % 50);
        if (auto e = view.find(name))
          if (e->info.name != name || (e->info.mounts > 0) != !e->info.mountpoint.empty())
            ++bad;
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(bad.load(), 0);
}
