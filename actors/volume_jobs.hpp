#pragma once

// The blocking steps of a VOLUME, run on a WORKER: each takes the adaptor, the state store
// and the job's ticket, and returns a job_result. A step commits (writes the record) only
// if its ticket is still live; a step whose request was abandoned at its deadline rolls
// its backend change back instead, so the disk always matches what the client was told.

#include "actors/interfaces.hpp"
#include "actors/store.hpp"
#include "adaptors/adaptor.hpp"
#include "adaptors/sys.hpp"

#include <atomic>
#include <filesystem>
#include <memory>
#include <vector>

namespace actorvol::jobs {

/// Shared by a VOLUME and the job it runs: whoever moves it first wins.
class ticket {
public:
  /// The job is about to make its change durable. False once abandoned.
  bool commit() {
    int expected = running;
    return state_.compare_exchange_strong(expected, committed);
  }
  /// The request's deadline passed. False once the job committed.
  bool abandon() {
    int expected = running;
    return state_.compare_exchange_strong(expected, abandoned);
  }
  bool is_abandoned() const {
    return state_.load() == abandoned;
  }

private:
  enum { running, committed, abandoned };
  std::atomic<int> state_{running};
};

using ticket_ptr = std::shared_ptr<ticket>;

/// Where quarantined data goes, and how mounts are checked (empty root: no quarantine).
struct vault {
  std::filesystem::path root;
  SysPtr sys;
};

/// Makes a new volume: data left over from a crash is quarantined first.
job_result create(adaptor& a, state_store& store, const vault& v,
                  const std::vector<std::filesystem::path>& leftovers,
                  const volume_record& next, ticket& t);

/// Moves the uses to `next` (attaching first, or detaching first), then writes the record;
/// a failed write or an abandoned ticket undoes the attach or detach.
job_result change_uses(adaptor& a, state_store& store, const volume_record& current,
                       const volume_record& next, bool attach_first, bool detach_first,
                       ticket& t);

/// The error of a change whose request was abandoned at its deadline (it rolls back).
caf::error abandoned(const std::string& vol);

/// The two halves of create and change_uses around their state write, for a VOLUME that
/// writes asynchronously (adaptor::quick): the step (on a WORKER; it reads the backend's
/// status after a success; an error: nothing to write), and, for a write that failed or a
/// request abandoned at its deadline, the undo of the step (on a WORKER too; it reads the
/// status again).
job_result create_step(adaptor& a, const vault& v,
                       const std::vector<std::filesystem::path>& leftovers,
                       const volume_record& next);
void create_undo(adaptor& a, const volume_record& next, job_result& r);
job_result uses_step(adaptor& a, const volume_record& next, bool attach_first,
                     bool detach_first);
/// Whether a change of uses has a step at all: not when it attaches nothing and detaches
/// nothing the adaptor needs (adaptor::detaches). A set failpoint adaptor.unmount makes a
/// detach a step on every adaptor, so that tests can fail or delay any Unmount.
bool uses_need_step(const adaptor& a, bool attach_first, bool detach_first);
void uses_undo(adaptor& a, const volume_record& next, bool attach_first, bool detach_first,
               job_result& r);

/// Deletes a volume: the record first, then the data (the record comes back on failure).
job_result remove(adaptor& a, state_store& store, const volume_record& current, ticket& t);

/// Drops the record of a volume whose record was unreadable, moving its data to quarantine.
job_result remove_corrupt(state_store& store, const vault& v,
                          const std::vector<std::filesystem::path>& data,
                          const std::string& name, ticket& t);

/// Attaches the backing store of a volume whose uses survived a restart.
job_result reattach(adaptor& a, const volume_record& r);

/// Reads the backend's status.
job_result refresh(adaptor& a, const volume_record& r);

} // namespace actorvol::jobs
