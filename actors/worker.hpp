#pragma once

// The blocking WORKER pool: detached workers (each its own thread) behind one dispatcher
// with the WORKER interface. It is elastic: a job that finds no idle worker gets a new one,
// up to a high bound, so a slow attach on one volume never makes another volume's job wait
// for a thread. Workers beyond the warm count end once they have not been needed for 2 s
// (a timer runs while there are any): a steady load keeps its threads instead of making and
// ending one per job, and a burst's threads end soon after it.

#include "actors/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <deque>
#include <vector>

namespace actorvol {

struct worker_pool_state {
  struct pending {
    job work;
    caf::typed_response_promise<job_result> promise;
  };
  std::vector<worker_actor> idle;
  std::deque<pending> queue;  // only while `max` workers are busy
  size_t warm = 0;            // idle workers kept
  size_t max = 0;             // workers at most
  size_t total = 0;           // workers alive
  size_t least_idle = 0;      // the fewest idle workers since the last trim (never needed)
  bool trimming = false;      // a trim is scheduled
  static inline const char* name = "worker-pool";
};

/// One blocking worker: runs each job on its own thread.
worker_actor::behavior_type blocking_worker(worker_actor::pointer self);

/// The pool's own interface: a WORKER's, and its trim timer.
using worker_pool_actor = worker_actor::extend<
  // (From itself, 2 s after it grew beyond the warm count) ends the workers that were not
  // needed since the last trim.
  caf::reacts_to<atom::timeout>>;

/// The pool's dispatcher: keeps `warm` blocking workers (detached) and grows to `max`.
worker_pool_actor::behavior_type
worker_pool(worker_pool_actor::stateful_pointer<worker_pool_state> self, size_t warm, size_t max);

} // namespace actorvol
