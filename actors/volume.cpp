#include "actors/volume.hpp"

#include "actors/log.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <ctime>

namespace actorvol {

std::string rfc3339_now() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

using self_ptr = volume_actor::stateful_pointer<volume_state>;
using work_fn = std::function<job_result(jobs::ticket&)>;
using done_fn = std::function<void(job_result&)>;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

volume_info info_of(const volume_state& st) {
  volume_info info;
  info.name = st.record.name;
  info.created_at = st.record.created_at;
  info.mounts = st.record.total_uses();
  if (st.attached)
    info.mountpoint = st.mountpoint;
  if (!st.problem.empty())
    info.status["Problem"] = st.problem;
  for (auto& [k, v] : st.backend_status)
    info.status.emplace(k, v);  // our own Problem comes first
  return info;
}

// Tells the REGISTRY where this volume stands: after every answer (counted, for the
// retire handshake) and after a change of its own (not counted).
void publish(self_ptr self, bool counted = true) {
  auto& st = self->state;
  if (counted)
    ++st.handled;
  self->send(st.deps.registry, atom::summary::value,
             volume_summary{info_of(st), st.exists, st.handled, st.busy()});
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
  dispatch(self);
  if (!st.busy())
    publish(self, false);  // the REGISTRY may retire an idle, removed VOLUME
}

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
  self->delayed_send(self, limit, atom::timeout::value, seq);
  st.queue.push_back({seq, true, [self, seq, rp, start]() mutable { start(seq, rp); }});
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

// Runs `work` on a WORKER; `done` sees its result unless the request was abandoned.
void run_job(self_ptr self, uint64_t seq, work_fn work, done_fn done) {
  auto t = std::make_shared<jobs::ticket>();
  self->state.ticket = t;
  auto on_result = [self, seq, t, done](job_result& r) {
    auto& st = self->state;
    if (!r.status.empty()) {
      st.backend_status = std::move(r.status);
      st.status_read_at = std::chrono::steady_clock::now();
    }
    if (!r.problem.empty())
      st.problem = r.problem;
    if (!t->is_abandoned())
      done(r);
    finish(self, seq);
  };
  self->request(self->state.deps.worker, caf::infinite, atom::run::value,
                job{[work, t] { return work(*t); }})
    .then([on_result](job_result& r) { on_result(r); },
          [on_result](caf::error& err) {
            job_result r;
            r.error = std::move(err);
            on_result(r);
          });
}

// Queues a change of the VOLUME's own (no client, no deadline).
void internal(self_ptr self, work_fn work, done_fn done) {
  auto& st = self->state;
  auto seq = st.next_seq++;
  st.queue.push_back({seq, false, [self, seq, work, done] { run_job(self, seq, work, done); }});
  dispatch(self);
}

AdaptorPtr adaptor_of(const volume_state& st, const volume_opts& opts) {
  return st.deps.adaptors->select(opts);
}

// Reads the backend's status again in the background when the last read is over a second
// old and nothing else runs: Get answers at once from what it has.
void refresh_if_stale(self_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (st.busy() || !st.queue.empty() || st.corrupt || now - st.status_read_at < std::chrono::seconds(1))
    return;
  st.status_read_at = now;
  auto a = adaptor_of(st, st.record.opts);
  internal(self, [a, rec = st.record](jobs::ticket&) { return jobs::refresh(*a, rec); },
           [](job_result&) {});
}

caf::error check_usable(const volume_state& st) {
  if (!st.exists)
    return make_error(ec::no_such_volume, st.record.name);
  if (st.corrupt)
    return make_error(ec::backend_failed, st.record.name, st.problem);
  return caf::none;
}

// -- the changes ---------------------------------------------------------------------------

using ok_promise = caf::typed_response_promise<atom::ok>;

void start_create(self_ptr self, uint64_t seq, ok_promise& rp, const volume_opts& opts) {
  auto& st = self->state;
  auto a = adaptor_of(st, opts);
  volume_record next{st.record.name, opts, rfc3339_now(), {}, {}};
  if (auto err = a->validate({next.name, next.opts}))
    return settle(self, seq, rp, std::move(err));
  if (st.corrupt)
    return settle(self, seq, rp, check_usable(st));
  if (st.exists && st.record.opts != opts)
    return settle(self, seq, rp, make_error(ec::options_conflict, st.record.name));
  if (st.exists)
    return settle(self, seq, rp, atom::ok::value);
  auto leftovers = st.deps.adaptors->data_paths(next.name);
  run_job(
    self, seq,
    [a, store = st.deps.store, vault = st.deps.vault, leftovers, next](jobs::ticket& t) {
      return jobs::create(*a, *store, vault, leftovers, next, t);
    },
    [self, seq, rp, next](job_result& r) mutable {
      auto& st = self->state;
      if (!r.error) {
        st.record = next;
        st.exists = true;
        st.problem.clear();
      }
      if (r.error)
        return answer(self, seq, rp, std::move(r.error));
      answer(self, seq, rp, atom::ok::value);
    });
}

// Moves the uses to `next` (Mount, Unmount, reconcile drops); `reply` makes the answer.
template <class T>
void change_uses(self_ptr self, uint64_t seq, caf::typed_response_promise<T>& rp,
                 volume_record next, std::function<T(volume_state&)> reply) {
  auto& st = self->state;
  bool attach_first = next.total_uses() > 0 && !st.attached;
  bool detach_first = next.total_uses() == 0 && st.attached;
  run_job(
    self, seq,
    [a = adaptor_of(st, next.opts), store = st.deps.store, current = st.record, next,
     attach_first, detach_first](jobs::ticket& t) {
      return jobs::change_uses(*a, *store, current, next, attach_first, detach_first, t);
    },
    [self, seq, rp, next, attach_first, detach_first, reply](job_result& r) mutable {
      auto& st = self->state;
      if (r.error)
        return answer(self, seq, rp, std::move(r.error));
      st.record = next;
      if (attach_first) {
        st.attached = true;
        st.mountpoint = r.path;
        st.problem.clear();
      }
      if (detach_first) {
        st.attached = false;
        st.mountpoint.clear();
      }
      answer(self, seq, rp, reply(st));
    });
}

void start_remove(self_ptr self, uint64_t seq, ok_promise& rp) {
  auto& st = self->state;
  if (!st.exists)
    return settle(self, seq, rp, make_error(ec::no_such_volume, st.record.name));
  if (auto n = st.record.total_uses(); n > 0)
    return settle(self, seq, rp, make_error(ec::in_use, st.record.name, std::to_string(n)));
  auto gone = [self, seq, rp](job_result& r) mutable {
    auto& st = self->state;
    if (!r.error) {
      st.record = volume_record{st.record.name, {}, {}, {}, {}};
      st.exists = st.attached = st.corrupt = false;
      st.mountpoint.clear();
      st.problem.clear();
      st.backend_status.clear();
    }
    if (r.error)
      return answer(self, seq, rp, std::move(r.error));
    answer(self, seq, rp, atom::ok::value);
  };
  if (st.corrupt) {
    // Unknown state never leads to deletion: the data goes to quarantine.
    run_job(self, seq,
            [store = st.deps.store, vault = st.deps.vault,
             data = st.deps.adaptors->data_paths(st.record.name),
             name = st.record.name](jobs::ticket& t) {
              return jobs::remove_corrupt(*store, vault, data, name, t);
            },
            gone);
    return;
  }
  run_job(self, seq,
          [a = adaptor_of(st, st.record.opts), store = st.deps.store,
           current = st.record](jobs::ticket& t) { return jobs::remove(*a, *store, current, t); },
          gone);
}

// At start-up: re-attach recorded uses, or read the backend's status.
void recover(self_ptr self) {
  auto& st = self->state;
  auto a = adaptor_of(st, st.record.opts);
  auto rec = st.record;
  if (st.record.total_uses() == 0) {
    internal(self, [a, rec](jobs::ticket&) { return jobs::refresh(*a, rec); },
             [](job_result&) {});
    return;
  }
  // After a reboot the mount is gone; after a crash the adaptor finds it still attached.
  // A failure keeps the uses and says why.
  internal(self, [a, rec](jobs::ticket&) { return jobs::reattach(*a, rec); },
           [self](job_result& r) {
             auto& st = self->state;
             if (r.error) {
               st.problem = "re-attach after restart failed: " + render(r.error);
               log::write(log::level::error, {{"event", "recover"},
                                              {"volume", st.record.name},
                                              {"result", st.problem}});
             } else {
               st.attached = true;
               st.mountpoint = r.path;
             }
           });
}

} // namespace

volume_actor::behavior_type volume(self_ptr self, std::string volume_name, volume_deps deps,
                                   std::optional<volume_record> recovered,
                                   std::string problem) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.record.name = std::move(volume_name);
  st.problem = std::move(problem);
  if (recovered) {
    st.record = std::move(*recovered);
    st.exists = true;
    recover(self);
  } else if (!st.problem.empty()) {
    st.exists = true;
    st.corrupt = true;
  }
  // Told to exit (shutdown) with requests queued or running: each gets an answer.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    if (st.ticket)
      st.ticket->abandon();  // a job still running rolls back instead of committing
    auto waiting = std::move(st.unanswered);
    st.unanswered.clear();
    for (auto& [seq, fail] : waiting)
      fail(make_error(ec::shutting_down, st.record.name));
    self->quit(msg.reason);
  });
  auto long_ops = st.deps.limits.long_ops;
  auto short_ops = st.deps.limits.short_ops;
  return {
    [self, long_ops](atom::create, volume_opts& opts) -> caf::result<atom::ok> {
      return admit<atom::ok>(self, long_ops, "create",
                             [self, opts](uint64_t seq, ok_promise& rp) {
                               start_create(self, seq, rp, opts);
                             });
    },
    [self, long_ops](atom::mount, std::string& id) -> caf::result<std::string> {
      using promise = caf::typed_response_promise<std::string>;
      return admit<std::string>(self, long_ops, "mount", [self, id](uint64_t seq, promise& rp) {
        auto& st = self->state;
        if (auto err = check_usable(st))
          return settle(self, seq, rp, std::move(err));
        auto next = st.record;
        if (next.uses[id]++ == 0)
          next.used_since[id] = unix_now();
        change_uses<std::string>(self, seq, rp, next,
                                 [](volume_state& st) { return st.mountpoint; });
      });
    },
    [self, short_ops](atom::unmount, std::string& id) -> caf::result<atom::ok> {
      return admit<atom::ok>(self, short_ops, "unmount", [self, id](uint64_t seq, ok_promise& rp) {
        auto& st = self->state;
        if (auto err = check_usable(st))
          return settle(self, seq, rp, std::move(err));
        if (st.record.uses.count(id) == 0)
          return settle(self, seq, rp, make_error(ec::unknown_mount_id, st.record.name, id));
        auto next = st.record;
        if (--next.uses[id] == 0) {
          next.uses.erase(id);
          next.used_since.erase(id);
        }
        change_uses<atom::ok>(self, seq, rp, next,
                              [](volume_state&) { return atom::ok::value; });
      });
    },
    [self, short_ops](atom::remove) -> caf::result<atom::ok> {
      return admit<atom::ok>(self, short_ops, "remove", [self](uint64_t seq, ok_promise& rp) {
        start_remove(self, seq, rp);
      });
    },
    [self](atom::get) -> caf::result<volume_info> {
      auto& st = self->state;
      publish(self);
      if (!st.exists)
        return make_error(ec::no_such_volume, st.record.name);
      refresh_if_stale(self);
      return info_of(st);
    },
    [self](atom::path) -> caf::result<std::string> {
      auto& st = self->state;
      publish(self);
      if (!st.exists)
        return make_error(ec::no_such_volume, st.record.name);
      return st.attached ? st.mountpoint : std::string{};
    },
    [self, short_ops](atom::drop, int64_t before) -> caf::result<std::vector<std::string>> {
      using ids = std::vector<std::string>;
      using promise = caf::typed_response_promise<ids>;
      return admit<ids>(self, short_ops, "reconcile", [self, before](uint64_t seq, promise& rp) {
        auto& st = self->state;
        ids stale;
        for (auto& [id, since] : st.record.used_since)
          if (since < before)
            stale.push_back(id);
        if (!st.exists || st.corrupt || stale.empty())
          return settle(self, seq, rp, ids{});
        auto next = st.record;
        for (auto& id : stale) {
          next.uses.erase(id);
          next.used_since.erase(id);
        }
        change_uses<ids>(self, seq, rp, next, [stale](volume_state&) { return stale; });
      });
    },
    [self](atom::timeout, uint64_t seq) {
      auto& st = self->state;
      auto i = st.unanswered.find(seq);
      if (i == st.unanswered.end())
        return;  // answered in time
      if (st.running == seq && (!st.ticket || !st.ticket->abandon()))
        return;  // its job is committing: the real answer follows
      auto fail = std::move(i->second);
      st.unanswered.erase(i);
      publish(self);
      fail(caf::error{});  // a queued request is skipped by dispatch()
    },
  };
}

} // namespace actorvol
