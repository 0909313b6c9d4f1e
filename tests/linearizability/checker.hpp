#pragma once

// A linearizability checker in the manner of Wing & Gong, with Lowe's just-in-time
// linearization and Porcupine's memo: it searches for an order of the operations that
// respects real time (an operation that returned before another was invoked comes first)
// and that the sequential model accepts, remembering (set of linearized ops, model state)
// pairs already explored so the search never repeats itself.
//
// P-compositionality: the contract makes each volume's operations independent of other
// volumes' (each has its own VOLUME), so a history is linearizable iff each volume's
// sub-history is. The checker partitions by volume and checks each partition alone.
//
// List spans volumes. It is projected into every partition as "this volume was listed (with
// this count) or not". That checks each projection at some point inside the List's
// interval, which is necessary for linearizability but not sufficient: it does not check
// that one single instant explains all projections at once. (List is answered from the
// REGISTRY's summaries; cross-volume atomicity of List is not part of the contract.)

#include "linearizability/model.hpp"

#include <string>
#include <vector>

namespace actorvol::lin {

struct check_result {
  bool ok = true;
  std::string volume;        // the first partition that failed
  std::string explanation;   // its sub-history and the longest linearizable prefix found
  size_t partitions = 0;
  size_t operations = 0;     // operations checked (List counted once per partition)
  size_t states_explored = 0;
  bool gave_up = false;      // the step budget ran out (result inconclusive, reported as ok=false)
};

/// Checks `h` against `m`. `max_steps` bounds the search per partition (0: no bound).
check_result check(const history& h, const model& m, size_t max_steps = 0);

/// Checks one partition (the ops of `volume`, List projected).
check_result check_partition(const history& h, const std::string& volume, const model& m,
                             size_t max_steps = 0);

} // namespace actorvol::lin
