#include "actors/registry.hpp"

#include "core/log.hpp"

#include <caf/all.hpp>

namespace actorvol {

namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;
using entry = registry_state::entry;

entry& spawn_volume(self_ptr self, const std::string& name,
                    std::optional<volume_record> recovered, std::string problem) {
  auto& st = self->state;
  auto& e = st.volumes[name];
  // A VOLUME with nothing to do at start (no uses to re-attach) is only scheduled when its
  // first message arrives, which keeps recovering 100,000 volumes cheap.
  if (recovered && recovered->total_uses() > 0)
    e.actor = self->spawn(volume, name, st.deps, std::move(recovered), std::move(problem));
  else
    e.actor = self->spawn<caf::lazy_init>(volume, name, st.deps, std::move(recovered),
                                          std::move(problem));
  self->monitor(e.actor);
  e.last.info.name = name;
  return e;
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
  auto& e = i != vols.end() ? i->second : spawn_volume(self, name, std::nullopt, {});
  ++e.sent;
  return self->delegate(e.actor, std::forward<Ts>(xs)...);
}

// A VOLUME went down (it failed): forget it; its name can be used again.
void forget(self_ptr self, const caf::down_msg& dm) {
  auto& vols = self->state.volumes;
  for (auto i = vols.begin(); i != vols.end(); ++i) {
    if (i->second.actor.address() == dm.source) {
      log::write(log::level::error, {{"event", "volume-down"},
                                     {"volume", i->first},
                                     {"reason", caf::to_string(dm.reason)}});
      vols.erase(i);
      return;
    }
  }
}

// Shutdown: every VOLUME is told to exit (each answers what still waits), then the REGISTRY.
void stop_all(self_ptr self, const caf::exit_msg& msg) {
  for (auto& [name, e] : self->state.volumes)
    self->send_exit(e.actor, msg.reason);
  self->state.volumes.clear();
  self->quit(msg.reason);
}

// Spawns the VOLUME of a record read at start-up (`problem`: why it is suspect, or empty).
void adopt(self_ptr self, const volume_record& r, const std::string& problem) {
  std::optional<volume_record> recovered;
  if (problem.empty())
    recovered = r;
  auto& e = spawn_volume(self, r.name, std::move(recovered), problem);
  e.last.exists = true;
  e.last.info.created_at = r.created_at;
  e.last.info.mounts = r.total_uses();
}

// Keeps a VOLUME's latest summary (List answers from these), and retires a VOLUME whose
// volume is gone once no request is on its way to it and no job of its runs.
void take_summary(self_ptr self, volume_summary& s) {
  auto& vols = self->state.volumes;
  auto i = vols.find(s.info.name);
  if (i == vols.end()
      || caf::actor_cast<caf::actor_addr>(self->current_sender()) != i->second.actor.address())
    return;
  auto& e = i->second;
  e.last = std::move(s);
  if (!e.last.exists && e.last.handled == e.sent && !e.last.busy) {
    self->demonitor(e.actor.address());
    self->send_exit(e.actor, caf::exit_reason::user_shutdown);
    vols.erase(i);
  }
}

} // namespace

registry_actor::behavior_type registry(self_ptr self, volume_deps deps) {
  self->state.deps = std::move(deps);
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
    [self](atom::get, std::string& name) {
      return count_and_delegate<volume_info>(self, name, false, atom::get::value);
    },
    [self](atom::path, std::string& name) {
      return count_and_delegate<std::string>(self, name, false, atom::path::value);
    },
    [self](atom::list) -> volume_infos {
      volume_infos result;
      for (auto& [name, e] : self->state.volumes)
        if (e.last.exists)
          result.push_back(e.last.info);
      return result;
    },
    [self](atom::drop, std::string& name, int64_t before) {
      return count_and_delegate<std::vector<std::string>>(self, name, false, atom::drop::value,
                                                          before);
    },
    [self](atom::adopt, volume_record& r, std::string& problem) { adopt(self, r, problem); },
    [self](atom::summary, volume_summary& s) { take_summary(self, s); },
  };
}

} // namespace actorvol
