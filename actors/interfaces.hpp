#pragma once

// Every typed-actor interface of the actors layer, in one place.
//
// A request travels: net/session (HTTP) -> the NET actor (net/net_actor, whose messages are
// the protocol's own types) -> the REGISTRY -> one VOLUME -> a WORKER (blocking work: the
// adaptor and the state store) and back. For a quick adaptor (adaptor::quick) the WORKER runs
// only the step, and the VOLUME hands the state write to the store's committer.

#include "actors/atoms.hpp"
#include "actors/read_view.hpp"
#include "core/error.hpp"
#include "core/types.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/optional.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace actorvol {

/// How long a request may take, queueing included (Docker's own limits by default).
struct deadlines {
  std::chrono::milliseconds long_ops{std::chrono::minutes(2)};   // Create, Mount
  std::chrono::milliseconds short_ops{std::chrono::minutes(1)};  // the rest
};

/// What a VOLUME tells the REGISTRY after each answer it gives (and after each change of its
/// own), for the retire handshake. (What Get and List answer it publishes to the read view.)
struct volume_summary {
  std::string name;
  bool exists = false;
  uint64_t handled = 0;  // requests this VOLUME has handled so far
  bool busy = false;     // a job is in flight (perhaps an abandoned one)
  // Offered when the VOLUME is idle (no uses, nothing running or waiting, nothing wrong):
  // the REGISTRY may retire it and keep only this record until a change needs it again.
  caf::optional<volume_record> idle_record;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_summary& x) {
  return f(caf::meta::type_name("volume_summary"), x.name, x.exists, x.handled, x.busy,
           x.idle_record);
}

/// The outcome of one blocking job.
struct job_result {
  caf::error error;
  std::string path;                           // the mountpoint, after an attach
  std::map<std::string, std::string> status;  // the backend's status, read at the end
  std::string problem;                        // a rollback that failed, for Get's Status
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_result& x) {
  return f(caf::meta::type_name("job_result"), x.error, x.path, x.status, x.problem);
}

/// Records read at start-up, made ready for the REGISTRY where they were read (registry.hpp).
struct adoption;
using adoption_ptr = std::shared_ptr<adoption>;

/// A piece of blocking work (filesystem calls, mount(2), fsync) for a WORKER to run.
struct job {
  std::function<job_result()> run;
};

} // namespace actorvol

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorvol::job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorvol::adoption_ptr)

namespace actorvol {

/// A WORKER runs blocking jobs off CAF's scheduler. The pool has the same interface as a
/// single worker, so a VOLUME cannot tell them apart (and tests can hand it a mock).
using worker_actor = caf::typed_actor<
  // Runs the job and replies with its outcome.
  caf::replies_to<atom::run, job>::with<job_result>>;

/// Where a VOLUME reports its state after each request: the REGISTRY (or a test probe).
using summary_sink = caf::typed_actor<
  // Takes a VOLUME's current summary (for the retire handshake).
  caf::reacts_to<atom::summary, volume_summary>>;

/// The VOLUME actor: one per volume; serializes every operation on it.
using volume_actor = caf::typed_actor<
  // Creates the volume with these options; same options again is a no-op.
  caf::replies_to<atom::create, volume_opts>::with<atom::ok>,
  // Counts one more use of a mount ID; attaches on first use; replies with the mountpoint.
  caf::replies_to<atom::mount, std::string>::with<std::string>,
  // Counts one use of a mount ID less; detaches when no use is left.
  caf::replies_to<atom::unmount, std::string>::with<atom::ok>,
  // Deletes the volume and its data; refused while any use is recorded.
  caf::replies_to<atom::remove>::with<atom::ok>,
  // Describes the volume (never fails for a volume that exists).
  caf::replies_to<atom::get>::with<volume_info>,
  // Replies with the mountpoint while mounted, else an empty string.
  caf::replies_to<atom::path>::with<std::string>,
  // Drops the uses recorded before this unix time (reconcile with Docker); replies with
  // the IDs dropped.
  caf::replies_to<atom::drop, int64_t>::with<std::vector<std::string>>,
  // (From itself, at most a second apart while a request is unanswered) fails the requests
  // whose deadline has passed: a queued one fails, a running one is abandoned (its job
  // rolls back instead of committing).
  caf::reacts_to<atom::timeout>,
  // (From the state store's committer) the write of change `seq`, handed over by the VOLUME
  // itself for a quick adaptor, is durable (no error) or failed: the change is answered (a
  // failed one after its step is undone).
  caf::reacts_to<atom::committed, uint64_t, caf::error>,
  // (From the REGISTRY, after a Get answered from the read view) reads the backend's status
  // again in the background when the last read is over a second old; no answer, but a
  // summary that counts it as handled.
  caf::reacts_to<atom::refresh>>;

/// The REGISTRY: owns the name -> VOLUME map, spawns and monitors VOLUMEs, never waits.
using registry_actor = caf::typed_actor<
  // Creates volume NAME with OPTS (spawning its VOLUME).
  caf::replies_to<atom::create, std::string, volume_opts>::with<atom::ok>,
  // Mounts volume NAME for mount ID.
  caf::replies_to<atom::mount, std::string, std::string>::with<std::string>,
  // Unmounts volume NAME for mount ID.
  caf::replies_to<atom::unmount, std::string, std::string>::with<atom::ok>,
  // Removes volume NAME.
  caf::replies_to<atom::remove, std::string>::with<atom::ok>,
  // Describes volume NAME (from the read view when that can answer it).
  caf::replies_to<atom::get, std::string>::with<volume_info>,
  // The mountpoint of volume NAME, or empty (likewise).
  caf::replies_to<atom::path, std::string>::with<std::string>,
  // Every volume, sorted by name (from the read view at one instant, without asking VOLUMEs).
  caf::replies_to<atom::list>::with<view_listing>,
  // Drops uses older than a unix time on volume NAME (see atom::drop on the VOLUME).
  caf::replies_to<atom::drop, std::string, int64_t>::with<std::vector<std::string>>,
  // Takes a part of the records read at start-up (all of them come before any request):
  // a volume with uses to re-attach (or an unreadable record) gets its VOLUME, every other
  // one sleeps.
  caf::reacts_to<atom::adopt, adoption_ptr>,
  // A VOLUME's summary after each request it handled.
  caf::reacts_to<atom::summary, volume_summary>,
  // (From the I/O thread, which answered a Get of NAME from the read view) has NAME's
  // VOLUME read its backend's status again if that is stale; no answer.
  caf::reacts_to<atom::refresh, std::string>,
  // (From itself, while idle VOLUMEs are kept) retires those idle long enough.
  caf::reacts_to<atom::timeout>>;

/// The DOCKER PROBE: asks the Docker Engine API (blocking, so it runs detached).
using docker_probe_actor = caf::typed_actor<
  // Replies with the names of the volumes that live (not exited, not dead) containers use.
  caf::replies_to<atom::get>::with<std::vector<std::string>>>;

/// The RECONCILER: drops uses that no live container explains (Docker never repairs a
/// plugin's counts: containers that died with the daemon get no Unmount).
using reconciler_actor = caf::typed_actor<
  // Runs one pass: asks the DOCKER PROBE, then has the REGISTRY drop stale uses.
  caf::reacts_to<atom::reconcile>>;

} // namespace actorvol
