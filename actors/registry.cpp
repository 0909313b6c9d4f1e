#include "actors/registry.hpp"

#include "actors/log.hpp"

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

// The VOLUME for `name`, or an error when the name is invalid or (unless `spawn`) unknown.
caf::expected<entry*> lookup(self_ptr self, const std::string& name, bool spawn = false) {
  if (!valid_volume_name(name))
    return make_error(ec::invalid_name, printable(name));
  auto& vols = self->state.volumes;
  if (auto i = vols.find(name); i != vols.end()) {
    ++i->second.sent;
    return &i->second;
  }
  if (!spawn)
    return make_error(ec::no_such_volume, name);
  auto& e = spawn_volume(self, name, std::nullopt, {});
  ++e.sent;
  return &e;
}

} // namespace

registry_actor::behavior_type registry(self_ptr self, volume_deps deps) {
  self->state.deps = std::move(deps);
  self->state.deps.registry = caf::actor_cast<summary_sink>(self);
  self->set_down_handler([self](caf::down_msg& dm) {
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
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [name, e] : self->state.volumes)
      self->send_exit(e.actor, msg.reason);
    self->state.volumes.clear();
    self->quit(msg.reason);
  });
  return {
    [self](atom::create, std::string& name, volume_opts& opts) -> caf::result<atom::ok> {
      auto e = lookup(self, name, true);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::create::value, std::move(opts));
    },
    [self](atom::mount, std::string& name, std::string& id) -> caf::result<std::string> {
      auto e = lookup(self, name);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::mount::value, std::move(id));
    },
    [self](atom::unmount, std::string& name, std::string& id) -> caf::result<atom::ok> {
      auto e = lookup(self, name);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::unmount::value, std::move(id));
    },
    [self](atom::remove, std::string& name) -> caf::result<atom::ok> {
      auto e = lookup(self, name);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::remove::value);
    },
    [self](atom::get, std::string& name) -> caf::result<volume_info> {
      auto e = lookup(self, name);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::get::value);
    },
    [self](atom::path, std::string& name) -> caf::result<std::string> {
      auto e = lookup(self, name);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::path::value);
    },
    [self](atom::list) -> volume_infos {
      volume_infos result;
      for (auto& [name, e] : self->state.volumes)
        if (e.last.exists)
          result.push_back(e.last.info);
      return result;
    },
    [self](atom::drop, std::string& name,
           int64_t before) -> caf::result<std::vector<std::string>> {
      auto e = lookup(self, name);
      if (!e)
        return std::move(e.error());
      return self->delegate((*e)->actor, atom::drop::value, before);
    },
    [self](atom::adopt, volume_record& r, std::string& problem) {
      auto name = r.name;
      std::optional<volume_record> recovered;
      if (problem.empty())
        recovered = r;
      auto& e = spawn_volume(self, name, std::move(recovered), problem);
      e.last.exists = true;
      e.last.info.created_at = r.created_at;
      e.last.info.mounts = r.total_uses();
    },
    [self](atom::summary, volume_summary& s) {
      auto& vols = self->state.volumes;
      auto i = vols.find(s.info.name);
      if (i == vols.end()
          || caf::actor_cast<caf::actor_addr>(self->current_sender())
               != i->second.actor.address())
        return;
      auto& e = i->second;
      e.last = std::move(s);
      if (!e.last.exists && e.last.handled == e.sent && !e.last.busy) {
        // No request is on its way to this VOLUME and no job of its runs: retire it.
        self->demonitor(e.actor.address());
        self->send_exit(e.actor, caf::exit_reason::user_shutdown);
        vols.erase(i);
      }
    },
  };
}

} // namespace actorvol
