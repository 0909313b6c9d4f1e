#pragma once

// Reconciling with Docker (--docker-socket): at start and every interval, the RECONCILER asks
// the DOCKER PROBE which volumes live containers reference, and has the REGISTRY drop, on
// every other volume, the uses recorded more than `grace` ago (detaching it when none is
// left). Each drop is logged. A daemon that is down or slow only delays the next pass; it
// never touches the request path.

#include "actors/interfaces.hpp"

#include <chrono>
#include <string>

namespace actorvol {

struct reconciler_options {
  std::chrono::seconds interval{60};
  std::chrono::seconds grace{120};
};

struct reconciler_state {
  reconciler_options opts;
  registry_actor registry;
  docker_probe_actor probe;
  bool busy = false;  // a pass is under way
  static inline const char* name = "reconciler";
};

reconciler_actor::behavior_type
reconciler(reconciler_actor::stateful_pointer<reconciler_state> self, registry_actor registry,
           docker_probe_actor probe, reconciler_options opts);

} // namespace actorvol
