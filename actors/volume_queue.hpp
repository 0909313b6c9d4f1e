#pragma once

// How a VOLUME serializes its changes: one job at a time, later changes waiting in its own
// queue, each client request with a deadline (checked by a delayed atom::timeout to the
// VOLUME) and answered exactly once. The VOLUME's behaviour (actors/volume.cpp) says what each change
// does; this says when it runs and how it is answered.

#include "actors/volume.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace actorvol::volume_queue {

using self_ptr = volume_actor::stateful_pointer<volume_state>;
using work_fn = std::function<job_result(jobs::ticket&)>;
using done_fn = std::function<void(job_result&)>;

/// What Get and List report of the volume now.
volume_info info_of(const volume_state& st);

/// Tells the REGISTRY where this volume stands: after every answer (counted, for the
/// retire handshake) and after a change of its own (not counted).
void publish(self_ptr self, bool counted = true);

/// Starts queued changes while no job runs.
void dispatch(self_ptr self);

/// The change `seq` is done (answered, or abandoned and now rolled back): on to the next.
void finish(self_ptr self, uint64_t seq);

/// Runs `work` on a WORKER; `done` sees its result unless the request was abandoned.
void run_job(self_ptr self, uint64_t seq, work_fn work, done_fn done);

/// A change cut at its state write (for an adaptor::quick adaptor): a WORKER runs `step`,
/// the VOLUME hands `record` to the store's committer and is free until atom::committed
/// brings the outcome (see settle_staged); a WORKER runs `undo` after a failed write or for
/// a request abandoned at its deadline. `done` as for run_job.
struct staged {
  std::function<job_result()> step;  // an error: nothing is written; none: the record only
  std::shared_ptr<const volume_record> record;  // shared with the change's answer
  std::optional<volume_record> previous;
  std::function<void(job_result&)> undo;
};
void run_staged(self_ptr self, uint64_t seq, staged change, done_fn done);

/// The write of change `seq` is durable (and answered) or failed (`err`: undone on a WORKER,
/// then answered).
void settle_staged(self_ptr self, uint64_t seq, caf::error err);

/// Queues a change of the VOLUME's own (no client, no deadline).
void internal(self_ptr self, work_fn work, done_fn done);

/// Request `seq` fails after `limit` unless answered by then (see check_deadlines).
void arm_deadline(self_ptr self, std::chrono::milliseconds limit, uint64_t seq);

/// Calls `expire(self, seq)` for each request whose deadline has passed, and checks again
/// at the next deadline or in a second, whichever is sooner, while any request is unanswered.
void check_deadlines(self_ptr self, void (*expire)(self_ptr, uint64_t));

// Admits a request: arms its deadline and queues `start`. Returns the promise to answer.
template <class T, class Start>
typename caf::typed_response_promise<T> admit(self_ptr self, std::chrono::milliseconds limit,
                                              const char* what, Start start) {
  auto& st = self->state;
  auto rp = self->make_response_promise<T>();
  auto seq = st.next_seq++;
  auto secs = std::to_string(std::max<int64_t>(
    1, std::chrono::duration_cast<std::chrono::seconds>(limit).count()));
  st.unanswered[seq] = [self, rp, what, secs, seq](caf::error why) mutable {
    auto& st = self->state;
    if (why) {
      rp.deliver(std::move(why));
      return;
    }
    auto detail = std::string{what} + " timed out after " + secs + " s";
    if (st.running != seq)
      detail += " waiting for an earlier operation on this volume";
    else
      detail += " (the backend did not answer; the change is rolled back if it completes)";
    rp.deliver(make_error(ec::timed_out, st.record.name, detail));
  };
  arm_deadline(self, limit, seq);
  st.queue.push_back({seq, true, [seq, rp, start]() mutable { start(seq, rp); }});
  dispatch(self);
  return rp;
}

// Answers request `seq` once: the REGISTRY hears a summary before the client the answer.
template <class T, class X>
void answer(self_ptr self, uint64_t seq, caf::typed_response_promise<T>& rp, X&& x) {
  if (self->state.unanswered.erase(seq) == 0)
    return;  // answered at its deadline already
  publish(self);
  rp.deliver(std::forward<X>(x));
}

// Answers at once, without a job, and goes on.
template <class T, class X>
void settle(self_ptr self, uint64_t seq, caf::typed_response_promise<T>& rp, X&& x) {
  answer(self, seq, rp, std::forward<X>(x));
  finish(self, seq);
}

} // namespace actorvol::volume_queue
