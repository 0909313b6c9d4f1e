#pragma once

// The REGISTRY: owns the name -> VOLUME map. It checks names, spawns one VOLUME per volume,
// monitors it, and delegates each request to it, so it never waits on a VOLUME. It answers
// List, and the Get and Path that reach it, from the read view each VOLUME publishes to
// before every answer: a read costs no hop to a VOLUME.
//
// A VOLUME is retired by a handshake: the REGISTRY counts the requests it delegated to it,
// the VOLUME counts the requests it handled, and when both counts agree no request is on its
// way. A removed volume's VOLUME is then stopped and forgotten. An idle volume's VOLUME (no
// uses, nothing running or waiting) is stopped too, and the REGISTRY keeps its record: an
// idle volume costs a map entry, not an actor, until a change wakes a VOLUME for it again
// (Get, Path and List are answered from the view without one). An idle VOLUME is kept
// running for `deps.keep_idle` first (at most `deps.keep_idle_max` of them, the longest idle
// retired first): a volume mounted and unmounted over and over keeps one VOLUME instead of
// spawning a new one for every Mount.

#include "actors/interfaces.hpp"
#include "actors/store.hpp"
#include "actors/volume.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <vector>

namespace actorvol {

struct registry_state {
  struct entry {
    volume_actor actor;    // its VOLUME; none while the volume sleeps (idle, only a record)
    uint64_t sent = 0;     // requests delegated to the VOLUME
    // From its VOLUME's latest summary: requests handled, a job in flight, whether the
    // volume exists, and whether it is idle (may sleep).
    uint64_t handled = 0;
    bool busy = false;
    bool exists = false;
    bool idle = false;
    // An idle volume's Opts (none when it has none: most volumes, and 40 bytes less each):
    // with its name and creation time (in the read view) and no uses, that is all of its
    // record (sleeping_record makes it whole).
    std::unique_ptr<volume_opts> idle_opts;
    read_view::slot_ptr slot;  // where the volume is published (List reads it); always set
    std::chrono::steady_clock::time_point idle_since{};  // its VOLUME's, while kept idle
  };
  std::map<std::string, entry> volumes;  // sorted, so List comes out sorted by name
  view_listing listed;                   // the last List's answer, and the view's version
  uint64_t listed_version = 0;           //   then (the same again: the same answer)
  volume_deps deps;                      // handed to every VOLUME spawned
  // The VOLUMEs kept running while idle, in the order they became idle (a pair whose entry
  // has moved on since is skipped), and whether a sweep is scheduled to retire them.
  std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>> kept_idle;
  size_t kept_count = 0;  // the entries whose idle_since is set (each has its pair above)
  bool sweeping = false;
  static inline const char* name = "registry";
};

/// A part of the records read at start-up, made ready where they were read (so the
/// REGISTRY's thread only splices the entries in): each volume's entry, already published in
/// the read view, and the VOLUMEs to spawn (uses to re-attach, or an unreadable record).
/// start() holds the VOLUMEs back until every record was read, and hands them over last: a
/// start that fails part-way has attached nothing.
struct adoption {
  std::map<std::string, registry_state::entry> entries;
  std::vector<std::pair<std::string, volume_origin>> awake;
};

/// Makes `part` (records in name order) ready for the REGISTRY, publishing each volume in
/// `view`; the VOLUMEs it needs are added to `awake`, for the last adoption. Runs on the
/// caller's thread: nothing the REGISTRY holds is touched.
adoption_ptr prepare_adoption(read_view& view, std::vector<loaded_record> part,
                              std::vector<std::pair<std::string, volume_origin>>& awake);

/// The whole record of `name`, an idle volume whose entry is `e`.
volume_record sleeping_record(const std::string& name, const registry_state::entry& e);

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self, volume_deps deps);

} // namespace actorvol
