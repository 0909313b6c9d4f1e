#include "actors/volume.hpp"

#include "actors/volume_queue.hpp"
#include "core/log.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <ctime>
#include <memory>

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

using namespace volume_queue;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
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
  // The same Opts again is ok, even those a newer release refuses (the volume exists).
  if (st.exists && !st.corrupt && st.record.opts == opts)
    return settle(self, seq, rp, atom::ok::value);
  if (auto err = a->validate({next.name, next.opts}))
    return settle(self, seq, rp, std::move(err));
  if (st.corrupt)
    return settle(self, seq, rp, check_usable(st));
  if (st.exists && st.record.opts != opts)
    return settle(self, seq, rp, make_error(ec::options_conflict, st.record.name));
  if (st.exists)
    return settle(self, seq, rp, atom::ok::value);
  auto leftovers = st.deps.adaptors->data_paths(next.name);
  // One copy, shared by the steps and the answer below.
  auto made = std::make_shared<const volume_record>(std::move(next));
  auto done = [self, seq, rp, made](job_result& r) mutable {
    auto& st = self->state;
    if (!r.error) {
      st.record = *made;
      st.exists = true;
      st.problem.clear();
    }
    if (r.error)
      return answer(self, seq, rp, std::move(r.error));
    answer(self, seq, rp, atom::ok::value);
  };
  if (a->quick())
    return run_staged(self, seq,
                      {[a, vault = st.deps.vault, leftovers,
                        made] { return jobs::create_step(*a, vault, leftovers, *made); },
                       made, std::nullopt,
                       [a, made](job_result& r) { jobs::create_undo(*a, *made, r); }},
                      std::move(done));
  run_job(
    self, seq,
    [a, store = st.deps.store, vault = st.deps.vault, leftovers, made](jobs::ticket& t) {
      return jobs::create(*a, *store, vault, leftovers, *made, t);
    },
    std::move(done));
}

// Moves the uses to `next` (Mount, Unmount, reconcile drops); `reply` makes the answer.
template <class T>
void change_uses(self_ptr self, uint64_t seq, caf::typed_response_promise<T>& rp,
                 volume_record next_record, std::function<T(volume_state&)> reply) {
  auto& st = self->state;
  // One copy, shared by the steps and the answer below (each of them held its own).
  auto next = std::make_shared<const volume_record>(std::move(next_record));
  bool attach_first = next->total_uses() > 0 && !st.attached;
  bool detach_first = next->total_uses() == 0 && st.attached;
  auto a = adaptor_of(st, next->opts);
  auto done = [self, seq, rp, next, attach_first, detach_first,
               reply = std::move(reply)](job_result& r) mutable {
    auto& st = self->state;
    if (r.error)
      return answer(self, seq, rp, std::move(r.error));
    st.record = *next;
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
  };
  if (a->quick()) {
    // A change that attaches nothing and detaches nothing only writes the record (unless a
    // test set the failpoint adaptor.unmount: see uses_need_step).
    if (!jobs::uses_need_step(*a, attach_first, detach_first))
      return run_staged(self, seq, {nullptr, next, st.record, nullptr}, std::move(done));
    return run_staged(
      self, seq,
      {[a, next, attach_first,
        detach_first] { return jobs::uses_step(*a, *next, attach_first, detach_first); },
       next, st.record,
       [a, next, attach_first, detach_first](job_result& r) {
         jobs::uses_undo(*a, *next, attach_first, detach_first, r);
       }},
      std::move(done));
  }
  run_job(
    self, seq,
    [a, store = st.deps.store, current = st.record, next, attach_first,
     detach_first](jobs::ticket& t) {
      return jobs::change_uses(*a, *store, current, *next, attach_first, detach_first, t);
    },
    std::move(done));
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

// Get and Path answer at once from the committed state. Only while the VOLUME re-attaches
// its recorded uses at start (its mountpoint is not known before) do they wait for that, and
// then only until their deadline: a re-attach that hangs makes them answer from what is
// known (no mountpoint yet, Status "Recovering"), never fail.
template <class T>
caf::result<T> read(self_ptr self, std::function<caf::expected<T>()> now) {
  auto& st = self->state;
  if (!st.recovering) {
    publish(self);
    auto x = now();
    if (!x)
      return std::move(x.error());
    return std::move(*x);
  }
  auto rp = self->make_response_promise<T>();
  auto seq = st.next_seq++;
  auto deliver_now = [rp, now]() mutable {
    auto x = now();
    if (x)
      rp.deliver(std::move(*x));
    else
      rp.deliver(std::move(x.error()));
  };
  st.unanswered[seq] = [rp, deliver_now](caf::error why) mutable {
    if (why)
      rp.deliver(std::move(why));  // shutting down
    else
      deliver_now();               // its deadline: answer from what is known
  };
  arm_deadline(self, st.deps.limits.short_ops, seq);
  st.queue.push_back({seq, false, [self, seq, deliver_now]() mutable {
                        if (self->state.unanswered.erase(seq) > 0) {
                          publish(self);
                          deliver_now();
                        }
                        finish(self, seq);
                      }});
  dispatch(self);
  return rp;
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
  st.recovering = true;
  internal(self, [a, rec](jobs::ticket&) { return jobs::reattach(*a, rec); },
           [self](job_result& r) {
             auto& st = self->state;
             st.recovering = false;
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

// Mount, Unmount and a reconcile drop: `next_of` gives the volume's next record (or an error
// to answer at once); an unchanged record is answered at once too, else change_uses() moves
// to it. `reply` makes the answer from the state afterwards.
template <class T>
caf::result<T> admit_uses_change(self_ptr self, std::chrono::milliseconds limit,
                                 const char* what,
                                 std::function<caf::expected<volume_record>(volume_state&)> next_of,
                                 std::function<T(volume_state&)> reply) {
  using promise = caf::typed_response_promise<T>;
  return admit<T>(self, limit, what, [self, next_of, reply](uint64_t seq, promise& rp) {
    auto& st = self->state;
    auto next = next_of(st);
    if (!next)
      return settle(self, seq, rp, std::move(next.error()));
    if (*next == st.record)
      return settle(self, seq, rp, reply(st));
    change_uses<T>(self, seq, rp, std::move(*next), reply);
  });
}

caf::expected<volume_record> mounted_once_more(volume_state& st, const std::string& id) {
  if (auto err = check_usable(st))
    return err;
  auto next = st.record;
  if (next.uses[id]++ == 0)
    next.used_since[id] = unix_now();
  return next;
}

caf::expected<volume_record> mounted_once_less(volume_state& st, const std::string& id) {
  if (auto err = check_usable(st))
    return err;
  if (st.record.uses.count(id) == 0)
    return make_error(ec::unknown_mount_id, st.record.name, id);
  auto next = st.record;
  if (--next.uses[id] == 0) {
    next.uses.erase(id);
    next.used_since.erase(id);
  }
  return next;
}

// The mount IDs first used before `before` (none on a volume that is gone or corrupt).
std::vector<std::string> stale_ids(const volume_state& st, int64_t before) {
  std::vector<std::string> stale;
  if (st.exists && !st.corrupt)
    for (auto& [id, since] : st.record.used_since)
      if (since < before)
        stale.push_back(id);
  return stale;
}

// The deadline of request `seq` has passed: a queued request fails, a running one is
// abandoned (its job rolls back instead of committing).
void on_deadline(self_ptr self, uint64_t seq) {
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
}

// Told to exit (shutdown) with requests queued or running: each gets an answer.
void on_exit(self_ptr self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (st.ticket)
    st.ticket->abandon();  // a job still running rolls back instead of committing
  auto waiting = std::move(st.unanswered);
  st.unanswered.clear();
  if (st.writing) {
    // Its write is queued and will be committed: only its outcome may answer it, so the
    // VOLUME stays until then (volume_queue::finish ends it).
    if (auto i = waiting.find(st.running); i != waiting.end()) {
      st.unanswered.insert(*i);
      waiting.erase(i);
    }
    st.queue.clear();
    st.exit_after_write = msg.reason;
  }
  for (auto& [seq, fail] : waiting)
    fail(make_error(ec::shutting_down, st.record.name));
  if (!st.exit_after_write)
    self->quit(msg.reason);
}

void init(self_ptr self, std::string volume_name, volume_deps deps, volume_origin origin) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.record.name = std::move(volume_name);
  st.problem = std::move(origin.problem);
  st.slot = std::move(origin.slot);
  if (origin.record) {
    st.record = std::move(*origin.record);
    st.exists = true;
    if (!origin.woken)
      recover(self);
    else
      st.backend_status = std::move(origin.status);  // read when? unknown: stale
  } else if (!st.problem.empty()) {
    st.exists = true;
    st.corrupt = true;
  }
  self->set_exit_handler([self](caf::exit_msg& msg) { on_exit(self, msg); });
}

} // namespace

volume_actor::behavior_type volume(self_ptr self, std::string volume_name, volume_deps deps,
                                   volume_origin origin) {
  init(self, std::move(volume_name), std::move(deps), std::move(origin));
  auto long_ops = self->state.deps.limits.long_ops;
  auto short_ops = self->state.deps.limits.short_ops;
  using ids = std::vector<std::string>;
  return {
    [self, long_ops](atom::create, volume_opts& opts) -> caf::result<atom::ok> {
      return admit<atom::ok>(self, long_ops, "create", [self, opts](uint64_t seq, ok_promise& rp) {
        start_create(self, seq, rp, opts);
      });
    },
    [self, long_ops](atom::mount, std::string& id) {
      return admit_uses_change<std::string>(
        self, long_ops, "mount", [id](volume_state& st) { return mounted_once_more(st, id); },
        [](volume_state& st) { return st.mountpoint; });
    },
    [self, short_ops](atom::unmount, std::string& id) {
      return admit_uses_change<atom::ok>(
        self, short_ops, "unmount", [id](volume_state& st) { return mounted_once_less(st, id); },
        [](volume_state&) { return atom::ok::value; });
    },
    [self, short_ops](atom::remove) -> caf::result<atom::ok> {
      return admit<atom::ok>(self, short_ops, "remove", [self](uint64_t seq, ok_promise& rp) {
        start_remove(self, seq, rp);
      });
    },
    [self](atom::get) {
      return read<volume_info>(self, [self]() -> caf::expected<volume_info> {
        if (!self->state.exists)
          return make_error(ec::no_such_volume, self->state.record.name);
        refresh_if_stale(self);
        return info_of(self->state);
      });
    },
    [self](atom::path) {
      return read<std::string>(self, [self]() -> caf::expected<std::string> {
        if (!self->state.exists)
          return make_error(ec::no_such_volume, self->state.record.name);
        return self->state.attached ? self->state.mountpoint : std::string{};
      });
    },
    [self, short_ops](atom::drop, int64_t before) {
      auto dropped = std::make_shared<ids>();  // found when the request runs, then answered
      return admit_uses_change<ids>(
        self, short_ops, "reconcile",
        [before, dropped](volume_state& st) -> caf::expected<volume_record> {
          *dropped = stale_ids(st, before);
          auto next = st.record;
          for (auto& id : *dropped) {
            next.uses.erase(id);
            next.used_since.erase(id);
          }
          return next;
        },
        [dropped](volume_state&) { return *dropped; });
    },
    [self](atom::timeout) { check_deadlines(self, on_deadline); },
    [self](atom::committed, uint64_t seq, caf::error& err) {
      settle_staged(self, seq, std::move(err));
    },
    [self](atom::refresh) {
      refresh_if_stale(self);
      publish(self);  // counted: the REGISTRY retires no VOLUME with a hint on its way
    },
  };
}

} // namespace actorvol
