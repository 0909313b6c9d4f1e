#pragma once

// Replay of one schedule (internal; scenarios include harness.hpp): run_one (harness.hpp)
// runs a schedule given by a policy; ACTORVOL_REPLAY makes the explorers do just that.

#include "actors/harness.hpp"

namespace actorvol::harness::detail {

// ACTORVOL_REPLAY="<scenario>:<policy>": when it names `sc`, runs that one schedule
// verbosely, records it in `result` and returns true.
bool replay_requested(const scenario& sc, exploration& result);

} // namespace actorvol::harness::detail
