#include "actors/volume_queue.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <vector>

namespace actorvol::volume_queue {

volume_info info_of(const volume_state& st) {
  volume_info info;
  info.name = st.record.name;
  info.created_at = st.record.created_at;
  info.mounts = st.record.total_uses();
  if (st.attached)
    info.mountpoint = st.mountpoint;
  if (!st.problem.empty())
    info.status["Problem"] = st.problem;
  if (st.recovering)
    info.status["Recovering"] = "re-attaching its recorded uses after a restart";
  for (auto& [k, v] : st.backend_status)
    info.status.emplace(k, v);  // our own Problem comes first
  return info;
}

// Tells the read view and the REGISTRY where this volume stands: after every answer
// (counted, for the retire handshake) and after a change of its own (not counted).
void publish(self_ptr self, bool counted) {
  auto& st = self->state;
  if (counted)
    ++st.handled;
  volume_summary s{st.record.name, st.exists, st.handled, st.busy(), caf::none};
  bool idle = st.exists && !st.corrupt && !st.busy() && st.queue.empty()
              && st.unanswered.empty() && !st.attached && st.record.total_uses() == 0
              && st.problem.empty() && !st.recovering;
  if (idle)
    s.idle_record = st.record;
  // The view is where Get, Path and List see the change (the moment it takes effect for
  // them); the REGISTRY's summary is for retiring VOLUMEs. While re-attaching its uses at
  // start, the VOLUME answers Get and Path itself.
  st.deps.view->publish(*st.slot, info_of(st), s.exists, st.exists && !st.recovering,
                   std::chrono::steady_clock::now() - st.status_read_at < std::chrono::seconds(1));
  self->send(st.deps.registry, atom::summary::value, std::move(s));
}

// -- serialization: one change at a time, each with a deadline ------------------------------

void dispatch(self_ptr self) {
  auto& st = self->state;
  if (st.dispatching)
    return;
  st.dispatching = true;
  while (!st.busy() && !st.queue.empty()) {
    auto next = std::move(st.queue.front());
    st.queue.pop_front();
    if (next.request && st.unanswered.count(next.seq) == 0)
      continue;  // failed at its deadline while it waited: it never runs
    st.running = next.seq;
    next.start();  // finishes at once (an answer without a job), or when its job is done
  }
  st.dispatching = false;
}

// The change `seq` is done (answered, or abandoned and now rolled back): on to the next.
void finish(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  if (st.running == seq) {
    st.running = 0;
    st.ticket.reset();
  }
  if (st.exit_after_write) {
    if (!st.busy())
      self->quit(*st.exit_after_write);  // told to exit while its write was on its way
    return;
  }
  dispatch(self);
  if (!st.busy())
    publish(self, false);  // the REGISTRY may retire an idle, removed VOLUME
}

namespace {

// Change `seq` has its result: the VOLUME keeps the backend's status and any problem, `done`
// sees it unless the request was abandoned, and the next change may start.
void conclude(self_ptr self, uint64_t seq, const jobs::ticket& t, const done_fn& done,
              job_result& r) {
  auto& st = self->state;
  if (!r.status.empty()) {
    st.backend_status = std::move(r.status);
    st.status_read_at = std::chrono::steady_clock::now();
  }
  if (!r.problem.empty())
    st.problem = r.problem;
  if (!t.is_abandoned())
    done(r);
  finish(self, seq);
}

// Runs `work` on a WORKER and hands its result to `then` (an error as the result's error).
// An error that does not name the volume (an adaptor that threw, a WORKER gone) is given
// its name.
void on_worker(self_ptr self, std::function<job_result()> work,
               std::function<void(job_result)> then) {
  self->request(self->state.deps.worker, caf::infinite, atom::run::value, job{std::move(work)})
    .then(
      [self, then](job_result& r) {
        r.error = about_volume(std::move(r.error), self->state.record.name);
        then(std::move(r));
      },
      [self, then](caf::error& err) {
        job_result r;
        r.error = about_volume(std::move(err), self->state.record.name);
        then(std::move(r));
      });
}

} // namespace

// Runs `work` on a WORKER; `done` sees its result unless the request was abandoned.
void run_job(self_ptr self, uint64_t seq, work_fn work, done_fn done) {
  auto t = std::make_shared<jobs::ticket>();
  self->state.ticket = t;
  on_worker(
    self, [work, t] { return work(*t); },
    [self, seq, t, done](job_result r) { conclude(self, seq, *t, done, r); });
}

namespace {

// Undoes the step of a staged change whose write failed or whose request was abandoned,
// then concludes it.
void undo_staged(self_ptr self, uint64_t seq, jobs::ticket_ptr t, job_result r,
                 std::function<void(job_result&)> undo, done_fn done) {
  if (!undo)
    return conclude(self, seq, *t, done, r);  // no step ran: nothing to undo
  on_worker(
    self,
    [r, undo]() mutable {
      undo(r);
      return r;
    },
    [self, seq, t, done](job_result r) { conclude(self, seq, *t, done, r); });
}

} // namespace

void run_staged(self_ptr self, uint64_t seq, staged change, done_fn done) {
  auto t = std::make_shared<jobs::ticket>();
  self->state.ticket = t;
  // Shared by the steps below: the records and the steps' own copies are not copied again.
  auto c = std::make_shared<const staged>(std::move(change));
  auto hand_off = [self, seq, t, c, done](job_result r) {
    auto& st = self->state;
    if (r.error)
      return conclude(self, seq, *t, done, r);
    // A deadline that passes from now on finds the change committing and waits for it.
    if (!t->commit()) {
      r.error = jobs::abandoned(c->record->name);
      return undo_staged(self, seq, t, std::move(r), c->undo, done);
    }
    st.writing = volume_state::awaiting_write{std::move(r), c->undo, done};
    // The committer's thread only sends the outcome on. A VOLUME gone by then is not held
    // by it (and one told to exit waits for it: see on_exit).
    auto to = caf::actor_cast<caf::weak_actor_ptr>(self);
    st.deps.store->write_async(*c->record, c->previous ? &*c->previous : nullptr,
                               [to, seq](caf::error err) {
                                 if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(to))
                                   caf::anon_send(caf::actor_cast<volume_actor>(strong),
                                                  atom::committed::value, seq, std::move(err));
                               });
  };
  if (!c->step)
    return hand_off({});
  on_worker(
    self,
    [c, t] {
      if (!t->is_abandoned())
        return c->step();
      job_result r;  // failed at its deadline while queued: nothing to undo
      r.error = jobs::abandoned(c->record->name);
      return r;
    },
    hand_off);
}

void settle_staged(self_ptr self, uint64_t seq, caf::error err) {
  auto& st = self->state;
  if (st.running != seq || !st.writing)
    return;
  auto w = std::move(*st.writing);
  st.writing.reset();
  auto t = st.ticket;  // finish() lets go of it
  if (err) {
    w.r.error = std::move(err);
    return undo_staged(self, seq, t, std::move(w.r), std::move(w.undo), std::move(w.done));
  }
  conclude(self, seq, *t, w.done, w.r);
}

// Queues a change of the VOLUME's own (no client, no deadline).
void internal(self_ptr self, work_fn work, done_fn done) {
  auto& st = self->state;
  auto seq = st.next_seq++;
  st.queue.push_back({seq, false, [self, seq, work, done] { run_job(self, seq, work, done); }});
  dispatch(self);
}

namespace {

// Schedules the next check of the deadlines unless one is pending: at the earliest deadline,
// or in a second if that is later. The delayed message holds the VOLUME until it arrives, so
// it is never minutes away.
void schedule_check(self_ptr self) {
  auto& st = self->state;
  if (st.checking || st.due.empty())
    return;
  auto earliest = st.due.begin()->second;
  for (auto& [seq, at] : st.due)
    earliest = std::min(earliest, at);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
    earliest - std::chrono::steady_clock::now());
  wait = std::clamp(wait, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
  st.checking = true;
  self->delayed_send(self, wait, atom::timeout::value);
}

} // namespace

void arm_deadline(self_ptr self, std::chrono::milliseconds limit, uint64_t seq) {
  self->state.due[seq] = std::chrono::steady_clock::now() + limit;
  schedule_check(self);
}

void check_deadlines(self_ptr self, void (*expire)(self_ptr, uint64_t)) {
  auto& st = self->state;
  st.checking = false;
  auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> passed;
  for (auto i = st.due.begin(); i != st.due.end();) {
    if (st.unanswered.count(i->first) == 0) {
      i = st.due.erase(i);  // answered in time
    } else if (i->second <= now) {
      passed.push_back(i->first);
      i = st.due.erase(i);
    } else {
      ++i;
    }
  }
  for (auto seq : passed)  // in the order they were admitted
    expire(self, seq);
  schedule_check(self);
}

} // namespace actorvol::volume_queue
