#pragma once

// The blocking WORKER pool: detached workers (each its own thread) behind one dispatcher
// with the WORKER interface. A job waits in the dispatcher's queue until a worker is free,
// so a slow job on one volume never blocks another volume's job while a worker is idle.

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
  std::deque<pending> queue;
  static inline const char* name = "worker-pool";
};

/// One blocking worker: runs each job on its own thread.
worker_actor::behavior_type blocking_worker(worker_actor::pointer self);

/// The pool's dispatcher, over `size` blocking workers it spawns (detached).
worker_actor::behavior_type
worker_pool(worker_actor::stateful_pointer<worker_pool_state> self, size_t size);

} // namespace actorvol
