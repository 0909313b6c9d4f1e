// The checker itself: it accepts what the contract allows and, just as important, rejects
// what it does not (hand-made histories, a wrong model, real-time order).

#include "linearizability/checker.hpp"

#include <gtest/gtest.h>

using namespace actorvol::lin;

namespace {

operation op(int client, op_kind k, std::string vol, int64_t call, int64_t ret,
             err_kind err = err_kind::none, std::string id = {}) {
  operation o;
  o.client = client;
  o.kind = k;
  o.volume = std::move(vol);
  o.call = call;
  o.ret = ret;
  o.err = err;
  o.id = std::move(id);
  if (k == op_kind::mount && err == err_kind::none)
    o.mountpoint = "/mp";
  return o;
}

operation get(int client, std::string vol, int64_t call, int64_t ret, int64_t mounts) {
  auto o = op(client, op_kind::get, std::move(vol), call, ret);
  o.mounts = mounts;
  if (mounts > 0)
    o.mountpoint = "/mp";
  return o;
}

} // namespace

TEST(Checker, AcceptsASequentialHistoryOfTheContract) {
  history h{op(0, op_kind::create, "v", 0, 1),
            op(0, op_kind::mount, "v", 2, 3, err_kind::none, "a"),
            op(0, op_kind::mount, "v", 4, 5, err_kind::none, "a"),
            get(0, "v", 6, 7, 2),
            op(0, op_kind::remove, "v", 8, 9, err_kind::in_use),
            op(0, op_kind::unmount, "v", 10, 11, err_kind::none, "a"),
            op(0, op_kind::unmount, "v", 12, 13, err_kind::none, "a"),
            op(0, op_kind::unmount, "v", 14, 15, err_kind::unknown_id, "a"),
            op(0, op_kind::remove, "v", 16, 17),
            op(0, op_kind::get, "v", 18, 19, err_kind::not_found)};
  auto r = check(h, model{});
  EXPECT_TRUE(r.ok) << r.explanation;
}

TEST(Checker, OverlappingOperationsMayTakeEitherOrder) {
  // Mount and Remove overlap: "in use" is explained by Mount first.
  history h{op(0, op_kind::create, "v", 0, 1),
            op(1, op_kind::mount, "v", 2, 10, err_kind::none, "a"),
            op(2, op_kind::remove, "v", 3, 9, err_kind::in_use)};
  EXPECT_TRUE(check(h, model{}).ok);
  // ... and "not found" for the Mount by Remove first.
  history h2{op(0, op_kind::create, "v", 0, 1),
             op(1, op_kind::mount, "v", 2, 10, err_kind::not_found, "a"),
             op(2, op_kind::remove, "v", 3, 9)};
  EXPECT_TRUE(check(h2, model{}).ok);
}

TEST(Checker, RejectsAnswersNoOrderExplains) {
  // Both succeeded: Mount first makes the Remove fail, Remove first makes the Mount fail.
  history h{op(0, op_kind::create, "v", 0, 1),
            op(1, op_kind::mount, "v", 2, 10, err_kind::none, "a"),
            op(2, op_kind::remove, "v", 3, 9)};
  auto r = check(h, model{});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.volume, "v");
  EXPECT_NE(r.explanation.find("no linearization"), std::string::npos) << r.explanation;
}

TEST(Checker, RespectsRealTimeOrder) {
  // The Remove returned before the Mount was invoked: the Mount cannot succeed.
  history h{op(0, op_kind::create, "v", 0, 1), op(2, op_kind::remove, "v", 2, 3),
            op(1, op_kind::mount, "v", 4, 5, err_kind::none, "a")};
  EXPECT_FALSE(check(h, model{}).ok);
  // Overlapping instead, it can (Mount of a missing volume is not found... so no: only the
  // order Mount, Remove, which fails Remove) -- still rejected; make the Mount not found.
  history h2{op(0, op_kind::create, "v", 0, 1), op(2, op_kind::remove, "v", 2, 3),
             op(1, op_kind::mount, "v", 4, 5, err_kind::not_found, "a")};
  EXPECT_TRUE(check(h2, model{}).ok);
}

TEST(Checker, CountsMountsPerId) {
  // Two Mounts of the same ID need two Unmounts; Get must see the total.
  history h{op(0, op_kind::create, "v", 0, 1),
            op(0, op_kind::mount, "v", 2, 3, err_kind::none, "a"),
            op(1, op_kind::mount, "v", 2, 4, err_kind::none, "a"),
            op(0, op_kind::unmount, "v", 5, 6, err_kind::none, "a"), get(0, "v", 7, 8, 0)};
  EXPECT_FALSE(check(h, model{}).ok);
  h.back() = get(0, "v", 7, 8, 1);
  EXPECT_TRUE(check(h, model{}).ok);
}

TEST(Checker, CreateWithOtherOptionsConflicts) {
  auto c2 = op(1, op_kind::create, "v", 2, 3);
  c2.opts = {{"mode", "700"}};
  history h{op(0, op_kind::create, "v", 0, 1), c2};
  EXPECT_FALSE(check(h, model{}).ok);
  h.back().err = err_kind::conflict;
  EXPECT_TRUE(check(h, model{}).ok);
}

TEST(Checker, AnOperationWithoutAnAnswerMayOrMayNotHaveHappened) {
  auto lost = op(1, op_kind::mount, "v", 2, never, err_kind::unknown, "a");
  history took{op(0, op_kind::create, "v", 0, 1), lost, get(0, "v", 5, 6, 1)};
  EXPECT_TRUE(check(took, model{}).ok);
  history did_not{op(0, op_kind::create, "v", 0, 1), lost, get(0, "v", 5, 6, 0)};
  EXPECT_TRUE(check(did_not, model{}).ok);
  history impossible{op(0, op_kind::create, "v", 0, 1), lost, get(0, "v", 5, 6, 2)};
  EXPECT_FALSE(check(impossible, model{}).ok);
}

TEST(Checker, ListIsCheckedPerVolume) {
  auto l = op(2, op_kind::list, "", 4, 5);
  l.listed = {"w"};  // v exists at that time and must be listed
  history h{op(0, op_kind::create, "v", 0, 1), op(1, op_kind::create, "w", 2, 3), l};
  EXPECT_FALSE(check(h, model{}).ok);
  h.back().listed = {"v", "w"};
  EXPECT_TRUE(check(h, model{}).ok);
}

TEST(Checker, VolumesArePartitioned) {
  // A violation on w is found even with v's operations around it.
  history h{op(0, op_kind::create, "v", 0, 1), op(1, op_kind::create, "w", 0, 1),
            op(0, op_kind::mount, "v", 2, 3, err_kind::none, "a"),
            op(1, op_kind::unmount, "w", 2, 3, err_kind::none, "a")};
  auto r = check(h, model{});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.volume, "w");
  EXPECT_EQ(r.partitions, 2u);
}
