#include "actors/registry.hpp"

#include "core/log.hpp"

#include <caf/all.hpp>

namespace actorvol {

namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;
using entry = registry_state::entry;

// Keeps the Opts of an idle volume in its entry.
void keep_opts(entry& e, volume_opts opts) {
  e.idle_opts = opts.empty() ? nullptr : std::make_unique<volume_opts>(std::move(opts));
}

// Spawns the VOLUME of `name` from `origin` (a new volume: an empty origin).
entry& spawn_volume(self_ptr self, const std::string& name, volume_origin origin) {
  auto& st = self->state;
  auto& e = st.volumes[name];
  if (!e.slot)
    e.slot = st.deps.view->open(name);
  origin.slot = e.slot;
  e.actor = self->spawn(volume, name, st.deps, std::move(origin));
  e.sent = 0;
  self->monitor(e.actor);
  return e;
}

// The VOLUME of a sleeping volume, woken from the record the REGISTRY kept. Every entry
// without a VOLUME is a sleeping one once start-up is over: a volume with uses gets its
// VOLUME in start()'s last adoption, which the REGISTRY takes before any request (requests
// are read only after start() returns; the mailbox keeps the order).
void wake(self_ptr self, const std::string& name, entry& e) {
  volume_origin origin;
  origin.record = sleeping_record(name, e);
  origin.woken = true;
  if (auto published = e.slot->load())
    origin.status = published->info.status;
  e.idle = false;
  e.idle_opts.reset();
  spawn_volume(self, name, std::move(origin));
}

// Finds (or, with `spawn`, makes) the VOLUME of `name`, counts one more request sent to it
// (a VOLUME is retired only once it has handled all of them), and delegates `xs` to it.
// An invalid or (without `spawn`) unknown name is answered at once.
template <class Result, class... Ts>
caf::result<Result> count_and_delegate(self_ptr self, const std::string& name, bool spawn,
                                       Ts&&... xs) {
  if (!valid_volume_name(name))
    return make_error(ec::invalid_name, printable(name));
  auto& vols = self->state.volumes;
  auto i = vols.find(name);
  if (i == vols.end() && !spawn)
    return make_error(ec::no_such_volume, name);
  auto& e = i != vols.end() ? i->second : spawn_volume(self, name, {});
  if (!e.actor)
    wake(self, name, e);
  ++e.sent;
  return self->delegate(e.actor, std::forward<Ts>(xs)...);
}

// What Get answers for volume `name` without its VOLUME: its entry in the read view. None:
// no such volume here, not created yet, removed, or re-attaching at start; its VOLUME
// answers.
read_view::entry_ptr readable(self_ptr self, const std::string& name) {
  auto i = self->state.volumes.find(name);
  if (i == self->state.volumes.end())
    return nullptr;
  auto v = i->second.slot->load();
  return v && v->answers_reads() ? v : nullptr;
}

// Has the VOLUME of `name` read its backend's status again in the background (whoever
// answered a Get from the view claimed the turn: at most once a second per volume; the
// answer does not wait). A sleeping volume is woken for that, and sleeps again after the
// read unless it found a problem: a volume read often costs one short-lived VOLUME a
// second, not one per Get.
void refresh(self_ptr self, const std::string& name) {
  auto i = self->state.volumes.find(name);
  if (i == self->state.volumes.end() || !i->second.exists)
    return;
  auto& e = i->second;
  if (!e.actor)
    wake(self, name, e);
  ++e.sent;  // handled like a request: no retiring before it is
  self->send(e.actor, atom::refresh::value);
}

// The VOLUME of `e` is no longer kept idle (busy again, or stopped).
void not_kept(self_ptr self, entry& e) {
  if (e.idle_since == std::chrono::steady_clock::time_point{})
    return;
  e.idle_since = {};
  --self->state.kept_count;
}

// A VOLUME went down (it failed): forget it; its name can be used again.
void forget(self_ptr self, const caf::down_msg& dm) {
  auto& vols = self->state.volumes;
  for (auto i = vols.begin(); i != vols.end(); ++i) {
    if (i->second.actor.address() == dm.source) {
      log::write(log::level::error, {{"event", "volume-down"},
                                     {"volume", i->first},
                                     {"reason", caf::to_string(dm.reason)}});
      self->state.deps.view->withdraw(i->first);
      not_kept(self, i->second);
      vols.erase(i);
      return;
    }
  }
}

// Shutdown: every VOLUME is told to exit (each answers what still waits), then the REGISTRY.
void stop_all(self_ptr self, const caf::exit_msg& msg) {
  for (auto& [name, e] : self->state.volumes)
    if (e.actor)
      self->send_exit(e.actor, msg.reason);
  self->state.volumes.clear();
  self->quit(msg.reason);
}

// Takes a part of the records read at start-up, made ready by prepare_adoption: splices its
// entries in (the journal reads them in name order: each goes in at the end, without a
// search), and spawns the VOLUMEs it names (after the last part: see start()); one that
// re-attaches uses now, one with an unreadable record on its first request.
void adopt(self_ptr self, adoption& part) {
  auto& vols = self->state.volumes;
  while (!part.entries.empty())
    vols.insert(vols.end(), part.entries.extract(part.entries.begin()));
  for (auto& [name, origin] : part.awake) {
    auto& e = vols.at(name);
    if (origin.record)
      e.actor = self->spawn(volume, name, self->state.deps, std::move(origin));
    else
      e.actor = self->spawn<caf::lazy_init>(volume, name, self->state.deps, std::move(origin));
    self->monitor(e.actor);
  }
}

// Stops the VOLUME of `e` (no request on its way to it, nothing of its running).
void stop_volume(self_ptr self, entry& e) {
  self->demonitor(e.actor.address());
  self->send_exit(e.actor, caf::exit_reason::user_shutdown);
  e.actor = nullptr;
  not_kept(self, e);
}

// Whether the VOLUME of `e` idles with nothing on its way to it, as it did at `since`.
bool still_idle(const entry& e, std::chrono::steady_clock::time_point since) {
  return e.actor && e.idle_since == since && e.idle && e.handled == e.sent && !e.busy;
}

// Retires the VOLUMEs kept idle since `before` or earlier, and the longest idle beyond the
// number kept; returns when the next one is due.
void retire_idle(self_ptr self, std::chrono::steady_clock::time_point before) {
  auto& st = self->state;
  while (!st.kept_idle.empty()
         && (st.kept_idle.front().second <= before || st.kept_count > st.deps.keep_idle_max)) {
    auto [name, since] = std::move(st.kept_idle.front());
    st.kept_idle.pop_front();
    auto i = st.volumes.find(name);
    if (i == st.volumes.end() || i->second.idle_since != since)
      continue;  // moved on since: busy again, or idle again with a later pair
    if (still_idle(i->second, since))
      stop_volume(self, i->second);  // sleeps: the entry keeps its record
    else
      not_kept(self, i->second);  // a request is on its way: its summary queues it again
  }
}

void schedule_sweep(self_ptr self) {
  auto& st = self->state;
  if (st.sweeping || st.kept_idle.empty())
    return;
  st.sweeping = true;
  self->delayed_send(self, st.deps.keep_idle, atom::timeout::value);
}

void sweep(self_ptr self) {
  self->state.sweeping = false;
  retire_idle(self, std::chrono::steady_clock::now() - self->state.deps.keep_idle);
  schedule_sweep(self);
}

// Keeps a VOLUME's latest summary, and retires a VOLUME whose volume is gone (or idle: see
// retire_idle) once no request is on its way to it and no job of its runs.
void take_summary(self_ptr self, volume_summary& s) {
  auto& st = self->state;
  auto& vols = st.volumes;
  auto i = vols.find(s.name);
  if (i == vols.end()
      || caf::actor_cast<caf::actor_addr>(self->current_sender()) != i->second.actor.address())
    return;
  auto& e = i->second;
  e.handled = s.handled;
  e.busy = s.busy;
  e.exists = s.exists;
  e.idle = s.idle_record && e.handled == e.sent && !e.busy;
  if (e.idle) {
    keep_opts(e, std::move(s.idle_record->opts));
  } else {  // a request is on its way, or a job of its runs, or uses
    e.idle_opts.reset();
    not_kept(self, e);
  }
  if (e.handled != e.sent || e.busy)
    return;
  if (!e.exists) {
    stop_volume(self, e);
    st.deps.view->withdraw(i->first);
    vols.erase(i);
  } else if (e.idle && st.deps.keep_idle.count() <= 0) {
    stop_volume(self, e);  // sleeps: the entry keeps its record
  } else if (e.idle && e.idle_since == std::chrono::steady_clock::time_point{}) {
    e.idle_since = std::chrono::steady_clock::now();
    ++st.kept_count;
    st.kept_idle.emplace_back(i->first, e.idle_since);
    retire_idle(self, {});  // beyond keep_idle_max only
    schedule_sweep(self);
  }
}

} // namespace

adoption_ptr prepare_adoption(read_view& view, std::vector<loaded_record> part,
                              std::vector<std::pair<std::string, volume_origin>>& awake) {
  auto result = std::make_shared<adoption>();
  for (auto& l : part) {
    auto& e = result->entries
                .emplace_hint(result->entries.end(), std::piecewise_construct,
                              std::forward_as_tuple(l.name), std::tuple<>{})
                ->second;
    e.exists = true;
    volume_info info;
    info.name = l.name;
    if (l.record) {
      info.created_at = l.record->created_at;
      info.mounts = l.record->total_uses();
    }
    // A volume with nothing to re-attach sleeps: its entry keeps its Opts, and Get, Path and
    // List answer from what the record says.
    bool sleeps = l.record && info.mounts == 0;
    // Listed from now on; Get and Path answered from here only for a sleeping volume (the
    // VOLUME of any other answers them itself until it publishes). Published before the
    // VOLUME exists, so that nothing it publishes is overwritten.
    e.slot = view.open(l.name);
    view.publish(*e.slot, info, true, sleeps, false);
    if (sleeps) {
      e.idle = true;
      keep_opts(e, std::move(l.record->opts));
      continue;
    }
    volume_origin origin;
    origin.record = std::move(l.record);
    origin.problem = std::move(l.problem);
    origin.slot = e.slot;
    awake.emplace_back(l.name, std::move(origin));
  }
  return result;
}

volume_record sleeping_record(const std::string& name, const registry_state::entry& e) {
  volume_record r;
  r.name = name;
  if (e.idle_opts)
    r.opts = *e.idle_opts;
  if (auto published = e.slot->load())
    r.created_at = published->info.created_at;
  return r;
}

registry_actor::behavior_type registry(self_ptr self, volume_deps deps) {
  self->state.deps = std::move(deps);
  if (!self->state.deps.view)
    self->state.deps.view = std::make_shared<read_view>();
  self->state.deps.registry = caf::actor_cast<summary_sink>(self);
  self->set_down_handler([self](caf::down_msg& dm) { forget(self, dm); });
  self->set_exit_handler([self](caf::exit_msg& msg) { stop_all(self, msg); });
  return {
    [self](atom::create, std::string& name, volume_opts& opts) {
      return count_and_delegate<atom::ok>(self, name, true, atom::create::value, std::move(opts));
    },
    [self](atom::mount, std::string& name, std::string& id) {
      return count_and_delegate<std::string>(self, name, false, atom::mount::value, std::move(id));
    },
    [self](atom::unmount, std::string& name, std::string& id) {
      return count_and_delegate<atom::ok>(self, name, false, atom::unmount::value, std::move(id));
    },
    [self](atom::remove, std::string& name) {
      return count_and_delegate<atom::ok>(self, name, false, atom::remove::value);
    },
    [self](atom::get, std::string& name) -> caf::result<volume_info> {
      if (auto v = readable(self, name)) {
        if (read_view::claim_hint(*v))
          refresh(self, name);
        return v->info;
      }
      return count_and_delegate<volume_info>(self, name, false, atom::get::value);
    },
    [self](atom::path, std::string& name) -> caf::result<std::string> {
      if (auto v = readable(self, name))
        return v->info.mountpoint;
      return count_and_delegate<std::string>(self, name, false, atom::path::value);
    },
    [self](atom::list) -> view_listing {
      // From the view, like Get: List sees each change when Get does, all at one instant
      // (no publish while it reads). Only pointers are copied; the I/O thread renders them.
      // An unchanged view (no publish, no withdrawal since) gives the last answer again.
      auto& st = self->state;
      auto& view = *st.deps.view;
      auto still = view.hold_still();
      if (st.listed && st.listed_version == view.version())
        return st.listed;
      auto result = std::make_shared<listing>();
      result->entries.reserve(st.volumes.size());
      for (auto& [name, e] : st.volumes)
        if (auto v = e.slot->load(); v && v->exists)
          result->entries.push_back(std::move(v));
      st.listed = std::move(result);
      st.listed_version = view.version();
      return st.listed;
    },
    [self](atom::drop, std::string& name, int64_t before) {
      return count_and_delegate<std::vector<std::string>>(self, name, false, atom::drop::value,
                                                          before);
    },
    [self](atom::adopt, adoption_ptr& part) { adopt(self, *part); },
    [self](atom::summary, volume_summary& s) { take_summary(self, s); },
    [self](atom::refresh, std::string& name) { refresh(self, name); },
    [self](atom::timeout) { sweep(self); },
  };
}

} // namespace actorvol
