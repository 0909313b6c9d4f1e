#pragma once

// The VOLUME actor: one per volume. It owns the volume's whole state (one volume_record)
// and serializes Create/Mount/Unmount/Remove (and reconcile drops): each runs its blocking
// step on a WORKER while later changes wait in the VOLUME's own queue (for a quick adaptor the
// VOLUME writes the record itself, asynchronously: volume_queue::run_staged). Get and Path never
// wait: they are answered from the committed state. Every request has a deadline (Docker's:
// 2 minutes for Create and Mount, 1 minute for the rest); a request still queued then fails,
// a running one is abandoned and its job rolls back instead of committing.

#include "actors/interfaces.hpp"
#include "actors/read_view.hpp"
#include "actors/store.hpp"
#include "actors/volume_jobs.hpp"
#include "adaptors/catalog.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace actorvol {

/// What a VOLUME is given to work with. Tests hand it mocks.
struct volume_deps {
  worker_actor worker;    // runs blocking jobs
  summary_sink registry;  // hears a summary after each request
  CatalogPtr adaptors;    // picks the backend by options
  StorePtr store;         // durable records
  jobs::vault vault;      // quarantine (empty root: none)
  deadlines limits;
  ViewPtr view;           // where Get, Path and List are read (the REGISTRY makes one if none)
  // How long the REGISTRY keeps an idle VOLUME running before it retires it (0: at once),
  // and how many it keeps so at most.
  std::chrono::milliseconds keep_idle{std::chrono::seconds(2)};
  size_t keep_idle_max = 1024;
};

struct volume_state {
  /// A change waiting for its turn.
  struct pending {
    uint64_t seq;
    bool request;                 // a client's (with a deadline), or the VOLUME's own
    std::function<void()> start;  // runs it; it calls finish(seq) when its job is done
  };

  volume_record record;   // the committed state (what is on disk)
  bool exists = false;    // false before Create and after Remove
  bool attached = false;  // the backing store is attached
  bool corrupt = false;   // its record could not be read: only Get and Remove work
  std::string mountpoint; // valid while attached
  std::string problem;    // a recovery, rollback or backend problem, shown in Get's Status
  std::map<std::string, std::string> backend_status;  // the adaptor's, read after each job
  std::chrono::steady_clock::time_point status_read_at;  // ... at this time
  uint64_t handled = 0;   // requests answered, for the REGISTRY's retire handshake

  uint64_t next_seq = 1;
  uint64_t running = 0;                // the change whose job is in flight (0: none)
  jobs::ticket_ptr ticket;             // ... and its ticket
  // A staged change (see volume_queue::run_staged) waiting for its write: what it has so
  // far, what undoes it, and what answers it.
  struct awaiting_write {
    job_result r;
    std::function<void(job_result&)> undo;
    std::function<void(job_result&)> done;
  };
  std::optional<awaiting_write> writing;
  std::deque<pending> queue;           // changes waiting for it
  std::unordered_map<uint64_t, std::function<void(caf::error)>> unanswered;
  // When each unanswered request's deadline passes (checked by atom::timeout, which is
  // pending while `checking`: at most a second ahead, so that a retired VOLUME is freed
  // within a second instead of being held by a timer until a deadline minutes away).
  std::map<uint64_t, std::chrono::steady_clock::time_point> due;
  bool checking = false;
  bool dispatching = false;
  bool recovering = false;             // re-attaching recorded uses at start
  // Told to exit while a staged write was on its way: the VOLUME stays until the write's
  // outcome is known and answered (a Mount answered "shutting down" must not be on disk).
  std::optional<caf::error> exit_after_write;

  /// A job is in flight (perhaps one whose request was abandoned).
  bool busy() const {
    return running != 0;
  }

  volume_deps deps;
  read_view::slot_ptr slot;  // where this volume is published
  static inline const char* name = "volume";
};

/// What a VOLUME starts from.
struct volume_origin {
  /// Its record: read from disk at start-up (uses recorded there are re-attached), or kept
  /// by the REGISTRY while the volume was idle (`woken`). None: a new volume, not created.
  std::optional<volume_record> record;
  /// Its record could not be read: why (the volume exists, but only Get and Remove work).
  std::string problem;
  /// Woken from the REGISTRY's record of an idle volume: nothing to recover, and its
  /// backend's status is `status`, as last read (a refresh reads it again).
  bool woken = false;
  std::map<std::string, std::string> status;
  /// Where it publishes what Get, Path and List answer (the REGISTRY keeps the same slot).
  read_view::slot_ptr slot;
};

volume_actor::behavior_type volume(volume_actor::stateful_pointer<volume_state> self,
                                   std::string volume_name, volume_deps deps,
                                   volume_origin origin);

/// The current time as RFC 3339 (UTC), as Docker prints CreatedAt.
std::string rfc3339_now();

} // namespace actorvol
