#include "actors/volume.hpp"

#include "actors/log.hpp"
#include "adaptors/failpoint.hpp"

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

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

volume_spec spec_of(const volume_record& r) {
  return {r.name, r.opts};
}

// -- blocking steps (they run on a WORKER) -------------------------------------------------

// Runs one adaptor step behind its failpoint ("adaptor.mount", ...).
caf::error guarded(const char* point, const std::string& vol, const std::string& what,
                   const std::function<caf::error()>& step) {
  auto fault = failpoint::hit(point);
  if (!fault.empty())
    return make_error(ec::backend_failed, vol, what + " failed: " + fault);
  return step();
}

// Attaches the backing store; puts the mountpoint into `r.path`.
caf::error attach(adaptor& a, const volume_spec& spec, job_result& r) {
  return guarded("adaptor.mount", spec.name, "mount", [&] {
    auto mp = a.mount(spec);
    if (!mp)
      return std::move(mp.error());
    r.path = std::move(*mp);
    return caf::error{};
  });
}

caf::error detach(adaptor& a, const volume_spec& spec) {
  return guarded("adaptor.unmount", spec.name, "unmount", [&] { return a.unmount(spec); });
}

// Moves the uses to `next`: attaches first when `attach_first`, detaches first when
// `detach_first`, then writes the record; a failed write undoes the attach or detach.
job_result change_uses(adaptor& a, state_store& store, const volume_record& next,
                       bool attach_first, bool detach_first) {
  auto spec = spec_of(next);
  job_result r;
  if (attach_first && (r.error = attach(a, spec, r)))
    return r;
  if (detach_first && (r.error = detach(a, spec)))
    return r;
  if ((r.error = store.write(next))) {
    if (attach_first)
      a.unmount(spec);
    if (detach_first)
      a.mount(spec);
  }
  return r;
}

// -- the actor side --------------------------------------------------------------------------

volume_info info_of(const volume_state& st) {
  volume_info info;
  info.name = st.record.name;
  info.created_at = st.record.created_at;
  info.mounts = st.record.total_uses();
  if (st.attached)
    info.mountpoint = st.mountpoint;
  if (!st.problem.empty())
    info.status["Problem"] = st.problem;
  return info;
}

// Tells the REGISTRY where this volume stands: after every request (counted, for the
// retire handshake) and after a change of its own (not counted).
void publish(self_ptr self, bool counted = true) {
  auto& st = self->state;
  if (counted)
    ++st.handled;
  self->send(st.deps.registry, atom::summary::value,
             volume_summary{info_of(st), st.exists, st.handled});
}

// Runs `work` on a WORKER and calls `done` with its outcome. `await` holds back this
// VOLUME's later messages until then, which is what serializes the volume.
void blocking(self_ptr self, std::function<job_result()> work,
              std::function<void(job_result&)> done) {
  self->request(self->state.deps.worker, caf::infinite, atom::run::value,
                job{std::move(work)})
    .await([done](job_result& r) { done(r); },
           [done](caf::error& err) {
             job_result r{std::move(err), {}};
             done(r);
           });
}

// Runs `work` on a WORKER; on success applies `commit` to the state, whose result is the
// answer. Either way the REGISTRY hears a summary before the client hears the answer.
template <class T>
caf::result<T> transition(self_ptr self, std::function<job_result()> work,
                          std::function<T(volume_state&, job_result&)> commit) {
  auto rp = self->make_response_promise<T>();
  blocking(self, std::move(work), [self, rp, commit](job_result& r) mutable {
    if (r.error) {
      publish(self);
      rp.deliver(std::move(r.error));
      return;
    }
    auto answer = commit(self->state, r);
    publish(self);
    rp.deliver(std::move(answer));
  });
  return rp;
}

// Answers at once, without blocking work.
template <class T>
caf::result<T> answer(self_ptr self, caf::result<T> x) {
  publish(self);
  return x;
}

caf::error check_usable(const volume_state& st) {
  if (!st.exists)
    return make_error(ec::no_such_volume, st.record.name);
  if (st.corrupt)
    return make_error(ec::backend_failed, st.record.name, st.problem);
  return caf::none;
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
  } else if (!st.problem.empty()) {
    st.exists = true;
    st.corrupt = true;
  }
  if (st.exists && st.record.total_uses() > 0) {
    // Uses survived a restart: attach again (after a reboot the mount is gone; after a
    // crash the adaptor finds it still attached). A failure keeps the uses and says why.
    auto adaptor = st.deps.adaptors->select(st.record.opts);
    auto spec = spec_of(st.record);
    blocking(
      self,
      [adaptor, spec] {
        job_result r;
        r.error = attach(*adaptor, spec, r);
        return r;
      },
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
        publish(self, false);
      });
  }
  return {
    [self](atom::create, volume_opts& opts) -> caf::result<atom::ok> {
      auto& st = self->state;
      auto adaptor = st.deps.adaptors->select(opts);
      volume_record next{st.record.name, opts, rfc3339_now(), {}, {}};
      if (auto err = adaptor->validate(spec_of(next)))
        return answer<atom::ok>(self, std::move(err));
      if (st.corrupt)
        return answer<atom::ok>(self, check_usable(st));
      if (st.exists && st.record.opts != opts)
        return answer<atom::ok>(self, make_error(ec::options_conflict, st.record.name));
      if (st.exists)
        return answer<atom::ok>(self, atom::ok::value);
      auto store = st.deps.store;
      return transition<atom::ok>(
        self,
        [adaptor, store, next] {
          auto spec = spec_of(next);
          job_result r;
          r.error = guarded("adaptor.create", next.name, "create",
                            [&] { return adaptor->create(spec); });
          if (!r.error && (r.error = store->write(next)))
            adaptor->remove(spec);  // leave nothing half-made behind
          return r;
        },
        [next](volume_state& st, job_result&) {
          st.record = next;
          st.exists = true;
          st.problem.clear();
          return atom::ok::value;
        });
    },
    [self](atom::mount, std::string& id) -> caf::result<std::string> {
      auto& st = self->state;
      if (auto err = check_usable(st))
        return answer<std::string>(self, std::move(err));
      auto next = st.record;
      if (next.uses[id]++ == 0)
        next.used_since[id] = unix_now();
      bool attach_first = !st.attached;
      auto adaptor = st.deps.adaptors->select(next.opts);
      auto store = st.deps.store;
      return transition<std::string>(
        self,
        [adaptor, store, next, attach_first] {
          return change_uses(*adaptor, *store, next, attach_first, false);
        },
        [next, attach_first](volume_state& st, job_result& r) {
          st.record = next;
          if (attach_first) {
            st.attached = true;
            st.mountpoint = r.path;
            st.problem.clear();
          }
          return st.mountpoint;
        });
    },
    [self](atom::unmount, std::string& id) -> caf::result<atom::ok> {
      auto& st = self->state;
      if (auto err = check_usable(st))
        return answer<atom::ok>(self, std::move(err));
      if (st.record.uses.count(id) == 0)
        return answer<atom::ok>(self, make_error(ec::unknown_mount_id, st.record.name, id));
      auto next = st.record;
      if (--next.uses[id] == 0) {
        next.uses.erase(id);
        next.used_since.erase(id);
      }
      bool detach_first = next.total_uses() == 0 && st.attached;
      auto adaptor = st.deps.adaptors->select(next.opts);
      auto store = st.deps.store;
      return transition<atom::ok>(
        self,
        [adaptor, store, next, detach_first] {
          return change_uses(*adaptor, *store, next, false, detach_first);
        },
        [next, detach_first](volume_state& st, job_result&) {
          st.record = next;
          if (detach_first) {
            st.attached = false;
            st.mountpoint.clear();
          }
          return atom::ok::value;
        });
    },
    [self](atom::remove) -> caf::result<atom::ok> {
      auto& st = self->state;
      if (!st.exists)
        return answer<atom::ok>(self, make_error(ec::no_such_volume, st.record.name));
      if (auto n = st.record.total_uses(); n > 0)
        return answer<atom::ok>(self, make_error(ec::in_use, st.record.name, std::to_string(n)));
      auto adaptor = st.deps.adaptors->select(st.record.opts);
      auto store = st.deps.store;
      auto current = st.record;
      bool corrupt = st.corrupt;
      return transition<atom::ok>(
        self,
        [adaptor, store, current, corrupt] {
          auto spec = spec_of(current);
          job_result r;
          if ((r.error = store->erase(current.name)))
            return r;
          r.error = guarded("adaptor.remove", current.name, "remove",
                            [&] { return adaptor->remove(spec); });
          if (r.error && !corrupt)
            store->write(current);  // the record comes back; the volume stays
          return r;
        },
        [](volume_state& st, job_result&) {
          st.record = volume_record{st.record.name, {}, {}, {}, {}};
          st.exists = st.attached = st.corrupt = false;
          st.mountpoint.clear();
          st.problem.clear();
          return atom::ok::value;
        });
    },
    [self](atom::get) -> caf::result<volume_info> {
      auto& st = self->state;
      if (!st.exists)
        return answer<volume_info>(self, make_error(ec::no_such_volume, st.record.name));
      auto adaptor = st.deps.adaptors->select(st.record.opts);
      auto spec = spec_of(st.record);
      auto status = std::make_shared<status_map>();
      return transition<volume_info>(
        self,
        [adaptor, spec, status] {
          *status = adaptor->status(spec);
          return job_result{};
        },
        [status](volume_state& st, job_result&) {
          auto info = info_of(st);
          for (auto& [k, v] : *status)
            info.status.emplace(k, v);  // our own Problem comes first
          return info;
        });
    },
    [self](atom::path) -> caf::result<std::string> {
      auto& st = self->state;
      if (!st.exists)
        return answer<std::string>(self, make_error(ec::no_such_volume, st.record.name));
      return answer<std::string>(self, st.attached ? st.mountpoint : std::string{});
    },
    [self](atom::drop, int64_t before) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      std::vector<std::string> stale;
      for (auto& [id, since] : st.record.used_since)
        if (since < before)
          stale.push_back(id);
      if (!st.exists || st.corrupt || stale.empty())
        return answer<std::vector<std::string>>(self, std::vector<std::string>{});
      auto next = st.record;
      for (auto& id : stale) {
        next.uses.erase(id);
        next.used_since.erase(id);
      }
      bool detach_first = next.total_uses() == 0 && st.attached;
      auto adaptor = st.deps.adaptors->select(next.opts);
      auto store = st.deps.store;
      return transition<std::vector<std::string>>(
        self,
        [adaptor, store, next, detach_first] {
          return change_uses(*adaptor, *store, next, false, detach_first);
        },
        [next, detach_first, stale](volume_state& st, job_result&) {
          st.record = next;
          if (detach_first) {
            st.attached = false;
            st.mountpoint.clear();
          }
          return stale;
        });
    },
  };
}

} // namespace actorvol
