#pragma once

// The actor-level race harness: the real REGISTRY and VOLUME actors on CAF's test
// scheduler, with a mock WORKER (every job runs in its own one-shot runner actor, so the
// scheduler decides when each "blocking" step finishes: slow adaptors and reorderings come
// for free), a mock adaptor with injectable failures, and scripted clients.
//
// A schedule is the order in which ready actors each handle their next message. The
// explorer runs every schedule of a small scenario (depth-first, replaying from a fresh
// actor system each time, with sleep sets so that steps of actors on different volumes are
// not reordered needlessly), or seeded random schedules of a larger one. After every step
// and at the end of every schedule it checks the invariants below; the replies of each
// schedule must be linearizable against the sequential model (tests/linearizability).
//
// Replay: a failure prints ACTORVOL_REPLAY=<scenario>:<schedule>; run the same test with
// that variable set to execute just that schedule, printing every step.
//
// This is the one header scenarios include. Behind it (internal, namespace detail):
//   mocks.{hpp,cpp}      the mock adaptor, the mock WORKER and its runners, the clients
//   world.{hpp,cpp}      one actor system running one scenario; invariants.cpp: its checks
//   schedule.{hpp,cpp}   running one schedule (run_with) and the text of a failure
//   explorer.cpp         explore_all (depth-first with sleep sets) and explore_random
//   replay.{hpp,cpp}     run_one and ACTORVOL_REPLAY

#include "adaptors/adaptor.hpp"
#include "linearizability/model.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace actorvol::harness {

/// One request of a client's script.
struct request {
  lin::op_kind kind;
  std::string volume;
  std::string id;
  volume_opts opts;
};

request create(std::string volume, volume_opts opts = {});
request mount(std::string volume, std::string id);
request unmount(std::string volume, std::string id);
request remove_volume(std::string volume);
request get(std::string volume);
request path(std::string volume);
request list();

/// Makes the mock adaptor fail the `nth` (1-based) call of `op` ("create", "mount",
/// "unmount", "remove") on `volume`; or the state store the nth "write" or "erase" of its
/// record.
struct fault {
  std::string volume;
  std::string op;
  int nth = 1;
};

struct scenario {
  std::string name;
  std::vector<request> setup;                 // run first, alone, in order
  std::vector<std::vector<request>> clients;  // then these, concurrently
  std::vector<fault> faults;
  bool shutdown = false;      // the REGISTRY (and WORKER) may be told to exit at any step
  std::set<std::string> slow; // random mode: jobs of these volumes run late (1 in 10)
  // The adaptor is quick() and has nothing to detach, like the directory adaptor: a change's
  // step runs on the WORKER, its record is handed over afterwards (staged), and a change of
  // uses that attaches nothing only writes the record.
  bool quick = false;
};

/// What one schedule left behind, for scenario-specific properties.
struct run_record {
  lin::history history;
  std::vector<std::pair<int64_t, std::string>> jobs;  // (time, volume) of each job run
  std::vector<std::string> trace;                     // a label per step
};

struct exploration {
  uint64_t schedules = 0;  // complete schedules run and checked
  uint64_t pruned = 0;     // partial schedules cut off by sleep sets (redundant)
  uint64_t steps = 0;      // steps executed in total (replays included)
  uint64_t max_depth = 0;
  bool bounded = false;    // stopped at the schedule budget
  double seconds = 0;
  bool failed = false;
  std::string failure;     // the violation, the trace and how to replay it
  std::string summary() const;
};

/// The time budget of one exploration: ACTORVOL_EXPLORE_SECONDS if set (tests/run.sh
/// shortens it for the sanitizer builds, which run the same scenarios 3-20x slower), else 60.
double default_max_seconds();

struct options {
  bool prune = true;             // sleep sets on steps of different volumes
  uint64_t max_schedules = 500000;
  double max_seconds = default_max_seconds();  // 60, or ACTORVOL_EXPLORE_SECONDS
  bool stop_at_first_failure = true;
  /// Called after every complete schedule that passed the checks.
  std::function<void(const run_record&)> observe;
};

/// Every schedule (up to the budget). Honours ACTORVOL_REPLAY for this scenario.
exploration explore_all(const scenario& sc, const options& opt = {});

/// `count` random schedules with seeds first_seed, first_seed+1, ... Honours ACTORVOL_REPLAY.
exploration explore_random(const scenario& sc, uint64_t first_seed, uint64_t count,
                           const options& opt = {});

/// One schedule: `policy` is "fifo", "seed=N", "t=i.j.k" (indices into the sorted ready
/// set, then FIFO), or "defer=VOLUME" (the jobs of VOLUME run only when nothing else can).
run_record run_one(const scenario& sc, const std::string& policy, bool verbose,
                   std::string* failure);

} // namespace actorvol::harness
