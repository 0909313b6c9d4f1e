// Race scenarios on the deterministic harness (see harness.hpp). Small scenarios run every
// schedule; larger ones run seeded random schedules. Each prints how many it explored.
//
// Replay a failure: ACTORVOL_REPLAY='<scenario>:<schedule>' ./actor_tests --gtest_filter=...

#include "actors/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>

using namespace actorvol::harness;
using actorvol::lin::err_kind;
using actorvol::lin::op_kind;

namespace {

void report(const std::string& name, const exploration& e) {
  std::cout << "[ explored ] " << name << ": " << e.summary() << std::endl;
}

exploration all(const scenario& sc, options opt = {}) {
  auto e = explore_all(sc, opt);
  report(sc.name + " (exhaustive)", e);
  EXPECT_FALSE(e.failed) << e.failure;
  return e;
}

exploration random(const scenario& sc, uint64_t seeds, options opt = {}) {
  auto e = explore_random(sc, 1, seeds, opt);
  report(sc.name + " (random, seeds 1.." + std::to_string(seeds) + ")", e);
  EXPECT_FALSE(e.failed) << e.failure;
  return e;
}

// The answer of the first operation of `client` that matches `kind`.
const actorvol::lin::operation* find_op(const run_record& r, int client, op_kind kind) {
  for (auto& op : r.history)
    if (op.client == client && op.kind == kind)
      return &op;
  return nullptr;
}

} // namespace

TEST(Races, MountVsRemove) {
  scenario sc{"mount_vs_remove",
              {create("v")},
              {{mount("v", "a"), unmount("v", "a")}, {remove_volume("v")}},
              {},
              false,
              {}};
  bool removed_first = false, refused_in_use = false;
  options opt;
  opt.observe = [&](const run_record& r) {
    auto* rm = find_op(r, 1, op_kind::remove);
    if (rm->err == err_kind::none)
      removed_first = true;
    if (rm->err == err_kind::in_use)
      refused_in_use = true;
  };
  all(sc, opt);
  EXPECT_TRUE(removed_first);   // some schedule removes before the Mount
  EXPECT_TRUE(refused_in_use);  // and some refuses the Remove while mounted
}

TEST(Races, UnmountVsMountOfTheSameId) {
  scenario sc{"unmount_vs_mount_same_id",
              {create("v"), mount("v", "a")},
              {{unmount("v", "a"), get("v")}, {mount("v", "a")}},
              {},
              false,
              {}};
  all(sc);
}

TEST(Races, CreateVsCreateOfTheSameName) {
  scenario sc{"create_vs_create",
              {},
              {{create("v")}, {create("v")}, {create("v", {{"mode", "700"}})}},
              {},
              false,
              {}};
  bool conflict = false;
  options opt;
  opt.observe = [&](const run_record& r) {
    for (auto& op : r.history)
      if (op.err == err_kind::conflict)
        conflict = true;
  };
  all(sc, opt);
  EXPECT_TRUE(conflict);
}

TEST(Races, RemoveThenCreateRacingMount) {
  scenario sc{"remove_create_vs_mount",
              {create("v")},
              {{remove_volume("v"), create("v")}, {mount("v", "a")}},
              {},
              false,
              {}};
  bool lost = false, mounted_new = false;
  options opt;
  opt.observe = [&](const run_record& r) {
    auto* m = find_op(r, 1, op_kind::mount);
    if (m->err == err_kind::not_found)
      lost = true;
    if (m->err == err_kind::none)
      mounted_new = true;
  };
  all(sc, opt);
  EXPECT_TRUE(lost);
  EXPECT_TRUE(mounted_new);
}

TEST(Races, AdaptorFailureInTheMiddleOfMountWithASecondMountWaiting) {
  scenario sc{"mount_failure_second_waits",
              {create("v")},
              {{mount("v", "a")}, {mount("v", "b"), get("v")}},
              {{"v", "mount", 1}},
              false,
              {}};
  bool one_failed = false;
  options opt;
  opt.observe = [&](const run_record& r) {
    int failed = 0;
    for (auto& op : r.history)
      if (op.kind == op_kind::mount && op.err == err_kind::backend)
        ++failed;
    EXPECT_EQ(failed, 1);  // exactly the first attach fails; the waiting Mount attaches
    one_failed = one_failed || failed == 1;
  };
  all(sc, opt);
  EXPECT_TRUE(one_failed);
}

TEST(Races, SlowAdaptorOnOneVolumeWhileOthersProceed) {
  scenario sc{"slow_volume_others_proceed",
              {create("v"), create("w")},
              {{mount("v", "a")}, {mount("w", "b"), unmount("w", "b")}},
              {},
              false,
              {"v"}};
  // There is a schedule in which every operation on w finishes while v's attach is still
  // running (its job has not run yet).
  // The first job of v after its Mount was sent (the setup's jobs come before).
  auto v_attach = [](const run_record& r) {
    auto* m = find_op(r, 0, op_kind::mount);
    for (auto& [t, vol] : r.jobs)
      if (vol == "v" && t > m->call)
        return t;
    return int64_t{-1};
  };
  bool others_first = false;
  auto observe = [&](const run_record& r) {
    int64_t w_done = 0;
    for (auto& op : r.history)
      if (op.client == 1)
        w_done = std::max(w_done, op.ret);
    auto* m = find_op(r, 0, op_kind::mount);
    if (v_attach(r) > w_done && m->call < w_done)
      others_first = true;
  };
  options opt;
  opt.observe = observe;
  all(sc, opt);  // every schedule the budget reaches keeps the invariants
  // The schedule that holds v's job back until nothing else can run finishes w anyway (the
  // exhaustive search may not reach it within its time budget on a slow, sanitized build).
  std::string failure;
  auto r = run_one(sc, "defer=v", false, &failure);
  EXPECT_EQ(failure, "");
  observe(r);
  EXPECT_TRUE(others_first);
  auto v_job = v_attach(r);
  for (auto& op : r.history) {
    if (op.client == 1) {
      EXPECT_LT(op.ret, v_job) << describe(op);
    }
  }
  random(sc, 300);
}

TEST(Races, ShutdownWithRequestsInFlight) {
  scenario sc{"shutdown_in_flight",
              {create("v")},
              {{mount("v", "a")}, {create("w")}},
              {},
              true,
              {}};
  all(sc);
}

TEST(Races, ListWhileVolumesComeAndGo) {
  scenario sc{"list_vs_create_remove",
              {create("v")},
              {{create("w")}, {remove_volume("v")}, {list()}},
              {},
              false,
              {}};
  all(sc);
}

TEST(Races, PruningOnlyDropsReorderingsOfDifferentVolumes) {
  // Two volumes with nothing in common: the sleep sets must cut the schedules down while
  // the answers stay the same.
  scenario sc{"two_volumes_independent",
              {create("v"), create("w")},
              {{mount("v", "a")}, {mount("w", "b")}},
              {},
              false,
              {}};
  auto pruned = all(sc);
  options full;
  full.prune = false;
  auto e = explore_all(sc, full);
  report(sc.name + " (exhaustive, no pruning)", e);
  EXPECT_FALSE(e.failed) << e.failure;
  EXPECT_LT(pruned.schedules, e.schedules);
}

// A quick adaptor (the directory's): the VOLUME hands each record over after the WORKER's
// step, and an Unmount, or a Mount of an ID more, writes only the record.
TEST(Races, QuickAdaptorUsesOfOneVolume) {
  scenario sc{"quick_uses_of_one_volume",
              {create("v"), mount("v", "a")},
              {{unmount("v", "a"), get("v")}, {mount("v", "b")}},
              {},
              false,
              {},
              true};
  size_t fewest_jobs = SIZE_MAX;
  options opt;
  opt.observe = [&](const run_record& r) { fewest_jobs = std::min(fewest_jobs, r.jobs.size()); };
  all(sc, opt);
  // The setup's Create and Mount: where Mount b comes first, neither change runs a job.
  EXPECT_EQ(fewest_jobs, 2u);
}

TEST(Races, QuickAdaptorShutdownWithChangesInFlight) {
  scenario sc{"quick_shutdown_in_flight",
              {create("v"), mount("v", "a")},
              {{mount("v", "b")}, {unmount("v", "a")}},
              {},
              true,
              {},
              true};
  all(sc);
}

TEST(Races, QuickAdaptorFailedAttachWithMoreWaiting) {
  scenario sc{"quick_failed_attach",
              {create("v")},
              {{mount("v", "a")}, {mount("v", "b")}},
              {{"v", "mount", 1}},
              false,
              {},
              true};
  all(sc);
}

namespace {

// Four clients on three volumes, with a failing adaptor call or two.
scenario larger_mix(std::string name, std::vector<fault> faults, bool quick) {
  return {std::move(name),
          {create("v"), create("w")},
          {{mount("v", "a"), mount("w", "a"), unmount("v", "a"), remove_volume("v"), unmount("w", "a")},
           {create("x"), mount("x", "b"), mount("v", "b"), get("v"), unmount("x", "b")},
           {mount("v", "a"), unmount("v", "a"), remove_volume("x"), create("v"), list()},
           {remove_volume("w"), get("w"), mount("w", "c"), path("x"), unmount("v", "b")}},
          std::move(faults),
          false,
          {"w"},
          quick};
}

} // namespace

// A failed state write undoes the step that came before it (the first Mount's attach: the
// 2nd write of v), or, for a change that only writes the record (the second Mount, of an ID
// more: the 3rd), leaves the volume as it was. Either Mount may come first.
TEST(Races, FailedStateWritesOnAQuickAdaptor) {
  for (int nth : {2, 3}) {
    scenario sc{"quick_failed_write_" + std::to_string(nth),
                {create("v")},
                {{mount("v", "a")}, {mount("v", "b")}},
                {{"v", "write", nth}},
                false,
                {},
                true};
    bool a_failed = false, b_failed = false;
    options opt;
    opt.observe = [&](const run_record& r) {
      for (auto& op : r.history) {
        a_failed |= op.id == "a" && op.err == err_kind::backend;
        b_failed |= op.id == "b" && op.err == err_kind::backend;
      }
    };
    all(sc, opt);
    EXPECT_TRUE(a_failed) << sc.name;  // some schedule fails the write of Mount a
    EXPECT_TRUE(b_failed) << sc.name;  // and some the write of Mount b
  }
}

TEST(Races, RandomSchedulesOfALargerMixOnAQuickAdaptor) {
  // A quick adaptor detaches only in a Remove: the second fault fails the Remove of x.
  random(larger_mix("mixed_three_volumes_quick",
                    {{"x", "mount", 1}, {"x", "unmount", 1}, {"v", "write", 3}, {"w", "erase", 1}},
                    true),
         1000);
}

TEST(Races, RandomSchedulesOfALargerMix) {
  random(larger_mix("mixed_three_volumes", {{"x", "mount", 1}, {"w", "unmount", 2}}, false), 1500);
}
