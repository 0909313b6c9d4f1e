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

// Runs one adaptor step behind its failpoint ("adaptor.mount", ...).
caf::error guarded(const char* point, const std::string& vol, const std::string& what,
                   const std::function<caf::error()>& step) {
  auto fault = failpoint::hit(point);
  if (!fault.empty())
    return make_error(ec::backend_failed, vol, what + " failed: " + fault);
  return step();
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
  return info;
}

// Tells the REGISTRY where this volume stands; called once after every request (counted)
// and after a change of its own (not counted).
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

// The request refused before any blocking work: answered and published at once.
template <class T>
caf::result<T> refuse(self_ptr self, caf::error err) {
  publish(self);
  return err;
}

caf::error check_usable(const volume_state& st) {
  if (!st.exists)
    return make_error(ec::no_such_volume, st.record.name);
  if (!st.problem.empty() && st.record.created_at.empty())
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
    // A corrupt record: the volume exists, reports its problem, and can only be removed.
    st.exists = true;
  }
  if (recovered && st.record.total_uses() > 0) {
    // Uses survived a restart: the backing store must be attached again (after a reboot it
    // is gone; after a crash the adaptor finds it still attached).
    auto adaptor = st.deps.adaptors->select(st.record.opts);
    auto spec = spec_of(st.record);
    blocking(
      self,
      [adaptor, spec] {
        job_result r;
        r.error = guarded("adaptor.mount", spec.name, "mount", [&] {
          auto mp = adaptor->mount(spec);
          if (!mp)
            return std::move(mp.error());
          r.path = std::move(*mp);
          return caf::error{};
        });
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
        return refuse<atom::ok>(self, std::move(err));
      if (st.exists) {
        if (!st.problem.empty() && st.record.created_at.empty())
          return refuse<atom::ok>(self, check_usable(st));
        if (st.record.opts != opts)
          return refuse<atom::ok>(self, make_error(ec::options_conflict, st.record.name));
        publish(self);
        return atom::ok::value;
      }
      auto rp = self->make_response_promise<atom::ok>();
      auto store = st.deps.store;
      blocking(
        self,
        [adaptor, store, next] {
          auto spec = spec_of(next);
          if (auto err = guarded("adaptor.create", next.name, "create",
                                 [&] { return adaptor->create(spec); }))
            return job_result{std::move(err), {}};
          if (auto err = store->write(next)) {
            adaptor->remove(spec);  // leave nothing half-made behind
            return job_result{std::move(err), {}};
          }
          return job_result{};
        },
        [self, rp, next](job_result& r) mutable {
          auto& st = self->state;
          if (!r.error) {
            st.record = next;
            st.exists = true;
            st.problem.clear();
          }
          publish(self);
          if (r.error)
            rp.deliver(std::move(r.error));
          else
            rp.deliver(atom::ok::value);
        });
      return rp;
    },
    [self](atom::mount, std::string& id) -> caf::result<std::string> {
      auto& st = self->state;
      if (auto err = check_usable(st))
        return refuse<std::string>(self, std::move(err));
      auto next = st.record;
      if (next.uses[id]++ == 0)
        next.used_since[id] = unix_now();
      bool attach = !st.attached;
      auto adaptor = st.deps.adaptors->select(next.opts);
      auto store = st.deps.store;
      auto rp = self->make_response_promise<std::string>();
      blocking(
        self,
        [adaptor, store, next, attach] {
          auto spec = spec_of(next);
          job_result r;
          if (attach) {
            r.error = guarded("adaptor.mount", next.name, "mount", [&] {
              auto mp = adaptor->mount(spec);
              if (!mp)
                return std::move(mp.error());
              r.path = std::move(*mp);
              return caf::error{};
            });
            if (r.error)
              return r;
          }
          if (auto err = store->write(next)) {
            if (attach)
              adaptor->unmount(spec);  // back to the state before this request
            return job_result{std::move(err), {}};
          }
          return r;
        },
        [self, rp, next, attach](job_result& r) mutable {
          auto& st = self->state;
          if (!r.error) {
            st.record = next;
            if (attach) {
              st.attached = true;
              st.mountpoint = r.path;
              st.problem.clear();
            }
          }
          publish(self);
          if (r.error)
            rp.deliver(std::move(r.error));
          else
            rp.deliver(st.mountpoint);
        });
      return rp;
    },
    [self](atom::unmount, std::string& id) -> caf::result<atom::ok> {
      auto& st = self->state;
      if (auto err = check_usable(st))
        return refuse<atom::ok>(self, std::move(err));
      auto i = st.record.uses.find(id);
      if (i == st.record.uses.end())
        return refuse<atom::ok>(self, make_error(ec::unknown_mount_id, st.record.name, id));
      auto next = st.record;
      if (--next.uses[id] == 0) {
        next.uses.erase(id);
        next.used_since.erase(id);
      }
      bool detach = next.total_uses() == 0 && st.attached;
      auto adaptor = st.deps.adaptors->select(next.opts);
      auto store = st.deps.store;
      auto rp = self->make_response_promise<atom::ok>();
      blocking(
        self,
        [adaptor, store, next, detach] {
          auto spec = spec_of(next);
          if (detach) {
            if (auto err = guarded("adaptor.unmount", next.name, "unmount",
                                   [&] { return adaptor->unmount(spec); }))
              return job_result{std::move(err), {}};
          }
          if (auto err = store->write(next)) {
            if (detach)
              adaptor->mount(spec);  // back to the state before this request
            return job_result{std::move(err), {}};
          }
          return job_result{};
        },
        [self, rp, next, detach](job_result& r) mutable {
          auto& st = self->state;
          if (!r.error) {
            st.record = next;
            if (detach) {
              st.attached = false;
              st.mountpoint.clear();
            }
          }
          publish(self);
          if (r.error)
            rp.deliver(std::move(r.error));
          else
            rp.deliver(atom::ok::value);
        });
      return rp;
    },
    [self](atom::remove) -> caf::result<atom::ok> {
      auto& st = self->state;
      if (!st.exists)
        return refuse<atom::ok>(self, make_error(ec::no_such_volume, st.record.name));
      if (auto n = st.record.total_uses(); n > 0)
        return refuse<atom::ok>(self,
                                make_error(ec::in_use, st.record.name, std::to_string(n)));
      auto adaptor = st.deps.adaptors->select(st.record.opts);
      auto store = st.deps.store;
      auto current = st.record;
      bool attached = st.attached;
      auto rp = self->make_response_promise<atom::ok>();
      blocking(
        self,
        [adaptor, store, current, attached] {
          auto spec = spec_of(current);
          if (auto err = store->erase(current.name))
            return job_result{std::move(err), {}};
          if (attached)
            adaptor->unmount(spec);
          if (auto err = guarded("adaptor.remove", current.name, "remove",
                                 [&] { return adaptor->remove(spec); })) {
            store->write(current);  // the record comes back; the volume stays
            return job_result{std::move(err), {}};
          }
          return job_result{};
        },
        [self, rp](job_result& r) mutable {
          auto& st = self->state;
          if (!r.error) {
            st.exists = false;
            st.attached = false;
            st.mountpoint.clear();
            st.problem.clear();
            st.record = volume_record{st.record.name, {}, {}, {}, {}};
          }
          publish(self);
          if (r.error)
            rp.deliver(std::move(r.error));
          else
            rp.deliver(atom::ok::value);
        });
      return rp;
    },
    [self](atom::get) -> caf::result<volume_info> {
      auto& st = self->state;
      if (!st.exists)
        return refuse<volume_info>(self, make_error(ec::no_such_volume, st.record.name));
      auto rp = self->make_response_promise<volume_info>();
      auto adaptor = st.deps.adaptors->select(st.record.opts);
      auto spec = spec_of(st.record);
      auto status = std::make_shared<status_map>();
      blocking(
        self,
        [adaptor, spec, status] {
          *status = adaptor->status(spec);
          return job_result{};
        },
        [self, rp, status](job_result& r) mutable {
          auto info = info_of(self->state);
          for (auto& [k, v] : *status)
            info.status.emplace(k, v);
          if (r.error)  // Get never fails for a volume that exists
            info.status["Problem"] = render(r.error);
          publish(self);
          rp.deliver(std::move(info));
        });
      return rp;
    },
    [self](atom::path) -> caf::result<std::string> {
      auto& st = self->state;
      if (!st.exists)
        return refuse<std::string>(self, make_error(ec::no_such_volume, st.record.name));
      publish(self);
      return st.attached ? st.mountpoint : std::string{};
    },
    [self](atom::drop, int64_t before) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      std::vector<std::string> stale;
      for (auto& [id, since] : st.record.used_since)
        if (since < before)
          stale.push_back(id);
      if (!st.exists || stale.empty()) {
        publish(self);
        return stale;
      }
      auto next = st.record;
      for (auto& id : stale) {
        next.uses.erase(id);
        next.used_since.erase(id);
      }
      bool detach = next.total_uses() == 0 && st.attached;
      auto adaptor = st.deps.adaptors->select(next.opts);
      auto store = st.deps.store;
      auto rp = self->make_response_promise<std::vector<std::string>>();
      blocking(
        self,
        [adaptor, store, next, detach] {
          if (auto err = store->write(next))
            return job_result{std::move(err), {}};
          if (detach)
            adaptor->unmount(spec_of(next));
          return job_result{};
        },
        [self, rp, next, detach, stale](job_result& r) mutable {
          auto& st = self->state;
          if (!r.error) {
            st.record = next;
            if (detach) {
              st.attached = false;
              st.mountpoint.clear();
            }
          }
          publish(self);
          if (r.error)
            rp.deliver(std::move(r.error));
          else
            rp.deliver(stale);
        });
      return rp;
    },
  };
}

} // namespace actorvol
