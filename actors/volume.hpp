#pragma once

// The VOLUME actor: one per volume. It owns the volume's whole state (one volume_record),
// serializes Create/Mount/Unmount/Remove, and does every blocking step through a WORKER,
// awaiting it so that its own order holds while other VOLUMEs go on.

#include "actors/interfaces.hpp"
#include "actors/store.hpp"
#include "adaptors/catalog.hpp"

#include <optional>
#include <string>

namespace actorvol {

/// What a VOLUME is given to work with. Tests hand it mocks.
struct volume_deps {
  worker_actor worker;   // runs blocking jobs
  summary_sink registry; // hears a summary after each request
  CatalogPtr adaptors;   // picks the backend by options
  StorePtr store;        // durable records
};

struct volume_state {
  volume_record record;   // the committed state (what is on disk)
  bool exists = false;    // false before Create and after Remove
  bool attached = false;  // the backing store is attached
  bool corrupt = false;   // its record could not be read: only Get and Remove work
  std::string mountpoint; // valid while attached
  std::string problem;    // a recovery or backend problem, shown in Get's Status
  uint64_t handled = 0;   // requests handled, for the REGISTRY's retire handshake
  volume_deps deps;
  static inline const char* name = "volume";
};

/// Spawns as a new, not yet created volume (`recovered` empty), or as a volume read from
/// disk at start-up, which re-attaches its backing store when uses are recorded.
volume_actor::behavior_type volume(volume_actor::stateful_pointer<volume_state> self,
                                   std::string volume_name, volume_deps deps,
                                   std::optional<volume_record> recovered,
                                   std::string problem);

/// The current time as RFC 3339 (UTC), as Docker prints CreatedAt.
std::string rfc3339_now();

} // namespace actorvol
