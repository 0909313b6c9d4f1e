#pragma once

// The REGISTRY: owns the name -> VOLUME map. It checks names, spawns one VOLUME per volume,
// monitors it, and delegates each request to it, so it never waits on a VOLUME. It answers
// List from the summary each VOLUME sends after every request.
//
// A removed volume's VOLUME is retired by a handshake: the REGISTRY counts the requests it
// delegated to it, the VOLUME counts the requests it handled, and when a summary says "not
// existing" and both counts agree, no request is on its way and the VOLUME is stopped.

#include "actors/interfaces.hpp"
#include "actors/volume.hpp"

#include <map>

namespace actorvol {

struct registry_state {
  struct entry {
    volume_actor actor;
    uint64_t sent = 0;     // requests delegated to the VOLUME
    volume_summary last;   // its latest summary
  };
  std::map<std::string, entry> volumes;  // sorted, so List comes out sorted by name
  volume_deps deps;                      // handed to every VOLUME spawned
  static inline const char* name = "registry";
};

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self, volume_deps deps);

} // namespace actorvol
